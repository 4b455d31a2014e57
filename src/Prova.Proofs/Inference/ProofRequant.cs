namespace Prova.Proofs.Inference;

/// <summary>
/// Prova's integer requantisation (docs/quantization.md), restated for the verifier: a Q31 multiplier
/// M0 and a shift s derived from the float32 bit patterns of the scales; an int32 accumulator maps to
/// clamp(round_half_to_even(acc·M0 / 2^s) + zero_point, lo, hi). Same definition as the engine's
/// kernels (the honest-proof tests on real models check that both agree).
/// </summary>
public readonly record struct ProofRequant(int Multiplier, int Shift)
{
    /// <summary>Splits a positive finite float into m·2^e with m ∈ [2^23, 2^24) (subnormals normalised).</summary>
    public static (ulong Mantissa, int Exponent) Decompose(float f)
    {
        uint bits = BitConverter.SingleToUInt32Bits(f);
        int biased = (int)((bits >> 23) & 0xFF);
        ulong frac = bits & 0x7FFFFF;
        if ((bits >> 31) != 0 || biased == 0xFF || (biased == 0 && frac == 0))
        {
            throw new ProofException(ProofErrorCode.Unsupported, $"a quantization scale must be positive and finite (got {f})");
        }
        if (biased == 0)
        {
            int e = -149;
            while (frac < (1UL << 23))
            {
                frac <<= 1;
                e--;
            }
            return (frac, e);
        }
        return (frac | (1UL << 23), biased - 150);
    }

    /// <summary>The multiplier and shift for R = a·b/y.</summary>
    public static ProofRequant Derive(float a, float b, float y)
    {
        var (ma, ea) = Decompose(a);
        var (mb, eb) = Decompose(b);
        var (my, ey) = Decompose(y);
        ulong n = ma * mb;
        ulong d = my;
        int t = 0;
        while ((n << t) / d < (1UL << 30))
        {
            t++;
        }
        ulong num = n << t;
        ulong q = num / d;
        ulong r = num - q * d;
        if (2 * r > d || (2 * r == d && (q & 1) != 0))
        {
            q++;
        }
        if (q == (1UL << 31))
        {
            q = 1UL << 30;
            t--;
        }
        long shift = (long)t - ((long)ea + eb - ey);
        shift = Math.Clamp(shift, -64, 64);
        return new ProofRequant((int)q, (int)shift);
    }

    /// <summary>round_half_even(p / 2^s) for |p| &lt; 2^62; s ≥ 63 gives 0; s ≤ 0 saturates for p ≠ 0.</summary>
    public static long RoundShift(long p, int s)
    {
        if ((uint)(s - 1) < 62u)
        {
            long q = p >> s;
            long r = p & ((1L << s) - 1);
            long half = 1L << (s - 1);
            if (r > half || (r == half && (q & 1) != 0))
            {
                q++;
            }
            return q;
        }
        if (s >= 63 || p == 0)
        {
            return 0;
        }
        return p > 0 ? long.MaxValue : -long.MaxValue;
    }

    /// <summary>saturate(round_half_even(acc·M0 / 2^s) + zeroPoint) into [lo, hi].</summary>
    public int Apply(int acc, int zeroPoint, int lo, int hi)
    {
        long v = RoundShift((long)acc * Multiplier, Shift);
        if (v > hi - zeroPoint)
        {
            return hi;
        }
        if (v < lo - zeroPoint)
        {
            return lo;
        }
        return (int)v + zeroPoint;
    }
}
