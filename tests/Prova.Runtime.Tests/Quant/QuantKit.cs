using System.Numerics;
using Prova.Core;
using Prova.Onnx;

namespace Prova.Runtime.Tests.Quant;

/// <summary>Quantized test models and an independent BigInteger implementation of docs/quantization.md.</summary>
internal static class QuantKit
{
    public static OnnxAttribute Int(string name, long v) => new() { Name = name, Kind = AttributeKind.Int, Int = v };

    public static OnnxNode Node(string op, string[] inputs, string[] outputs, params OnnxAttribute[] attributes) => new()
    {
        Name = outputs[0] + "_node",
        OpType = op,
        Inputs = inputs,
        Outputs = outputs,
        Attributes = attributes.ToDictionary(a => a.Name, StringComparer.Ordinal),
    };

    public static ValueInfo Info(string name, DataType type, params int[] shape)
        => new() { Name = name, ElementType = type, Shape = shape.Select(d => Dim.Fixed(d)).ToArray() };

    public static Tensor Scalar<T>(T v) where T : unmanaged => Tensor.Create<T>([], [v]);

    public static sbyte[] RandomInt8(Random rng, int count, int lo = -127, int hi = 127)
        => Enumerable.Range(0, count).Select(_ => (sbyte)rng.Next(lo, hi + 1)).ToArray();

    public static byte[] RandomUInt8(Random rng, int count)
        => Enumerable.Range(0, count).Select(_ => (byte)rng.Next(0, 256)).ToArray();

    /// <summary>Parameters of the two-layer QDQ MLP built by <see cref="QdqMlp"/>.</summary>
    internal sealed record MlpParams(int In, int Hidden, int Out, float Sx, byte Zx, sbyte[] W1, float[] Sw1, int[] B1, float Sh, byte Zh, sbyte[] W2, float Sw2, float So, byte Zo);

    /// <summary>
    /// x → Q → DQ → Gemm(DQ(w1 int8, per-channel when asked), bias DQ(int32)) → Relu → Q → DQ → MatMul(DQ(w2)) → Q → DQ → y,
    /// the layout ONNX Runtime's static quantizer writes.
    /// </summary>
    public static (OnnxModel Model, MlpParams P) QdqMlp(int seed, int batch, int inputs = 32, int hidden = 24, int outputs = 10, bool perChannel = true)
    {
        var rng = new Random(seed);
        float sx = 0.02f + (float)rng.NextDouble() * 0.01f;
        float sh = 0.05f + (float)rng.NextDouble() * 0.05f;
        float so = 0.1f + (float)rng.NextDouble() * 0.1f;
        var w1 = RandomInt8(rng, inputs * hidden);
        var sw1 = Enumerable.Range(0, perChannel ? hidden : 1).Select(_ => 0.002f + (float)rng.NextDouble() * 0.004f).ToArray();
        var b1 = Enumerable.Range(0, hidden).Select(_ => rng.Next(-20000, 20000)).ToArray();
        var w2 = RandomInt8(rng, hidden * outputs);
        float sw2 = 0.003f + (float)rng.NextDouble() * 0.003f;
        var p = new MlpParams(inputs, hidden, outputs, sx, 128, w1, sw1, b1, sh, 0, w2, sw2, so, 128);
        var g = new OnnxGraph { Name = "qdq_mlp" };
        g.Inputs.Add(Info("x", DataType.Float32, batch, inputs));
        g.Outputs.Add(Info("y", DataType.Float32, batch, outputs));
        var init = g.Initializers;
        init["sx"] = Scalar(sx);
        init["zx"] = Scalar(p.Zx);
        init["w1"] = Tensor.Create([inputs, hidden], w1);
        init["sw1"] = perChannel ? Tensor.Create([hidden], sw1) : Scalar(sw1[0]);
        init["zw1"] = perChannel ? Tensor.Create([hidden], new sbyte[hidden]) : Scalar((sbyte)0);
        init["b1"] = Tensor.Create([hidden], b1);
        init["sb1"] = perChannel ? Tensor.Create([hidden], sw1.Select(s => sx * s).ToArray()) : Scalar(sx * sw1[0]);
        init["zb1"] = perChannel ? Tensor.Create([hidden], new int[hidden]) : Scalar(0);
        init["sh"] = Scalar(sh);
        init["zh"] = Scalar(p.Zh);
        init["w2"] = Tensor.Create([hidden, outputs], w2);
        init["sw2"] = Scalar(sw2);
        init["zw2"] = Scalar((sbyte)0);
        init["so"] = Scalar(so);
        init["zo"] = Scalar(p.Zo);
        g.Nodes.AddRange(
        [
            Node("QuantizeLinear", ["x", "sx", "zx"], ["xq"]),
            Node("DequantizeLinear", ["xq", "sx", "zx"], ["xf"]),
            Node("DequantizeLinear", ["w1", "sw1", "zw1"], ["w1f"], Int("axis", 1)),
            Node("DequantizeLinear", ["b1", "sb1", "zb1"], ["b1f"], Int("axis", 0)),
            Node("Gemm", ["xf", "w1f", "b1f"], ["h"]),
            Node("Relu", ["h"], ["hr"]),
            Node("QuantizeLinear", ["hr", "sh", "zh"], ["hq"]),
            Node("DequantizeLinear", ["hq", "sh", "zh"], ["hf"]),
            Node("DequantizeLinear", ["w2", "sw2", "zw2"], ["w2f"]),
            Node("MatMul", ["hf", "w2f"], ["o"]),
            Node("QuantizeLinear", ["o", "so", "zo"], ["oq"]),
            Node("DequantizeLinear", ["oq", "so", "zo"], ["y"]),
        ]);
        var model = new OnnxModel { IrVersion = 8, Opsets = new Dictionary<string, long> { [""] = 13 }, Graph = g };
        return (model, p);
    }

    /// <summary>The exact value a/b of two floats' product and quotient: sa·sb/sy as a rational.</summary>
    public static (BigInteger Num, BigInteger Den) Rational(float f)
    {
        // Independent of Requant.Exact: via decimal-free double decomposition.
        double d = f;
        long bits = BitConverter.DoubleToInt64Bits(d);
        int exp = (int)((bits >> 52) & 0x7FF);
        long mant = bits & 0xFFFFFFFFFFFFFL;
        if (exp == 0)
        {
            exp = 1;
        }
        else
        {
            mant |= 1L << 52;
        }
        int e = exp - 1075;
        BigInteger num = d < 0 ? -(BigInteger)mant : mant;
        return e >= 0 ? (num << e, 1) : (num, BigInteger.One << -e);
    }

    /// <summary>The spec's M0 and s for R = sa·sb/sy, found by search over s with BigInteger (not the engine's algorithm).</summary>
    public static (long M0, int S) Multiplier(float sa, float sb, float sy)
    {
        var (na, da) = Rational(sa);
        var (nb, db) = Rational(sb);
        var (ny, dy) = Rational(sy);
        var num = na * nb * dy;
        var den = da * db * ny;
        for (int s = -200; s < 400; s++)
        {
            // floor(R·2^s) in [2^30, 2^31)
            var scaledNum = s >= 0 ? num << s : num;
            var scaledDen = s >= 0 ? den : den << -s;
            var floor = BigInteger.Divide(scaledNum, scaledDen);
            if (floor >= (BigInteger.One << 30))
            {
                var rem = scaledNum - floor * scaledDen;
                var m0 = floor;
                if (2 * rem > scaledDen || (2 * rem == scaledDen && !floor.IsEven))
                {
                    m0 += 1;
                }
                if (m0 == BigInteger.One << 31)
                {
                    return (1L << 30, s - 1);
                }
                return ((long)m0, s);
            }
        }
        throw new InvalidOperationException("no multiplier");
    }

    /// <summary>saturate(round_half_even(acc·M0 / 2^s) + zp) with BigInteger.</summary>
    public static int Requantize(long acc, (long M0, int S) m, int zp, int lo, int hi)
    {
        BigInteger p = (BigInteger)acc * m.M0;
        BigInteger q;
        if (m.S <= 0)
        {
            q = p << -m.S;
        }
        else
        {
            var den = BigInteger.One << m.S;
            q = BigInteger.Divide(p, den);
            var r = p - q * den;
            if (r.Sign < 0)
            {
                q -= 1;
                r += den;
            }
            if (2 * r > den || (2 * r == den && !q.IsEven))
            {
                q += 1;
            }
        }
        q += zp;
        return q > hi ? hi : q < lo ? lo : (int)q;
    }

    public static int QuantizeFloat(float x, float s, int zp, int lo, int hi)
    {
        float r = MathF.Round(x / s, MidpointRounding.ToEven);
        if (float.IsNaN(r))
        {
            return zp;
        }
        double v = (double)r + zp;
        return v > hi ? hi : v < lo ? lo : (int)v;
    }
}
