using Prova.Core;
using Prova.Onnx;
using Prova.Runtime.Ops.Quant;
using Xunit.Abstractions;

namespace Prova.Runtime.Tests.Quant;

public sealed class RequantTests(ITestOutputHelper output)
{
    [Fact]
    public void DerivesKnownMultipliers()
    {
        Assert.Equal(new Requant(1 << 30, 32), Requant.Derive(0.5f, 0.5f, 1f)); // 0.25 = 2^30 · 2^-32
        Assert.Equal(new Requant(1 << 30, 30), Requant.Derive(1f, 1f, 1f));
        Assert.Equal(new Requant(1 << 30, 29), Requant.Derive(2f, 1f, 1f));
    }

    [Fact]
    public void DerivationMatchesTheSpecOnRandomScales()
    {
        int seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var rng = new Random(seed);
        for (int i = 0; i < 2000; i++)
        {
            float sa = (float)Math.Pow(2, rng.Next(-30, 5)) * (float)(0.5 + rng.NextDouble());
            float sb = (float)Math.Pow(2, rng.Next(-30, 5)) * (float)(0.5 + rng.NextDouble());
            float sy = (float)Math.Pow(2, rng.Next(-30, 5)) * (float)(0.5 + rng.NextDouble());
            var expected = QuantKit.Multiplier(sa, sb, sy);
            var actual = Requant.Derive(sa, sb, sy);
            // The spec clamps s to [-64, 64]; results are the same (s ≥ 63 gives 0, s ≤ 0 saturates).
            Assert.Equal((expected.M0, Math.Clamp(expected.S, -64, 64)), ((long)actual.Multiplier, actual.Shift));
        }
        // Subnormal scales.
        var sub = QuantKit.Multiplier(1e-40f, 3e-39f, 1e-30f);
        var got = Requant.Derive(1e-40f, 3e-39f, 1e-30f);
        Assert.Equal((sub.M0, Math.Clamp(sub.S, -64, 64)), ((long)got.Multiplier, got.Shift));
    }

    [Fact]
    public void RoundShiftRoundsHalfToEven()
    {
        Assert.Equal(2, Requant.RoundShift(5, 1));   // 2.5 → 2
        Assert.Equal(4, Requant.RoundShift(7, 1));   // 3.5 → 4
        Assert.Equal(-2, Requant.RoundShift(-5, 1)); // -2.5 → -2
        Assert.Equal(-4, Requant.RoundShift(-7, 1)); // -3.5 → -4
        Assert.Equal(-1, Requant.RoundShift(-5, 2)); // -1.25 → -1
        Assert.Equal(0, Requant.RoundShift(long.MaxValue / 4, 63));
        Assert.Equal(long.MaxValue, Requant.RoundShift(3, 0));
    }

    [Fact]
    public void ApplyMatchesBigIntegerReference()
    {
        int seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var rng = new Random(seed);
        for (int i = 0; i < 5000; i++)
        {
            float sa = 0.001f + (float)rng.NextDouble() * 0.05f;
            float sb = 0.0005f + (float)rng.NextDouble() * 0.01f;
            float sy = 0.001f + (float)rng.NextDouble() * 0.2f;
            int acc = rng.Next(-3_000_000, 3_000_000);
            int zp = rng.Next(-128, 128);
            var rq = Requant.Derive(sa, sb, sy);
            Assert.Equal(QuantKit.Requantize(acc, QuantKit.Multiplier(sa, sb, sy), zp, -128, 127), rq.Apply(acc, zp, -128, 127));
        }
    }
}

public sealed class QuantModelTests(ITestOutputHelper output)
{
    private static Dictionary<string, Tensor> Input(int seed, int batch, int features)
    {
        var rng = new Random(seed);
        var x = Enumerable.Range(0, batch * features).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
        return new Dictionary<string, Tensor> { ["x"] = Tensor.Create([batch, features], x) };
    }

    /// <summary>The MLP's intermediates computed from the spec with BigInteger.</summary>
    private static (byte[] Xq, byte[] Hq, byte[] Oq) Reference(QuantKit.MlpParams p, float[] x, int batch)
    {
        var xq = x.Select(v => (byte)QuantKit.QuantizeFloat(v, p.Sx, p.Zx, 0, 255)).ToArray();
        var hq = new byte[batch * p.Hidden];
        for (int b = 0; b < batch; b++)
        {
            for (int j = 0; j < p.Hidden; j++)
            {
                long acc = p.B1[j];
                for (int k = 0; k < p.In; k++)
                {
                    acc += (xq[b * p.In + k] - p.Zx) * p.W1[k * p.Hidden + j];
                }
                var m = QuantKit.Multiplier(p.Sx, p.Sw1[p.Sw1.Length == 1 ? 0 : j], p.Sh);
                hq[b * p.Hidden + j] = (byte)QuantKit.Requantize(acc, m, p.Zh, p.Zh, 255); // Relu: clamp at the zero point
            }
        }
        var oq = new byte[batch * p.Out];
        var mo = QuantKit.Multiplier(p.Sh, p.Sw2, p.So);
        for (int b = 0; b < batch; b++)
        {
            for (int j = 0; j < p.Out; j++)
            {
                long acc = 0;
                for (int k = 0; k < p.Hidden; k++)
                {
                    acc += (hq[b * p.Hidden + k] - p.Zh) * p.W2[k * p.Out + j];
                }
                oq[b * p.Out + j] = (byte)QuantKit.Requantize(acc, mo, p.Zo, 0, 255);
            }
        }
        return (xq, hq, oq);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void QdqMlpRunsAsIntegerNodesWithSpecValues(bool perChannel)
    {
        const int batch = 5;
        var (model, p) = QuantKit.QdqMlp(seed: 3, batch, perChannel: perChannel);
        var inputs = Input(4, batch, p.In);
        using var session = new InferenceSession(model, new SessionOptions { Threads = 2, CaptureWitness = true });
        var ops = session.Model.Graph.Nodes.Select(n => n.Domain + ":" + n.OpType).ToList();
        output.WriteLine(string.Join(", ", ops));
        Assert.Equal(["QuantizeLinear", "prova.internal:QLinearMatMul", "prova.internal:QLinearMatMul", "DequantizeLinear"], ops.Select(o => o.TrimStart(':')));

        var (outputs, witness) = session.RunWithWitness(inputs);
        var (xq, hq, oq) = Reference(p, inputs["x"].Span<float>().ToArray(), batch);
        Assert.Equal(["xq", "hq", "oq"], witness.Entries.Select(e => e.Output));
        Assert.Equal(["QuantizeLinear", "QLinearMatMul", "QLinearMatMul"], witness.Entries.Select(e => e.Op));
        Assert.Equal(xq, witness.Find("xq")!.Value.Span<byte>().ToArray());
        Assert.Equal(hq, witness.Find("hq")!.Value.Span<byte>().ToArray());
        Assert.Equal(oq, witness.Find("oq")!.Value.Span<byte>().ToArray());
        Assert.Equal([batch, p.Hidden], witness.Find("hq")!.Value.ShapeArray());
        var y = outputs["y"].Span<float>().ToArray();
        Assert.Equal(oq.Select(q => (float)(q - p.Zo) * p.So), y);

        // The plain Run gives the same outputs.
        Assert.Equal(y, session.Run(inputs)["y"].Span<float>().ToArray());
    }

    [Fact]
    public void IntegerQdqStaysWithinOneStepOfTheFloatGraph()
    {
        const int batch = 16;
        var (model, p) = QuantKit.QdqMlp(seed: 7, batch, inputs: 64, hidden: 48);
        var inputs = Input(8, batch, p.In);
        using var integer = new InferenceSession(model, new SessionOptions { Threads = 1 });
        using var floats = new InferenceSession(model, new SessionOptions { Threads = 1, IntegerQdq = false });
        Assert.Contains(floats.Model.Graph.Nodes, n => n.OpType == "Gemm");
        var a = integer.Run(inputs)["y"].Span<float>().ToArray();
        var b = floats.Run(inputs)["y"].Span<float>().ToArray();
        int exact = 0;
        for (int i = 0; i < a.Length; i++)
        {
            float steps = MathF.Abs(a[i] - b[i]) / p.So;
            Assert.True(steps <= 1.001f, $"element {i}: integer {a[i]}, float {b[i]}");
            exact += a[i] == b[i] ? 1 : 0;
        }
        output.WriteLine($"{exact} of {a.Length} outputs equal to the float graph's");
        Assert.True(exact >= a.Length * 0.9);
    }

    [Fact]
    public void RunWithWitnessNeedsTheOption()
    {
        var (model, p) = QuantKit.QdqMlp(seed: 3, 1);
        using var session = new InferenceSession(model, new SessionOptions { Threads = 1 });
        Assert.Throws<InvalidOperationException>(() => session.RunWithWitness(Input(1, 1, p.In)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void WarmRunAllocatesOnlyItsOutputsWithOrWithoutWitnessOption(bool capture)
    {
        var (model, p) = QuantKit.QdqMlp(seed: 3, 4, inputs: 64, hidden: 64);
        var inputs = Input(1, 4, p.In);
        using var session = new InferenceSession(model, new SessionOptions { Threads = 1, CaptureWitness = capture });
        for (int i = 0; i < 3; i++)
        {
            session.Run(inputs);
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        var outputs = session.Run(inputs);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        long outputBytes = outputs.Values.Sum(t => (long)t.Bytes().Length);
        output.WriteLine($"capture={capture}: {allocated} bytes for {outputBytes} bytes of outputs");
        Assert.True(allocated <= outputBytes + 1024, $"a warm run allocated {allocated} bytes");
    }
}
