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

    public static (OnnxModel Model, Dictionary<string, Tensor> Feeds, double Flops) Conv(int c, int m, int hw, int kernel, int group = 1, int batch = 1, int stride = 1, int pad = -1)
    {
        var rng = new Random(2);
        if (pad < 0)
        {
            pad = kernel / 2;
        }
        var graph = new OnnxGraph { Name = "conv" };
        graph.Inputs.Add(new ValueInfo { Name = "x", ElementType = DataType.Float32, Shape = [Dim.Fixed(batch), Dim.Fixed(c), Dim.Fixed(hw), Dim.Fixed(hw)] });
        graph.Initializers["w"] = Tensor.Create([m, c / group, kernel, kernel], RandomData(rng, m * (c / group) * kernel * kernel));
        graph.Initializers["b"] = Tensor.Create([m], RandomData(rng, m));
        var attrs = new Dictionary<string, OnnxAttribute>(StringComparer.Ordinal)
        {
            ["pads"] = new() { Name = "pads", Kind = AttributeKind.Ints, Ints = [pad, pad, pad, pad] },
            ["strides"] = new() { Name = "strides", Kind = AttributeKind.Ints, Ints = [stride, stride] },
            ["group"] = new() { Name = "group", Kind = AttributeKind.Int, Int = group },
        };
        graph.Nodes.Add(new OnnxNode { Name = "conv", OpType = "Conv", Inputs = ["x", "w", "b"], Outputs = ["y"], Attributes = attrs });
        graph.Outputs.Add(new ValueInfo { Name = "y", ElementType = DataType.Float32 });
        var feeds = new Dictionary<string, Tensor> { ["x"] = Tensor.Create([batch, c, hw, hw], RandomData(rng, batch * c * hw * hw)) };
        int outHw = (hw + 2 * pad - kernel) / stride + 1;
        return (Wrap(graph), feeds, 2.0 * batch * m * (c / group) * kernel * kernel * outHw * outHw);
    }

    /// <summary>MaxPool or AveragePool with a square kernel and stride, no padding.</summary>
    public static (OnnxModel Model, Dictionary<string, Tensor> Feeds, double Flops) Pool(string op, int batch, int c, int hw, int kernel, int stride)
    {
        var rng = new Random(3);
        var graph = new OnnxGraph { Name = "pool" };
        graph.Inputs.Add(new ValueInfo { Name = "x", ElementType = DataType.Float32, Shape = [Dim.Fixed(batch), Dim.Fixed(c), Dim.Fixed(hw), Dim.Fixed(hw)] });
        var attrs = new Dictionary<string, OnnxAttribute>(StringComparer.Ordinal)
        {
            ["kernel_shape"] = new() { Name = "kernel_shape", Kind = AttributeKind.Ints, Ints = [kernel, kernel] },
            ["strides"] = new() { Name = "strides", Kind = AttributeKind.Ints, Ints = [stride, stride] },
        };
        graph.Nodes.Add(new OnnxNode { Name = "pool", OpType = op, Inputs = ["x"], Outputs = ["y"], Attributes = attrs });
        graph.Outputs.Add(new ValueInfo { Name = "y", ElementType = DataType.Float32 });
        var feeds = new Dictionary<string, Tensor> { ["x"] = Tensor.Create([batch, c, hw, hw], RandomData(rng, batch * c * hw * hw)) };
        return (Wrap(graph), feeds, (double)batch * c * hw * hw);
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
