using Prova.Core;
using Prova.Onnx;
using Prova.Runtime.Tests.Oracle;
using Xunit.Abstractions;

namespace Prova.Runtime.Tests.Llm;

/// <summary>
/// Default-domain ops that decoder exports use (Trilu for causal masks, CumSum for position ids,
/// Sin/Cos for rotary tables, TopK for sampling, IsNaN/IsInf, Einsum), each as a one-node model
/// against ONNX Runtime, including empty and broadcast cases. Floats: atol 1e-6 + rtol 1e-5 unless
/// a case says otherwise; integers, booleans and indices exactly.
/// </summary>
[Collection("SimdLevel")]
public sealed class DecoderOpsTests(ITestOutputHelper output)
{
    private const double Atol = 1e-6;
    private const double Rtol = 1e-5;

    [Theory]
    [InlineData(true, 0L, new[] { 4, 5 })]
    [InlineData(false, 0L, new[] { 4, 5 })]
    [InlineData(true, 2L, new[] { 2, 3, 6, 4 })]
    [InlineData(false, -1L, new[] { 2, 6, 4 })]
    [InlineData(false, 100L, new[] { 3, 3 })]
    [InlineData(true, -100L, new[] { 3, 3 })]
    [InlineData(true, 1L, new[] { 0, 3 })]
    public void TriluMatchesOnnxRuntime(bool upper, long k, int[] shape)
    {
        var rng = Seeded(shape.Length * 100 + (int)k + (upper ? 7 : 0));
        var b = new ModelBuilder(opset: 17);
        var x = b.Input("x", DataType.Float32, shape);
        var kv = b.Input("k", DataType.Int64);
        b.Output(b.Node("Trilu", [x, kv], [("upper", upper ? 1L : 0L)]), "y");
        var feeds = Feeds(rng, ("x", shape));
        feeds["k"] = Tensor.Create([], new[] { k });
        OrtOracle.AssertMatches(b.Build(), feeds, 0, 0);
    }

    [Fact]
    public void TriluOnInt64WithoutKMatchesOnnxRuntime()
    {
        var b = new ModelBuilder(opset: 17);
        b.Output(b.Node("Trilu", [b.Input("x", DataType.Int64, 5, 5)], [("upper", 0L)]), "y", DataType.Int64);
        var feeds = new Dictionary<string, Tensor> { ["x"] = Tensor.Create([5, 5], Enumerable.Range(1, 25).Select(v => (long)v).ToArray()) };
        OrtOracle.AssertMatches(b.Build(), feeds, 0, 0);
    }

    [Theory]
    [InlineData(DataType.Float32, 1, false, false)]
    [InlineData(DataType.Float32, 0, true, false)]
    [InlineData(DataType.Float32, -1, false, true)]
    [InlineData(DataType.Float32, 2, true, true)]
    [InlineData(DataType.Int32, 1, true, false)]
    [InlineData(DataType.Int64, -1, false, false)]
    [InlineData(DataType.Int64, 1, true, true)]
    public void CumSumMatchesOnnxRuntime(DataType type, int axis, bool exclusive, bool reverse)
    {
        var rng = Seeded((int)type * 100 + axis * 10 + (exclusive ? 1 : 0) + (reverse ? 2 : 0));
        int[] shape = [3, 7, 37];
        var b = new ModelBuilder(opset: 17);
        var x = b.Input("x", type, shape);
        var a = b.Constant(Tensor.Create([], new[] { (long)axis }));
        b.Output(b.Node("CumSum", [x, a], [("exclusive", exclusive ? 1L : 0L), ("reverse", reverse ? 1L : 0L)]), "y", type);
        int count = (int)Tensor.ElementCount(shape);
        var feeds = new Dictionary<string, Tensor>
        {
            ["x"] = type switch
            {
                DataType.Float32 => Tensor.Create(shape, OrtOracle.Floats(rng, count)),
                DataType.Int32 => Tensor.Create(shape, Enumerable.Range(0, count).Select(_ => rng.Next(-1000, 1000)).ToArray()),
                _ => Tensor.Create(shape, Enumerable.Range(0, count).Select(_ => (long)rng.Next(-1000, 1000)).ToArray()),
            },
        };
        OrtOracle.AssertMatches(b.Build(), feeds, Atol, Rtol);
    }

    [Fact]
    public void CumSumOfAnAttentionMaskGivesPositionIds()
    {
        // Optimum's position_ids: cumsum(attention_mask, -1) - 1, on an int64 mask with padding.
        var b = new ModelBuilder(opset: 17);
        var m = b.Input("mask", DataType.Int64, 2, 5);
        var c = b.Node("CumSum", [m, b.Constant(Tensor.Create([], new[] { 1L }))]);
        b.Output(b.Node("Sub", [c, b.Constant(Tensor.Create([], new[] { 1L }))]), "pos", DataType.Int64);
        var feeds = new Dictionary<string, Tensor> { ["mask"] = Tensor.Create([2, 5], new long[] { 0, 0, 1, 1, 1, 1, 1, 1, 1, 1 }) };
        var r = OrtOracle.AssertMatches(b.Build(), feeds, 0, 0);
        Assert.Equal(new long[] { -1, -1, 0, 1, 2, 0, 1, 2, 3, 4 }, (long[])r["pos"].Data);
    }

    [Theory]
    [InlineData("Sin", 4f)]
    [InlineData("Cos", 4f)]
    [InlineData("Sin", 3000f)]
    [InlineData("Cos", 3000f)]
    public void SinAndCosMatchOnnxRuntime(string op, float scale)
    {
        var rng = Seeded(op.Length + (int)scale);
        var b = new ModelBuilder(opset: 17);
        b.Output(b.Node(op, [b.Input("x", DataType.Float32, 3, 129)]), "y");
        var feeds = new Dictionary<string, Tensor> { ["x"] = Tensor.Create([3, 129], OrtOracle.Floats(rng, 3 * 129, scale)) };
        // Absolute tolerance: near a zero of sin/cos a relative bound means nothing.
        OrtOracle.AssertMatches(b.Build(), feeds, 3e-7, 1e-5);
    }

    [Fact]
    public void IsNaNAndIsInfMatchOnnxRuntime()
    {
        var b = new ModelBuilder(opset: 17);
        var x = b.Input("x", DataType.Float32, 8);
        b.Output(b.Node("IsNaN", [x]), "nan", DataType.Bool);
        b.Output(b.Node("IsInf", [x]), "inf", DataType.Bool);
        b.Output(b.Node("IsInf", [x], [("detect_negative", 0L)]), "pos", DataType.Bool);
        b.Output(b.Node("IsInf", [x], [("detect_positive", 0L)]), "neg", DataType.Bool);
        var feeds = new Dictionary<string, Tensor>
        {
            ["x"] = Tensor.Create([8], new[] { 1f, float.NaN, float.PositiveInfinity, float.NegativeInfinity, -0f, float.MaxValue, -float.NaN, float.Epsilon }),
        };
        OrtOracle.AssertMatches(b.Build(), feeds, 0, 0);
    }

    [Theory]
    [InlineData(new[] { 2, 1000 }, -1, 5, true)]
    [InlineData(new[] { 2, 1000 }, -1, 5, false)]
    [InlineData(new[] { 3, 40, 6 }, 1, 40, true)]
    [InlineData(new[] { 3, 40, 6 }, 1, 17, false)]
    [InlineData(new[] { 1, 32000 }, 1, 50, true)]
    [InlineData(new[] { 4, 9 }, 0, 0, true)]
    [InlineData(new[] { 0, 9 }, 1, 3, true)]
    public void TopKMatchesOnnxRuntime(int[] shape, int axis, int k, bool largest)
    {
        var rng = Seeded(shape[^1] * 10 + k + (largest ? 1 : 0));
        var b = new ModelBuilder(opset: 17);
        var outs = b.NodeMulti("TopK", [b.Input("x", DataType.Float32, shape), b.Constant(Tensor.Create([1], new[] { (long)k }))], 2,
            [("axis", (long)axis), ("largest", largest ? 1L : 0L)]);
        b.Output(outs[0], "values");
        b.Output(outs[1], "indices", DataType.Int64);
        // Values on a coarse grid so that ties are common: ties must go to the lower index.
        var data = OrtOracle.Floats(rng, (int)Tensor.ElementCount(shape), 20f).Select(v => MathF.Round(v)).ToArray();
        var feeds = new Dictionary<string, Tensor> { ["x"] = Tensor.Create(shape, data) };
        OrtOracle.AssertMatches(b.Build(), feeds, 0, 0);
    }

    [Fact]
    public void TopKWithKLargerThanTheAxisIsAModelError()
    {
        var b = new ModelBuilder(opset: 17);
        var outs = b.NodeMulti("TopK", [b.Input("x", DataType.Float32, 2, 4), b.Constant(Tensor.Create([1], new[] { 5L }))], 2);
        b.Output(outs[0], "values");
        var ex = Assert.Throws<ModelException>(() => new InferenceSession(b.Build()));
        Assert.Contains("K = 5", ex.Message);
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

    private Random Seeded(int seed)
    {
        seed &= 0x7fffffff;
        output.WriteLine($"seed {seed}");
        return new Random(seed);
    }
}
