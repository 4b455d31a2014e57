using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Prova.Runtime.Ops.Linear;

// Microkernels (generated shape: 6 rows x one panel slice). Each output element is one fused
// multiply-add chain over k in increasing order; lanes are independent output columns.
internal sealed unsafe partial class Sgemm
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile512<TB>(int rows, int kc, float* a, nint aRow, nint aK, float* b, nint ldb, nint* koff, float* c, nint ldc, bool accumulate)
        where TB : struct, IBRows
    {
        float* a0 = a;
        float* a1 = rows > 1 ? a0 + aRow : a0;
        float* a2 = rows > 2 ? a1 + aRow : a1;
        float* a3 = rows > 3 ? a2 + aRow : a2;
        float* a4 = rows > 4 ? a3 + aRow : a3;
        float* a5 = rows > 5 ? a4 + aRow : a4;
        float* c0 = c;
        float* c1 = rows > 1 ? c0 + ldc : c0;
        float* c2 = rows > 2 ? c1 + ldc : c1;
        float* c3 = rows > 3 ? c2 + ldc : c2;
        float* c4 = rows > 4 ? c3 + ldc : c3;
        float* c5 = rows > 5 ? c4 + ldc : c4;
        Vector512<float> s00;
        Vector512<float> s01;
        Vector512<float> s10;
        Vector512<float> s11;
        Vector512<float> s20;
        Vector512<float> s21;
        Vector512<float> s30;
        Vector512<float> s31;
        Vector512<float> s40;
        Vector512<float> s41;
        Vector512<float> s50;
        Vector512<float> s51;
        if (accumulate)
        {
            s00 = Vector512.Load(c0 + 0);
            s01 = Vector512.Load(c0 + 16);
            s10 = Vector512.Load(c1 + 0);
            s11 = Vector512.Load(c1 + 16);
            s20 = Vector512.Load(c2 + 0);
            s21 = Vector512.Load(c2 + 16);
            s30 = Vector512.Load(c3 + 0);
            s31 = Vector512.Load(c3 + 16);
            s40 = Vector512.Load(c4 + 0);
            s41 = Vector512.Load(c4 + 16);
            s50 = Vector512.Load(c5 + 0);
            s51 = Vector512.Load(c5 + 16);
        }
        else
        {
            s00 = Vector512<float>.Zero;
            s01 = Vector512<float>.Zero;
            s10 = Vector512<float>.Zero;
            s11 = Vector512<float>.Zero;
            s20 = Vector512<float>.Zero;
            s21 = Vector512<float>.Zero;
            s30 = Vector512<float>.Zero;
            s31 = Vector512<float>.Zero;
            s40 = Vector512<float>.Zero;
            s41 = Vector512<float>.Zero;
            s50 = Vector512<float>.Zero;
            s51 = Vector512<float>.Zero;
        }
        nint ka = 0;
        for (int kk = 0; kk < kc; kk++)
        {
            float* bk = TB.Indirect ? b + koff[kk] : b;
            var b0 = Vector512.Load(bk + 0);
            var b1 = Vector512.Load(bk + 16);
            var x0 = Vector512.Create(a0[ka]);
            s00 = Vector512.FusedMultiplyAdd(x0, b0, s00);
            s01 = Vector512.FusedMultiplyAdd(x0, b1, s01);
            var x1 = Vector512.Create(a1[ka]);
            s10 = Vector512.FusedMultiplyAdd(x1, b0, s10);
            s11 = Vector512.FusedMultiplyAdd(x1, b1, s11);
            var x2 = Vector512.Create(a2[ka]);
            s20 = Vector512.FusedMultiplyAdd(x2, b0, s20);
            s21 = Vector512.FusedMultiplyAdd(x2, b1, s21);
            var x3 = Vector512.Create(a3[ka]);
            s30 = Vector512.FusedMultiplyAdd(x3, b0, s30);
            s31 = Vector512.FusedMultiplyAdd(x3, b1, s31);
            var x4 = Vector512.Create(a4[ka]);
            s40 = Vector512.FusedMultiplyAdd(x4, b0, s40);
            s41 = Vector512.FusedMultiplyAdd(x4, b1, s41);
            var x5 = Vector512.Create(a5[ka]);
            s50 = Vector512.FusedMultiplyAdd(x5, b0, s50);
            s51 = Vector512.FusedMultiplyAdd(x5, b1, s51);
            ka += aK;
            b += ldb;
        }
        s00.Store(c0 + 0);
        s01.Store(c0 + 16);
        if (rows > 1)
        {
            s10.Store(c1 + 0);
            s11.Store(c1 + 16);
        }
        if (rows > 2)
        {
            s20.Store(c2 + 0);
            s21.Store(c2 + 16);
        }
        if (rows > 3)
        {
            s30.Store(c3 + 0);
            s31.Store(c3 + 16);
        }
        if (rows > 4)
        {
            s40.Store(c4 + 0);
            s41.Store(c4 + 16);
        }
        if (rows > 5)
        {
            s50.Store(c5 + 0);
            s51.Store(c5 + 16);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile256<TB>(int rows, int kc, float* a, nint aRow, nint aK, float* b, nint ldb, nint* koff, float* c, nint ldc, bool accumulate)
        where TB : struct, IBRows
    {
        float* a0 = a;
        float* a1 = rows > 1 ? a0 + aRow : a0;
        float* a2 = rows > 2 ? a1 + aRow : a1;
        float* a3 = rows > 3 ? a2 + aRow : a2;
        float* a4 = rows > 4 ? a3 + aRow : a3;
        float* a5 = rows > 5 ? a4 + aRow : a4;
        float* c0 = c;
        float* c1 = rows > 1 ? c0 + ldc : c0;
        float* c2 = rows > 2 ? c1 + ldc : c1;
        float* c3 = rows > 3 ? c2 + ldc : c2;
        float* c4 = rows > 4 ? c3 + ldc : c3;
        float* c5 = rows > 5 ? c4 + ldc : c4;
        Vector256<float> s00;
        Vector256<float> s01;
        Vector256<float> s10;
        Vector256<float> s11;
        Vector256<float> s20;
        Vector256<float> s21;
        Vector256<float> s30;
        Vector256<float> s31;
        Vector256<float> s40;
        Vector256<float> s41;
        Vector256<float> s50;
        Vector256<float> s51;
        if (accumulate)
        {
            s00 = Vector256.Load(c0 + 0);
            s01 = Vector256.Load(c0 + 8);
            s10 = Vector256.Load(c1 + 0);
            s11 = Vector256.Load(c1 + 8);
            s20 = Vector256.Load(c2 + 0);
            s21 = Vector256.Load(c2 + 8);
            s30 = Vector256.Load(c3 + 0);
            s31 = Vector256.Load(c3 + 8);
            s40 = Vector256.Load(c4 + 0);
            s41 = Vector256.Load(c4 + 8);
            s50 = Vector256.Load(c5 + 0);
            s51 = Vector256.Load(c5 + 8);
        }
        else
        {
            s00 = Vector256<float>.Zero;
            s01 = Vector256<float>.Zero;
            s10 = Vector256<float>.Zero;
            s11 = Vector256<float>.Zero;
            s20 = Vector256<float>.Zero;
            s21 = Vector256<float>.Zero;
            s30 = Vector256<float>.Zero;
            s31 = Vector256<float>.Zero;
            s40 = Vector256<float>.Zero;
            s41 = Vector256<float>.Zero;
            s50 = Vector256<float>.Zero;
            s51 = Vector256<float>.Zero;
        }
        nint ka = 0;
        for (int kk = 0; kk < kc; kk++)
        {
            float* bk = TB.Indirect ? b + koff[kk] : b;
            var b0 = Vector256.Load(bk + 0);
            var b1 = Vector256.Load(bk + 8);
            var x0 = Vector256.Create(a0[ka]);
            s00 = Vector256.FusedMultiplyAdd(x0, b0, s00);
            s01 = Vector256.FusedMultiplyAdd(x0, b1, s01);
            var x1 = Vector256.Create(a1[ka]);
            s10 = Vector256.FusedMultiplyAdd(x1, b0, s10);
            s11 = Vector256.FusedMultiplyAdd(x1, b1, s11);
            var x2 = Vector256.Create(a2[ka]);
            s20 = Vector256.FusedMultiplyAdd(x2, b0, s20);
            s21 = Vector256.FusedMultiplyAdd(x2, b1, s21);
            var x3 = Vector256.Create(a3[ka]);
            s30 = Vector256.FusedMultiplyAdd(x3, b0, s30);
            s31 = Vector256.FusedMultiplyAdd(x3, b1, s31);
            var x4 = Vector256.Create(a4[ka]);
            s40 = Vector256.FusedMultiplyAdd(x4, b0, s40);
            s41 = Vector256.FusedMultiplyAdd(x4, b1, s41);
            var x5 = Vector256.Create(a5[ka]);
            s50 = Vector256.FusedMultiplyAdd(x5, b0, s50);
            s51 = Vector256.FusedMultiplyAdd(x5, b1, s51);
            ka += aK;
            b += ldb;
        }
        s00.Store(c0 + 0);
        s01.Store(c0 + 8);
        if (rows > 1)
        {
            s10.Store(c1 + 0);
            s11.Store(c1 + 8);
        }
        if (rows > 2)
        {
            s20.Store(c2 + 0);
            s21.Store(c2 + 8);
        }
        if (rows > 3)
        {
            s30.Store(c3 + 0);
            s31.Store(c3 + 8);
        }
        if (rows > 4)
        {
            s40.Store(c4 + 0);
            s41.Store(c4 + 8);
        }
        if (rows > 5)
        {
            s50.Store(c5 + 0);
            s51.Store(c5 + 8);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile128<TB>(int rows, int kc, float* a, nint aRow, nint aK, float* b, nint ldb, nint* koff, float* c, nint ldc, bool accumulate)
        where TB : struct, IBRows
    {
        float* a0 = a;
        float* a1 = rows > 1 ? a0 + aRow : a0;
        float* a2 = rows > 2 ? a1 + aRow : a1;
        float* a3 = rows > 3 ? a2 + aRow : a2;
        float* a4 = rows > 4 ? a3 + aRow : a3;
        float* a5 = rows > 5 ? a4 + aRow : a4;
        float* c0 = c;
        float* c1 = rows > 1 ? c0 + ldc : c0;
        float* c2 = rows > 2 ? c1 + ldc : c1;
        float* c3 = rows > 3 ? c2 + ldc : c2;
        float* c4 = rows > 4 ? c3 + ldc : c3;
        float* c5 = rows > 5 ? c4 + ldc : c4;
        Vector128<float> s00;
        Vector128<float> s01;
        Vector128<float> s10;
        Vector128<float> s11;
        Vector128<float> s20;
        Vector128<float> s21;
        Vector128<float> s30;
        Vector128<float> s31;
        Vector128<float> s40;
        Vector128<float> s41;
        Vector128<float> s50;
        Vector128<float> s51;
        if (accumulate)
        {
            s00 = Vector128.Load(c0 + 0);
            s01 = Vector128.Load(c0 + 4);
            s10 = Vector128.Load(c1 + 0);
            s11 = Vector128.Load(c1 + 4);
            s20 = Vector128.Load(c2 + 0);
            s21 = Vector128.Load(c2 + 4);
            s30 = Vector128.Load(c3 + 0);
            s31 = Vector128.Load(c3 + 4);
            s40 = Vector128.Load(c4 + 0);
            s41 = Vector128.Load(c4 + 4);
            s50 = Vector128.Load(c5 + 0);
            s51 = Vector128.Load(c5 + 4);
        }
        else
        {
            s00 = Vector128<float>.Zero;
            s01 = Vector128<float>.Zero;
            s10 = Vector128<float>.Zero;
            s11 = Vector128<float>.Zero;
            s20 = Vector128<float>.Zero;
            s21 = Vector128<float>.Zero;
            s30 = Vector128<float>.Zero;
            s31 = Vector128<float>.Zero;
            s40 = Vector128<float>.Zero;
            s41 = Vector128<float>.Zero;
            s50 = Vector128<float>.Zero;
            s51 = Vector128<float>.Zero;
        }
        nint ka = 0;
        for (int kk = 0; kk < kc; kk++)
        {
            float* bk = TB.Indirect ? b + koff[kk] : b;
            var b0 = Vector128.Load(bk + 0);
            var b1 = Vector128.Load(bk + 4);
            var x0 = Vector128.Create(a0[ka]);
            s00 = Vector128.FusedMultiplyAdd(x0, b0, s00);
            s01 = Vector128.FusedMultiplyAdd(x0, b1, s01);
            var x1 = Vector128.Create(a1[ka]);
            s10 = Vector128.FusedMultiplyAdd(x1, b0, s10);
            s11 = Vector128.FusedMultiplyAdd(x1, b1, s11);
            var x2 = Vector128.Create(a2[ka]);
            s20 = Vector128.FusedMultiplyAdd(x2, b0, s20);
            s21 = Vector128.FusedMultiplyAdd(x2, b1, s21);
            var x3 = Vector128.Create(a3[ka]);
            s30 = Vector128.FusedMultiplyAdd(x3, b0, s30);
            s31 = Vector128.FusedMultiplyAdd(x3, b1, s31);
            var x4 = Vector128.Create(a4[ka]);
            s40 = Vector128.FusedMultiplyAdd(x4, b0, s40);
            s41 = Vector128.FusedMultiplyAdd(x4, b1, s41);
            var x5 = Vector128.Create(a5[ka]);
            s50 = Vector128.FusedMultiplyAdd(x5, b0, s50);
            s51 = Vector128.FusedMultiplyAdd(x5, b1, s51);
            ka += aK;
            b += ldb;
        }
        s00.Store(c0 + 0);
        s01.Store(c0 + 4);
        if (rows > 1)
        {
            s10.Store(c1 + 0);
            s11.Store(c1 + 4);
        }
        if (rows > 2)
        {
            s20.Store(c2 + 0);
            s21.Store(c2 + 4);
        }
        if (rows > 3)
        {
            s30.Store(c3 + 0);
            s31.Store(c3 + 4);
        }
        if (rows > 4)
        {
            s40.Store(c4 + 0);
            s41.Store(c4 + 4);
        }
        if (rows > 5)
        {
            s50.Store(c5 + 0);
            s51.Store(c5 + 4);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Row512(int kc, float* a, nint aK, float* b0, nint l0, float* b1, nint l1, float* b2, nint l2, float* b3, nint l3, float* c0, float* c1, float* c2, float* c3, bool accumulate)
    {
        Vector512<float> s00;
        Vector512<float> s01;
        Vector512<float> s10;
        Vector512<float> s11;
        Vector512<float> s20;
        Vector512<float> s21;
        Vector512<float> s30;
        Vector512<float> s31;
        if (accumulate)
        {
            s00 = Vector512.Load(c0 + 0);
            s01 = Vector512.Load(c0 + 16);
            s10 = Vector512.Load(c1 + 0);
            s11 = Vector512.Load(c1 + 16);
            s20 = Vector512.Load(c2 + 0);
            s21 = Vector512.Load(c2 + 16);
            s30 = Vector512.Load(c3 + 0);
            s31 = Vector512.Load(c3 + 16);
        }
        else
        {
            s00 = Vector512<float>.Zero;
            s01 = Vector512<float>.Zero;
            s10 = Vector512<float>.Zero;
            s11 = Vector512<float>.Zero;
            s20 = Vector512<float>.Zero;
            s21 = Vector512<float>.Zero;
            s30 = Vector512<float>.Zero;
            s31 = Vector512<float>.Zero;
        }
        nint ka = 0;
        for (int kk = 0; kk < kc; kk++)
        {
            var x = Vector512.Create(a[ka]);
            s00 = Vector512.FusedMultiplyAdd(x, Vector512.Load(b0 + 0), s00);
            s01 = Vector512.FusedMultiplyAdd(x, Vector512.Load(b0 + 16), s01);
            s10 = Vector512.FusedMultiplyAdd(x, Vector512.Load(b1 + 0), s10);
            s11 = Vector512.FusedMultiplyAdd(x, Vector512.Load(b1 + 16), s11);
            s20 = Vector512.FusedMultiplyAdd(x, Vector512.Load(b2 + 0), s20);
            s21 = Vector512.FusedMultiplyAdd(x, Vector512.Load(b2 + 16), s21);
            s30 = Vector512.FusedMultiplyAdd(x, Vector512.Load(b3 + 0), s30);
            s31 = Vector512.FusedMultiplyAdd(x, Vector512.Load(b3 + 16), s31);
            ka += aK;
            b0 += l0;
            b1 += l1;
            b2 += l2;
            b3 += l3;
        }
        s00.Store(c0 + 0);
        s01.Store(c0 + 16);
        s10.Store(c1 + 0);
        s11.Store(c1 + 16);
        s20.Store(c2 + 0);
        s21.Store(c2 + 16);
        s30.Store(c3 + 0);
        s31.Store(c3 + 16);
    }

    private static void TileScalar<TB>(int rows, int kc, float* a, nint aRow, nint aK, float* b, nint ldb, nint* koff, float* c, nint ldc, bool accumulate)
        where TB : struct, IBRows
    {
        float* acc = stackalloc float[Nr];
        for (int r = 0; r < rows; r++)
        {
            float* ar = a + r * aRow;
            float* cr = c + r * ldc;
            for (int j = 0; j < Nr; j++)
            {
                acc[j] = accumulate ? cr[j] : 0f;
            }
            float* bk = b;
            for (int kk = 0; kk < kc; kk++)
            {
                float x = ar[kk * aK];
                float* br = TB.Indirect ? b + koff[kk] : bk;
                for (int j = 0; j < Nr; j++)
                {
                    acc[j] = MathF.FusedMultiplyAdd(x, br[j], acc[j]);
                }
                bk += ldb;
            }
            for (int j = 0; j < Nr; j++)
            {
                cr[j] = acc[j];
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile512R1<TB>(int kc, float* a, nint aRow, nint aK, float* b, nint ldb, nint* koff, float* c, nint ldc, bool accumulate)
        where TB : struct, IBRows
    {
        float* a0 = a + 0 * aRow;
        float* c0 = c + 0 * ldc;
        var s00 = accumulate ? Vector512.Load(c0 + 0) : Vector512<float>.Zero;
        var s01 = accumulate ? Vector512.Load(c0 + 16) : Vector512<float>.Zero;
        nint ka = 0;
        for (int kk = 0; kk < kc; kk++)
        {
            float* bk = TB.Indirect ? b + koff[kk] : b;
            var b0 = Vector512.Load(bk + 0);
            var b1 = Vector512.Load(bk + 16);
            var x0 = Vector512.Create(a0[ka]);
            s00 = Vector512.FusedMultiplyAdd(x0, b0, s00);
            s01 = Vector512.FusedMultiplyAdd(x0, b1, s01);
            ka += aK;
            b += ldb;
        }
        s00.Store(c0 + 0);
        s01.Store(c0 + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile512R2<TB>(int kc, float* a, nint aRow, nint aK, float* b, nint ldb, nint* koff, float* c, nint ldc, bool accumulate)
        where TB : struct, IBRows
    {
        float* a0 = a + 0 * aRow;
        float* c0 = c + 0 * ldc;
        float* a1 = a + 1 * aRow;
        float* c1 = c + 1 * ldc;
        var s00 = accumulate ? Vector512.Load(c0 + 0) : Vector512<float>.Zero;
        var s01 = accumulate ? Vector512.Load(c0 + 16) : Vector512<float>.Zero;
        var s10 = accumulate ? Vector512.Load(c1 + 0) : Vector512<float>.Zero;
        var s11 = accumulate ? Vector512.Load(c1 + 16) : Vector512<float>.Zero;
        nint ka = 0;
        for (int kk = 0; kk < kc; kk++)
        {
            float* bk = TB.Indirect ? b + koff[kk] : b;
            var b0 = Vector512.Load(bk + 0);
            var b1 = Vector512.Load(bk + 16);
            var x0 = Vector512.Create(a0[ka]);
            s00 = Vector512.FusedMultiplyAdd(x0, b0, s00);
            s01 = Vector512.FusedMultiplyAdd(x0, b1, s01);
            var x1 = Vector512.Create(a1[ka]);
            s10 = Vector512.FusedMultiplyAdd(x1, b0, s10);
            s11 = Vector512.FusedMultiplyAdd(x1, b1, s11);
            ka += aK;
            b += ldb;
        }
        s00.Store(c0 + 0);
        s01.Store(c0 + 16);
        s10.Store(c1 + 0);
        s11.Store(c1 + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile512R3<TB>(int kc, float* a, nint aRow, nint aK, float* b, nint ldb, nint* koff, float* c, nint ldc, bool accumulate)
        where TB : struct, IBRows
    {
        float* a0 = a + 0 * aRow;
        float* c0 = c + 0 * ldc;
        float* a1 = a + 1 * aRow;
        float* c1 = c + 1 * ldc;
        float* a2 = a + 2 * aRow;
        float* c2 = c + 2 * ldc;
        var s00 = accumulate ? Vector512.Load(c0 + 0) : Vector512<float>.Zero;
        var s01 = accumulate ? Vector512.Load(c0 + 16) : Vector512<float>.Zero;
        var s10 = accumulate ? Vector512.Load(c1 + 0) : Vector512<float>.Zero;
        var s11 = accumulate ? Vector512.Load(c1 + 16) : Vector512<float>.Zero;
        var s20 = accumulate ? Vector512.Load(c2 + 0) : Vector512<float>.Zero;
        var s21 = accumulate ? Vector512.Load(c2 + 16) : Vector512<float>.Zero;
        nint ka = 0;
        for (int kk = 0; kk < kc; kk++)
        {
            float* bk = TB.Indirect ? b + koff[kk] : b;
            var b0 = Vector512.Load(bk + 0);
            var b1 = Vector512.Load(bk + 16);
            var x0 = Vector512.Create(a0[ka]);
            s00 = Vector512.FusedMultiplyAdd(x0, b0, s00);
            s01 = Vector512.FusedMultiplyAdd(x0, b1, s01);
            var x1 = Vector512.Create(a1[ka]);
            s10 = Vector512.FusedMultiplyAdd(x1, b0, s10);
            s11 = Vector512.FusedMultiplyAdd(x1, b1, s11);
            var x2 = Vector512.Create(a2[ka]);
            s20 = Vector512.FusedMultiplyAdd(x2, b0, s20);
            s21 = Vector512.FusedMultiplyAdd(x2, b1, s21);
            ka += aK;
            b += ldb;
        }
        s00.Store(c0 + 0);
        s01.Store(c0 + 16);
        s10.Store(c1 + 0);
        s11.Store(c1 + 16);
        s20.Store(c2 + 0);
        s21.Store(c2 + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile512R4<TB>(int kc, float* a, nint aRow, nint aK, float* b, nint ldb, nint* koff, float* c, nint ldc, bool accumulate)
        where TB : struct, IBRows
    {
        float* a0 = a + 0 * aRow;
        float* c0 = c + 0 * ldc;
        float* a1 = a + 1 * aRow;
        float* c1 = c + 1 * ldc;
        float* a2 = a + 2 * aRow;
        float* c2 = c + 2 * ldc;
        float* a3 = a + 3 * aRow;
        float* c3 = c + 3 * ldc;
        var s00 = accumulate ? Vector512.Load(c0 + 0) : Vector512<float>.Zero;
        var s01 = accumulate ? Vector512.Load(c0 + 16) : Vector512<float>.Zero;
        var s10 = accumulate ? Vector512.Load(c1 + 0) : Vector512<float>.Zero;
        var s11 = accumulate ? Vector512.Load(c1 + 16) : Vector512<float>.Zero;
        var s20 = accumulate ? Vector512.Load(c2 + 0) : Vector512<float>.Zero;
        var s21 = accumulate ? Vector512.Load(c2 + 16) : Vector512<float>.Zero;
        var s30 = accumulate ? Vector512.Load(c3 + 0) : Vector512<float>.Zero;
        var s31 = accumulate ? Vector512.Load(c3 + 16) : Vector512<float>.Zero;
        nint ka = 0;
        for (int kk = 0; kk < kc; kk++)
        {
            float* bk = TB.Indirect ? b + koff[kk] : b;
            var b0 = Vector512.Load(bk + 0);
            var b1 = Vector512.Load(bk + 16);
            var x0 = Vector512.Create(a0[ka]);
            s00 = Vector512.FusedMultiplyAdd(x0, b0, s00);
            s01 = Vector512.FusedMultiplyAdd(x0, b1, s01);
            var x1 = Vector512.Create(a1[ka]);
            s10 = Vector512.FusedMultiplyAdd(x1, b0, s10);
            s11 = Vector512.FusedMultiplyAdd(x1, b1, s11);
            var x2 = Vector512.Create(a2[ka]);
            s20 = Vector512.FusedMultiplyAdd(x2, b0, s20);
            s21 = Vector512.FusedMultiplyAdd(x2, b1, s21);
            var x3 = Vector512.Create(a3[ka]);
            s30 = Vector512.FusedMultiplyAdd(x3, b0, s30);
            s31 = Vector512.FusedMultiplyAdd(x3, b1, s31);
            ka += aK;
            b += ldb;
        }
        s00.Store(c0 + 0);
        s01.Store(c0 + 16);
        s10.Store(c1 + 0);
        s11.Store(c1 + 16);
        s20.Store(c2 + 0);
        s21.Store(c2 + 16);
        s30.Store(c3 + 0);
        s31.Store(c3 + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile512R5<TB>(int kc, float* a, nint aRow, nint aK, float* b, nint ldb, nint* koff, float* c, nint ldc, bool accumulate)
        where TB : struct, IBRows
    {
        float* a0 = a + 0 * aRow;
        float* c0 = c + 0 * ldc;
        float* a1 = a + 1 * aRow;
        float* c1 = c + 1 * ldc;
        float* a2 = a + 2 * aRow;
        float* c2 = c + 2 * ldc;
        float* a3 = a + 3 * aRow;
        float* c3 = c + 3 * ldc;
        float* a4 = a + 4 * aRow;
        float* c4 = c + 4 * ldc;
        var s00 = accumulate ? Vector512.Load(c0 + 0) : Vector512<float>.Zero;
        var s01 = accumulate ? Vector512.Load(c0 + 16) : Vector512<float>.Zero;
        var s10 = accumulate ? Vector512.Load(c1 + 0) : Vector512<float>.Zero;
        var s11 = accumulate ? Vector512.Load(c1 + 16) : Vector512<float>.Zero;
        var s20 = accumulate ? Vector512.Load(c2 + 0) : Vector512<float>.Zero;
        var s21 = accumulate ? Vector512.Load(c2 + 16) : Vector512<float>.Zero;
        var s30 = accumulate ? Vector512.Load(c3 + 0) : Vector512<float>.Zero;
        var s31 = accumulate ? Vector512.Load(c3 + 16) : Vector512<float>.Zero;
        var s40 = accumulate ? Vector512.Load(c4 + 0) : Vector512<float>.Zero;
        var s41 = accumulate ? Vector512.Load(c4 + 16) : Vector512<float>.Zero;
        nint ka = 0;
        for (int kk = 0; kk < kc; kk++)
        {
            float* bk = TB.Indirect ? b + koff[kk] : b;
            var b0 = Vector512.Load(bk + 0);
            var b1 = Vector512.Load(bk + 16);
            var x0 = Vector512.Create(a0[ka]);
            s00 = Vector512.FusedMultiplyAdd(x0, b0, s00);
            s01 = Vector512.FusedMultiplyAdd(x0, b1, s01);
            var x1 = Vector512.Create(a1[ka]);
            s10 = Vector512.FusedMultiplyAdd(x1, b0, s10);
            s11 = Vector512.FusedMultiplyAdd(x1, b1, s11);
            var x2 = Vector512.Create(a2[ka]);
            s20 = Vector512.FusedMultiplyAdd(x2, b0, s20);
            s21 = Vector512.FusedMultiplyAdd(x2, b1, s21);
            var x3 = Vector512.Create(a3[ka]);
            s30 = Vector512.FusedMultiplyAdd(x3, b0, s30);
            s31 = Vector512.FusedMultiplyAdd(x3, b1, s31);
            var x4 = Vector512.Create(a4[ka]);
            s40 = Vector512.FusedMultiplyAdd(x4, b0, s40);
            s41 = Vector512.FusedMultiplyAdd(x4, b1, s41);
            ka += aK;
            b += ldb;
        }
        s00.Store(c0 + 0);
        s01.Store(c0 + 16);
        s10.Store(c1 + 0);
        s11.Store(c1 + 16);
        s20.Store(c2 + 0);
        s21.Store(c2 + 16);
        s30.Store(c3 + 0);
        s31.Store(c3 + 16);
        s40.Store(c4 + 0);
        s41.Store(c4 + 16);
    }

    private static void Tile512Rows<TB>(int rows, int kc, float* a, nint aRow, nint aK, float* b, nint ldb, nint* koff, float* c, nint ldc, bool accumulate)
        where TB : struct, IBRows
    {
        switch (rows)
        {
            case 1:
                Tile512R1<TB>(kc, a, aRow, aK, b, ldb, koff, c, ldc, accumulate);
                break;
            case 2:
                Tile512R2<TB>(kc, a, aRow, aK, b, ldb, koff, c, ldc, accumulate);
                break;
            case 3:
                Tile512R3<TB>(kc, a, aRow, aK, b, ldb, koff, c, ldc, accumulate);
                break;
            case 4:
                Tile512R4<TB>(kc, a, aRow, aK, b, ldb, koff, c, ldc, accumulate);
                break;
            case 5:
                Tile512R5<TB>(kc, a, aRow, aK, b, ldb, koff, c, ldc, accumulate);
                break;
            default:
                Tile512<TB>(rows, kc, a, aRow, aK, b, ldb, koff, c, ldc, accumulate);
                break;
        }
    }
}

/// <summary>How a microkernel finds row k of its B panel: b + k * ldb, or b + koff[k] (implicit im2col).</summary>
internal interface IBRows
{
    static abstract bool Indirect { get; }
}

internal readonly struct StridedRows : IBRows
{
    public static bool Indirect => false;
}

internal readonly struct OffsetRows : IBRows
{
    public static bool Indirect => true;
}
