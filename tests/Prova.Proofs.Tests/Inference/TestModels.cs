using Prova.Core;
using Prova.Onnx;

namespace Prova.Proofs.Tests.Inference;

/// <summary>
/// Small seeded QDQ MLPs (x → Q → DQ → Gemm(DQ(w1), DQ(bias)) → Relu → Q → DQ → MatMul(DQ(w2)) → Q → DQ → y)
/// that the engine plans into two integer QLinearMatMul layers, the first with a fused Relu.
/// </summary>
internal static class TestModels
{
    /// <param name="hiddenZero">The hidden layer's uint8 zero point: with the fused Relu its lower clamp is this value.</param>
    /// <param name="outputScale">A small one makes outputs saturate at 255 (the clamp at hi).</param>
    /// <param name="tie">Scales 1, 1, 2 and 2, 1, 4: both layers requantise by exactly 1/2, so every odd accumulator is a tie.</param>
    public static byte[] Mlp(int seed, int batch, bool perChannel, byte hiddenZero, bool tie = false, float? outputScale = null, int inputs = 24, int hidden = 12, int outputs = 6)
    {
        var rng = new Random(seed);
        float sx = tie ? 1f : 0.02f + (float)rng.NextDouble() * 0.01f;
        float sh = tie ? 2f : 0.05f + (float)rng.NextDouble() * 0.05f;
        float so = tie ? 4f : outputScale ?? 0.01f + (float)rng.NextDouble() * 0.01f;
        int wMax = tie ? 3 : 127;
        var w1 = Enumerable.Range(0, inputs * hidden).Select(_ => (sbyte)rng.Next(-wMax, wMax + 1)).ToArray();
        var sw1 = Enumerable.Range(0, perChannel ? hidden : 1).Select(_ => tie ? 1f : 0.002f + (float)rng.NextDouble() * 0.004f).ToArray();
        var b1 = Enumerable.Range(0, hidden).Select(_ => tie ? rng.Next(-8, 9) : rng.Next(-20000, 20000)).ToArray();
        var w2 = Enumerable.Range(0, hidden * outputs).Select(_ => (sbyte)rng.Next(-wMax, wMax + 1)).ToArray();
        float sw2 = tie ? 1f : 0.003f + (float)rng.NextDouble() * 0.003f;
        var b = new ModelBuilder(opset: 13, graphName: "qdq_mlp");
        var x = b.Input("x", DataType.Float32, batch, inputs);
        var xq = b.Node("QuantizeLinear", [x, b.Initializer("sx", Scalar(sx)), b.Initializer("zx", Scalar((byte)128))]);
        var xf = b.Node("DequantizeLinear", [xq, "sx", "zx"]);
        var w1f = b.Node("DequantizeLinear", [b.Initializer("w1", Tensor.Create([inputs, hidden], w1)),
            b.Initializer("sw1", perChannel ? Tensor.Create([hidden], sw1) : Scalar(sw1[0])),
            b.Initializer("zw1", perChannel ? Tensor.Create([hidden], new sbyte[hidden]) : Scalar((sbyte)0))], [("axis", 1L)]);
        var b1f = b.Node("DequantizeLinear", [b.Initializer("b1", Tensor.Create([hidden], b1)),
            b.Initializer("sb1", perChannel ? Tensor.Create([hidden], sw1.Select(s => sx * s).ToArray()) : Scalar(sx * sw1[0])),
            b.Initializer("zb1", perChannel ? Tensor.Create([hidden], new int[hidden]) : Scalar(0))], [("axis", 0L)]);
        var h = b.Node("Gemm", [xf, w1f, b1f]);
        var hr = b.Node("Relu", [h]);
        var hq = b.Node("QuantizeLinear", [hr, b.Initializer("sh", Scalar(sh)), b.Initializer("zh", Scalar(hiddenZero))]);
        var hf = b.Node("DequantizeLinear", [hq, "sh", "zh"]);
        var w2f = b.Node("DequantizeLinear", [b.Initializer("w2", Tensor.Create([hidden, outputs], w2)), b.Initializer("sw2", Scalar(sw2)), b.Initializer("zw2", Scalar((sbyte)0))]);
        var o = b.Node("MatMul", [hf, w2f]);
        var oq = b.Node("QuantizeLinear", [o, b.Initializer("so", Scalar(so)), b.Initializer("zo", Scalar((byte)128))]);
        b.Output(b.Node("DequantizeLinear", [oq, "so", "zo"]), "y", DataType.Float32, [batch, outputs]);
        return OnnxWriter.Write(b.Build());
    }

    /// <summary>
    /// A uint8 input x[batch, 8] that feeds a QLinearMatMul directly (no QuantizeLinear in front, so the
    /// light graph never sees x), then DequantizeLinear to float y[batch, 4].
    /// </summary>
    public static byte[] DirectInput(int seed, int batch)
    {
        var rng = new Random(seed);
        var w = Enumerable.Range(0, 8 * 4).Select(_ => (sbyte)rng.Next(-127, 128)).ToArray();
        var b = new ModelBuilder(opset: 13, graphName: "direct_input");
        var x = b.Input("x", DataType.UInt8, batch, 8);
        var q = b.Node("QLinearMatMul", [x, b.Initializer("sx", Scalar(0.02f)), b.Initializer("zx", Scalar((byte)128)),
            b.Initializer("w", Tensor.Create([8, 4], w)), b.Initializer("sw", Scalar(0.01f)), b.Initializer("zw", Scalar((sbyte)0)),
            b.Initializer("sy", Scalar(0.05f)), b.Initializer("zy", Scalar((byte)128))]);
        b.Output(b.Node("DequantizeLinear", [q, "sy", "zy"]), "y", DataType.Float32, [batch, 4]);
        return OnnxWriter.Write(b.Build());
    }

    /// <summary>A seeded uint8 input for <see cref="DirectInput"/>.</summary>
    public static Dictionary<string, Tensor> DirectInputValues(int seed, int batch)
    {
        var rng = new Random(seed);
        var x = Enumerable.Range(0, batch * 8).Select(_ => (byte)rng.Next(256)).ToArray();
        return new Dictionary<string, Tensor> { ["x"] = Tensor.Create([batch, 8], x) };
    }

    /// <summary>A seeded input: integers in [−range, range] (exactly representable at scale 1) or uniform floats in [−2, 2].</summary>
    public static Dictionary<string, Tensor> Input(int seed, int batch, int inputs = 24, bool integers = false)
    {
        var rng = new Random(seed);
        var x = Enumerable.Range(0, batch * inputs).Select(_ => integers ? rng.Next(-20, 21) : (float)(rng.NextDouble() * 4 - 2)).ToArray();
        return new Dictionary<string, Tensor> { ["x"] = Tensor.Create([batch, inputs], x) };
    }

    private static Tensor Scalar<T>(T v)
        where T : unmanaged => Tensor.Create<T>([], [v]);
}
