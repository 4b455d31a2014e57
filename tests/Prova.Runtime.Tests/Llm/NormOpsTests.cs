using Prova.Core;
using Prova.Onnx;
using Prova.Runtime.Tests.Oracle;
using Xunit.Abstractions;

namespace Prova.Runtime.Tests.Llm;

/// <summary>
/// RMSNormalization (opset 23), SimplifiedLayerNormalization, and the com.microsoft
/// SkipLayerNormalization / SkipSimplifiedLayerNormalization against ONNX Runtime; every run also
/// checks that threads 1/2 and every vector width give the same bytes (OrtOracle.AssertMatches).
/// Tolerance atol 1e-5 + rtol 1e-4: ORT's CPU kernels sum in a different order and compute the
/// variance as E[x²] - mean², Prova in Lanes16 order and as E[(x - mean)²].
/// </summary>
[Collection("SimdLevel")]
public sealed class NormOpsTests(ITestOutputHelper output)
{
    private const double Atol = 1e-5;
    private const double Rtol = 1e-4;

    [Theory]
    [InlineData(new[] { 2, 3, 8 }, -1, new[] { 8 })]
    [InlineData(new[] { 2, 3, 67 }, 2, new[] { 67 })]
    [InlineData(new[] { 2, 3, 8 }, 1, new[] { 3, 8 })]
    [InlineData(new[] { 2, 3, 8 }, 1, new[] { 1, 8 })]
    [InlineData(new[] { 4, 1000 }, -1, new[] { 1000 })]
    [InlineData(new[] { 0, 16 }, -1, new[] { 16 })]
    [InlineData(new[] { 16, 256 }, 0, new[] { 16, 256 })]
    public void RmsNormalizationMatchesOnnxRuntime(int[] shape, int axis, int[] scaleShape)
    {
        var rng = Seeded(shape, axis);
        var b = new ModelBuilder(opset: 23);
        var x = b.Input("x", DataType.Float32, shape);
        var scale = b.Constant(Tensor.Create(scaleShape, OrtOracle.Floats(rng, (int)Tensor.ElementCount(scaleShape), 2f)));
        b.Output(b.Node("RMSNormalization", [x, scale], [("axis", (long)axis), ("epsilon", 1e-6f)]), "y");
        OrtOracle.AssertMatches(b.Build(), Feeds(rng, ("x", shape)), Atol, Rtol);
    }

    [Fact]
    public void RmsNormalizationBeforeOpset23IsReportedUnsupported()
    {
        var b = new ModelBuilder(opset: 21);
        b.Output(b.Node("RMSNormalization", [b.Input("x", DataType.Float32, 2, 4), b.Constant(Tensor.Create([4], new float[4]))]), "y");
        var ex = Assert.Throws<ModelException>(() => new InferenceSession(b.Build()));
        Assert.True(ex.IsUnsupported, ex.Message);
    }

    [Theory]
    [InlineData(new[] { 2, 5, 64 }, "")]
    [InlineData(new[] { 1, 7, 33 }, "")]
    [InlineData(new[] { 1, 7, 33 }, "com.microsoft")]
    [InlineData(new[] { 1, 0, 64 }, "")]
    public void SimplifiedLayerNormalizationMatchesOnnxRuntime(int[] shape, string domain)
    {
        var rng = Seeded(shape, domain.Length);
        var b = new ModelBuilder(opset: 17);
        var x = b.Input("x", DataType.Float32, shape);
        var scale = b.Constant(Tensor.Create([shape[^1]], OrtOracle.Floats(rng, shape[^1], 2f)));
        // ORT registers SimplifiedLayerNormalization in the default domain only; the com.microsoft
        // case is checked against the default-domain model's ORT result.
        var outs = b.NodeMulti("SimplifiedLayerNormalization", [x, scale], 2, [("axis", -1L), ("epsilon", 1e-5f)]);
        b.Output(outs[0], "y");
        b.Output(outs[1], "inv_std_var");
        var model = b.Build();
        var feeds = Feeds(rng, ("x", shape));
        var expected = OrtOracle.Run(model, feeds);
        if (domain.Length > 0)
        {
            model = WithDomain(model, domain);
        }
        var actual = OrtOracle.RunProva(model, feeds);
        OrtOracle.AssertClose(expected["y"], actual["y"], Atol, Rtol, "y");
        OrtOracle.AssertClose(expected["inv_std_var"], actual["inv_std_var"], Atol, Rtol, "inv_std_var");
        OrtOracle.AssertMatches(model.Graph.Nodes[0].Domain.Length == 0 ? model : WithDomain(model, ""), feeds, Atol, Rtol);
    }

    public static TheoryData<bool, int[], int[], bool, bool> SkipCases => new()
    {
        // simplified, input, skip, beta, bias
        { false, [2, 5, 64], [2, 5, 64], true, true },
        { false, [2, 5, 64], [1, 5, 64], false, true },
        { false, [2, 5, 70], [5, 70], true, false },
        { false, [3, 17], [3, 17], false, false },
        { false, [1, 0, 32], [1, 0, 32], true, true },
        { true, [2, 5, 64], [2, 5, 64], false, true },
        { true, [2, 5, 70], [1, 5, 70], false, false },
        { true, [4, 9, 1000], [9, 1000], false, true },
        { true, [1, 0, 32], [0, 32], false, false },
    };

    [Theory]
    [MemberData(nameof(SkipCases))]
    public void SkipLayerNormalizationMatchesOnnxRuntime(bool simplified, int[] shape, int[] skipShape, bool beta, bool bias)
    {
        var rng = Seeded(shape, skipShape.Length * 4 + (simplified ? 1 : 0) + (beta ? 2 : 0));
        int h = shape[^1];
        var b = new ModelBuilder(opset: 17);
        var x = b.Input("x", DataType.Float32, shape);
        var skip = b.Input("skip", DataType.Float32, skipShape);
        string Vec() => b.Constant(Tensor.Create([h], OrtOracle.Floats(rng, h, 2f)));
        var inputs = new List<string> { x, skip, Vec() };
        if (!simplified)
        {
            inputs.Add(beta ? Vec() : "");
        }
        inputs.Add(bias ? Vec() : "");
        var op = simplified ? "SkipSimplifiedLayerNormalization" : "SkipLayerNormalization";
        var outs = b.NodeMulti(op, [.. inputs], 4, [("epsilon", 1e-5f)], domain: "com.microsoft");
        b.Output(outs[0], "y");
        b.Output(outs[3], "input_skip_bias_sum");
        var model = b.Build();
        // ORT's CPU kernel never writes mean and inv_std_var: leave those outputs unnamed.
        model.Graph.Nodes[0].Outputs[1] = "";
        model.Graph.Nodes[0].Outputs[2] = "";
        OrtOracle.AssertMatches(model, Feeds(rng, ("x", shape), ("skip", skipShape)), Atol, Rtol);
    }

    [Fact]
    public void SkipLayerNormalizationStatisticsOutputsDescribeEachRow()
    {
        // ORT computes no mean / inv_std_var here, so check them against their definition.
        var rng = Seeded([2, 3, 40], 0);
        var b = new ModelBuilder(opset: 17);
        var x = b.Input("x", DataType.Float32, 2, 3, 40);
        var skip = b.Input("skip", DataType.Float32, 2, 3, 40);
        var gamma = b.Constant(Tensor.Create([40], OrtOracle.Floats(rng, 40)));
        var outs = b.NodeMulti("SkipLayerNormalization", [x, skip, gamma], 4, [("epsilon", 1e-5f)], domain: "com.microsoft");
        b.Output(outs[1], "mean");
        b.Output(outs[2], "inv_std_var");
        b.Output(outs[3], "sum");
        var feeds = Feeds(rng, ("x", [2, 3, 40]), ("skip", [2, 3, 40]));
        var r = OrtOracle.RunProva(b.Build(), feeds);
        Assert.Equal([2, 3, 1], r["mean"].ShapeArray());
        var sum = (float[])r["sum"].Data;
        var xs = (float[])feeds["x"].Data;
        var ss = (float[])feeds["skip"].Data;
        for (int row = 0; row < 6; row++)
        {
            double m = 0, v = 0;
            for (int j = 0; j < 40; j++)
            {
                Assert.Equal(xs[row * 40 + j] + ss[row * 40 + j], sum[row * 40 + j]);
                m += sum[row * 40 + j];
            }
            m /= 40;
            for (int j = 0; j < 40; j++)
            {
                v += (sum[row * 40 + j] - m) * (sum[row * 40 + j] - m);
            }
            v /= 40;
            Assert.Equal(m, ((float[])r["mean"].Data)[row], 5);
            Assert.Equal(1 / Math.Sqrt(v + 1e-5), ((float[])r["inv_std_var"].Data)[row], 3);
        }
    }

    [Fact]
    public void SkipOfTheWrongShapeIsAModelError()
    {
        var b = new ModelBuilder(opset: 17);
        var outs = b.NodeMulti("SkipLayerNormalization",
            [b.Input("x", DataType.Float32, 2, 5, 8), b.Input("skip", DataType.Float32, 2, 4, 8), b.Constant(Tensor.Create([8], new float[8]))],
            1, domain: "com.microsoft");
        b.Output(outs[0], "y");
        var ex = Assert.Throws<ModelException>(() => new InferenceSession(b.Build()));
        Assert.Contains("skip", ex.Message);
        Assert.False(ex.IsUnsupported);
    }

    private static OnnxModel WithDomain(OnnxModel model, string domain)
    {
        var node = model.Graph.Nodes[0];
        model.Graph.Nodes[0] = new OnnxNode { Name = node.Name, OpType = node.OpType, Domain = domain, Inputs = node.Inputs, Outputs = node.Outputs, Attributes = node.Attributes };
        return model;
    }

    private Dictionary<string, Tensor> Feeds(Random rng, params (string Name, int[] Shape)[] inputs)
    {
        var feeds = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, shape) in inputs)
        {
            feeds[name] = Tensor.Create(shape, OrtOracle.Floats(rng, (int)Tensor.ElementCount(shape), 3f));
        }
        return feeds;
    }

    private Random Seeded(int[] shape, int salt)
    {
        int seed = (shape.Aggregate(17, (h, d) => h * 31 + d) * 7 + salt) & 0x7fffffff;
        output.WriteLine($"seed {seed}");
        return new Random(seed);
    }
}
