using Prova.Core;
using Prova.Onnx;

namespace Prova.Runtime.Tests.Linear;

/// <summary>Single-node models, naive references with the engine's arithmetic definition, and comparison helpers.</summary>
internal static class LinearTestKit
{
    public static OnnxAttribute Int(string name, long v) => new() { Name = name, Kind = AttributeKind.Int, Int = v };

    public static OnnxAttribute Float(string name, float v) => new() { Name = name, Kind = AttributeKind.Float, Float = v };

    public static OnnxAttribute Ints(string name, params long[] v) => new() { Name = name, Kind = AttributeKind.Ints, Ints = v };

    public static OnnxAttribute Str(string name, string v) => new() { Name = name, Kind = AttributeKind.String, String = v };

    /// <summary>A model with one node; <paramref name="inputs"/> with a non-null tensor become initializers.</summary>
    public static OnnxModel Model(string op, (string Name, int[] Shape, Tensor? Init)[] inputs, int outputs = 1, int opset = 13, params OnnxAttribute[] attributes)
    {
        var graph = new OnnxGraph { Name = "g" };
        var names = new string[inputs.Length];
        for (int i = 0; i < inputs.Length; i++)
        {
            var (name, shape, init) = inputs[i];
            names[i] = name;
            if (name.Length == 0)
            {
                continue;
            }
            if (init is not null)
            {
                graph.Initializers[name] = init;
            }
            else
            {
                graph.Inputs.Add(new ValueInfo { Name = name, ElementType = DataType.Float32, Shape = shape.Select(d => Dim.Fixed(d)).ToArray() });
            }
        }
        var outs = Enumerable.Range(0, outputs).Select(i => "y" + i).ToArray();
        var attrs = new Dictionary<string, OnnxAttribute>(StringComparer.Ordinal);
        foreach (var a in attributes)
        {
            attrs[a.Name] = a;
        }
        graph.Nodes.Add(new OnnxNode { Name = "n", OpType = op, Inputs = names, Outputs = outs, Attributes = attrs });
        foreach (var o in outs)
        {
            graph.Outputs.Add(new ValueInfo { Name = o, ElementType = DataType.Float32 });
        }
        return new OnnxModel { IrVersion = 8, Opsets = new Dictionary<string, long> { [""] = opset }, Graph = graph };
    }

    public static Dictionary<string, Tensor> Run(OnnxModel model, int threads, Dictionary<string, Tensor> feeds)
    {
        using var session = new InferenceSession(model, new SessionOptions { Threads = threads });
        return session.Run(feeds);
    }

    public static float[] Random(Random rng, int count, bool sparseSpecials = false)
    {
        var v = new float[count];
        for (int i = 0; i < count; i++)
        {
            v[i] = (float)(rng.NextDouble() * 2 - 1);
            if (sparseSpecials && rng.Next(50) == 0)
            {
                v[i] = rng.Next(3) switch { 0 => -0f, 1 => 1e30f, _ => 1e-30f };
            }
        }
        return v;
    }

    public static Tensor T(int[] shape, float[] data) => Tensor.Create(shape, data);

    /// <summary>Asserts bit-identical float arrays, naming the first differing element.</summary>
    public static void AssertBits(float[] expected, float[] actual, string what)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: length {actual.Length}, expected {expected.Length}");
        for (int i = 0; i < expected.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
            {
                Assert.Fail($"{what}: element {i} is {actual[i]:R} (0x{BitConverter.SingleToInt32Bits(actual[i]):X8}), expected {expected[i]:R} (0x{BitConverter.SingleToInt32Bits(expected[i]):X8})");
            }
        }
    }

    /// <summary>C[i,j] = fma chain over k = 0..K-1 from 0f; a(i,k), b(k,j) given as functions of the index.</summary>
    public static float[] NaiveGemm(int m, int n, int k, Func<int, int, float> a, Func<int, int, float> b)
    {
        var c = new float[m * n];
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                float acc = 0f;
                for (int kk = 0; kk < k; kk++)
                {
                    acc = MathF.FusedMultiplyAdd(a(i, kk), b(kk, j), acc);
                }
                c[i * n + j] = acc;
            }
        }
        return c;
    }

    /// <summary>Direct 2-D convolution with the engine's definition: fma over (ci, kh, kw), padding as fma with 0, then + bias.</summary>
    public static float[] NaiveConv(float[] x, int[] xs, float[] w, int[] ws, float[]? bias, int group, int[] strides, int[] dil, int[] pads, out int[] outShape)
    {
        int n = xs[0], c = xs[1], h = xs[2], wd = xs[3];
        int m = ws[0], cg = ws[1], kh = ws[2], kw = ws[3];
        int oh = (h + pads[0] + pads[2] - ((kh - 1) * dil[0] + 1)) / strides[0] + 1;
        int ow = (wd + pads[1] + pads[3] - ((kw - 1) * dil[1] + 1)) / strides[1] + 1;
        int mg = m / group;
        outShape = [n, m, oh, ow];
        var y = new float[n * m * oh * ow];
        for (int b = 0; b < n; b++)
        {
            for (int co = 0; co < m; co++)
            {
                int g = co / mg;
                for (int y0 = 0; y0 < oh; y0++)
                {
                    for (int x0 = 0; x0 < ow; x0++)
                    {
                        float acc = 0f;
                        for (int ci = 0; ci < cg; ci++)
                        {
                            for (int i = 0; i < kh; i++)
                            {
                                for (int j = 0; j < kw; j++)
                                {
                                    int ih = y0 * strides[0] - pads[0] + i * dil[0];
                                    int iw = x0 * strides[1] - pads[1] + j * dil[1];
                                    float v = ih >= 0 && ih < h && iw >= 0 && iw < wd ? x[((b * c + g * cg + ci) * h + ih) * wd + iw] : 0f;
                                    acc = MathF.FusedMultiplyAdd(w[((co * cg + ci) * kh + i) * kw + j], v, acc);
                                }
                            }
                        }
                        if (bias is not null)
                        {
                            acc += bias[co];
                        }
                        y[((b * m + co) * oh + y0) * ow + x0] = acc;
                    }
                }
            }
        }
        return y;
    }
}

/// <summary>Tests that change <c>SimdLevel.MaxVectorBits</c> run one at a time.</summary>
[CollectionDefinition("SimdLevel", DisableParallelization = true)]
public sealed class SimdLevelCollection
{
}
