using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Prova.Trainer.Lm;

/// <summary>
/// Row-major single-precision matrix products for training (C = A·B or C += A·B), parallel over row blocks of C.
/// Each C element sums its k terms in increasing k order, so results do not depend on the thread count.
/// </summary>
internal static unsafe class Gemm
{
    private const int RowBlock = 32;

    public static int Threads { get; set; } = Environment.ProcessorCount;

    /// <summary>C[M,N] (+)= A[M,K] · B[K,N].</summary>
    public static void MatMul(float* a, float* b, float* c, int m, int k, int n, bool accumulate)
    {
        int blocks = (m + RowBlock - 1) / RowBlock;
        nint pa = (nint)a, pb = (nint)b, pc = (nint)c;
        if (blocks == 1 || Threads == 1)
        {
            Rows(a, b, c, 0, m, k, n, accumulate);
            return;
        }
        Parallel.For(0, blocks, new ParallelOptions { MaxDegreeOfParallelism = Threads }, block =>
        {
            int r0 = block * RowBlock;
            Rows((float*)pa, (float*)pb, (float*)pc, r0, Math.Min(m, r0 + RowBlock), k, n, accumulate);
        });
    }

    /// <summary>dst[N,M] = src[M,N]ᵀ.</summary>
    public static void Transpose(float* src, float* dst, int m, int n)
    {
        const int tile = 32;
        for (int i0 = 0; i0 < m; i0 += tile)
        {
            for (int j0 = 0; j0 < n; j0 += tile)
            {
                int i1 = Math.Min(m, i0 + tile), j1 = Math.Min(n, j0 + tile);
                for (int i = i0; i < i1; i++)
                {
                    for (int j = j0; j < j1; j++)
                    {
                        dst[(long)j * m + i] = src[(long)i * n + j];
                    }
                }
            }
        }
    }

    private static void Rows(float* a, float* b, float* c, int r0, int r1, int k, int n, bool accumulate)
    {
        int r = r0;
        for (; r + 4 <= r1; r += 4)
        {
            Block4(a + (long)r * k, b, c + (long)r * n, k, n, accumulate);
        }
        for (; r < r1; r++)
        {
            Block1(a + (long)r * k, b, c + (long)r * n, k, n, accumulate);
        }
    }

    // Four rows of C, 32 columns at a time (two 512-bit or four 256-bit vectors per row).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block4(float* a, float* b, float* c, int k, int n, bool accumulate)
    {
        int j = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; j + 32 <= n; j += 32)
            {
                Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default;
                Vector512<float> c20 = default, c21 = default, c30 = default, c31 = default;
                float* bp = b + j;
                for (int p = 0; p < k; p++, bp += n)
                {
                    var b0 = Vector512.Load(bp);
                    var b1 = Vector512.Load(bp + 16);
                    var a0 = Vector512.Create(a[p]);
                    var a1 = Vector512.Create(a[k + p]);
                    var a2 = Vector512.Create(a[2 * k + p]);
                    var a3 = Vector512.Create(a[3 * k + p]);
                    c00 = Vector512.FusedMultiplyAdd(a0, b0, c00);
                    c01 = Vector512.FusedMultiplyAdd(a0, b1, c01);
                    c10 = Vector512.FusedMultiplyAdd(a1, b0, c10);
                    c11 = Vector512.FusedMultiplyAdd(a1, b1, c11);
                    c20 = Vector512.FusedMultiplyAdd(a2, b0, c20);
                    c21 = Vector512.FusedMultiplyAdd(a2, b1, c21);
                    c30 = Vector512.FusedMultiplyAdd(a3, b0, c30);
                    c31 = Vector512.FusedMultiplyAdd(a3, b1, c31);
                }
                Store(c + j, c00, accumulate);
                Store(c + j + 16, c01, accumulate);
                Store(c + n + j, c10, accumulate);
                Store(c + n + j + 16, c11, accumulate);
                Store(c + 2 * n + j, c20, accumulate);
                Store(c + 2 * n + j + 16, c21, accumulate);
                Store(c + 3 * n + j, c30, accumulate);
                Store(c + 3 * n + j + 16, c31, accumulate);
            }
        }
        for (; j + 8 <= n; j += 8)
        {
            Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default;
            float* bp = b + j;
            for (int p = 0; p < k; p++, bp += n)
            {
                var bv = Vector256.Load(bp);
                c0 = Vector256.FusedMultiplyAdd(Vector256.Create(a[p]), bv, c0);
                c1 = Vector256.FusedMultiplyAdd(Vector256.Create(a[k + p]), bv, c1);
                c2 = Vector256.FusedMultiplyAdd(Vector256.Create(a[2 * k + p]), bv, c2);
                c3 = Vector256.FusedMultiplyAdd(Vector256.Create(a[3 * k + p]), bv, c3);
            }
            Store(c + j, c0, accumulate);
            Store(c + n + j, c1, accumulate);
            Store(c + 2 * n + j, c2, accumulate);
            Store(c + 3 * n + j, c3, accumulate);
        }
        for (; j < n; j++)
        {
            for (int r = 0; r < 4; r++)
            {
                float sum = 0;
                for (int p = 0; p < k; p++)
                {
                    sum = MathF.FusedMultiplyAdd(a[r * k + p], b[(long)p * n + j], sum);
                }
                c[r * n + j] = accumulate ? c[r * n + j] + sum : sum;
            }
        }
    }

    private static void Block1(float* a, float* b, float* c, int k, int n, bool accumulate)
    {
        int j = 0;
        for (; j + 8 <= n; j += 8)
        {
            Vector256<float> c0 = default;
            float* bp = b + j;
            for (int p = 0; p < k; p++, bp += n)
            {
                c0 = Vector256.FusedMultiplyAdd(Vector256.Create(a[p]), Vector256.Load(bp), c0);
            }
            Store(c + j, c0, accumulate);
        }
        for (; j < n; j++)
        {
            float sum = 0;
            for (int p = 0; p < k; p++)
            {
                sum = MathF.FusedMultiplyAdd(a[p], b[(long)p * n + j], sum);
            }
            c[j] = accumulate ? c[j] + sum : sum;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* c, Vector512<float> v, bool accumulate) =>
        (accumulate ? Vector512.Load(c) + v : v).Store(c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* c, Vector256<float> v, bool accumulate) =>
        (accumulate ? Vector256.Load(c) + v : v).Store(c);
}
