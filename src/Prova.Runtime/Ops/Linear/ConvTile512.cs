using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Prova.Runtime.Ops.Linear;

/// <summary>
/// AVX-512 direct-convolution microkernels: up to 12 output pixels of one output row times 32 output
/// channels (two vectors of 16) or 16 (one vector), vectorised across channels. Lane l of pixel r computes
/// <c>acc = 0f; for k = 0..K-1: acc = fma(w[k, l], x[koff[k] + r], acc)</c> — the same k-chain as every
/// other convolution path — then <c>acc + bias[l]</c> and the Relu select, and stores the tile as
/// [R][lanes]. K may be split into blocks: a block after the first continues from the exact floats the
/// previous one stored in the tile (the same chain), and only the last applies bias and Relu.
/// </summary>
internal static unsafe class ConvTile512
{
    public const int MaxPixels = 12;

    /// <summary>Runs a tile of <paramref name="pixels"/> pixels (1..12) times 32 channels; w is [K][32].</summary>
    public static void Run32(int pixels, int k, float* x, nint* koff, float* w, bool accumulate, bool finish, float* bias, bool relu, float* tile)
    {
        switch (pixels)
        {
            case 1:
                Tile32<N1>(k, x, koff, w, accumulate, finish, bias, relu, tile);
                break;
            case 2:
                Tile32<N2>(k, x, koff, w, accumulate, finish, bias, relu, tile);
                break;
            case 3:
                Tile32<N3>(k, x, koff, w, accumulate, finish, bias, relu, tile);
                break;
            case 4:
                Tile32<N4>(k, x, koff, w, accumulate, finish, bias, relu, tile);
                break;
            case 5:
                Tile32<N5>(k, x, koff, w, accumulate, finish, bias, relu, tile);
                break;
            case 6:
                Tile32<N6>(k, x, koff, w, accumulate, finish, bias, relu, tile);
                break;
            case 7:
                Tile32<N7>(k, x, koff, w, accumulate, finish, bias, relu, tile);
                break;
            case 8:
                Tile32<N8>(k, x, koff, w, accumulate, finish, bias, relu, tile);
                break;
            case 9:
                Tile32<N9>(k, x, koff, w, accumulate, finish, bias, relu, tile);
                break;
            case 10:
                Tile32<N10>(k, x, koff, w, accumulate, finish, bias, relu, tile);
                break;
            case 11:
                Tile32<N11>(k, x, koff, w, accumulate, finish, bias, relu, tile);
                break;
            case 12:
                Tile32<N12>(k, x, koff, w, accumulate, finish, bias, relu, tile);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(pixels));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile32<TR>(int k, float* x, nint* koff, float* w, bool accumulate, bool finish, float* bias, bool relu, float* tile)
        where TR : struct, ITileCount
    {
        var l0 = Vector512<float>.Zero;
        var h0 = Vector512<float>.Zero;
        var l1 = Vector512<float>.Zero;
        var h1 = Vector512<float>.Zero;
        var l2 = Vector512<float>.Zero;
        var h2 = Vector512<float>.Zero;
        var l3 = Vector512<float>.Zero;
        var h3 = Vector512<float>.Zero;
        var l4 = Vector512<float>.Zero;
        var h4 = Vector512<float>.Zero;
        var l5 = Vector512<float>.Zero;
        var h5 = Vector512<float>.Zero;
        var l6 = Vector512<float>.Zero;
        var h6 = Vector512<float>.Zero;
        var l7 = Vector512<float>.Zero;
        var h7 = Vector512<float>.Zero;
        var l8 = Vector512<float>.Zero;
        var h8 = Vector512<float>.Zero;
        var l9 = Vector512<float>.Zero;
        var h9 = Vector512<float>.Zero;
        var l10 = Vector512<float>.Zero;
        var h10 = Vector512<float>.Zero;
        var l11 = Vector512<float>.Zero;
        var h11 = Vector512<float>.Zero;
        if (accumulate)
        {
            l0 = Vector512.Load(tile + 0);
            h0 = Vector512.Load(tile + 16);
            if (TR.N > 1)
            {
                l1 = Vector512.Load(tile + 32);
                h1 = Vector512.Load(tile + 48);
            }
            if (TR.N > 2)
            {
                l2 = Vector512.Load(tile + 64);
                h2 = Vector512.Load(tile + 80);
            }
            if (TR.N > 3)
            {
                l3 = Vector512.Load(tile + 96);
                h3 = Vector512.Load(tile + 112);
            }
            if (TR.N > 4)
            {
                l4 = Vector512.Load(tile + 128);
                h4 = Vector512.Load(tile + 144);
            }
            if (TR.N > 5)
            {
                l5 = Vector512.Load(tile + 160);
                h5 = Vector512.Load(tile + 176);
            }
            if (TR.N > 6)
            {
                l6 = Vector512.Load(tile + 192);
                h6 = Vector512.Load(tile + 208);
            }
            if (TR.N > 7)
            {
                l7 = Vector512.Load(tile + 224);
                h7 = Vector512.Load(tile + 240);
            }
            if (TR.N > 8)
            {
                l8 = Vector512.Load(tile + 256);
                h8 = Vector512.Load(tile + 272);
            }
            if (TR.N > 9)
            {
                l9 = Vector512.Load(tile + 288);
                h9 = Vector512.Load(tile + 304);
            }
            if (TR.N > 10)
            {
                l10 = Vector512.Load(tile + 320);
                h10 = Vector512.Load(tile + 336);
            }
            if (TR.N > 11)
            {
                l11 = Vector512.Load(tile + 352);
                h11 = Vector512.Load(tile + 368);
            }
        }
        for (int kk = 0; kk < k; kk++)
        {
            float* xk = x + koff[kk];
            var w0 = Vector512.Load(w);
            var w1 = Vector512.Load(w + 16);
            w += 32;
            Vector512<float> v;
            v = Vector512.Create(xk[0]);
            l0 = Vector512.FusedMultiplyAdd(v, w0, l0);
            h0 = Vector512.FusedMultiplyAdd(v, w1, h0);
            if (TR.N > 1)
            {
                v = Vector512.Create(xk[1]);
                l1 = Vector512.FusedMultiplyAdd(v, w0, l1);
                h1 = Vector512.FusedMultiplyAdd(v, w1, h1);
            }
            if (TR.N > 2)
            {
                v = Vector512.Create(xk[2]);
                l2 = Vector512.FusedMultiplyAdd(v, w0, l2);
                h2 = Vector512.FusedMultiplyAdd(v, w1, h2);
            }
            if (TR.N > 3)
            {
                v = Vector512.Create(xk[3]);
                l3 = Vector512.FusedMultiplyAdd(v, w0, l3);
                h3 = Vector512.FusedMultiplyAdd(v, w1, h3);
            }
            if (TR.N > 4)
            {
                v = Vector512.Create(xk[4]);
                l4 = Vector512.FusedMultiplyAdd(v, w0, l4);
                h4 = Vector512.FusedMultiplyAdd(v, w1, h4);
            }
            if (TR.N > 5)
            {
                v = Vector512.Create(xk[5]);
                l5 = Vector512.FusedMultiplyAdd(v, w0, l5);
                h5 = Vector512.FusedMultiplyAdd(v, w1, h5);
            }
            if (TR.N > 6)
            {
                v = Vector512.Create(xk[6]);
                l6 = Vector512.FusedMultiplyAdd(v, w0, l6);
                h6 = Vector512.FusedMultiplyAdd(v, w1, h6);
            }
            if (TR.N > 7)
            {
                v = Vector512.Create(xk[7]);
                l7 = Vector512.FusedMultiplyAdd(v, w0, l7);
                h7 = Vector512.FusedMultiplyAdd(v, w1, h7);
            }
            if (TR.N > 8)
            {
                v = Vector512.Create(xk[8]);
                l8 = Vector512.FusedMultiplyAdd(v, w0, l8);
                h8 = Vector512.FusedMultiplyAdd(v, w1, h8);
            }
            if (TR.N > 9)
            {
                v = Vector512.Create(xk[9]);
                l9 = Vector512.FusedMultiplyAdd(v, w0, l9);
                h9 = Vector512.FusedMultiplyAdd(v, w1, h9);
            }
            if (TR.N > 10)
            {
                v = Vector512.Create(xk[10]);
                l10 = Vector512.FusedMultiplyAdd(v, w0, l10);
                h10 = Vector512.FusedMultiplyAdd(v, w1, h10);
            }
            if (TR.N > 11)
            {
                v = Vector512.Create(xk[11]);
                l11 = Vector512.FusedMultiplyAdd(v, w0, l11);
                h11 = Vector512.FusedMultiplyAdd(v, w1, h11);
            }
        }
        if (!finish)
        {
            bias = null;
            relu = false;
        }
        bool hasBias = bias != null;
        var bl = hasBias ? Vector512.Load(bias) : Vector512<float>.Zero;
        var bh = hasBias ? Vector512.Load(bias + 16) : Vector512<float>.Zero;
        Finish(l0, bl, hasBias, relu, tile + 0);
        Finish(h0, bh, hasBias, relu, tile + 16);
        if (TR.N > 1)
        {
            Finish(l1, bl, hasBias, relu, tile + 32);
            Finish(h1, bh, hasBias, relu, tile + 48);
        }
        if (TR.N > 2)
        {
            Finish(l2, bl, hasBias, relu, tile + 64);
            Finish(h2, bh, hasBias, relu, tile + 80);
        }
        if (TR.N > 3)
        {
            Finish(l3, bl, hasBias, relu, tile + 96);
            Finish(h3, bh, hasBias, relu, tile + 112);
        }
        if (TR.N > 4)
        {
            Finish(l4, bl, hasBias, relu, tile + 128);
            Finish(h4, bh, hasBias, relu, tile + 144);
        }
        if (TR.N > 5)
        {
            Finish(l5, bl, hasBias, relu, tile + 160);
            Finish(h5, bh, hasBias, relu, tile + 176);
        }
        if (TR.N > 6)
        {
            Finish(l6, bl, hasBias, relu, tile + 192);
            Finish(h6, bh, hasBias, relu, tile + 208);
        }
        if (TR.N > 7)
        {
            Finish(l7, bl, hasBias, relu, tile + 224);
            Finish(h7, bh, hasBias, relu, tile + 240);
        }
        if (TR.N > 8)
        {
            Finish(l8, bl, hasBias, relu, tile + 256);
            Finish(h8, bh, hasBias, relu, tile + 272);
        }
        if (TR.N > 9)
        {
            Finish(l9, bl, hasBias, relu, tile + 288);
            Finish(h9, bh, hasBias, relu, tile + 304);
        }
        if (TR.N > 10)
        {
            Finish(l10, bl, hasBias, relu, tile + 320);
            Finish(h10, bh, hasBias, relu, tile + 336);
        }
        if (TR.N > 11)
        {
            Finish(l11, bl, hasBias, relu, tile + 352);
            Finish(h11, bh, hasBias, relu, tile + 368);
        }
    }

    /// <summary>Runs a tile of <paramref name="pixels"/> pixels (1..12) times 16 channels; w is [K][16].</summary>
    public static void Run16(int pixels, int k, float* x, nint* koff, float* w, bool accumulate, bool finish, float* bias, bool relu, float* tile)
    {
        switch (pixels)
        {
            case 1:
                Tile16<N1>(k, x, koff, w, accumulate, finish, bias, relu, tile);
                break;
            case 2:
                Tile16<N2>(k, x, koff, w, accumulate, finish, bias, relu, tile);
                break;
            case 3:
                Tile16<N3>(k, x, koff, w, accumulate, finish, bias, relu, tile);
                break;
            case 4:
                Tile16<N4>(k, x, koff, w, accumulate, finish, bias, relu, tile);
                break;
            case 5:
                Tile16<N5>(k, x, koff, w, accumulate, finish, bias, relu, tile);
                break;
            case 6:
                Tile16<N6>(k, x, koff, w, accumulate, finish, bias, relu, tile);
                break;
            case 7:
                Tile16<N7>(k, x, koff, w, accumulate, finish, bias, relu, tile);
                break;
            case 8:
                Tile16<N8>(k, x, koff, w, accumulate, finish, bias, relu, tile);
                break;
            case 9:
                Tile16<N9>(k, x, koff, w, accumulate, finish, bias, relu, tile);
                break;
            case 10:
                Tile16<N10>(k, x, koff, w, accumulate, finish, bias, relu, tile);
                break;
            case 11:
                Tile16<N11>(k, x, koff, w, accumulate, finish, bias, relu, tile);
                break;
            case 12:
                Tile16<N12>(k, x, koff, w, accumulate, finish, bias, relu, tile);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(pixels));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile16<TR>(int k, float* x, nint* koff, float* w, bool accumulate, bool finish, float* bias, bool relu, float* tile)
        where TR : struct, ITileCount
    {
        var l0 = Vector512<float>.Zero;
        var l1 = Vector512<float>.Zero;
        var l2 = Vector512<float>.Zero;
        var l3 = Vector512<float>.Zero;
        var l4 = Vector512<float>.Zero;
        var l5 = Vector512<float>.Zero;
        var l6 = Vector512<float>.Zero;
        var l7 = Vector512<float>.Zero;
        var l8 = Vector512<float>.Zero;
        var l9 = Vector512<float>.Zero;
        var l10 = Vector512<float>.Zero;
        var l11 = Vector512<float>.Zero;
        if (accumulate)
        {
            l0 = Vector512.Load(tile + 0);
            if (TR.N > 1)
            {
                l1 = Vector512.Load(tile + 16);
            }
            if (TR.N > 2)
            {
                l2 = Vector512.Load(tile + 32);
            }
            if (TR.N > 3)
            {
                l3 = Vector512.Load(tile + 48);
            }
            if (TR.N > 4)
            {
                l4 = Vector512.Load(tile + 64);
            }
            if (TR.N > 5)
            {
                l5 = Vector512.Load(tile + 80);
            }
            if (TR.N > 6)
            {
                l6 = Vector512.Load(tile + 96);
            }
            if (TR.N > 7)
            {
                l7 = Vector512.Load(tile + 112);
            }
            if (TR.N > 8)
            {
                l8 = Vector512.Load(tile + 128);
            }
            if (TR.N > 9)
            {
                l9 = Vector512.Load(tile + 144);
            }
            if (TR.N > 10)
            {
                l10 = Vector512.Load(tile + 160);
            }
            if (TR.N > 11)
            {
                l11 = Vector512.Load(tile + 176);
            }
        }
        for (int kk = 0; kk < k; kk++)
        {
            float* xk = x + koff[kk];
            var w0 = Vector512.Load(w);
            w += 16;
            Vector512<float> v;
            v = Vector512.Create(xk[0]);
            l0 = Vector512.FusedMultiplyAdd(v, w0, l0);
            if (TR.N > 1)
            {
                v = Vector512.Create(xk[1]);
                l1 = Vector512.FusedMultiplyAdd(v, w0, l1);
            }
            if (TR.N > 2)
            {
                v = Vector512.Create(xk[2]);
                l2 = Vector512.FusedMultiplyAdd(v, w0, l2);
            }
            if (TR.N > 3)
            {
                v = Vector512.Create(xk[3]);
                l3 = Vector512.FusedMultiplyAdd(v, w0, l3);
            }
            if (TR.N > 4)
            {
                v = Vector512.Create(xk[4]);
                l4 = Vector512.FusedMultiplyAdd(v, w0, l4);
            }
            if (TR.N > 5)
            {
                v = Vector512.Create(xk[5]);
                l5 = Vector512.FusedMultiplyAdd(v, w0, l5);
            }
            if (TR.N > 6)
            {
                v = Vector512.Create(xk[6]);
                l6 = Vector512.FusedMultiplyAdd(v, w0, l6);
            }
            if (TR.N > 7)
            {
                v = Vector512.Create(xk[7]);
                l7 = Vector512.FusedMultiplyAdd(v, w0, l7);
            }
            if (TR.N > 8)
            {
                v = Vector512.Create(xk[8]);
                l8 = Vector512.FusedMultiplyAdd(v, w0, l8);
            }
            if (TR.N > 9)
            {
                v = Vector512.Create(xk[9]);
                l9 = Vector512.FusedMultiplyAdd(v, w0, l9);
            }
            if (TR.N > 10)
            {
                v = Vector512.Create(xk[10]);
                l10 = Vector512.FusedMultiplyAdd(v, w0, l10);
            }
            if (TR.N > 11)
            {
                v = Vector512.Create(xk[11]);
                l11 = Vector512.FusedMultiplyAdd(v, w0, l11);
            }
        }
        if (!finish)
        {
            bias = null;
            relu = false;
        }
        bool hasBias = bias != null;
        var bl = hasBias ? Vector512.Load(bias) : Vector512<float>.Zero;
        Finish(l0, bl, hasBias, relu, tile + 0);
        if (TR.N > 1)
        {
            Finish(l1, bl, hasBias, relu, tile + 16);
        }
        if (TR.N > 2)
        {
            Finish(l2, bl, hasBias, relu, tile + 32);
        }
        if (TR.N > 3)
        {
            Finish(l3, bl, hasBias, relu, tile + 48);
        }
        if (TR.N > 4)
        {
            Finish(l4, bl, hasBias, relu, tile + 64);
        }
        if (TR.N > 5)
        {
            Finish(l5, bl, hasBias, relu, tile + 80);
        }
        if (TR.N > 6)
        {
            Finish(l6, bl, hasBias, relu, tile + 96);
        }
        if (TR.N > 7)
        {
            Finish(l7, bl, hasBias, relu, tile + 112);
        }
        if (TR.N > 8)
        {
            Finish(l8, bl, hasBias, relu, tile + 128);
        }
        if (TR.N > 9)
        {
            Finish(l9, bl, hasBias, relu, tile + 144);
        }
        if (TR.N > 10)
        {
            Finish(l10, bl, hasBias, relu, tile + 160);
        }
        if (TR.N > 11)
        {
            Finish(l11, bl, hasBias, relu, tile + 176);
        }
    }

    /// <summary>acc + bias (when given), then the Relu select t &lt; 0 ? +0 : t (when asked), stored as 16 floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish(Vector512<float> acc, Vector512<float> bias, bool hasBias, bool relu, float* dest)
    {
        if (hasBias)
        {
            acc += bias;
        }
        if (relu)
        {
            acc = Vector512.ConditionalSelect(Vector512.LessThan(acc, Vector512<float>.Zero), Vector512<float>.Zero, acc);
        }
        acc.Store(dest);
    }
}
