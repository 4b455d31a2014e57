using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Prova.Lm.Export;
using Prova.Onnx;
using Xunit.Abstractions;

namespace Prova.Lm.Tests.Export;

/// <summary>
/// The Llama exporter's files run on ONNX Runtime 1.32 (the oracle), and its KV-cache layout is consistent:
/// decoding token by token with the cache gives the logits of recomputing the whole sequence.
/// </summary>
public sealed class LlamaGenAiExportTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("prova-llama-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData(LlamaPrecision.Fp32)]
    [InlineData(LlamaPrecision.Int4)]
    public void TinyLlamaRunsOnOnnxRuntimeWithTheGenAiInputsAndOutputs(LlamaPrecision precision)
    {
        var config = LlamaConfig.Tiny;
        string path = LlamaGenAiExport.Save(_dir, config, precision, seed: 7);
        using var session = new InferenceSession(path);
        Assert.Equal(["input_ids", "attention_mask", "past_key_values.0.key", "past_key_values.0.value", "past_key_values.1.key", "past_key_values.1.value"], session.InputNames);
        Assert.Equal(["logits", "present.0.key", "present.0.value", "present.1.key", "present.1.value"], session.OutputNames);

        using var decoder = new OrtDecoder(path);
        float[] logits = decoder.Prefill([1, 17, 42, 99, 200]);
        Assert.Equal(config.VocabSize, logits.Length);
        Assert.All(logits, v => Assert.True(float.IsFinite(v)));
        Assert.Equal(5, decoder.Length);
        float[] next = decoder.Append(OrtDecoder.ArgMax(logits));
        Assert.Equal(6, decoder.Length);
        Assert.NotEqual(logits, next);
    }

    [Theory]
    [InlineData(LlamaPrecision.Fp32, 1e-4f)]
    [InlineData(LlamaPrecision.Int4, 2e-2f)]
    public void DecodingWithTheKvCacheGivesTheLogitsOfRecomputingTheWholeSequence(LlamaPrecision precision, float tolerance)
    {
        // Int4 gets a looser bound: MatMulNBits at accuracy_level 4 quantises activations to int8 per block, and a
        // 1-row decode step and an n-row prefill take different MLAS paths.
        const ulong seed = 11;
        output.WriteLine($"seed {seed}, {precision}, tolerance {tolerance}");
        string path = LlamaGenAiExport.Save(_dir, LlamaConfig.Tiny, precision, seed);
        using var cached = new OrtDecoder(path);
        using var full = new OrtDecoder(path);
        int[] prompt = [1, 5, 9, 33, 64, 130, 250, 7];
        var (tokens, logits) = cached.Greedy(prompt, newTokens: 12);
        var sequence = new List<int>(prompt);
        float worst = 0f;
        for (int step = 0; step < tokens.Length; step++)
        {
            float[] reference = full.Recompute(sequence.ToArray());
            float diff = MaxAbsDiff(reference, logits[step]);
            worst = MathF.Max(worst, diff);
            Assert.True(diff <= tolerance, $"step {step}: KV-cache logits differ from recompute by {diff} (> {tolerance})");
            Assert.Equal(OrtDecoder.ArgMax(reference), tokens[step]);
            sequence.Add(tokens[step]);
        }
        output.WriteLine($"worst |cached - recomputed| = {worst}; tokens {string.Join(' ', tokens)}");
    }

    [Fact]
    public void SameSeedSameBytesDifferentSeedDifferentWeights()
    {
        var a = OnnxWriter.Write(LlamaGenAiExport.Build(LlamaConfig.Tiny, LlamaPrecision.Int4, seed: 3));
        var b = OnnxWriter.Write(LlamaGenAiExport.Build(LlamaConfig.Tiny, LlamaPrecision.Int4, seed: 3));
        var c = OnnxWriter.Write(LlamaGenAiExport.Build(LlamaConfig.Tiny, LlamaPrecision.Int4, seed: 4));
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void Int4QuantisationRoundTripsWithinOneScaleAndMapsTheLargestMagnitudeToMinusEight()
    {
        const int seed = 1234;
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        const int k = 80, n = 3; // K not a multiple of 32: the last block is padded
        var w = new float[k * n];
        for (int i = 0; i < w.Length; i++)
        {
            w[i] = (float)(random.NextDouble() * 2 - 1);
        }
        w[5 * n + 1] = -3f; // block 0 of column 1: its extreme is negative, so the scale is positive
        var (packed, scales) = LlamaGenAiExport.QuantizeInt4(w, k, n);
        int kBlocks = 3;
        Assert.Equal(n * kBlocks * 16, packed.Length);
        Assert.Equal(n * kBlocks, scales.Length);
        Assert.Equal(-3f / -8f, scales[1 * kBlocks + 0]);
        for (int col = 0; col < n; col++)
        {
            for (int r = 0; r < k; r++)
            {
                int block = r / 32;
                byte b = packed[(col * kBlocks + block) * 16 + (r % 32) / 2];
                int q = (r % 2 == 0) ? b & 0xF : b >> 4;
                float scale = scales[col * kBlocks + block];
                float dequantised = (q - 8) * scale;
                // Rounding costs at most half a step; values near the opposite extreme clip at +7 steps (the
                // levels are −8..7), costing at most one step.
                float bound = q == 15 ? MathF.Abs(scale) : MathF.Abs(scale) / 2;
                Assert.True(MathF.Abs(dequantised - w[r * n + col]) <= bound + 1e-6f, $"col {col} row {r}: {w[r * n + col]} → {dequantised}");
            }
        }
        Assert.Equal(0, packed[(1 * kBlocks) * 16 + 2] >> 4); // row 5 (odd: high nibble of byte 2) holds −8 + 8 = 0
    }

    [Fact]
    public void GenAiConfigNamesTheDecoderInputsOutputsAndShape()
    {
        var config = LlamaConfig.Tiny;
        using var json = JsonDocument.Parse(LlamaGenAiExport.GenAiConfigJson(config));
        var model = json.RootElement.GetProperty("model");
        Assert.Equal("llama", model.GetProperty("type").GetString());
        Assert.Equal(config.VocabSize, model.GetProperty("vocab_size").GetInt32());
        var decoder = model.GetProperty("decoder");
        Assert.Equal("model.onnx", decoder.GetProperty("filename").GetString());
        Assert.Equal(config.HeadSize, decoder.GetProperty("head_size").GetInt32());
        Assert.Equal(config.NumKvHeads, decoder.GetProperty("num_key_value_heads").GetInt32());
        Assert.Equal("past_key_values.%d.key", decoder.GetProperty("inputs").GetProperty("past_key_names").GetString());
        Assert.Equal("present.%d.value", decoder.GetProperty("outputs").GetProperty("present_value_names").GetString());
    }

    [Theory]
    [InlineData(64, 5, 1, "not a multiple of NumHeads")]
    [InlineData(64, 4, 3, "not a multiple of NumKvHeads")]
    [InlineData(0, 4, 2, "HiddenSize must be positive")]
    public void ABadConfigIsAnLmExceptionNamingTheField(int hidden, int heads, int kvHeads, string expected)
    {
        var config = LlamaConfig.Tiny with { HiddenSize = hidden, NumHeads = heads, NumKvHeads = kvHeads };
        var ex = Assert.Throws<LmException>(() => LlamaGenAiExport.Build(config, LlamaPrecision.Fp32, seed: 1));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SmallConfigHasAboutAHundredMillionParameters()
    {
        long count = LlamaConfig.Small100M.ParameterCount;
        Assert.InRange(count, 90_000_000, 120_000_000);
    }

    private static float MaxAbsDiff(float[] a, float[] b)
    {
        Assert.Equal(a.Length, b.Length);
        float max = 0f;
        for (int i = 0; i < a.Length; i++)
        {
            max = MathF.Max(max, MathF.Abs(a[i] - b[i]));
        }
        return max;
    }
}
