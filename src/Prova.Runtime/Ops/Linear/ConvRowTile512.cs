using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Prova.Runtime.Ops.Linear;

/// <summary>
/// AVX-512 direct-convolution microkernel for few output channels: up to 12 channels times 16 or 32
/// pixels of one output row, vectorised across pixels. Lane j of channel m computes
/// <c>acc = 0f; for k = 0..K-1: acc = fma(w[m, k], x[koff[k] + j], acc)</c> — the same k-chain as every
/// other convolution path — then <c>acc + bias[m]</c> and the Relu select, and stores the first
/// <c>pixels</c> lanes straight into the output rows (masked), so nothing is computed twice or copied.
/// </summary>
internal static unsafe class ConvRowTile512
{
    public const int MaxChannels = 12;

    /// <summary>
    /// One tile: <paramref name="channels"/> (1..12) output channels, <paramref name="pixels"/> (1..32)
    /// pixels. x is the phase element of pixel 0 (tap offsets koff); w is [K][12] (channel m of tap k at w[k * 12 + m]); y row m
    /// at y + m * ldy. Reads x up to 31 floats past pixel 0 of each tap.
    /// </summary>
    public static void Run(int channels, int pixels, int k, float* x, nint* koff, float* w, float* bias, bool relu, float* y, nint ldy)
    {
        var mask = Vector512.LessThan(Vector512.Create(0f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), Vector512.Create((float)(pixels > 16 ? pixels - 16 : pixels)));
        bool two = pixels > 16;
        switch (channels)
        {
            case 1:
                if (two)
                {
                    Tile2<N1>(k, x, koff, w, bias, relu, y, ldy, mask);
                }
                else
                {
                    Tile1<N1>(k, x, koff, w, bias, relu, y, ldy, mask);
                }
                break;
            case 2:
                if (two)
                {
                    Tile2<N2>(k, x, koff, w, bias, relu, y, ldy, mask);
                }
                else
                {
                    Tile1<N2>(k, x, koff, w, bias, relu, y, ldy, mask);
                }
                break;
            case 3:
                if (two)
                {
                    Tile2<N3>(k, x, koff, w, bias, relu, y, ldy, mask);
                }
                else
                {
                    Tile1<N3>(k, x, koff, w, bias, relu, y, ldy, mask);
                }
                break;
            case 4:
                if (two)
                {
                    Tile2<N4>(k, x, koff, w, bias, relu, y, ldy, mask);
                }
                else
                {
                    Tile1<N4>(k, x, koff, w, bias, relu, y, ldy, mask);
                }
                break;
            case 5:
                if (two)
                {
                    Tile2<N5>(k, x, koff, w, bias, relu, y, ldy, mask);
                }
                else
                {
                    Tile1<N5>(k, x, koff, w, bias, relu, y, ldy, mask);
                }
                break;
            case 6:
                if (two)
                {
                    Tile2<N6>(k, x, koff, w, bias, relu, y, ldy, mask);
                }
                else
                {
                    Tile1<N6>(k, x, koff, w, bias, relu, y, ldy, mask);
                }
                break;
            case 7:
                if (two)
                {
                    Tile2<N7>(k, x, koff, w, bias, relu, y, ldy, mask);
                }
                else
                {
                    Tile1<N7>(k, x, koff, w, bias, relu, y, ldy, mask);
                }
                break;
            case 8:
                if (two)
                {
                    Tile2<N8>(k, x, koff, w, bias, relu, y, ldy, mask);
                }
                else
                {
                    Tile1<N8>(k, x, koff, w, bias, relu, y, ldy, mask);
                }
                break;
            case 9:
                if (two)
                {
                    Tile2<N9>(k, x, koff, w, bias, relu, y, ldy, mask);
                }
                else
                {
                    Tile1<N9>(k, x, koff, w, bias, relu, y, ldy, mask);
                }
                break;
            case 10:
                if (two)
                {
                    Tile2<N10>(k, x, koff, w, bias, relu, y, ldy, mask);
                }
                else
                {
                    Tile1<N10>(k, x, koff, w, bias, relu, y, ldy, mask);
                }
                break;
            case 11:
                if (two)
                {
                    Tile2<N11>(k, x, koff, w, bias, relu, y, ldy, mask);
                }
                else
                {
                    Tile1<N11>(k, x, koff, w, bias, relu, y, ldy, mask);
                }
                break;
            case 12:
                if (two)
                {
                    Tile2<N12>(k, x, koff, w, bias, relu, y, ldy, mask);
                }
                else
                {
                    Tile1<N12>(k, x, koff, w, bias, relu, y, ldy, mask);
                }
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(channels));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile1<TM>(int k, float* x, nint* koff, float* w, float* bias, bool relu, float* y, nint ldy, Vector512<float> mask)
        where TM : struct, ITileCount
    {
        var a0 = Vector512<float>.Zero;
        var a1 = Vector512<float>.Zero;
        var a2 = Vector512<float>.Zero;
        var a3 = Vector512<float>.Zero;
        var a4 = Vector512<float>.Zero;
        var a5 = Vector512<float>.Zero;
        var a6 = Vector512<float>.Zero;
        var a7 = Vector512<float>.Zero;
        var a8 = Vector512<float>.Zero;
        var a9 = Vector512<float>.Zero;
        var a10 = Vector512<float>.Zero;
        var a11 = Vector512<float>.Zero;
        for (int kk = 0; kk < k; kk++)
        {
            float* xk = x + koff[kk];
            var x0 = Vector512.Load(xk);
            Vector512<float> v;
            v = Vector512.Create(w[0]);
            a0 = Vector512.FusedMultiplyAdd(v, x0, a0);
            if (TM.N > 1)
            {
                v = Vector512.Create(w[1]);
                a1 = Vector512.FusedMultiplyAdd(v, x0, a1);
            }
            if (TM.N > 2)
            {
                v = Vector512.Create(w[2]);
                a2 = Vector512.FusedMultiplyAdd(v, x0, a2);
            }
            if (TM.N > 3)
            {
                v = Vector512.Create(w[3]);
                a3 = Vector512.FusedMultiplyAdd(v, x0, a3);
            }
            if (TM.N > 4)
            {
                v = Vector512.Create(w[4]);
                a4 = Vector512.FusedMultiplyAdd(v, x0, a4);
            }
            if (TM.N > 5)
            {
                v = Vector512.Create(w[5]);
                a5 = Vector512.FusedMultiplyAdd(v, x0, a5);
            }
            if (TM.N > 6)
            {
                v = Vector512.Create(w[6]);
                a6 = Vector512.FusedMultiplyAdd(v, x0, a6);
            }
            if (TM.N > 7)
            {
                v = Vector512.Create(w[7]);
                a7 = Vector512.FusedMultiplyAdd(v, x0, a7);
            }
            if (TM.N > 8)
            {
                v = Vector512.Create(w[8]);
                a8 = Vector512.FusedMultiplyAdd(v, x0, a8);
            }
            if (TM.N > 9)
            {
                v = Vector512.Create(w[9]);
                a9 = Vector512.FusedMultiplyAdd(v, x0, a9);
            }
            if (TM.N > 10)
            {
                v = Vector512.Create(w[10]);
                a10 = Vector512.FusedMultiplyAdd(v, x0, a10);
            }
            if (TM.N > 11)
            {
                v = Vector512.Create(w[11]);
                a11 = Vector512.FusedMultiplyAdd(v, x0, a11);
            }
            w += MaxChannels;
        }
        Finish(a0, bias == null ? 0f : bias[0], bias != null, relu, y + 0 * ldy, mask);
        if (TM.N > 1)
        {
            Finish(a1, bias == null ? 0f : bias[1], bias != null, relu, y + 1 * ldy, mask);
        }
        if (TM.N > 2)
        {
            Finish(a2, bias == null ? 0f : bias[2], bias != null, relu, y + 2 * ldy, mask);
        }
        if (TM.N > 3)
        {
            Finish(a3, bias == null ? 0f : bias[3], bias != null, relu, y + 3 * ldy, mask);
        }
        if (TM.N > 4)
        {
            Finish(a4, bias == null ? 0f : bias[4], bias != null, relu, y + 4 * ldy, mask);
        }
        if (TM.N > 5)
        {
            Finish(a5, bias == null ? 0f : bias[5], bias != null, relu, y + 5 * ldy, mask);
        }
        if (TM.N > 6)
        {
            Finish(a6, bias == null ? 0f : bias[6], bias != null, relu, y + 6 * ldy, mask);
        }
        if (TM.N > 7)
        {
            Finish(a7, bias == null ? 0f : bias[7], bias != null, relu, y + 7 * ldy, mask);
        }
        if (TM.N > 8)
        {
            Finish(a8, bias == null ? 0f : bias[8], bias != null, relu, y + 8 * ldy, mask);
        }
        if (TM.N > 9)
        {
            Finish(a9, bias == null ? 0f : bias[9], bias != null, relu, y + 9 * ldy, mask);
        }
        if (TM.N > 10)
        {
            Finish(a10, bias == null ? 0f : bias[10], bias != null, relu, y + 10 * ldy, mask);
        }
        if (TM.N > 11)
        {
            Finish(a11, bias == null ? 0f : bias[11], bias != null, relu, y + 11 * ldy, mask);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile2<TM>(int k, float* x, nint* koff, float* w, float* bias, bool relu, float* y, nint ldy, Vector512<float> mask)
        where TM : struct, ITileCount
    {
        var a0 = Vector512<float>.Zero;
        var b0 = Vector512<float>.Zero;
        var a1 = Vector512<float>.Zero;
        var b1 = Vector512<float>.Zero;
        var a2 = Vector512<float>.Zero;
        var b2 = Vector512<float>.Zero;
        var a3 = Vector512<float>.Zero;
        var b3 = Vector512<float>.Zero;
        var a4 = Vector512<float>.Zero;
        var b4 = Vector512<float>.Zero;
        var a5 = Vector512<float>.Zero;
        var b5 = Vector512<float>.Zero;
        var a6 = Vector512<float>.Zero;
        var b6 = Vector512<float>.Zero;
        var a7 = Vector512<float>.Zero;
        var b7 = Vector512<float>.Zero;
        var a8 = Vector512<float>.Zero;
        var b8 = Vector512<float>.Zero;
        var a9 = Vector512<float>.Zero;
        var b9 = Vector512<float>.Zero;
        var a10 = Vector512<float>.Zero;
        var b10 = Vector512<float>.Zero;
        var a11 = Vector512<float>.Zero;
        var b11 = Vector512<float>.Zero;
        for (int kk = 0; kk < k; kk++)
        {
            float* xk = x + koff[kk];
            var x0 = Vector512.Load(xk);
            var x1 = Vector512.Load(xk + 16);
            Vector512<float> v;
            v = Vector512.Create(w[0]);
            a0 = Vector512.FusedMultiplyAdd(v, x0, a0);
            b0 = Vector512.FusedMultiplyAdd(v, x1, b0);
            if (TM.N > 1)
            {
                v = Vector512.Create(w[1]);
                a1 = Vector512.FusedMultiplyAdd(v, x0, a1);
                b1 = Vector512.FusedMultiplyAdd(v, x1, b1);
            }
            if (TM.N > 2)
            {
                v = Vector512.Create(w[2]);
                a2 = Vector512.FusedMultiplyAdd(v, x0, a2);
                b2 = Vector512.FusedMultiplyAdd(v, x1, b2);
            }
            if (TM.N > 3)
            {
                v = Vector512.Create(w[3]);
                a3 = Vector512.FusedMultiplyAdd(v, x0, a3);
                b3 = Vector512.FusedMultiplyAdd(v, x1, b3);
            }
            if (TM.N > 4)
            {
                v = Vector512.Create(w[4]);
                a4 = Vector512.FusedMultiplyAdd(v, x0, a4);
                b4 = Vector512.FusedMultiplyAdd(v, x1, b4);
            }
            if (TM.N > 5)
            {
                v = Vector512.Create(w[5]);
                a5 = Vector512.FusedMultiplyAdd(v, x0, a5);
                b5 = Vector512.FusedMultiplyAdd(v, x1, b5);
            }
            if (TM.N > 6)
            {
                v = Vector512.Create(w[6]);
                a6 = Vector512.FusedMultiplyAdd(v, x0, a6);
                b6 = Vector512.FusedMultiplyAdd(v, x1, b6);
            }
            if (TM.N > 7)
            {
                v = Vector512.Create(w[7]);
                a7 = Vector512.FusedMultiplyAdd(v, x0, a7);
                b7 = Vector512.FusedMultiplyAdd(v, x1, b7);
            }
            if (TM.N > 8)
            {
                v = Vector512.Create(w[8]);
                a8 = Vector512.FusedMultiplyAdd(v, x0, a8);
                b8 = Vector512.FusedMultiplyAdd(v, x1, b8);
            }
            if (TM.N > 9)
            {
                v = Vector512.Create(w[9]);
                a9 = Vector512.FusedMultiplyAdd(v, x0, a9);
                b9 = Vector512.FusedMultiplyAdd(v, x1, b9);
            }
            if (TM.N > 10)
            {
                v = Vector512.Create(w[10]);
                a10 = Vector512.FusedMultiplyAdd(v, x0, a10);
                b10 = Vector512.FusedMultiplyAdd(v, x1, b10);
            }
            if (TM.N > 11)
            {
                v = Vector512.Create(w[11]);
                a11 = Vector512.FusedMultiplyAdd(v, x0, a11);
                b11 = Vector512.FusedMultiplyAdd(v, x1, b11);
            }
            w += MaxChannels;
        }
        Finish(a0, b0, bias == null ? 0f : bias[0], bias != null, relu, y + 0 * ldy, mask);
        if (TM.N > 1)
        {
            Finish(a1, b1, bias == null ? 0f : bias[1], bias != null, relu, y + 1 * ldy, mask);
        }
        if (TM.N > 2)
        {
            Finish(a2, b2, bias == null ? 0f : bias[2], bias != null, relu, y + 2 * ldy, mask);
        }
        if (TM.N > 3)
        {
            Finish(a3, b3, bias == null ? 0f : bias[3], bias != null, relu, y + 3 * ldy, mask);
        }
        if (TM.N > 4)
        {
            Finish(a4, b4, bias == null ? 0f : bias[4], bias != null, relu, y + 4 * ldy, mask);
        }
        if (TM.N > 5)
        {
            Finish(a5, b5, bias == null ? 0f : bias[5], bias != null, relu, y + 5 * ldy, mask);
        }
        if (TM.N > 6)
        {
            Finish(a6, b6, bias == null ? 0f : bias[6], bias != null, relu, y + 6 * ldy, mask);
        }
        if (TM.N > 7)
        {
            Finish(a7, b7, bias == null ? 0f : bias[7], bias != null, relu, y + 7 * ldy, mask);
        }
        if (TM.N > 8)
        {
            Finish(a8, b8, bias == null ? 0f : bias[8], bias != null, relu, y + 8 * ldy, mask);
        }
        if (TM.N > 9)
        {
            Finish(a9, b9, bias == null ? 0f : bias[9], bias != null, relu, y + 9 * ldy, mask);
        }
        if (TM.N > 10)
        {
            Finish(a10, b10, bias == null ? 0f : bias[10], bias != null, relu, y + 10 * ldy, mask);
        }
        if (TM.N > 11)
        {
            Finish(a11, b11, bias == null ? 0f : bias[11], bias != null, relu, y + 11 * ldy, mask);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Epilogue(Vector512<float> acc, float bias, bool hasBias, bool relu)
    {
        if (hasBias)
        {
            acc += Vector512.Create(bias);
        }
        if (relu)
        {
            acc = Vector512.ConditionalSelect(Vector512.LessThan(acc, Vector512<float>.Zero), Vector512<float>.Zero, acc);
        }
        return acc;
    }

    /// <summary>16 or fewer pixels: the masked lanes of one vector.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish(Vector512<float> a, float bias, bool hasBias, bool relu, float* dest, Vector512<float> mask)
        => Avx512F.MaskStore(dest, mask, Epilogue(a, bias, hasBias, relu));

    /// <summary>17 to 32 pixels: a full vector, then the masked lanes of the second.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish(Vector512<float> a, Vector512<float> b, float bias, bool hasBias, bool relu, float* dest, Vector512<float> mask)
    {
        Epilogue(a, bias, hasBias, relu).Store(dest);
        Avx512F.MaskStore(dest + 16, mask, Epilogue(b, bias, hasBias, relu));
    }
}
