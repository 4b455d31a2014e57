using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Prova.Runtime.Ops.Linear;

/// <summary>AVX-512 16×16 float transpose (data movement only: no arithmetic, so no bit can change).</summary>
internal static unsafe class Transpose512
{
    /// <summary>
    /// Writes column j (j &lt; <paramref name="columns"/>) of the <paramref name="rows"/>×16 block at
    /// <paramref name="src"/> (row stride <paramref name="srcStride"/>) as the first <paramref name="rows"/>
    /// floats of row j of <paramref name="dst"/> (row stride <paramref name="dstStride"/>); nothing else is written.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Block16(float* src, nint srcStride, int rows, float* dst, nint dstStride, int columns)
    {
        var r0 = 0 < rows ? Vector512.Load(src + 0 * srcStride) : Vector512<float>.Zero;
        var r1 = 1 < rows ? Vector512.Load(src + 1 * srcStride) : Vector512<float>.Zero;
        var r2 = 2 < rows ? Vector512.Load(src + 2 * srcStride) : Vector512<float>.Zero;
        var r3 = 3 < rows ? Vector512.Load(src + 3 * srcStride) : Vector512<float>.Zero;
        var r4 = 4 < rows ? Vector512.Load(src + 4 * srcStride) : Vector512<float>.Zero;
        var r5 = 5 < rows ? Vector512.Load(src + 5 * srcStride) : Vector512<float>.Zero;
        var r6 = 6 < rows ? Vector512.Load(src + 6 * srcStride) : Vector512<float>.Zero;
        var r7 = 7 < rows ? Vector512.Load(src + 7 * srcStride) : Vector512<float>.Zero;
        var r8 = 8 < rows ? Vector512.Load(src + 8 * srcStride) : Vector512<float>.Zero;
        var r9 = 9 < rows ? Vector512.Load(src + 9 * srcStride) : Vector512<float>.Zero;
        var r10 = 10 < rows ? Vector512.Load(src + 10 * srcStride) : Vector512<float>.Zero;
        var r11 = 11 < rows ? Vector512.Load(src + 11 * srcStride) : Vector512<float>.Zero;
        var r12 = 12 < rows ? Vector512.Load(src + 12 * srcStride) : Vector512<float>.Zero;
        var r13 = 13 < rows ? Vector512.Load(src + 13 * srcStride) : Vector512<float>.Zero;
        var r14 = 14 < rows ? Vector512.Load(src + 14 * srcStride) : Vector512<float>.Zero;
        var r15 = 15 < rows ? Vector512.Load(src + 15 * srcStride) : Vector512<float>.Zero;
        var t0 = Avx512F.UnpackLow(r0, r1);
        var t1 = Avx512F.UnpackHigh(r0, r1);
        var t2 = Avx512F.UnpackLow(r2, r3);
        var t3 = Avx512F.UnpackHigh(r2, r3);
        var t4 = Avx512F.UnpackLow(r4, r5);
        var t5 = Avx512F.UnpackHigh(r4, r5);
        var t6 = Avx512F.UnpackLow(r6, r7);
        var t7 = Avx512F.UnpackHigh(r6, r7);
        var t8 = Avx512F.UnpackLow(r8, r9);
        var t9 = Avx512F.UnpackHigh(r8, r9);
        var t10 = Avx512F.UnpackLow(r10, r11);
        var t11 = Avx512F.UnpackHigh(r10, r11);
        var t12 = Avx512F.UnpackLow(r12, r13);
        var t13 = Avx512F.UnpackHigh(r12, r13);
        var t14 = Avx512F.UnpackLow(r14, r15);
        var t15 = Avx512F.UnpackHigh(r14, r15);
        r0 = Avx512F.UnpackLow(t0.AsDouble(), t2.AsDouble()).AsSingle();
        r1 = Avx512F.UnpackHigh(t0.AsDouble(), t2.AsDouble()).AsSingle();
        r2 = Avx512F.UnpackLow(t1.AsDouble(), t3.AsDouble()).AsSingle();
        r3 = Avx512F.UnpackHigh(t1.AsDouble(), t3.AsDouble()).AsSingle();
        r4 = Avx512F.UnpackLow(t4.AsDouble(), t6.AsDouble()).AsSingle();
        r5 = Avx512F.UnpackHigh(t4.AsDouble(), t6.AsDouble()).AsSingle();
        r6 = Avx512F.UnpackLow(t5.AsDouble(), t7.AsDouble()).AsSingle();
        r7 = Avx512F.UnpackHigh(t5.AsDouble(), t7.AsDouble()).AsSingle();
        r8 = Avx512F.UnpackLow(t8.AsDouble(), t10.AsDouble()).AsSingle();
        r9 = Avx512F.UnpackHigh(t8.AsDouble(), t10.AsDouble()).AsSingle();
        r10 = Avx512F.UnpackLow(t9.AsDouble(), t11.AsDouble()).AsSingle();
        r11 = Avx512F.UnpackHigh(t9.AsDouble(), t11.AsDouble()).AsSingle();
        r12 = Avx512F.UnpackLow(t12.AsDouble(), t14.AsDouble()).AsSingle();
        r13 = Avx512F.UnpackHigh(t12.AsDouble(), t14.AsDouble()).AsSingle();
        r14 = Avx512F.UnpackLow(t13.AsDouble(), t15.AsDouble()).AsSingle();
        r15 = Avx512F.UnpackHigh(t13.AsDouble(), t15.AsDouble()).AsSingle();
        t0 = Avx512F.Shuffle4x128(r0, r4, 0x88);
        t1 = Avx512F.Shuffle4x128(r1, r5, 0x88);
        t2 = Avx512F.Shuffle4x128(r2, r6, 0x88);
        t3 = Avx512F.Shuffle4x128(r3, r7, 0x88);
        t4 = Avx512F.Shuffle4x128(r0, r4, 0xDD);
        t5 = Avx512F.Shuffle4x128(r1, r5, 0xDD);
        t6 = Avx512F.Shuffle4x128(r2, r6, 0xDD);
        t7 = Avx512F.Shuffle4x128(r3, r7, 0xDD);
        t8 = Avx512F.Shuffle4x128(r8, r12, 0x88);
        t9 = Avx512F.Shuffle4x128(r9, r13, 0x88);
        t10 = Avx512F.Shuffle4x128(r10, r14, 0x88);
        t11 = Avx512F.Shuffle4x128(r11, r15, 0x88);
        t12 = Avx512F.Shuffle4x128(r8, r12, 0xDD);
        t13 = Avx512F.Shuffle4x128(r9, r13, 0xDD);
        t14 = Avx512F.Shuffle4x128(r10, r14, 0xDD);
        t15 = Avx512F.Shuffle4x128(r11, r15, 0xDD);
        r0 = Avx512F.Shuffle4x128(t0, t8, 0x88);
        r1 = Avx512F.Shuffle4x128(t1, t9, 0x88);
        r2 = Avx512F.Shuffle4x128(t2, t10, 0x88);
        r3 = Avx512F.Shuffle4x128(t3, t11, 0x88);
        r4 = Avx512F.Shuffle4x128(t4, t12, 0x88);
        r5 = Avx512F.Shuffle4x128(t5, t13, 0x88);
        r6 = Avx512F.Shuffle4x128(t6, t14, 0x88);
        r7 = Avx512F.Shuffle4x128(t7, t15, 0x88);
        r8 = Avx512F.Shuffle4x128(t0, t8, 0xDD);
        r9 = Avx512F.Shuffle4x128(t1, t9, 0xDD);
        r10 = Avx512F.Shuffle4x128(t2, t10, 0xDD);
        r11 = Avx512F.Shuffle4x128(t3, t11, 0xDD);
        r12 = Avx512F.Shuffle4x128(t4, t12, 0xDD);
        r13 = Avx512F.Shuffle4x128(t5, t13, 0xDD);
        r14 = Avx512F.Shuffle4x128(t6, t14, 0xDD);
        r15 = Avx512F.Shuffle4x128(t7, t15, 0xDD);
        if (rows == 16 && columns == 16)
        {
            r0.Store(dst + 0 * dstStride);
            r1.Store(dst + 1 * dstStride);
            r2.Store(dst + 2 * dstStride);
            r3.Store(dst + 3 * dstStride);
            r4.Store(dst + 4 * dstStride);
            r5.Store(dst + 5 * dstStride);
            r6.Store(dst + 6 * dstStride);
            r7.Store(dst + 7 * dstStride);
            r8.Store(dst + 8 * dstStride);
            r9.Store(dst + 9 * dstStride);
            r10.Store(dst + 10 * dstStride);
            r11.Store(dst + 11 * dstStride);
            r12.Store(dst + 12 * dstStride);
            r13.Store(dst + 13 * dstStride);
            r14.Store(dst + 14 * dstStride);
            r15.Store(dst + 15 * dstStride);
            return;
        }
        var mask = Vector512.LessThan(Vector512.Create(0f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), Vector512.Create((float)rows));
        if (columns > 0)
        {
            Avx512F.MaskStore(dst + 0 * dstStride, mask, r0);
        }
        if (columns > 1)
        {
            Avx512F.MaskStore(dst + 1 * dstStride, mask, r1);
        }
        if (columns > 2)
        {
            Avx512F.MaskStore(dst + 2 * dstStride, mask, r2);
        }
        if (columns > 3)
        {
            Avx512F.MaskStore(dst + 3 * dstStride, mask, r3);
        }
        if (columns > 4)
        {
            Avx512F.MaskStore(dst + 4 * dstStride, mask, r4);
        }
        if (columns > 5)
        {
            Avx512F.MaskStore(dst + 5 * dstStride, mask, r5);
        }
        if (columns > 6)
        {
            Avx512F.MaskStore(dst + 6 * dstStride, mask, r6);
        }
        if (columns > 7)
        {
            Avx512F.MaskStore(dst + 7 * dstStride, mask, r7);
        }
        if (columns > 8)
        {
            Avx512F.MaskStore(dst + 8 * dstStride, mask, r8);
        }
        if (columns > 9)
        {
            Avx512F.MaskStore(dst + 9 * dstStride, mask, r9);
        }
        if (columns > 10)
        {
            Avx512F.MaskStore(dst + 10 * dstStride, mask, r10);
        }
        if (columns > 11)
        {
            Avx512F.MaskStore(dst + 11 * dstStride, mask, r11);
        }
        if (columns > 12)
        {
            Avx512F.MaskStore(dst + 12 * dstStride, mask, r12);
        }
        if (columns > 13)
        {
            Avx512F.MaskStore(dst + 13 * dstStride, mask, r13);
        }
        if (columns > 14)
        {
            Avx512F.MaskStore(dst + 14 * dstStride, mask, r14);
        }
        if (columns > 15)
        {
            Avx512F.MaskStore(dst + 15 * dstStride, mask, r15);
        }
    }
}
