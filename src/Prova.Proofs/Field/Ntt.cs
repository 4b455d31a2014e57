// Radix-2 number-theoretic transform over Goldilocks: iterative, in place, natural order in and out.
// Forward maps coefficients c_0..c_{n-1} to evaluations at ω^0..ω^{n-1}, ω = Fp.RootOfUnity(log2 n).
using System.Numerics;
using System.Runtime.InteropServices;

namespace Prova.Proofs.Field;

public static class Ntt
{
    // s_twiddles[log] holds, for every stage with half-length h = 2^s < 2^log, ω_{2h}^j at index h + j.
    private static readonly Fp[]?[] s_twiddles = new Fp[Fp.TwoAdicity + 1][];
    private static readonly Fp[]?[] s_inverseTwiddles = new Fp[Fp.TwoAdicity + 1][];

    /// <summary>Coefficients → evaluations on the 2^k-th roots of unity (length must be a power of two).</summary>
    public static void Forward(Span<Fp> values) => Transform(values, inverse: false);

    /// <summary>Evaluations on the roots of unity → coefficients (divides by n).</summary>
    public static void Inverse(Span<Fp> values)
    {
        Transform(values, inverse: true);
        if (values.Length > 1)
        {
            Fp nInv = Fp.FromUInt64((ulong)values.Length).Inverse();
            for (int i = 0; i < values.Length; i++)
            {
                values[i] *= nInv;
            }
        }
    }

    /// <summary>Evaluations of the polynomial with the given coefficients at shift·ω^i (a coset of the subgroup).</summary>
    public static void ForwardCoset(Span<Fp> values, Fp shift)
    {
        Fp power = Fp.One;
        for (int i = 0; i < values.Length; i++)
        {
            values[i] *= power;
            power *= shift;
        }
        Forward(values);
    }

    private static void Transform(Span<Fp> values, bool inverse)
    {
        int n = values.Length;
        if (n == 0 || !BitOperations.IsPow2(n))
        {
            throw new ArgumentException($"NTT length must be a power of two, got {n}", nameof(values));
        }
        if (n == 1)
        {
            return;
        }
        int log = BitOperations.Log2((uint)n);
        var tw = Twiddles(log, inverse);
        var x = MemoryMarshal.Cast<Fp, ulong>(values);
        BitReverse(x, log);
        var t = MemoryMarshal.Cast<Fp, ulong>(tw.AsSpan());
        for (int h = 1; h < n; h <<= 1)
        {
            var stage = t.Slice(h, h);
            for (int i = 0; i < n; i += 2 * h)
            {
                var lo = x.Slice(i, h);
                var hi = x.Slice(i + h, h);
                for (int j = 0; j < lo.Length; j++)
                {
                    ulong a = lo[j];
                    ulong b = Fp.MulRaw(hi[j], stage[j]);
                    lo[j] = Fp.AddRaw(a, b);
                    hi[j] = Fp.SubRaw(a, b);
                }
            }
        }
    }

    internal static void BitReverse(Span<ulong> x, int log)
    {
        int n = x.Length;
        int shift = 32 - log;
        for (int i = 0; i < n; i++)
        {
            int j = (int)(ReverseBits((uint)i) >> shift);
            if (i < j)
            {
                (x[i], x[j]) = (x[j], x[i]);
            }
        }
    }

    private static uint ReverseBits(uint v)
    {
        v = ((v >> 1) & 0x55555555u) | ((v & 0x55555555u) << 1);
        v = ((v >> 2) & 0x33333333u) | ((v & 0x33333333u) << 2);
        v = ((v >> 4) & 0x0F0F0F0Fu) | ((v & 0x0F0F0F0Fu) << 4);
        return System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(v);
    }

    private static Fp[] Twiddles(int log, bool inverse)
    {
        var cache = inverse ? s_inverseTwiddles : s_twiddles;
        var table = Volatile.Read(ref cache[log]);
        if (table != null)
        {
            return table;
        }
        int n = 1 << log;
        table = new Fp[n];
        for (int h = 1; h < n; h <<= 1)
        {
            Fp w = Fp.RootOfUnity(BitOperations.Log2((uint)h) + 1);
            if (inverse)
            {
                w = w.Inverse();
            }
            Fp power = Fp.One;
            for (int j = 0; j < h; j++)
            {
                table[h + j] = power;
                power *= w;
            }
        }
        Interlocked.CompareExchange(ref cache[log], table, null);
        return cache[log]!;
    }
}
