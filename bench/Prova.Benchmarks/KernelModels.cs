using Prova.Core;
using Prova.Onnx;

namespace Prova.Benchmarks;

/// <summary>Single-node models with random constant weights, shaped like the target models' layers.</summary>
internal static class KernelModels
{
    public static (OnnxModel Model, Dictionary<string, Tensor> Feeds, double Flops) MatMul(int m, int k, int n)
    {
        var rng = new Random(1);
        var graph = new OnnxGraph { Name = "matmul" };
        graph.Inputs.Add(new ValueInfo { Name = "a", ElementType = DataType.Float32, Shape = [Dim.Fixed(m), Dim.Fixed(k)] });
        graph.Initializers["b"] = Tensor.Create([k, n], RandomData(rng, k * n));
        graph.Nodes.Add(new OnnxNode { Name = "mm", OpType = "MatMul", Inputs = ["a", "b"], Outputs = ["y"] });
        graph.Outputs.Add(new ValueInfo { Name = "y", ElementType = DataType.Float32 });
        var feeds = new Dictionary<string, Tensor> { ["a"] = Tensor.Create([m, k], RandomData(rng, m * k)) };
        return (Wrap(graph), feeds, 2.0 * m * k * n);
    }

    public static (OnnxModel Model, Dictionary<string, Tensor> Feeds, double Flops) Conv(int c, int m, int hw, int kernel, int group = 1)
    {
        var rng = new Random(2);
        int pad = kernel / 2;
        var graph = new OnnxGraph { Name = "conv" };
        graph.Inputs.Add(new ValueInfo { Name = "x", ElementType = DataType.Float32, Shape = [Dim.Fixed(1), Dim.Fixed(c), Dim.Fixed(hw), Dim.Fixed(hw)] });
        graph.Initializers["w"] = Tensor.Create([m, c / group, kernel, kernel], RandomData(rng, m * (c / group) * kernel * kernel));
        graph.Initializers["b"] = Tensor.Create([m], RandomData(rng, m));
        var attrs = new Dictionary<string, OnnxAttribute>(StringComparer.Ordinal)
        {
            ["pads"] = new() { Name = "pads", Kind = AttributeKind.Ints, Ints = [pad, pad, pad, pad] },
            ["group"] = new() { Name = "group", Kind = AttributeKind.Int, Int = group },
        };
        graph.Nodes.Add(new OnnxNode { Name = "conv", OpType = "Conv", Inputs = ["x", "w", "b"], Outputs = ["y"], Attributes = attrs });
        graph.Outputs.Add(new ValueInfo { Name = "y", ElementType = DataType.Float32 });
        var feeds = new Dictionary<string, Tensor> { ["x"] = Tensor.Create([1, c, hw, hw], RandomData(rng, c * hw * hw)) };
        return (Wrap(graph), feeds, 2.0 * m * (c / group) * kernel * kernel * hw * hw);
    }

    private static OnnxModel Wrap(OnnxGraph graph) => new() { IrVersion = 8, Opsets = new Dictionary<string, long> { [""] = 13 }, Graph = graph };

    private static float[] RandomData(Random rng, int count)
    {
        var v = new float[count];
        for (int i = 0; i < count; i++)
        {
            v[i] = (float)(rng.NextDouble() * 2 - 1);
        }
        return v;
    }
}
