using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Prova.Lm.Export;
using Prova.Onnx;
using Xunit.Abstractions;

namespace Prova.Lm.Tests.Export;

/// <summary>The GPT-2 exporter's files, run in ONNX Runtime (the oracle) and checked against a plain C# GPT-2 forward.</summary>
public sealed class Gpt2OnnxExportTests
{
    private static readonly Gpt2Config s_tiny = new(Layers: 2, Heads: 2, Embd: 16, Vocab: 40, Positions: 24);
    private readonly ITestOutputHelper _output;

    public Gpt2OnnxExportTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public void InputsAndOutputsUseOptimumsNamesAndDims()
    {
        var model = Gpt2OnnxExport.Build(s_tiny, Gpt2Weights.Random(s_tiny, 1));
        var inputs = model.Graph.Inputs.ConvertAll(v => v.ToString());
        Assert.Equal(
            [
                "input_ids: int64[batch_size, sequence_length]",
                "attention_mask: int64[batch_size, past_sequence_length + sequence_length]",
                "position_ids: int64[batch_size, sequence_length]",
                "past_key_values.0.key: float32[batch_size, 2, past_sequence_length, 8]",
                "past_key_values.0.value: float32[batch_size, 2, past_sequence_length, 8]",
                "past_key_values.1.key: float32[batch_size, 2, past_sequence_length, 8]",
                "past_key_values.1.value: float32[batch_size, 2, past_sequence_length, 8]",
            ],
            inputs);
        var outputs = model.Graph.Outputs.ConvertAll(v => v.ToString());
        Assert.Equal("logits: float32[batch_size, sequence_length, 40]", outputs[0]);
        Assert.Equal("present.1.value: float32[batch_size, 2, past_sequence_length + sequence_length, 8]", outputs[4]);
        Assert.Equal(5, outputs.Count);
        Assert.Equal(new Dictionary<string, long> { [""] = 17 }, model.Opsets);
        Assert.All(model.Graph.Nodes, n => Assert.Equal("", n.Domain));
    }

    [Fact]
    public void LogitsMatchAPlainGpt2Forward()
    {
        int seed = Random.Shared.Next();
        _output.WriteLine($"seed {seed}");
        var weights = Gpt2Weights.Random(s_tiny, seed);
        // Larger than init-scale biases and LayerNorm params so every term is exercised.
        var rng = new Random(seed);
        foreach (var l in weights.Layers)
        {
            Gpt2Weights.Normal(rng, l.AttnB, 0.3f);
            Gpt2Weights.Normal(rng, l.FcB, 0.3f);
            Gpt2Weights.Normal(rng, l.Ln1Beta, 0.3f);
            Gpt2Weights.Normal(rng, l.Ln2Gamma, 0.5f);
            Gpt2Weights.Normal(rng, l.AttnW, 0.3f);
        }
        using var ort = new OrtGpt2(s_tiny, weights);
        long[] ids = [3, 17, 0, 39, 5, 5, 12];
        var result = ort.Run([ids], Ones(1, ids.Length), Positions(1, 0, ids.Length), OrtGpt2.EmptyPast(s_tiny, 1));
        float[] expected = ReferenceForward(s_tiny, weights, ids);
        AssertClose(expected, result.Logits, 1e-4f);
    }

    [Theory]
    [InlineData(17)]
    [InlineData(18)]
    public void PrefillThenCachedDecodeStepsEqualAFullRecompute(int opset)
    {
        int seed = Random.Shared.Next();
        _output.WriteLine($"seed {seed}");
        var weights = Gpt2Weights.Random(s_tiny, seed);
        var rng = new Random(seed);
        using var ort = new OrtGpt2(s_tiny, OnnxWriter.Write(Gpt2OnnxExport.Build(s_tiny, weights, opset)));
        long[][] ids = [[1, 2, 3, 4, 5, 6, 7, 8], [9, 8, 7, 6, 5, 4, 3, 2]];
        for (int b = 0; b < 2; b++)
        {
            for (int t = 0; t < 8; t++)
            {
                ids[b][t] = rng.Next(s_tiny.Vocab);
            }
        }
        var full = ort.Run(ids, Ones(2, 8), Positions(2, 0, 8), OrtGpt2.EmptyPast(s_tiny, 2));

        // Prefill 5 tokens, then decode 3 one at a time with the cache.
        var step = ort.Run(Slice(ids, 0, 5), Ones(2, 5), Positions(2, 0, 5), OrtGpt2.EmptyPast(s_tiny, 2));
        AssertClose(SliceLogits(full.Logits, 2, 8, 0, 5), step.Logits, 1e-5f);
        for (int t = 5; t < 8; t++)
        {
            step = ort.Run(Slice(ids, t, t + 1), Ones(2, t + 1), Positions(2, t, t + 1), step.Presents);
            AssertClose(SliceLogits(full.Logits, 2, 8, t, t + 1), step.Logits, 1e-5f);
        }
        for (int i = 0; i < full.Presents.Length; i++)
        {
            AssertClose(full.Presents[i].ToArray(), step.Presents[i].ToArray(), 1e-5f);
        }
    }

    [Fact]
    public void LeftPaddingMaskedByAttentionMaskDoesNotChangeTheLogits()
    {
        int seed = Random.Shared.Next();
        _output.WriteLine($"seed {seed}");
        var weights = Gpt2Weights.Random(s_tiny, seed);
        using var ort = new OrtGpt2(s_tiny, weights);
        long[] ids = [4, 8, 15, 16, 23];
        var plain = ort.Run([ids], Ones(1, 5), Positions(1, 0, 5), OrtGpt2.EmptyPast(s_tiny, 1));

        // The same sequence behind 3 pad tokens (mask 0), positions counted from the first real token.
        long[] padded = [0, 0, 0, .. ids];
        long[] mask = [0, 0, 0, 1, 1, 1, 1, 1];
        long[] positions = [0, 0, 0, 0, 1, 2, 3, 4];
        var result = ort.Run([padded], [mask], [positions], OrtGpt2.EmptyPast(s_tiny, 1));
        AssertClose(plain.Logits, SliceLogits(result.Logits, 1, 8, 3, 8), 1e-5f);
        Assert.All(result.Logits, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void WeightsThatDoNotFitTheConfigAreAnLmException()
    {
        var weights = Gpt2Weights.Random(s_tiny, 1);
        var other = s_tiny with { Embd = 8 };
        var ex = Assert.Throws<LmException>(() => Gpt2OnnxExport.Build(other, weights));
        Assert.Contains("wte", ex.Message, StringComparison.Ordinal);
        Assert.Throws<LmException>(() => Gpt2OnnxExport.Build(s_tiny with { Heads = 3 }, weights));
        Assert.Throws<LmException>(() => Gpt2OnnxExport.Build(s_tiny, weights, opset: 13));
    }

    /// <summary>Straightforward GPT-2 forward for one sequence (no cache), [S, V] logits.</summary>
    internal static float[] ReferenceForward(Gpt2Config c, Gpt2Weights w, long[] ids)
    {
        int s = ids.Length, d = c.Embd, hd = c.HeadDim, v = c.Vocab;
        var x = new double[s, d];
        for (int t = 0; t < s; t++)
        {
            for (int j = 0; j < d; j++)
            {
                x[t, j] = w.Wte[ids[t] * d + j] + w.Wpe[t * d + j];
            }
        }
        foreach (var l in w.Layers)
        {
            var h = Norm(x, l.Ln1Gamma, l.Ln1Beta, c.LayerNormEpsilon);
            var qkv = Lin(h, l.AttnW, l.AttnB, 3 * d);
            var ctx = new double[s, d];
            for (int head = 0; head < c.Heads; head++)
            {
                for (int i = 0; i < s; i++)
                {
                    var p = new double[i + 1];
                    double max = double.NegativeInfinity;
                    for (int j = 0; j <= i; j++)
                    {
                        double dot = 0;
                        for (int k = 0; k < hd; k++)
                        {
                            dot += qkv[i, head * hd + k] * qkv[j, d + head * hd + k];
                        }
                        p[j] = dot / Math.Sqrt(hd);
                        max = Math.Max(max, p[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j <= i; j++)
                    {
                        p[j] = Math.Exp(p[j] - max);
                        sum += p[j];
                    }
                    for (int j = 0; j <= i; j++)
                    {
                        for (int k = 0; k < hd; k++)
                        {
                            ctx[i, head * hd + k] += p[j] / sum * qkv[j, 2 * d + head * hd + k];
                        }
                    }
                }
            }
            Accumulate(x, Lin(ctx, l.AttnProjW, l.AttnProjB, d));
            var f = Lin(Norm(x, l.Ln2Gamma, l.Ln2Beta, c.LayerNormEpsilon), l.FcW, l.FcB, 4 * d);
            for (int t = 0; t < s; t++)
            {
                for (int j = 0; j < 4 * d; j++)
                {
                    double u = f[t, j];
                    f[t, j] = 0.5 * u * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (u + 0.044715 * u * u * u)));
                }
            }
            Accumulate(x, Lin(f, l.FcProjW, l.FcProjB, d));
        }
        var hf = Norm(x, w.LnFGamma, w.LnFBeta, c.LayerNormEpsilon);
        var logits = new float[s * v];
        for (int t = 0; t < s; t++)
        {
            for (int k = 0; k < v; k++)
            {
                double dot = 0;
                for (int j = 0; j < d; j++)
                {
                    dot += hf[t, j] * w.Wte[k * d + j];
                }
                logits[t * v + k] = (float)dot;
            }
        }
        return logits;
    }

    private static double[,] Norm(double[,] x, float[] g, float[] b, float eps)
    {
        int s = x.GetLength(0), d = x.GetLength(1);
        var y = new double[s, d];
        for (int t = 0; t < s; t++)
        {
            double mean = 0, var = 0;
            for (int j = 0; j < d; j++)
            {
                mean += x[t, j] / d;
            }
            for (int j = 0; j < d; j++)
            {
                var += (x[t, j] - mean) * (x[t, j] - mean) / d;
            }
            for (int j = 0; j < d; j++)
            {
                y[t, j] = (x[t, j] - mean) / Math.Sqrt(var + eps) * g[j] + b[j];
            }
        }
        return y;
    }

    private static double[,] Lin(double[,] x, float[] w, float[] b, int n)
    {
        int s = x.GetLength(0), k = x.GetLength(1);
        var y = new double[s, n];
        for (int t = 0; t < s; t++)
        {
            for (int o = 0; o < n; o++)
            {
                double sum = b[o];
                for (int i = 0; i < k; i++)
                {
                    sum += x[t, i] * w[i * n + o];
                }
                y[t, o] = sum;
            }
        }
        return y;
    }

    private static void Accumulate(double[,] x, double[,] y)
    {
        for (int t = 0; t < x.GetLength(0); t++)
        {
            for (int j = 0; j < x.GetLength(1); j++)
            {
                x[t, j] += y[t, j];
            }
        }
    }

    private static long[][] Ones(int batch, int length)
    {
        var rows = new long[batch][];
        for (int b = 0; b < batch; b++)
        {
            rows[b] = new long[length];
            Array.Fill(rows[b], 1L);
        }
        return rows;
    }

    private static long[][] Positions(int batch, int from, int to)
    {
        var rows = new long[batch][];
        for (int b = 0; b < batch; b++)
        {
            rows[b] = new long[to - from];
            for (int t = from; t < to; t++)
            {
                rows[b][t - from] = t;
            }
        }
        return rows;
    }

    private static long[][] Slice(long[][] ids, int from, int to) => Array.ConvertAll(ids, r => r[from..to]);

    private static float[] SliceLogits(float[] logits, int batch, int length, int from, int to)
    {
        int v = s_tiny.Vocab;
        var slice = new List<float>();
        for (int b = 0; b < batch; b++)
        {
            slice.AddRange(logits.AsSpan((b * length + from) * v, (to - from) * v).ToArray());
        }
        return [.. slice];
    }

    internal static void AssertClose(float[] expected, float[] actual, float tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            float limit = tolerance * Math.Max(1f, Math.Abs(expected[i]));
            Assert.True(Math.Abs(expected[i] - actual[i]) <= limit, $"element {i}: expected {expected[i]}, got {actual[i]}");
        }
    }
}

/// <summary>Runs an exported GPT-2 in ONNX Runtime.</summary>
internal sealed class OrtGpt2 : IDisposable
{
    private readonly InferenceSession _session;
    private readonly Gpt2Config _config;

    public OrtGpt2(Gpt2Config config, Gpt2Weights weights)
    {
        _config = config;
        _session = new InferenceSession(OnnxWriter.Write(Gpt2OnnxExport.Build(config, weights)));
    }

    public OrtGpt2(Gpt2Config config, byte[] model)
    {
        _config = config;
        _session = new InferenceSession(model);
    }

    public static DenseTensor<float>[] EmptyPast(Gpt2Config c, int batch)
    {
        var past = new DenseTensor<float>[2 * c.Layers];
        for (int i = 0; i < past.Length; i++)
        {
            past[i] = new DenseTensor<float>([batch, c.Heads, 0, c.HeadDim]);
        }
        return past;
    }

    public (float[] Logits, DenseTensor<float>[] Presents) Run(long[][] ids, long[][] mask, long[][] positions, DenseTensor<float>[] past)
    {
        var inputs = new List<NamedOnnxValue>
        {
            NamedOnnxValue.CreateFromTensor("input_ids", Matrix(ids)),
            NamedOnnxValue.CreateFromTensor("attention_mask", Matrix(mask)),
            NamedOnnxValue.CreateFromTensor("position_ids", Matrix(positions)),
        };
        for (int i = 0; i < _config.Layers; i++)
        {
            inputs.Add(NamedOnnxValue.CreateFromTensor($"past_key_values.{i}.key", past[2 * i]));
            inputs.Add(NamedOnnxValue.CreateFromTensor($"past_key_values.{i}.value", past[2 * i + 1]));
        }
        using var results = _session.Run(inputs);
        float[] logits = [];
        var presents = new DenseTensor<float>[2 * _config.Layers];
        foreach (var r in results)
        {
            var t = r.AsTensor<float>();
            var copy = new DenseTensor<float>(t.ToArray(), t.Dimensions.ToArray());
            if (r.Name == "logits")
            {
                logits = t.ToArray();
            }
            else
            {
                var parts = r.Name.Split('.');
                presents[2 * int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) + (parts[2] == "key" ? 0 : 1)] = copy;
            }
        }
        return (logits, presents);
    }

    private static DenseTensor<long> Matrix(long[][] rows)
    {
        var t = new DenseTensor<long>([rows.Length, rows[0].Length]);
        for (int b = 0; b < rows.Length; b++)
        {
            for (int j = 0; j < rows[b].Length; j++)
            {
                t[b, j] = rows[b][j];
            }
        }
        return t;
    }

    public void Dispose() => _session.Dispose();
}
