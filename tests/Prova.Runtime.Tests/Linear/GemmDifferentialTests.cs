using Prova.Core;
using Prova.Onnx;
using Prova.Runtime.Ops.Linear;
using Xunit.Abstractions;
using static Prova.Runtime.Tests.Linear.LinearTestKit;

namespace Prova.Runtime.Tests.Linear;

/// <summary>
/// MatMul and Gemm against a naive fma-chain reference: bit-identical for every thread count and
/// every vector width the kernels can be restricted to.
/// </summary>
[Collection("SimdLevel")]
public sealed class GemmDifferentialTests(ITestOutputHelper output)
{
    private static readonly int[] s_threads = [1, 2, 3];
    private static readonly int[] s_bits = [512, 256, 128, 0];

    /// <summary>Runs the model for every (threads, width) pair and checks the bytes against <paramref name="expected"/>.</summary>
    internal static void AssertAllPaths(OnnxModel model, Dictionary<string, Tensor> feeds, float[] expected, string what)
    {
        int saved = SimdLevel.MaxVectorBits;
        try
        {
            foreach (int bits in s_bits)
            {
                SimdLevel.MaxVectorBits = bits;
                foreach (int threads in s_threads)
                {
                    var y = Run(model, threads, feeds)["y0"];
                    AssertBits(expected, (float[])y.Data, $"{what} (threads {threads}, max vector bits {bits})");
                }
            }
        }
        finally
        {
            SimdLevel.MaxVectorBits = saved;
        }
    }

    [Theory]
    [InlineData(1, 784, 128, true)]
    [InlineData(1, 1, 1, false)]
    [InlineData(2, 3, 5, true)]
    [InlineData(5, 17, 33, false)]
    [InlineData(6, 256, 32, true)]
    [InlineData(7, 255, 31, false)]
    [InlineData(13, 300, 100, true)]
    [InlineData(32, 700, 130, false)]
    [InlineData(70, 321, 97, true)]
    [InlineData(64, 600, 300, false)]
    [InlineData(3, 1000, 200, true)]
    public void MatMul2DIsBitIdenticalToNaive(int m, int k, int n, bool constantB)
    {
        int seed = HashCode.Combine(m, k, n, constantB) & 0x7fffffff;
        output.WriteLine($"seed {seed}");
        var rng = new Random(seed);
        var a = Random(rng, m * k, sparseSpecials: true);
        var b = Random(rng, k * n, sparseSpecials: true);
        var model = Model("MatMul", [("a", [m, k], null), ("b", [k, n], constantB ? T([k, n], b) : null)]);
        var feeds = new Dictionary<string, Tensor> { ["a"] = T([m, k], a) };
        if (!constantB)
        {
            feeds["b"] = T([k, n], b);
        }
        var expected = NaiveGemm(m, n, k, (i, kk) => a[i * k + kk], (kk, j) => b[kk * n + j]);
        AssertAllPaths(model, feeds, expected, $"MatMul [{m}x{k}]x[{k}x{n}]");
    }

    [Theory]
    [InlineData(new[] { 2, 3, 4, 5 }, new[] { 5, 6 }, false)]
    [InlineData(new[] { 2, 1, 7, 9 }, new[] { 3, 9, 4 }, false)]
    [InlineData(new[] { 4, 64, 64 }, new[] { 4, 64, 64 }, false)]
    [InlineData(new[] { 9 }, new[] { 2, 9, 40 }, true)]
    [InlineData(new[] { 3, 2, 9 }, new[] { 9 }, false)]
    [InlineData(new[] { 9 }, new[] { 9 }, true)]
    [InlineData(new[] { 1, 64, 256 }, new[] { 256, 100 }, true)]
    public void BatchedMatMulBroadcastsLikeNumpy(int[] aShape, int[] bShape, bool constantB)
    {
        int seed = aShape.Length * 1000 + bShape.Sum();
        output.WriteLine($"seed {seed}");
        var rng = new Random(seed);
        var a = Random(rng, aShape.Aggregate(1, (x, y) => x * y));
        var b = Random(rng, bShape.Aggregate(1, (x, y) => x * y));
        // Reference: promote 1-D operands, broadcast batch dims, naive product per batch.
        var ap = aShape.Length == 1 ? new[] { 1, aShape[0] } : aShape;
        var bp = bShape.Length == 1 ? new[] { bShape[0], 1 } : bShape;
        int m = ap[^2], k = ap[^1], n = bp[^1];
        int rank = Math.Max(ap.Length, bp.Length) - 2;
        var batch = new int[rank];
        int Dim(int[] s, int d) => d - (rank - (s.Length - 2)) is var i && i >= 0 ? s[i] : 1;
        for (int d = 0; d < rank; d++)
        {
            batch[d] = Math.Max(Dim(ap, d), Dim(bp, d));
        }
        int batches = batch.Aggregate(1, (x, y) => x * y);
        var expected = new List<float>();
        var idx = new int[rank];
        for (int t = 0; t < batches; t++)
        {
            int ao = 0, bo = 0;
            for (int d = 0; d < rank; d++)
            {
                ao = ao * Dim(ap, d) + (Dim(ap, d) == 1 ? 0 : idx[d]);
                bo = bo * Dim(bp, d) + (Dim(bp, d) == 1 ? 0 : idx[d]);
            }
            expected.AddRange(NaiveGemm(m, n, k, (i, kk) => a[ao * m * k + i * k + kk], (kk, j) => b[bo * k * n + kk * n + j]));
            for (int d = rank - 1; d >= 0; d--)
            {
                if (++idx[d] < batch[d])
                {
                    break;
                }
                idx[d] = 0;
            }
        }
        var model = Model("MatMul", [("a", aShape, null), ("b", bShape, constantB ? T(bShape, b) : null)]);
        var feeds = new Dictionary<string, Tensor> { ["a"] = T(aShape, a) };
        if (!constantB)
        {
            feeds["b"] = T(bShape, b);
        }
        using var session = new InferenceSession(model, new SessionOptions { Threads = 1 });
        var y = session.Run(feeds)["y0"];
        var outShape = new List<int>(batch);
        if (aShape.Length > 1)
        {
            outShape.Add(m);
        }
        if (bShape.Length > 1)
        {
            outShape.Add(n);
        }
        Assert.Equal(outShape.ToArray(), y.ShapeArray());
        AssertAllPaths(model, feeds, expected.ToArray(), "batched MatMul");
    }

    [Theory]
    [InlineData(1, 784, 128, 0, 1, 1f, 1f, "n", true)]
    [InlineData(5, 17, 33, 1, 0, 0.5f, 2f, "mn", true)]
    [InlineData(7, 40, 70, 1, 1, 1f, 0.25f, "1n", false)]
    [InlineData(32, 300, 45, 0, 1, -1.5f, 1f, "m1", false)]
    [InlineData(6, 9, 10, 0, 0, 2f, 3f, "scalar", true)]
    [InlineData(13, 400, 64, 0, 0, 1f, 0f, "mn", false)]
    [InlineData(3, 5, 7, 1, 1, 1f, 1f, "none", false)]
    public void GemmIsBitIdenticalToNaive(int m, int k, int n, int transA, int transB, float alpha, float beta, string cKind, bool constantB)
    {
        int seed = HashCode.Combine(m, k, n, transA, transB, cKind) & 0x7fffffff;
        output.WriteLine($"seed {seed}");
        var rng = new Random(seed);
        var a = Random(rng, m * k);
        var b = Random(rng, k * n);
        int[] aShape = transA == 1 ? [k, m] : [m, k];
        int[] bShape = transB == 1 ? [n, k] : [k, n];
        int[]? cShape = cKind switch { "n" => [n], "mn" => [m, n], "1n" => [1, n], "m1" => [m, 1], "scalar" => [], _ => null };
        var c = cShape is null ? null : Random(rng, cShape.Aggregate(1, (x, y) => x * y));
        var acc = NaiveGemm(m, n, k,
            (i, kk) => transA == 1 ? a[kk * m + i] : a[i * k + kk],
            (kk, j) => transB == 1 ? b[j * k + kk] : b[kk * n + j]);
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                float t = acc[i * n + j];
                if (alpha != 1f)
                {
                    t = alpha * t;
                }
                if (c is not null && beta != 0f)
                {
                    float cv = cKind switch { "n" => c[j], "mn" => c[i * n + j], "1n" => c[j], "m1" => c[i], _ => c[0] };
                    t += beta != 1f ? beta * cv : cv;
                }
                acc[i * n + j] = t;
            }
        }
        var inputs = new List<(string, int[], Tensor?)> { ("a", aShape, null), ("b", bShape, constantB ? T(bShape, b) : null) };
        if (cShape is not null)
        {
            inputs.Add(("c", cShape, null));
        }
        var model = Model("Gemm", inputs.ToArray(), attributes: [Int("transA", transA), Int("transB", transB), Float("alpha", alpha), Float("beta", beta)]);
        var feeds = new Dictionary<string, Tensor> { ["a"] = T(aShape, a) };
        if (!constantB)
        {
            feeds["b"] = T(bShape, b);
        }
        if (cShape is not null)
        {
            feeds["c"] = T(cShape, c!);
        }
        AssertAllPaths(model, feeds, acc, $"Gemm {m}x{k}x{n} tA{transA} tB{transB} C {cKind}");
    }

    [Fact]
    public void RandomShapesAreBitIdenticalToNaive()
    {
        int seed = Environment.TickCount & 0x7fffffff;
        output.WriteLine($"seed {seed}");
        var rng = new Random(seed);
        for (int round = 0; round < 6; round++)
        {
            int m = rng.Next(1, 40), k = rng.Next(1, 400), n = rng.Next(1, 150);
            bool constantB = rng.Next(2) == 0;
            var a = Random(rng, m * k);
            var b = Random(rng, k * n);
            var model = Model("MatMul", [("a", [m, k], null), ("b", [k, n], constantB ? T([k, n], b) : null)]);
            var feeds = new Dictionary<string, Tensor> { ["a"] = T([m, k], a) };
            if (!constantB)
            {
                feeds["b"] = T([k, n], b);
            }
            var expected = NaiveGemm(m, n, k, (i, kk) => a[i * k + kk], (kk, j) => b[kk * n + j]);
            AssertAllPaths(model, feeds, expected, $"seed {seed} round {round}: MatMul [{m}x{k}]x[{k}x{n}] constB={constantB}");
        }
    }
}
