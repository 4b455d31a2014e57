using Prova.Core;
using Prova.Onnx;
using Prova.Runtime.Ops.Reduce;
using TypedKernel = Prova.Runtime.Ops.Elementwise.TypedKernel;

namespace Prova.Runtime.Ops;

/// <summary>Reductions, ArgMax/ArgMin and the normalisations (LayerNormalization, RMSNormalization, SimplifiedLayerNormalization).</summary>
internal static class ReduceOps
{
    public static void Register(Dictionary<string, KernelFactory> registry)
    {
        registry["ReduceSum"] = (node, opset) => new ReduceKernel<SumOp>(node, opset, ReduceKind.Sum);
        registry["ReduceMean"] = (node, opset) => new ReduceKernel<SumOp>(node, opset, ReduceKind.Mean);
        registry["ReduceMax"] = (node, opset) => new ReduceKernel<MaxOp>(node, opset, ReduceKind.Max);
        registry["ReduceMin"] = (node, opset) => new ReduceKernel<MinOp>(node, opset, ReduceKind.Min);
        registry["ReduceProd"] = (node, opset) => new ReduceKernel<ProdOp>(node, opset, ReduceKind.Prod);
        registry["ReduceL1"] = (node, opset) => new ReduceKernel<L1Op>(node, opset, ReduceKind.L1);
        registry["ReduceL2"] = (node, opset) => new ReduceKernel<SumSquareOp>(node, opset, ReduceKind.L2);
        registry["ReduceSumSquare"] = (node, opset) => new ReduceKernel<SumSquareOp>(node, opset, ReduceKind.SumSquare);
        registry["ArgMax"] = (node, opset) => new ArgReduceKernel(node, opset, max: true);
        registry["ArgMin"] = (node, opset) => new ArgReduceKernel(node, opset, max: false);
        registry["CumSum"] = (node, _) => new TypedKernel(node, ctx => ctx.ExpectType(0, DataType.Float32, DataType.Float64, DataType.Int32, DataType.Int64) switch
        {
            DataType.Float32 => new CumSumKernel<float>(node),
            DataType.Float64 => new CumSumKernel<double>(node),
            DataType.Int32 => new CumSumKernel<int>(node),
            _ => new CumSumKernel<long>(node),
        });
        registry["TopK"] = (node, opset) => new TypedKernel(node, ctx => ctx.ExpectType(0, DataType.Float32, DataType.Int32, DataType.Int64) switch
        {
            DataType.Float32 => new TopKKernel<float>(node, opset),
            DataType.Int32 => new TopKKernel<int>(node, opset),
            _ => new TopKKernel<long>(node, opset),
        });
        registry["LayerNormalization"] = (node, _) => new LayerNormKernel(node);
        registry["RMSNormalization"] = (node, opset) => opset >= 23
            ? new RmsNormKernel(node)
            : throw ModelException.Unsupported(node, $"RMSNormalization exists from opset 23; the model imports opset {opset}");
        // Not an ONNX op but ONNX Runtime's, registered by ORT in the default domain, where the
        // GenAI model builder and Optimum put it (com.microsoft also accepted, see ContribOps).
        registry["SimplifiedLayerNormalization"] = (node, _) => new RmsNormKernel(node);
    }
}
