using Prova.Runtime.Ops.Shape;

namespace Prova.Runtime.Ops;

/// <summary>Data-movement and shape ops: views, copies, gathers and plan-time constants.</summary>
internal static class ShapeOps
{
    public static void Register(Dictionary<string, KernelFactory> registry)
    {
        registry["Reshape"] = (node, opset) => new ReshapeKernel(node, opset);
        registry["Flatten"] = (node, _) => new FlattenKernel(node);
        registry["Squeeze"] = (node, opset) => new SqueezeKernel(node, opset);
        registry["Unsqueeze"] = (node, opset) => new UnsqueezeKernel(node, opset);
        registry["Identity"] = (node, _) => new IdentityKernel(node);
        registry["Dropout"] = (node, opset) => new DropoutKernel(node, opset);
        registry["Transpose"] = (node, _) => new TransposeKernel(node);
        registry["Concat"] = (node, opset) => new ConcatKernel(node, opset);
        registry["Split"] = (node, opset) => new SplitKernel(node, opset);
        registry["Slice"] = (node, opset) => new SliceKernel(node, opset);
        registry["Gather"] = (node, _) => new GatherKernel(node);
        registry["GatherElements"] = (node, _) => new GatherElementsKernel(node);
        registry["Shape"] = (node, opset) => new ShapeKernel(node, opset);
        registry["Size"] = (node, _) => new SizeKernel(node);
        registry["Constant"] = (node, _) => new ConstantOpKernel(node);
        registry["ConstantOfShape"] = (node, _) => new ConstantOfShapeKernel(node);
        registry["Range"] = (node, _) => new RangeKernel(node);
        registry["Expand"] = (node, _) => new ExpandKernel(node);
        registry["Tile"] = (node, _) => new TileKernel(node);
        registry["Trilu"] = (node, _) => new TriluKernel(node);
        registry["Pad"] = (node, opset) => new PadKernel(node, opset);
    }
}
