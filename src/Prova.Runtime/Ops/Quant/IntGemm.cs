using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Prova.Runtime.Ops.Quant;

/// <summary>
/// Integer matrix product C[i, j] = Σ_k A[i, k]·B[k, j] with int16 operands (zero points already
/// subtracted, so |value| ≤ 255) and int32 accumulation (two's complement, wrapping). Integer addition
/// is associative, so the AVX-512BW, AVX-VNNI, AVX2 and scalar paths are bit-identical by construction.
/// Each k-pair product a0·b0 + a1·b1 is at most 2·255² &lt; 2^31, so vpmaddwd never saturates.
///
/// A: rows of <see cref="PaddedK"/> int16 (the odd tail padded with 0).
/// B: packed in panels of <see cref="Nr"/> columns; panel p holds, for each k-pair, the 16 column
/// pairs (B[k, j], B[k+1, j]) — 32 int16 — so one vpmaddwd yields 8 columns' partial sums.
/// </summary>
internal static unsafe class IntGemm
{
    public const int Nr = 16;
    public const int Mr = 4;

    /// <summary>Which instructions run; tests force the scalar path to compare.</summary>
    internal static bool ForceScalar { get; set; }

    public static int PaddedK(int k) => (k + 1) & ~1;

    public static int Panels(int n) => (n + Nr - 1) / Nr;

    /// <summary>int16 elements of a packed B (k × n).</summary>
    public static long PackedBSize(int k, int n) => (long)PaddedK(k) * Panels(n) * Nr;

    /// <summary>
    /// Packs B (element (k, j) at b[k·rowStride + j·colStride], integer type <paramref name="type"/>)
    /// minus its zero point (per column when <paramref name="zpPerColumn"/>) into <paramref name="dst"/>.
    /// </summary>
    public static void PackB(byte* b, Prova.Core.DataType type, long rowStride, long colStride, int k, int n, byte* zp, bool zpPerColumn, short* dst)
    {
        int kp = PaddedK(k);
        int panels = Panels(n);
        for (int p = 0; p < panels; p++)
        {
            short* panel = dst + (long)p * kp * Nr;
            for (int jj = 0; jj < Nr; jj++)
            {
                int j = p * Nr + jj;
                if (j >= n)
                {
                    for (int kk = 0; kk < kp; kk++)
                    {
                        panel[(kk >> 1) * 2 * Nr + jj * 2 + (kk & 1)] = 0;
                    }
                    continue;
                }
                int z = zp is null ? 0 : QuantTypes.Load(zp, type, zpPerColumn ? j : 0);
                for (int kk = 0; kk < kp; kk++)
                {
                    int v = kk < k ? QuantTypes.Load(b, type, kk * rowStride + j * colStride) - z : 0;
                    panel[(kk >> 1) * 2 * Nr + jj * 2 + (kk & 1)] = (short)v;
                }
            }
        }
    }

    /// <summary>One row of A (k elements, contiguous) minus the zero point into int16, odd tail zeroed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void PackRow<T>(T* a, int k, int zp, short* dst) where T : unmanaged
    {
        int i = 0;
        if (typeof(T) == typeof(byte) && Avx2.IsSupported && !ForceScalar)
        {
            var z = Vector256.Create((short)zp);
            for (; i + 16 <= k; i += 16)
            {
                var v = Avx2.ConvertToVector256Int16(Sse2.LoadVector128((byte*)a + i));
                Avx.Store(dst + i, Avx2.Subtract(v, z));
            }
        }
        else if (typeof(T) == typeof(sbyte) && Avx2.IsSupported && !ForceScalar)
        {
            var z = Vector256.Create((short)zp);
            for (; i + 16 <= k; i += 16)
            {
                var v = Avx2.ConvertToVector256Int16(Sse2.LoadVector128((sbyte*)a + i));
                Avx.Store(dst + i, Avx2.Subtract(v, z));
            }
        }
        for (; i < k; i++)
        {
            dst[i] = (short)(QuantTypes.Load(a + i) - zp);
        }
        if ((k & 1) != 0)
        {
            dst[k] = 0;
        }
    }

    /// <summary>C (rows × n, row stride ldc) = A (rows × kp, row stride lda) · packed B.</summary>
    public static void Multiply(short* a, int lda, int rows, short* bp, int kp, int n, int* c, int ldc)
    {
        int panels = Panels(n);
        int* tile = stackalloc int[Mr * Nr];
        for (int p = 0; p < panels; p++)
        {
            short* panel = bp + (long)p * kp * Nr;
            int j0 = p * Nr;
            int cols = Math.Min(Nr, n - j0);
            for (int i = 0; i < rows; i += Mr)
            {
                int r = Math.Min(Mr, rows - i);
                bool direct = cols == Nr && r == Mr;
                int* dst = direct ? c + (long)i * ldc + j0 : tile;
                int ld = direct ? ldc : Nr;
                if (Avx512BW.IsSupported && !ForceScalar)
                {
                    Kernel512(a + (long)i * lda, lda, r, panel, kp, dst, ld);
                }
                else if (AvxVnni.IsSupported && !ForceScalar)
                {
                    KernelAvxVnni(a + (long)i * lda, lda, r, panel, kp, dst, ld);
                }
                else if (Avx2.IsSupported && !ForceScalar)
                {
                    KernelAvx2(a + (long)i * lda, lda, r, panel, kp, dst, ld);
                }
                else
                {
                    KernelScalar(a + (long)i * lda, lda, r, panel, kp, dst, ld);
                }
                if (!direct)
                {
                    for (int ii = 0; ii < r; ii++)
                    {
                        for (int jj = 0; jj < cols; jj++)
                        {
                            c[(long)(i + ii) * ldc + j0 + jj] = tile[ii * Nr + jj];
                        }
                    }
                }
            }
        }
    }

    private static void KernelScalar(short* a, int lda, int rows, short* panel, int kp, int* c, int ldc)
    {
        for (int ii = 0; ii < rows; ii++)
        {
            short* ar = a + (long)ii * lda;
            for (int jj = 0; jj < Nr; jj++)
            {
                int sum = 0;
                for (int kk = 0; kk < kp; kk += 2)
                {
                    short* bq = panel + (kk >> 1) * 2 * Nr + jj * 2;
                    sum = unchecked(sum + (ar[kk] * bq[0] + ar[kk + 1] * bq[1]));
                }
                c[ii * ldc + jj] = sum;
            }
        }
    }

    private static void KernelAvx2(short* a, int lda, int rows, short* panel, int kp, int* c, int ldc)
    {
        if (rows == Mr)
        {
            var c00 = Vector256<int>.Zero;
            var c01 = Vector256<int>.Zero;
            var c10 = Vector256<int>.Zero;
            var c11 = Vector256<int>.Zero;
            var c20 = Vector256<int>.Zero;
            var c21 = Vector256<int>.Zero;
            var c30 = Vector256<int>.Zero;
            var c31 = Vector256<int>.Zero;
            short* a0 = a;
            short* a1 = a + lda;
            short* a2 = a + 2 * lda;
            short* a3 = a + 3 * lda;
            short* b = panel;
            for (int kk = 0; kk < kp; kk += 2, b += 2 * Nr)
            {
                var b0 = Avx.LoadVector256(b);
                var b1 = Avx.LoadVector256(b + 16);
                var x = Vector256.Create(*(int*)(a0 + kk)).AsInt16();
                c00 = Avx2.Add(c00, Avx2.MultiplyAddAdjacent(x, b0));
                c01 = Avx2.Add(c01, Avx2.MultiplyAddAdjacent(x, b1));
                x = Vector256.Create(*(int*)(a1 + kk)).AsInt16();
                c10 = Avx2.Add(c10, Avx2.MultiplyAddAdjacent(x, b0));
                c11 = Avx2.Add(c11, Avx2.MultiplyAddAdjacent(x, b1));
                x = Vector256.Create(*(int*)(a2 + kk)).AsInt16();
                c20 = Avx2.Add(c20, Avx2.MultiplyAddAdjacent(x, b0));
                c21 = Avx2.Add(c21, Avx2.MultiplyAddAdjacent(x, b1));
                x = Vector256.Create(*(int*)(a3 + kk)).AsInt16();
                c30 = Avx2.Add(c30, Avx2.MultiplyAddAdjacent(x, b0));
                c31 = Avx2.Add(c31, Avx2.MultiplyAddAdjacent(x, b1));
            }
            Avx.Store(c, c00);
            Avx.Store(c + 8, c01);
            Avx.Store(c + ldc, c10);
            Avx.Store(c + ldc + 8, c11);
            Avx.Store(c + 2 * ldc, c20);
            Avx.Store(c + 2 * ldc + 8, c21);
            Avx.Store(c + 3 * ldc, c30);
            Avx.Store(c + 3 * ldc + 8, c31);
            return;
        }
        for (int ii = 0; ii < rows; ii++)
        {
            short* ar = a + (long)ii * lda;
            var s0 = Vector256<int>.Zero;
            var s1 = Vector256<int>.Zero;
            short* b = panel;
            for (int kk = 0; kk < kp; kk += 2, b += 2 * Nr)
            {
                var x = Vector256.Create(*(int*)(ar + kk)).AsInt16();
                s0 = Avx2.Add(s0, Avx2.MultiplyAddAdjacent(x, Avx.LoadVector256(b)));
                s1 = Avx2.Add(s1, Avx2.MultiplyAddAdjacent(x, Avx.LoadVector256(b + 16)));
            }
            Avx.Store(c + ii * ldc, s0);
            Avx.Store(c + ii * ldc + 8, s1);
        }
    }

    private static void KernelAvxVnni(short* a, int lda, int rows, short* panel, int kp, int* c, int ldc)
    {
        for (int ii = 0; ii < rows; ii++)
        {
            short* ar = a + (long)ii * lda;
            var s0 = Vector256<int>.Zero;
            var s1 = Vector256<int>.Zero;
            short* b = panel;
            for (int kk = 0; kk < kp; kk += 2, b += 2 * Nr)
            {
                var x = Vector256.Create(*(int*)(ar + kk)).AsInt16();
                s0 = AvxVnni.MultiplyWideningAndAdd(s0, x, Avx.LoadVector256(b));
                s1 = AvxVnni.MultiplyWideningAndAdd(s1, x, Avx.LoadVector256(b + 16));
            }
            Avx.Store(c + ii * ldc, s0);
            Avx.Store(c + ii * ldc + 8, s1);
        }
    }

    private static void Kernel512(short* a, int lda, int rows, short* panel, int kp, int* c, int ldc)
    {
        if (rows == Mr)
        {
            var c0 = Vector512<int>.Zero;
            var c1 = Vector512<int>.Zero;
            var c2 = Vector512<int>.Zero;
            var c3 = Vector512<int>.Zero;
            short* a0 = a;
            short* a1 = a + lda;
            short* a2 = a + 2 * lda;
            short* a3 = a + 3 * lda;
            short* b = panel;
            for (int kk = 0; kk < kp; kk += 2, b += 2 * Nr)
            {
                var bv = Avx512F.LoadVector512(b);
                c0 = Avx512F.Add(c0, Avx512BW.MultiplyAddAdjacent(Vector512.Create(*(int*)(a0 + kk)).AsInt16(), bv));
                c1 = Avx512F.Add(c1, Avx512BW.MultiplyAddAdjacent(Vector512.Create(*(int*)(a1 + kk)).AsInt16(), bv));
                c2 = Avx512F.Add(c2, Avx512BW.MultiplyAddAdjacent(Vector512.Create(*(int*)(a2 + kk)).AsInt16(), bv));
                c3 = Avx512F.Add(c3, Avx512BW.MultiplyAddAdjacent(Vector512.Create(*(int*)(a3 + kk)).AsInt16(), bv));
            }
            Avx512F.Store(c, c0);
            Avx512F.Store(c + ldc, c1);
            Avx512F.Store(c + 2 * ldc, c2);
            Avx512F.Store(c + 3 * ldc, c3);
            return;
        }
        for (int ii = 0; ii < rows; ii++)
        {
            short* ar = a + (long)ii * lda;
            var s = Vector512<int>.Zero;
            short* b = panel;
            for (int kk = 0; kk < kp; kk += 2, b += 2 * Nr)
            {
                s = Avx512F.Add(s, Avx512BW.MultiplyAddAdjacent(Vector512.Create(*(int*)(ar + kk)).AsInt16(), Avx512F.LoadVector512(b)));
            }
            Avx512F.Store(c + ii * ldc, s);
        }
    }
}
