using Prova.Core;
using Prova.Onnx;
using Prova.Runtime.Ops.Elementwise;
using Prova.Runtime.Simd;
using Prova.Runtime.Tests.Oracle;
using Xunit.Abstractions;

namespace Prova.Runtime.Tests.Llm;

/// <summary>
/// The com.microsoft GELU family (Gelu, FastGelu with and without bias, BiasGelu, QuickGelu) against
/// ONNX Runtime, atol 1e-5 + rtol 1e-4 (ORT uses its own erf/tanh approximations; Prova uses DetMath).
/// </summary>
[Collection("SimdLevel")]
public sealed unsafe class ContribActivationTests(ITestOutputHelper output)
{
    private const double Atol = 1e-5;
    private const double Rtol = 1e-4;

    [Theory]
    [InlineData("Gelu", false, new[] { 2, 3, 67 })]
    [InlineData("FastGelu", false, new[] { 2, 3, 67 })]
    [InlineData("FastGelu", true, new[] { 2, 3, 67 })]
    [InlineData("FastGelu", true, new[] { 0, 67 })]
    [InlineData("BiasGelu", true, new[] { 2, 3, 67 })]
    [InlineData("BiasGelu", true, new[] { 5, 1024 })]
    [InlineData("QuickGelu", false, new[] { 2, 3, 67 })]
    [InlineData("QuickGelu", false, new[] { 0, 4 })]
    public void ActivationMatchesOnnxRuntime(string op, bool bias, int[] shape)
    {
        int seed = (op.Length * 1000 + shape[^1] + (bias ? 1 : 0)) & 0x7fffffff;
        output.WriteLine($"seed {seed}");
        var rng = new Random(seed);
        var b = new ModelBuilder(opset: 17);
        var inputs = new List<string> { b.Input("x", DataType.Float32, shape) };
        if (bias)
        {
            inputs.Add(b.Constant(Tensor.Create([shape[^1]], OrtOracle.Floats(rng, shape[^1], 2f))));
        }
        b.Output(b.Node(op, [.. inputs], domain: "com.microsoft"), "y");
        var feeds = new Dictionary<string, Tensor> { ["x"] = Tensor.Create(shape, OrtOracle.Floats(rng, (int)Tensor.ElementCount(shape), 6f)) };
        OrtOracle.AssertMatches(b.Build(), feeds, Atol, Rtol);
    }

    [Fact]
    public void QuickGeluUsesItsAlphaAttribute()
    {
        var rng = new Random(5);
        output.WriteLine("seed 5");
        var b = new ModelBuilder(opset: 17);
        b.Output(b.Node("QuickGelu", [b.Input("x", DataType.Float32, 4, 33)], [("alpha", 1.0f)], domain: "com.microsoft"), "y");
        var feeds = new Dictionary<string, Tensor> { ["x"] = Tensor.Create([4, 33], OrtOracle.Floats(rng, 132, 6f)) };
        var y = (float[])OrtOracle.AssertMatches(b.Build(), feeds, Atol, Rtol)["y"].Data;
        float x0 = ((float[])feeds["x"].Data)[0];
        Assert.Equal(x0 / (1 + Math.Exp(-x0)), y[0], 5);
    }

    [Fact]
    public void BiasedGeluVectorWidthsMatchScalar()
    {
        const int n = 1027;
        var rng = new Random(11);
        output.WriteLine("seed 11");
        var a = OrtOracle.Floats(rng, n, 8f);
        var bias = OrtOracle.Floats(rng, n, 8f);
        var scalar = new float[n];
        var vector = new float[n];
        fixed (float* pa = a, pb = bias, ps = scalar, pv = vector)
        {
            foreach (bool quick in (bool[])[false, true])
            {
                Run(quick, 0, pa, pb, ps);
                foreach (int bits in (int[])[512, 256, 128])
                {
                    Run(quick, bits, pa, pb, pv);
                    Assert.True(scalar.AsSpan().SequenceEqual(vector), $"{(quick ? "QuickGelu" : "BiasedOp<GeluTanhOp>")} at {bits} bits differs from scalar");
                }
            }

            static void Run(bool quick, int bits, float* pa, float* pb, float* y)
            {
                if (quick)
                {
                    SimdLoop.Unary(new QuickGeluOp(1.702f), pa, y, n, bits);
                }
                else
                {
                    SimdLoop.Binary(new BiasedOp<GeluTanhOp>(), pa, 1, pb, 1, y, n, bits);
                }
            }
        }
    }
}
