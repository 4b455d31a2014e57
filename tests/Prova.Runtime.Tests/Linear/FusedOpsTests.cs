using Prova.Core;
using Prova.Onnx;
using Xunit.Abstractions;
using static Prova.Runtime.Tests.Linear.LinearTestKit;

namespace Prova.Runtime.Tests.Linear;

/// <summary>
/// The prova.internal fused ops against the unfused standard-op sequences they replace
/// (Conv→Relu, Gemm→Relu, MatMul→Add→Relu): bit-identical at every vector width and thread count.
/// </summary>
[Collection("SimdLevel")]
public sealed class FusedOpsTests(ITestOutputHelper output)
{
    private static OnnxNode Node(string op, string[] inputs, string output, string domain = "", params OnnxAttribute[] attributes)
    {
        var attrs = new Dictionary<string, OnnxAttribute>(StringComparer.Ordinal);
        foreach (var a in attributes)
        {
            attrs[a.Name] = a;
        }
        return new OnnxNode { Name = output, OpType = op, Domain = domain, Inputs = inputs, Outputs = [output], Attributes = attrs };
    }

    private static OnnxModel Graph(int[] xShape, Dictionary<string, Tensor> initializers, params OnnxNode[] nodes)
    {
        var graph = new OnnxGraph { Name = "g" };
        graph.Inputs.Add(new ValueInfo { Name = "x", ElementType = DataType.Float32, Shape = xShape.Select(d => Dim.Fixed(d)).ToArray() });
        foreach (var (name, t) in initializers)
        {
            graph.Initializers[name] = t;
        }
        graph.Nodes.AddRange(nodes);
        graph.Outputs.Add(new ValueInfo { Name = "y0", ElementType = DataType.Float32 });
        return new OnnxModel { IrVersion = 8, Opsets = new Dictionary<string, long> { [""] = 13, [Prova.Runtime.KernelRegistry.InternalDomain] = 1 }, Graph = graph };
    }

    /// <summary>Random data with planted -0, +0 and NaN so that the Relu and bias edge cases are exercised.</summary>
    private static float[] Data(Random rng, int count)
    {
        var v = Random(rng, count, sparseSpecials: true);
        for (int i = 0; i < count; i += 11)
        {
            v[i] = rng.Next(3) switch { 0 => -0f, 1 => 0f, _ => float.NaN };
        }
        return v;
    }

    private void AssertSame(OnnxModel unfused, OnnxModel fused, Dictionary<string, Tensor> feeds, string what)
    {
        var expected = (float[])Run(unfused, 1, feeds)["y0"].Data;
        GemmDifferentialTests.AssertAllPaths(fused, feeds, expected, what);
        output.WriteLine($"{what}: {expected.Length} elements identical");
    }

    // n, c, hw, m, group, k, stride, pad, bias, relu
    [Theory]
    [InlineData(4, 3, 16, 32, 1, 3, 1, 1, true, true)]     // stem-like, batch-parallel path
    [InlineData(3, 8, 9, 12, 1, 3, 2, 1, false, true)]     // strided, no bias
    [InlineData(2, 16, 7, 32, 1, 1, 1, 0, true, true)]     // pointwise in place
    [InlineData(2, 8, 8, 8, 8, 3, 1, 1, true, true)]       // depthwise
    [InlineData(2, 6, 10, 16, 1, 5, 1, 0, true, false)]    // no activation = plain Conv
    public void FusedConvEqualsConvThenRelu(int n, int c, int hw, int m, int group, int k, int stride, int pad, bool bias, bool relu)
    {
        int seed = HashCode.Combine(n, c, hw, m, group, k, stride) & 0x7fffffff;
        output.WriteLine($"seed {seed}");
        var rng = new Random(seed);
        int[] xs = [n, c, hw, hw];
        int[] ws = [m, c / group, k, k];
        var init = new Dictionary<string, Tensor> { ["w"] = T(ws, Data(rng, ws.Aggregate(1, (p, q) => p * q))) };
        string[] inputs = ["x", "w"];
        if (bias)
        {
            init["b"] = T([m], Data(rng, m));
            inputs = ["x", "w", "b"];
        }
        OnnxAttribute[] attrs = [Int("group", group), Ints("strides", stride, stride), Ints("pads", pad, pad, pad, pad), Ints("kernel_shape", k, k)];
        var unfused = relu
            ? Graph(xs, init, Node("Conv", inputs, "c", "", attrs), Node("Relu", ["c"], "y0"))
            : Graph(xs, init, Node("Conv", inputs, "y0", "", attrs));
        var fused = Graph(xs, init, Node("FusedConv", inputs, "y0", Prova.Runtime.KernelRegistry.InternalDomain, [.. attrs, Str("activation", relu ? "Relu" : "")]));
        var feeds = new Dictionary<string, Tensor> { ["x"] = T(xs, Data(rng, xs.Aggregate(1, (p, q) => p * q))) };
        AssertSame(unfused, fused, feeds, $"FusedConv x{string.Join("x", xs)} w{string.Join("x", ws)} relu {relu}");
    }

    [Theory]
    [InlineData(32, 400, 120, false, 1f, 1f, true)]   // LeNet fc1
    [InlineData(7, 33, 65, true, 0.5f, 2f, true)]     // transB, alpha, beta
    [InlineData(1, 64, 10, false, 1f, 1f, false)]
    public void FusedGemmEqualsGemmThenRelu(int m, int k, int n, bool transB, float alpha, float beta, bool relu)
    {
        int seed = HashCode.Combine(m, k, n, transB) & 0x7fffffff;
        output.WriteLine($"seed {seed}");
        var rng = new Random(seed);
        int[] bs = transB ? [n, k] : [k, n];
        var init = new Dictionary<string, Tensor> { ["b"] = T(bs, Data(rng, k * n)), ["c"] = T([n], Data(rng, n)) };
        OnnxAttribute[] attrs = [Int("transB", transB ? 1 : 0), Float("alpha", alpha), Float("beta", beta)];
        var unfused = Graph([m, k], init, Node("Gemm", ["x", "b", "c"], "g", "", attrs), Node("Relu", ["g"], "y0"));
        if (!relu)
        {
            unfused = Graph([m, k], init, Node("Gemm", ["x", "b", "c"], "y0", "", attrs));
        }
        var fused = Graph([m, k], init, Node("FusedGemm", ["x", "b", "c"], "y0", Prova.Runtime.KernelRegistry.InternalDomain, [.. attrs, Str("activation", relu ? "Relu" : "")]));
        var feeds = new Dictionary<string, Tensor> { ["x"] = T([m, k], Data(rng, m * k)) };
        AssertSame(unfused, fused, feeds, $"FusedGemm {m}x{k}x{n} transB {transB} relu {relu}");
    }

    [Theory]
    [InlineData(new[] { 32, 784 }, new[] { 784, 128 }, true, true)]    // MLP layer
    [InlineData(new[] { 2, 64, 256 }, new[] { 256, 96 }, true, false)] // transformer projection, stacked batches
    [InlineData(new[] { 3, 5, 17 }, new[] { 3, 17, 40 }, true, true)]  // batched B (not constant-shared)
    [InlineData(new[] { 9, 31 }, new[] { 31, 33 }, false, true)]       // no bias
    public void FusedMatMulEqualsMatMulAddRelu(int[] aShape, int[] bShape, bool bias, bool relu)
    {
        int seed = HashCode.Combine(aShape.Length, aShape[^1], bShape[^1]) & 0x7fffffff;
        output.WriteLine($"seed {seed}");
        var rng = new Random(seed);
        int n = bShape[^1];
        var init = new Dictionary<string, Tensor>
        {
            ["b"] = T(bShape, Data(rng, bShape.Aggregate(1, (p, q) => p * q))),
            ["bias"] = T([n], Data(rng, n)),
        };
        var nodes = new List<OnnxNode> { Node("MatMul", ["x", "b"], "mm") };
        string last = "mm";
        if (bias)
        {
            nodes.Add(Node("Add", [last, "bias"], "add"));
            last = "add";
        }
        if (relu)
        {
            nodes.Add(Node("Relu", [last], "relu"));
            last = "relu";
        }
        nodes.Add(Node("Identity", [last], "y0"));
        var unfused = Graph(aShape, init, nodes.ToArray());
        string[] inputs = bias ? ["x", "b", "bias"] : ["x", "b"];
        var fused = Graph(aShape, init, Node("FusedMatMul", inputs, "y0", Prova.Runtime.KernelRegistry.InternalDomain, Str("activation", relu ? "Relu" : "")));
        var feeds = new Dictionary<string, Tensor> { ["x"] = T(aShape, Data(rng, aShape.Aggregate(1, (p, q) => p * q))) };
        AssertSame(unfused, fused, feeds, $"FusedMatMul [{string.Join(",", aShape)}]x[{string.Join(",", bShape)}] bias {bias} relu {relu}");
    }

    [Fact]
    public void FusedReluKeepsNegativeZero()
    {
        // alpha = -1 turns an all-zero row's +0 accumulators into -0: Relu must pass -0 through unchanged, as the Relu op does.
        var rng = new Random(11);
        output.WriteLine("seed 11");
        int m = 6, k = 40, n = 37;
        var x = Data(rng, m * k);
        Array.Clear(x, 2 * k, k);
        var init = new Dictionary<string, Tensor> { ["b"] = T([k, n], Random(rng, k * n)) };
        OnnxAttribute[] attrs = [Float("alpha", -1f)];
        var unfused = Graph([m, k], init, Node("Gemm", ["x", "b"], "g", "", attrs), Node("Relu", ["g"], "y0"));
        var fused = Graph([m, k], init, Node("FusedGemm", ["x", "b"], "y0", Prova.Runtime.KernelRegistry.InternalDomain, [.. attrs, Str("activation", "Relu")]));
        var feeds = new Dictionary<string, Tensor> { ["x"] = T([m, k], x) };
        var y = (float[])Run(unfused, 1, feeds)["y0"].Data;
        Assert.Equal(BitConverter.SingleToInt32Bits(-0f), BitConverter.SingleToInt32Bits(y[2 * n + 5]));
        AssertSame(unfused, fused, feeds, "FusedGemm alpha -1 with a zero row");
    }

    [Fact]
    public void UnknownActivationIsUnsupported()
    {
        var init = new Dictionary<string, Tensor> { ["b"] = T([4, 4], new float[16]) };
        var model = Graph([2, 4], init, Node("FusedMatMul", ["x", "b"], "y0", Prova.Runtime.KernelRegistry.InternalDomain, Str("activation", "Tanh")));
        var e = Assert.Throws<ModelException>(() => new InferenceSession(model, new SessionOptions()));
        Assert.True(e.IsUnsupported, e.Message);
        Assert.Contains("Tanh", e.Message);
    }
}
