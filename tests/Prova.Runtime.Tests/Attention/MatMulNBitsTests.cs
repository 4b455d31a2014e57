using System.Diagnostics;
using Prova.Core;
using Prova.Onnx;
using Prova.Runtime.Ops.Attention;
using Prova.Runtime.Ops.Linear;
using Xunit.Abstractions;
using static Prova.Runtime.Tests.Attention.LlmOpKit;

namespace Prova.Runtime.Tests.Attention;

/// <summary>
/// com.microsoft MatMulNBits (4-bit): against ONNX Runtime (its float path, accuracy_level 0, agrees to
/// rounding: atol 1e-4, rtol 1e-4), bit for bit against Prova's documented formula (dequantize, fma chain in
/// increasing k, + bias) on every vector width and thread count, and the errors a bad node gets.
/// </summary>
[Collection("SimdLevel")]
public sealed class MatMulNBitsTests(ITestOutputHelper output)
{
    private sealed record Case(int M, int K, int N, int BlockSize, bool Zp, bool FloatZp, bool Bias, OnnxModel Model, Dictionary<string, Tensor> Feeds, float[] Reference);

    private Case Make(int seed, int[] aShape, int k, int n, int blockSize, bool zp, bool floatZp, bool bias, int accuracyLevel = 0, Action<float[]>? tweakA = null)
    {
        output.WriteLine($"seed {seed}");
        var rng = new Random(seed);
        int m = 1;
        foreach (int d in aShape[..^1])
        {
            m *= d;
        }
        int blocks = (k + blockSize - 1) / blockSize;
        int blob = blockSize / 2;
        var bq = new byte[n * blocks * blob];
        rng.NextBytes(bq);
        if (k % blockSize != 0)
        {
            // Bytes past K in the last block are padding; keep them zero as exporters do.
            for (int col = 0; col < n; col++)
            {
                for (int kk = k; kk < blocks * blockSize; kk++)
                {
                    bq[(col * blocks * blob) + kk / 2] &= (byte)(kk % 2 == 0 ? 0xF0 : 0x0F);
                }
            }
        }
        var scales = new float[n * blocks];
        for (int i = 0; i < scales.Length; i++)
        {
            scales[i] = (float)(rng.NextDouble() * 0.2 + 0.01) * (rng.Next(2) == 0 ? 1 : -1);
        }
        var a = Random(rng, m * k);
        tweakA?.Invoke(a);
        var inits = new Dictionary<string, Tensor>
        {
            ["B"] = Tensor.Create([n, blocks, blob], bq),
            ["scales"] = F([n * blocks], scales),
        };
        var zpVal = new float[n * blocks];
        for (int i = 0; i < zpVal.Length; i++)
        {
            zpVal[i] = 8;
        }
        if (zp && !floatZp)
        {
            int row = (blocks + 1) / 2;
            var z = new byte[n * row];
            rng.NextBytes(z);
            inits["zp"] = Tensor.Create([n * row], z);
            for (int col = 0; col < n; col++)
            {
                for (int blk = 0; blk < blocks; blk++)
                {
                    int by = z[col * row + blk / 2];
                    zpVal[col * blocks + blk] = blk % 2 == 0 ? by & 0xF : by >> 4;
                }
            }
        }
        else if (zp)
        {
            for (int i = 0; i < zpVal.Length; i++)
            {
                zpVal[i] = rng.Next(16);
            }
            inits["zp"] = F([n * blocks], (float[])zpVal.Clone());
        }
        var biasVal = bias ? Random(rng, n) : null;
        if (biasVal is not null)
        {
            inits["bias"] = F([n], biasVal);
        }
        var feeds = new Dictionary<string, Tensor> { ["A"] = F(aShape, a) };
        string[] inputs = ["A", "B", "scales", zp ? "zp" : "", "", bias ? "bias" : ""];
        var model = Model(Ms, "MatMulNBits", inputs, feeds, inits, ["Y"], 21, Int("K", k), Int("N", n), Int("bits", 4), Int("block_size", blockSize), Int("accuracy_level", accuracyLevel));
        var reference = accuracyLevel == 4 && !floatZp
            ? Int8Reference(a, bq, scales, zpVal, biasVal, m, k, n, blockSize)
            : FloatReference(a, bq, scales, zpVal, biasVal, m, k, n, blockSize);
        return new Case(m, k, n, blockSize, zp, floatZp, bias, model, feeds, reference);
    }

    /// <summary>The documented float formula (every accuracy_level but 4), written out plainly.</summary>
    private static float[] FloatReference(float[] a, byte[] bq, float[] scales, float[] zpVal, float[]? biasVal, int m, int k, int n, int blockSize)
    {
        int blocks = (k + blockSize - 1) / blockSize;
        int blob = blockSize / 2;
        var reference = new float[m * n];
        for (int i = 0; i < m; i++)
        {
            for (int col = 0; col < n; col++)
            {
                float acc = 0f;
                for (int kk = 0; kk < k; kk++)
                {
                    int by = bq[col * blocks * blob + kk / 2];
                    int q = kk % 2 == 0 ? by & 0xF : by >> 4;
                    int blk = kk / blockSize;
                    float w = (q - zpVal[col * blocks + blk]) * scales[col * blocks + blk];
                    acc = MathF.FusedMultiplyAdd(a[i * k + kk], w, acc);
                }
                reference[i * n + col] = biasVal is null ? acc : acc + biasVal[col];
            }
        }
        return reference;
    }

    /// <summary>
    /// The documented accuracy_level 4 formula, written out plainly: A quantized to int8 per block
    /// (scale max|a| / 127, round half to even), exact integer dot per block minus zp × Σaq, then
    /// acc = fma(dot, sa × scale, acc) over blocks in order.
    /// </summary>
    private static float[] Int8Reference(float[] a, byte[] bq, float[] scales, float[] zpVal, float[]? biasVal, int m, int k, int n, int blockSize)
    {
        int blocks = (k + blockSize - 1) / blockSize;
        int blob = blockSize / 2;
        var reference = new float[m * n];
        var aq = new int[k];
        var sa = new float[blocks];
        var sums = new int[blocks];
        for (int i = 0; i < m; i++)
        {
            for (int blk = 0; blk < blocks; blk++)
            {
                int k0 = blk * blockSize;
                int k1 = Math.Min(k, k0 + blockSize);
                float amax = 0f;
                for (int kk = k0; kk < k1; kk++)
                {
                    amax = Math.Max(amax, Math.Abs(a[i * k + kk]));
                }
                float inv = amax == 0f ? 0f : 127f / amax;
                sa[blk] = amax / 127f;
                sums[blk] = 0;
                for (int kk = k0; kk < k1; kk++)
                {
                    aq[kk] = (int)Math.Clamp(MathF.Round(a[i * k + kk] * inv), -127f, 127f);
                    sums[blk] += aq[kk];
                }
            }
            for (int col = 0; col < n; col++)
            {
                float acc = 0f;
                for (int blk = 0; blk < blocks; blk++)
                {
                    int dot = 0;
                    for (int kk = blk * blockSize; kk < Math.Min(k, (blk + 1) * blockSize); kk++)
                    {
                        int by = bq[col * blocks * blob + kk / 2];
                        dot += aq[kk] * (kk % 2 == 0 ? by & 0xF : by >> 4);
                    }
                    int zp = (int)zpVal[col * blocks + blk];
                    acc = MathF.FusedMultiplyAdd(dot - zp * sums[blk], sa[blk] * scales[col * blocks + blk], acc);
                }
                reference[i * n + col] = biasVal is null ? acc : acc + biasVal[col];
            }
        }
        return reference;
    }

    public static TheoryData<int, int, int, int, bool, bool, bool> Shapes => new()
    {
        { 1, 64, 64, 32, false, false, false },
        { 1, 128, 70, 32, true, false, false },
        { 3, 96, 130, 16, true, false, true },
        { 5, 100, 17, 64, true, true, false },
        { 20, 256, 96, 128, false, false, true },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MatchesOnnxRuntimeAndTheDocumentedFormulaOnEveryPath(int m, int k, int n, int blockSize, bool zp, bool floatZp, bool bias)
    {
        var c = Make(1000 + m + k + n, m == 3 ? [1, 3, k] : [m, k], k, n, blockSize, zp, floatZp, bias);
        var ort = RunOrt(c.Model, c.Feeds)["Y"];
        int saved = SimdLevel.MaxVectorBits;
        try
        {
            foreach (int bits in new[] { 512, 256, 128, 0 })
            {
                SimdLevel.MaxVectorBits = bits;
                foreach (int threads in new[] { 1, 2, 3 })
                {
                    var y = Floats(RunProva(c.Model, c.Feeds, threads)["Y"]);
                    AssertBits(c.Reference, y, $"MatMulNBits {m}x{k}x{n} bs {blockSize} (threads {threads}, bits {bits})");
                }
            }
        }
        finally
        {
            SimdLevel.MaxVectorBits = saved;
        }
        AssertClose(ort, c.Reference, 1e-4f, 1e-4f, $"MatMulNBits {m}x{k}x{n} vs ONNX Runtime");
    }

    /// <summary>
    /// accuracy_level 4: odd K (a partial last block), N tails, zero points absent / uint8 / float (float zero points
    /// keep the float formula), block sizes 16–128, one row and several.
    /// </summary>
    public static TheoryData<int, int, int, int, bool, bool, bool> Int8Shapes => new()
    {
        { 1, 64, 64, 32, false, false, false },
        { 1, 200, 70, 32, true, false, false },
        { 1, 77, 33, 16, true, false, true },
        { 3, 96, 130, 16, true, false, true },
        { 5, 100, 17, 64, false, false, false },
        { 2, 160, 40, 64, true, true, false },
        { 20, 300, 96, 128, true, false, true },
        { 1, 768, 256, 32, false, false, false },
        { 1, 2048, 512, 32, false, false, false },
        { 48, 768, 300, 32, false, false, false },
    };

    [Theory]
    [MemberData(nameof(Int8Shapes))]
    public void AccuracyLevel4MatchesOnnxRuntimeAndTheDocumentedInt8FormulaOnEveryPath(int m, int k, int n, int blockSize, bool zp, bool floatZp, bool bias)
    {
        var c = Make(2000 + m + k + n, m == 3 ? [1, 3, k] : [m, k], k, n, blockSize, zp, floatZp, bias, accuracyLevel: 4);
        var ort = RunOrt(c.Model, c.Feeds)["Y"];
        int saved = SimdLevel.MaxVectorBits;
        try
        {
            // 512 and 256 run AVX-VNNI where the CPU has it; "256 without VNNI" runs the AVX2 multiply-add pairs.
            foreach (var (bits, vnni) in new[] { (512, true), (256, true), (256, false), (128, true), (0, true) })
            {
                SimdLevel.MaxVectorBits = bits;
                PackedNBitsInt8.AllowVnni = vnni;
                foreach (int threads in new[] { 1, 2, 3 })
                {
                    var y = Floats(RunProva(c.Model, c.Feeds, threads)["Y"]);
                    AssertBits(c.Reference, y, $"MatMulNBits level 4 {m}x{k}x{n} bs {blockSize} (threads {threads}, bits {bits}, vnni {vnni})");
                }
            }
        }
        finally
        {
            SimdLevel.MaxVectorBits = saved;
            PackedNBitsInt8.AllowVnni = true;
        }
        // ONNX Runtime quantizes A the same way; its float steps round in another order.
        float max = 0f;
        foreach (float v in ort)
        {
            max = Math.Max(max, Math.Abs(v));
        }
        AssertClose(ort, c.Reference, 1e-4f * max, 1e-4f, $"MatMulNBits level 4 {m}x{k}x{n} vs ONNX Runtime");
    }

    /// <summary>
    /// accuracy_level 4 with awkward activations: a block of zeros, a denormal-only block (127 / amax overflows),
    /// huge values, an infinity and a NaN. Finite blocks follow the written-out formula; every path gives the
    /// same bits, NaN outputs included.
    /// </summary>
    [Fact]
    public void AccuracyLevel4SpecialActivationsGiveTheSameBitsOnEveryPath()
    {
        var c = Make(77, [3, 160], 160, 40, 32, true, false, true, accuracyLevel: 4, tweakA: a =>
        {
            for (int i = 0; i < 32; i++)
            {
                a[i] = 0f;                                   // row 0, block 0: all zero
                a[32 + i] = i % 2 == 0 ? 1e-42f : -3e-43f;   // row 0, block 1: denormals only
                a[64 + i] *= 3e37f;                          // row 0, block 2: huge
            }
            a[160 + 40] = float.PositiveInfinity;            // row 1, block 1
            a[320 + 100] = float.NaN;                        // row 2, block 3
        });
        float[]? first = null;
        int saved = SimdLevel.MaxVectorBits;
        try
        {
            foreach (var (bits, vnni) in new[] { (512, true), (256, true), (256, false), (128, true), (0, true) })
            {
                SimdLevel.MaxVectorBits = bits;
                PackedNBitsInt8.AllowVnni = vnni;
                foreach (int threads in new[] { 1, 2 })
                {
                    var y = Floats(RunProva(c.Model, c.Feeds, threads)["Y"]);
                    first ??= y;
                    AssertBits(first, y, $"special activations (threads {threads}, bits {bits}, vnni {vnni})");
                }
            }
        }
        finally
        {
            SimdLevel.MaxVectorBits = saved;
            PackedNBitsInt8.AllowVnni = true;
        }
        // Row 0 is finite: the formula holds there; rows 1 and 2 hold a non-finite block, so their outputs are NaN.
        AssertBits(c.Reference.AsSpan(0, 40).ToArray(), first!.AsSpan(0, 40).ToArray(), "special activations, finite row");
        Assert.All(first.AsSpan(40, 80).ToArray(), v => Assert.True(float.IsNaN(v), $"expected NaN, got {v}"));
    }

    [Fact]
    public void GIdxIsRejectedByName()
    {
        var c = Make(7, [1, 32], 32, 16, 32, false, false, false);
        var node = c.Model.Graph.Nodes[0];
        var inits = new Dictionary<string, Tensor>(c.Model.Graph.Initializers) { ["g"] = Tensor.Create([32], new int[32]) };
        var model = Model(Ms, "MatMulNBits", ["A", "B", "scales", "", "g"], c.Feeds, inits, ["Y"], 21, [.. node.Attributes.Values]);
        var ex = Assert.Throws<ModelException>(() => RunProva(model, c.Feeds));
        Assert.Contains("g_idx", ex.Message);
    }

    [Theory]
    [InlineData(8, 32, "bits=8")]
    [InlineData(4, 24, "block_size 24")]
    public void BadAttributesAreNamed(int bits, int blockSize, string expected)
    {
        var feeds = new Dictionary<string, Tensor> { ["A"] = F([1, 32], new float[32]) };
        var inits = new Dictionary<string, Tensor> { ["B"] = Tensor.Create([16, 1, 16], new byte[256]), ["scales"] = F([16], new float[16]) };
        var model = Model(Ms, "MatMulNBits", ["A", "B", "scales"], feeds, inits, ["Y"], 21, Int("K", 32), Int("N", 16), Int("bits", bits), Int("block_size", blockSize));
        var ex = Assert.Throws<ModelException>(() => RunProva(model, feeds));
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void WrongWeightShapeIsNamed()
    {
        var feeds = new Dictionary<string, Tensor> { ["A"] = F([1, 64], new float[64]) };
        var inits = new Dictionary<string, Tensor> { ["B"] = Tensor.Create([16, 1, 16], new byte[256]), ["scales"] = F([32], new float[32]) };
        var model = Model(Ms, "MatMulNBits", ["A", "B", "scales"], feeds, inits, ["Y"], 21, Int("K", 64), Int("N", 16), Int("block_size", 32));
        var ex = Assert.Throws<ModelException>(() => RunProva(model, feeds));
        Assert.Contains("B of shape [16, 1, 16]", ex.Message);
    }

    /// <summary>
    /// K = N = 2048 and the 100M Llama's lm_head (K 768, N 32000), int4, block 32: Prova's time against ONNX Runtime's in one run, for 1 and 2 threads, at the
    /// float level (0) and the int8 level (4), for one row (decode) and 48 (prefill). The two engines alternate in
    /// short blocks and each keeps its best block, so a busy machine hurts both alike.
    /// </summary>
    [Theory]
    [Trait("Category", "Benchmark")]
    [InlineData(1, 2048, 2048, 0)]
    [InlineData(1, 2048, 2048, 4)]
    [InlineData(48, 2048, 2048, 0)]
    [InlineData(48, 2048, 2048, 4)]
    [InlineData(1, 768, 32000, 4)]
    [InlineData(48, 768, 32000, 4)]
    [InlineData(48, 768, 32000, 0)]
    public void DecodeTimeAgainstOnnxRuntime(int m, int k, int n, int accuracyLevel)
    {
        var c = Make(42, [m, k], k, n, 32, true, false, false, accuracyLevel);
        foreach (int threads in new[] { 1, 2 })
        {
            using var prova = new InferenceSession(c.Model, new SessionOptions { Threads = threads });
            using var options = new Microsoft.ML.OnnxRuntime.SessionOptions { IntraOpNumThreads = threads };
            using var ort = new Microsoft.ML.OnnxRuntime.InferenceSession(OnnxWriter.Write(c.Model), options);
            using var a = Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory((float[])c.Feeds["A"].Data, [m, k]);
            using var run = new Microsoft.ML.OnnxRuntime.RunOptions();
            Action runProva = () => prova.Run(c.Feeds);
            Action runOrt = () =>
            {
                using var r = ort.Run(run, ["A"], [a], ["Y"]);
            };
            // Warm up past tiered compilation (tier 0, then tier 1 after ~30 calls and a background delay).
            var warm = Stopwatch.StartNew();
            while (warm.ElapsedMilliseconds < 2000)
            {
                runProva();
                runOrt();
            }
            double provaMs = double.MaxValue;
            double ortMs = double.MaxValue;
            var total = Stopwatch.StartNew();
            while (total.ElapsedMilliseconds < 4000)
            {
                provaMs = Math.Min(provaMs, Block(runProva));
                ortMs = Math.Min(ortMs, Block(runOrt));
            }
            output.WriteLine($"MatMulNBits M={m} K={k} N={n} int4 block 32 accuracy_level {accuracyLevel}, {threads} thread(s): Prova {provaMs * 1000:F1} µs, ONNX Runtime {ortMs * 1000:F1} µs, ratio {provaMs / ortMs:F2}");
        }
    }

    private static double Block(Action run)
    {
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < 5; i++)
        {
            run();
        }
        return sw.Elapsed.TotalMilliseconds / 5;
    }
}
