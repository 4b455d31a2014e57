using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Prova.Core;

namespace Prova.Runtime.Ops.Attention;

/// <summary>
/// MatMulNBits at accuracy_level 4 (int8 compute), Prova's definition (docs/llm-ops.md):
/// each row of A is quantized per block of block_size along K — <c>amax = max |a|</c>,
/// <c>sa = amax / 127</c>, <c>inv = amax ≠ 0 ? 127 / amax : 0</c>, <c>aq = round-half-even(a × inv)</c>
/// clamped to [−127, 127] (NaN → 0) — then per output and block the integer
/// <c>i = Σ aq[k] × q[k, n] − zp[n, b] × Σ aq[k]</c> (exact in int32) and, blocks ascending,
/// <c>acc = fma((float)i, sa[b] × scale[n, b], acc)</c> from 0; then + bias.
///
/// Integer sums are exact in any order, and the float steps are per output in block order, so every vector
/// width (AVX-VNNI, AVX2, SSSE3, scalar) and thread count gives the same bits. Weights are repacked once
/// per session into groups of 16 columns: per 8 k, 64 bytes where bytes 4c..4c+3 hold column c's k..k+3
/// in their low nibbles and k+4..k+7 in their high nibbles, so one 32-byte load and a mask (or a shift
/// and a mask) give eight columns' 4-element dot-product operands.
/// </summary>
[SkipLocalsInit]
internal sealed unsafe class PackedNBitsInt8
{
    public const int GroupCols = 16;

    /// <summary>Tests clear this to run the AVX2 (vpmaddubsw + vpmaddwd) dot products on a machine with AVX-VNNI.</summary>
    internal static volatile bool AllowVnni = true;

    private readonly byte[] _q;
    private readonly float[] _scale;
    private readonly byte[]? _zp;
    private readonly byte* _qPtr;
    private readonly float* _scalePtr;
    private readonly byte* _zpPtr;

    public PackedNBitsInt8(Tensor b, Tensor scales, Tensor? zeroPoints, int k, int n, int blockSize)
    {
        K = k;
        BlockSize = blockSize;
        Blocks = (k + blockSize - 1) / blockSize;
        PaddedK = Blocks * blockSize;
        Groups = (n + GroupCols - 1) / GroupCols;
        int blob = blockSize / 2;
        _q = GC.AllocateArray<byte>(checked(Groups * PaddedK * 8), pinned: true);
        _scale = GC.AllocateArray<float>(checked(Groups * Blocks * GroupCols), pinned: true);
        _qPtr = (byte*)Marshal.UnsafeAddrOfPinnedArrayElement(_q, 0);
        _scalePtr = (float*)Marshal.UnsafeAddrOfPinnedArrayElement(_scale, 0);
        // Without zero points every block's is 8: nothing stored, nothing read per block.
        if (zeroPoints is not null)
        {
            _zp = GC.AllocateArray<byte>(_scale.Length, pinned: true);
            _zpPtr = (byte*)Marshal.UnsafeAddrOfPinnedArrayElement(_zp, 0);
        }
        var bq = b.Bytes();
        var s = scales.Span<float>();
        int zpRow = (Blocks + 1) / 2;
        for (int col = 0; col < n; col++)
        {
            int g = col / GroupCols;
            int c = col % GroupCols;
            long groupBase = (long)g * PaddedK * 8;
            for (int kk = 0; kk < k; kk++)
            {
                int src = bq[col * Blocks * blob + kk / 2];
                int q = (kk & 1) == 0 ? src & 0xF : src >> 4;
                int t = kk & 7;
                _q[groupBase + (kk >> 3) * 64 + c * 4 + (t & 3)] |= (byte)(t < 4 ? q : q << 4);
            }
            for (int blk = 0; blk < Blocks; blk++)
            {
                int at = (g * Blocks + blk) * GroupCols + c;
                _scale[at] = s[col * Blocks + blk];
                if (_zp is not null)
                {
                    int zb = zeroPoints!.Bytes()[col * zpRow + blk / 2];
                    _zp[at] = (byte)((blk & 1) == 0 ? zb & 0xF : zb >> 4);
                }
            }
        }
    }

    public int K { get; }

    public int BlockSize { get; }

    public int Blocks { get; }

    /// <summary>K rounded up to whole blocks: the length of one quantized row (padding is zero).</summary>
    public int PaddedK { get; }

    public int Groups { get; }

    /// <summary>Bytes of scratch one quantized row takes: PaddedK int8 values, then per block its scale and its sum.</summary>
    public long RowBytes => PaddedK + (long)Blocks * 8;

    /// <summary>
    /// Quantizes row a (K floats) into dst (<see cref="RowBytes"/> bytes), as the type summary defines. Every
    /// step is exact or one IEEE rounding per element (max, ×, round-half-even, clamp), so the 256-bit and the
    /// scalar loops give the same bytes; a block holding a NaN takes the scalar loop (vector max drops NaNs).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void QuantizeRow(float* a, byte* dst, int bits)
    {
        sbyte* aq = (sbyte*)dst;
        float* sa = (float*)(dst + PaddedK);
        int* sums = (int*)(sa + Blocks);
        bool vector = bits >= 256 && Avx2.IsSupported;
        for (int kb = 0; kb < Blocks; kb++)
        {
            int k0 = kb * BlockSize;
            int kn = Math.Min(BlockSize, K - k0);
            if (!vector || !QuantizeBlock256(a + k0, kn, aq + k0, out sa[kb], out sums[kb]))
            {
                QuantizeBlockScalar(a + k0, kn, aq + k0, out sa[kb], out sums[kb]);
            }
            for (int i = kn; i < BlockSize; i++)
            {
                aq[k0 + i] = 0;
            }
        }
    }

    private static void QuantizeBlockScalar(float* a, int kn, sbyte* aq, out float scale, out int sum)
    {
        float amax = 0f;
        for (int i = 0; i < kn; i++)
        {
            amax = MathF.Max(amax, MathF.Abs(a[i]));
        }
        float inv = amax != 0f ? 127f / amax : 0f;
        sum = 0;
        for (int i = 0; i < kn; i++)
        {
            aq[i] = (sbyte)Quantize(a[i], inv);
            sum += aq[i];
        }
        scale = amax / 127f;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Quantize(float x, float inv)
    {
        float v = MathF.Round(x * inv, MidpointRounding.ToEven);
        return float.IsNaN(v) ? 0 : v >= 127f ? 127 : v <= -127f ? -127 : (int)v;
    }

    /// <summary>The 256-bit loop; false (nothing trusted) when the block holds a NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool QuantizeBlock256(float* a, int kn, sbyte* aq, out float scale, out int sum)
    {
        var max = Vector256<float>.Zero;
        var nan = Vector256<float>.Zero;
        int full = kn & ~15;
        for (int i = 0; i < full; i += 8)
        {
            var v = Vector256.Load(a + i);
            nan |= ~Vector256.Equals(v, v);
            max = Vector256.Max(max, Vector256.Abs(v));
        }
        float amax = 0f;
        for (int j = 0; j < 8; j++)
        {
            amax = MathF.Max(amax, max.GetElement(j));
        }
        for (int i = full; i < kn; i++)
        {
            if (float.IsNaN(a[i]))
            {
                scale = 0f;
                sum = 0;
                return false;
            }
            amax = MathF.Max(amax, MathF.Abs(a[i]));
        }
        float inv = amax != 0f ? 127f / amax : 0f;
        // A NaN, an infinity (inv = 0 meets it: NaN) or an infinite inv (denormal amax: 0 × ∞) would reach lanes
        // whose max, min and conversion differ from the scalar loop's: that block goes the scalar way.
        if (nan != Vector256<float>.Zero || !float.IsFinite(amax) || !float.IsFinite(inv))
        {
            scale = 0f;
            sum = 0;
            return false;
        }
        var vinv = Vector256.Create(inv);
        var hi = Vector256.Create(127f);
        var lo = Vector256.Create(-127f);
        var acc = Vector256<int>.Zero;
        for (int i = 0; i < full; i += 16)
        {
            // |x| ≤ amax, so |x × inv| ≤ 127 (plus rounding): the clamp only trims a last ulp.
            var r0 = Avx.RoundToNearestInteger(Vector256.Load(a + i) * vinv);
            var r1 = Avx.RoundToNearestInteger(Vector256.Load(a + i + 8) * vinv);
            var i0 = Vector256.ConvertToInt32(Vector256.Min(Vector256.Max(r0, lo), hi));
            var i1 = Vector256.ConvertToInt32(Vector256.Min(Vector256.Max(r1, lo), hi));
            acc += i0 + i1;
            var s16 = Vector256.Narrow(i0, i1);
            Vector128.Narrow(s16.GetLower(), s16.GetUpper()).Store(aq + i);
        }
        int total = Vector256.Sum(acc);
        for (int i = full; i < kn; i++)
        {
            aq[i] = (sbyte)Quantize(a[i], inv);
            total += aq[i];
        }
        scale = amax / 127f;
        sum = total;
        return true;
    }

    /// <summary>The 16 outputs of column group g for one quantized row (from <see cref="QuantizeRow"/>), before bias.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Row(int g, byte* row, float* y, int bits)
    {
        if (bits >= 256 && AvxVnni.IsSupported && AllowVnni)
        {
            Row256<VnniDot>(g, row, y);
        }
        else if (bits >= 256 && Avx2.IsSupported)
        {
            Row256<Avx2Dot>(g, row, y);
        }
        else if (bits >= 128 && Ssse3.IsSupported)
        {
            Row128(g, row, y);
        }
        else
        {
            RowScalar(g, row, y);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Row256<TDot>(int g, byte* row, float* y)
        where TDot : struct, IDot256
    {
        sbyte* aq = (sbyte*)row;
        float* sa = (float*)(row + PaddedK);
        int* sums = (int*)(sa + Blocks);
        byte* q = _qPtr + (long)g * PaddedK * 8;
        float* scale = _scalePtr + g * Blocks * GroupCols;
        byte* zp = _zpPtr is null ? null : _zpPtr + g * Blocks * GroupCols;
        var z0 = Vector256.Create(8);
        var z1 = z0;
        var mask = Vector256.Create((byte)0x0F);
        var f0 = Vector256<float>.Zero;
        var f1 = Vector256<float>.Zero;
        int steps = BlockSize / 8;
        for (int kb = 0; kb < Blocks; kb++)
        {
            var a0 = Vector256<int>.Zero;
            var a1 = Vector256<int>.Zero;
            var a2 = Vector256<int>.Zero;
            var a3 = Vector256<int>.Zero;
            var b0 = Vector256<int>.Zero;
            var b1 = Vector256<int>.Zero;
            var b2 = Vector256<int>.Zero;
            var b3 = Vector256<int>.Zero;
            byte* qb = q + (long)kb * steps * 64;
            sbyte* xb = aq + kb * BlockSize;
            for (int s = 0; s < steps; s += 2)
            {
                var w0 = Vector256.Load(qb);
                var w1 = Vector256.Load(qb + 32);
                var w2 = Vector256.Load(qb + 64);
                var w3 = Vector256.Load(qb + 96);
                var x0 = Vector256.Create(*(int*)xb).AsSByte();
                var x1 = Vector256.Create(*(int*)(xb + 4)).AsSByte();
                var x2 = Vector256.Create(*(int*)(xb + 8)).AsSByte();
                var x3 = Vector256.Create(*(int*)(xb + 12)).AsSByte();
                a0 = TDot.Dot(a0, w0 & mask, x0);
                a1 = TDot.Dot(a1, Vector256.ShiftRightLogical(w0.AsUInt16(), 4).AsByte() & mask, x1);
                a2 = TDot.Dot(a2, w1 & mask, x0);
                a3 = TDot.Dot(a3, Vector256.ShiftRightLogical(w1.AsUInt16(), 4).AsByte() & mask, x1);
                b0 = TDot.Dot(b0, w2 & mask, x2);
                b1 = TDot.Dot(b1, Vector256.ShiftRightLogical(w2.AsUInt16(), 4).AsByte() & mask, x3);
                b2 = TDot.Dot(b2, w3 & mask, x2);
                b3 = TDot.Dot(b3, Vector256.ShiftRightLogical(w3.AsUInt16(), 4).AsByte() & mask, x3);
                qb += 128;
                xb += 16;
            }
            if (zp is not null)
            {
                z0 = Avx2.ConvertToVector256Int32(zp + kb * GroupCols);
                z1 = Avx2.ConvertToVector256Int32(zp + kb * GroupCols + 8);
            }
            var sum = Vector256.Create(sums[kb]);
            var i0 = (a0 + a1) + (b0 + b1) - z0 * sum;
            var i1 = (a2 + a3) + (b2 + b3) - z1 * sum;
            var s0 = Vector256.Create(sa[kb]);
            f0 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(i0), s0 * Vector256.Load(scale + kb * GroupCols), f0);
            f1 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(i1), s0 * Vector256.Load(scale + kb * GroupCols + 8), f1);
        }
        f0.Store(y);
        f1.Store(y + 8);
    }

    /// <summary>
    /// Four quantized rows (row, row + stride, ...) against column group g, outputs y, y + yStride, ...: the same
    /// integers and float steps per output as <see cref="Row"/>, with each weight load shared by the four rows.
    /// Returns false where the width has no four-row path (the caller then runs <see cref="Row"/> per row).
    /// </summary>
    public bool TryRows4(int g, byte* row, long stride, float* y, int yStride, int bits)
    {
        if (bits >= 256 && AvxVnni.IsSupported && AllowVnni)
        {
            Rows4x256<VnniDot>(g, row, stride, y, yStride);
            return true;
        }
        if (bits >= 256 && Avx2.IsSupported)
        {
            Rows4x256<Avx2Dot>(g, row, stride, y, yStride);
            return true;
        }
        return false;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Rows4x256<TDot>(int g, byte* row, long stride, float* y, int yStride)
        where TDot : struct, IDot256
    {
        byte* q = _qPtr + (long)g * PaddedK * 8;
        float* scale = _scalePtr + g * Blocks * GroupCols;
        byte* zp = _zpPtr is null ? null : _zpPtr + g * Blocks * GroupCols;
        var z0 = Vector256.Create(8);
        var z1 = z0;
        var mask = Vector256.Create((byte)0x0F);
        sbyte* x0p = (sbyte*)row;
        sbyte* x1p = (sbyte*)(row + stride);
        sbyte* x2p = (sbyte*)(row + 2 * stride);
        sbyte* x3p = (sbyte*)(row + 3 * stride);
        var f00 = Vector256<float>.Zero;
        var f01 = Vector256<float>.Zero;
        var f10 = Vector256<float>.Zero;
        var f11 = Vector256<float>.Zero;
        var f20 = Vector256<float>.Zero;
        var f21 = Vector256<float>.Zero;
        var f30 = Vector256<float>.Zero;
        var f31 = Vector256<float>.Zero;
        int steps = BlockSize / 8;
        for (int kb = 0; kb < Blocks; kb++)
        {
            // Per row: columns 0–7 (low and high nibbles), columns 8–15 (low and high).
            var r0a = Vector256<int>.Zero;
            var r0b = Vector256<int>.Zero;
            var r1a = Vector256<int>.Zero;
            var r1b = Vector256<int>.Zero;
            var r2a = Vector256<int>.Zero;
            var r2b = Vector256<int>.Zero;
            var r3a = Vector256<int>.Zero;
            var r3b = Vector256<int>.Zero;
            var r0c = Vector256<int>.Zero;
            var r0d = Vector256<int>.Zero;
            var r1c = Vector256<int>.Zero;
            var r1d = Vector256<int>.Zero;
            var r2c = Vector256<int>.Zero;
            var r2d = Vector256<int>.Zero;
            var r3c = Vector256<int>.Zero;
            var r3d = Vector256<int>.Zero;
            byte* qb = q + (long)kb * steps * 64;
            int k0 = kb * BlockSize;
            for (int st = 0; st < steps; st++)
            {
                var w0 = Vector256.Load(qb);
                var w1 = Vector256.Load(qb + 32);
                var lo0 = w0 & mask;
                var hi0 = Vector256.ShiftRightLogical(w0.AsUInt16(), 4).AsByte() & mask;
                var lo1 = w1 & mask;
                var hi1 = Vector256.ShiftRightLogical(w1.AsUInt16(), 4).AsByte() & mask;
                int k = k0 + st * 8;
                var x = Vector256.Create(*(int*)(x0p + k)).AsSByte();
                var xh = Vector256.Create(*(int*)(x0p + k + 4)).AsSByte();
                r0a = TDot.Dot(r0a, lo0, x);
                r0b = TDot.Dot(r0b, hi0, xh);
                r0c = TDot.Dot(r0c, lo1, x);
                r0d = TDot.Dot(r0d, hi1, xh);
                x = Vector256.Create(*(int*)(x1p + k)).AsSByte();
                xh = Vector256.Create(*(int*)(x1p + k + 4)).AsSByte();
                r1a = TDot.Dot(r1a, lo0, x);
                r1b = TDot.Dot(r1b, hi0, xh);
                r1c = TDot.Dot(r1c, lo1, x);
                r1d = TDot.Dot(r1d, hi1, xh);
                x = Vector256.Create(*(int*)(x2p + k)).AsSByte();
                xh = Vector256.Create(*(int*)(x2p + k + 4)).AsSByte();
                r2a = TDot.Dot(r2a, lo0, x);
                r2b = TDot.Dot(r2b, hi0, xh);
                r2c = TDot.Dot(r2c, lo1, x);
                r2d = TDot.Dot(r2d, hi1, xh);
                x = Vector256.Create(*(int*)(x3p + k)).AsSByte();
                xh = Vector256.Create(*(int*)(x3p + k + 4)).AsSByte();
                r3a = TDot.Dot(r3a, lo0, x);
                r3b = TDot.Dot(r3b, hi0, xh);
                r3c = TDot.Dot(r3c, lo1, x);
                r3d = TDot.Dot(r3d, hi1, xh);
                qb += 64;
            }
            if (zp is not null)
            {
                z0 = Avx2.ConvertToVector256Int32(zp + kb * GroupCols);
                z1 = Avx2.ConvertToVector256Int32(zp + kb * GroupCols + 8);
            }
            var sc0 = Vector256.Load(scale + kb * GroupCols);
            var sc1 = Vector256.Load(scale + kb * GroupCols + 8);
            Finish(row, kb, r0a + r0b, r0c + r0d, z0, z1, sc0, sc1, ref f00, ref f01);
            Finish(row + stride, kb, r1a + r1b, r1c + r1d, z0, z1, sc0, sc1, ref f10, ref f11);
            Finish(row + 2 * stride, kb, r2a + r2b, r2c + r2d, z0, z1, sc0, sc1, ref f20, ref f21);
            Finish(row + 3 * stride, kb, r3a + r3b, r3c + r3d, z0, z1, sc0, sc1, ref f30, ref f31);
        }
        f00.Store(y);
        f01.Store(y + 8);
        f10.Store(y + yStride);
        f11.Store(y + yStride + 8);
        f20.Store(y + 2 * yStride);
        f21.Store(y + 2 * yStride + 8);
        f30.Store(y + 3 * yStride);
        f31.Store(y + 3 * yStride + 8);
    }

    /// <summary>One block's float step for 16 outputs of one row: acc = fma((float)(dot − zp × Σaq), sa × scale, acc).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Finish(byte* row, int kb, Vector256<int> d0, Vector256<int> d1, Vector256<int> z0, Vector256<int> z1, Vector256<float> sc0, Vector256<float> sc1, ref Vector256<float> f0, ref Vector256<float> f1)
    {
        float* sa = (float*)(row + PaddedK);
        var sum = Vector256.Create(((int*)(sa + Blocks))[kb]);
        var s0 = Vector256.Create(sa[kb]);
        f0 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(d0 - z0 * sum), s0 * sc0, f0);
        f1 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(d1 - z1 * sum), s0 * sc1, f1);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Row128(int g, byte* row, float* y)
    {
        sbyte* aq = (sbyte*)row;
        float* sa = (float*)(row + PaddedK);
        int* sums = (int*)(sa + Blocks);
        byte* q = _qPtr + (long)g * PaddedK * 8;
        float* scale = _scalePtr + g * Blocks * GroupCols;
        byte* zp = _zpPtr is null ? null : _zpPtr + g * Blocks * GroupCols;
        var mask = Vector128.Create((byte)0x0F);
        var ones = Vector128.Create((short)1);
        int steps = BlockSize / 8;
        for (int h = 0; h < GroupCols; h += 4)
        {
            var f = Vector128<float>.Zero;
            for (int kb = 0; kb < Blocks; kb++)
            {
                var acc = Vector128<int>.Zero;
                byte* qb = q + (long)kb * steps * 64 + h * 4;
                sbyte* xb = aq + kb * BlockSize;
                for (int s = 0; s < steps; s++)
                {
                    var w = Vector128.Load(qb);
                    var lo = Ssse3.MultiplyAddAdjacent(w & mask, Vector128.Create(*(int*)xb).AsSByte());
                    var hi = Ssse3.MultiplyAddAdjacent(Vector128.ShiftRightLogical(w.AsUInt16(), 4).AsByte() & mask, Vector128.Create(*(int*)(xb + 4)).AsSByte());
                    acc += Sse2.MultiplyAddAdjacent(lo, ones) + Sse2.MultiplyAddAdjacent(hi, ones);
                    qb += 64;
                    xb += 8;
                }
                byte* z = zp + kb * GroupCols + h;
                var zv = zp is null ? Vector128.Create(8) : Vector128.Create(z[0], z[1], z[2], z[3]);
                var i = acc - zv * Vector128.Create(sums[kb]);
                f = Vector128.FusedMultiplyAdd(Vector128.ConvertToSingle(i), Vector128.Create(sa[kb]) * Vector128.Load(scale + kb * GroupCols + h), f);
            }
            f.Store(y + h);
        }
    }

    private void RowScalar(int g, byte* row, float* y)
    {
        sbyte* aq = (sbyte*)row;
        float* sa = (float*)(row + PaddedK);
        int* sums = (int*)(sa + Blocks);
        byte* q = _qPtr + (long)g * PaddedK * 8;
        for (int c = 0; c < GroupCols; c++)
        {
            float f = 0f;
            for (int kb = 0; kb < Blocks; kb++)
            {
                int dot = 0;
                for (int kk = kb * BlockSize; kk < (kb + 1) * BlockSize; kk++)
                {
                    int t = kk & 7;
                    int by = q[(kk >> 3) * 64 + c * 4 + (t & 3)];
                    dot += aq[kk] * (t < 4 ? by & 0xF : by >> 4);
                }
                int at = (g * Blocks + kb) * GroupCols + c;
                int i = dot - (_zpPtr is null ? 8 : _zpPtr[at]) * sums[kb];
                f = MathF.FusedMultiplyAdd(i, sa[kb] * _scalePtr[at], f);
            }
            y[c] = f;
        }
    }
}

/// <summary>acc + per 32-bit lane the dot product of four unsigned weight bytes and four signed activation bytes.</summary>
internal interface IDot256
{
    static abstract Vector256<int> Dot(Vector256<int> acc, Vector256<byte> w, Vector256<sbyte> x);
}

internal readonly struct VnniDot : IDot256
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Dot(Vector256<int> acc, Vector256<byte> w, Vector256<sbyte> x) => AvxVnni.MultiplyWideningAndAdd(acc, w, x);
}

internal readonly struct Avx2Dot : IDot256
{
    /// <summary>|w × x| ≤ 15 × 127, so the 16-bit pair sums never saturate: the result equals vpdpbusd's.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Dot(Vector256<int> acc, Vector256<byte> w, Vector256<sbyte> x)
        => acc + Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(w, x), Vector256.Create((short)1));
}
