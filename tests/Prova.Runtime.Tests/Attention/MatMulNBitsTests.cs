using System.Diagnostics;
using Prova.Core;
using Prova.Onnx;
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

    private Case Make(int seed, int[] aShape, int k, int n, int blockSize, bool zp, bool floatZp, bool bias)
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
        var model = Model(Ms, "MatMulNBits", inputs, feeds, inits, ["Y"], 21, Int("K", k), Int("N", n), Int("bits", 4), Int("block_size", blockSize));
        // The documented formula, written out plainly.
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
        return new Case(m, k, n, blockSize, zp, floatZp, bias, model, feeds, reference);
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

    /// <summary>M = 1, K = N = 2048, int4, block 32: Prova's time against ONNX Runtime's in one run (both 1 and 2 threads).</summary>
    [Fact]
    [Trait("Category", "Benchmark")]
    public void DecodeTimeAgainstOnnxRuntime()
    {
        var c = Make(42, [1, 2048], 2048, 2048, 32, true, false, false);
        foreach (int threads in new[] { 1, 2 })
        {
            using var prova = new InferenceSession(c.Model, new SessionOptions { Threads = threads });
            using var options = new Microsoft.ML.OnnxRuntime.SessionOptions { IntraOpNumThreads = threads };
            using var ort = new Microsoft.ML.OnnxRuntime.InferenceSession(OnnxWriter.Write(c.Model), options);
            using var a = Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory((float[])c.Feeds["A"].Data, [1, 2048]);
            using var run = new Microsoft.ML.OnnxRuntime.RunOptions();
            double provaMs = Time(() => prova.Run(c.Feeds));
            double ortMs = Time(() =>
            {
                using var r = ort.Run(run, ["A"], [a], ["Y"]);
            });
            output.WriteLine($"MatMulNBits M=1 K=N=2048 int4 block 32, {threads} thread(s): Prova {provaMs * 1000:F1} µs, ONNX Runtime {ortMs * 1000:F1} µs, ratio {provaMs / ortMs:F2}");
        }
    }

    private static double Time(Action run)
    {
        // Warm up past tiered compilation (tier 0, then OSR/tier 1 after ~30 calls and a background delay).
        var warm = Stopwatch.StartNew();
        while (warm.ElapsedMilliseconds < 1500)
        {
            run();
        }
        double best = double.MaxValue;
        for (int rep = 0; rep < 5; rep++)
        {
            var sw = Stopwatch.StartNew();
            for (int i = 0; i < 50; i++)
            {
                run();
            }
            best = Math.Min(best, sw.Elapsed.TotalMilliseconds / 50);
        }
        return best;
    }
}
