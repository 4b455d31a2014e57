using System.Numerics;
using System.Runtime.CompilerServices;

namespace Prova.Runtime.Ops.Quant;

/// <summary>
/// Prova's integer requantization (docs/quantization.md): a real multiplier R = a_scale·b_scale/y_scale
/// is replaced by a Q31 fixed-point multiplier M0 ∈ [2^30, 2^31) and a right shift s with
/// R ≈ M0·2^-s, derived from the float32 bit patterns with integer arithmetic only. An int32
/// accumulator then maps to round_half_to_even(acc·M0 / 2^s), computed exactly on the 64-bit product.
/// </summary>
public readonly record struct Requant(int Multiplier, int Shift)
{
    /// <summary>Splits a positive finite float into m·2^e with m ∈ [2^23, 2^24) (subnormals normalised).</summary>
    public static (ulong Mantissa, int Exponent) Decompose(float f)
    {
        uint bits = BitConverter.SingleToUInt32Bits(f);
        int biased = (int)((bits >> 23) & 0xFF);
        ulong frac = bits & 0x7FFFFF;
        if ((bits >> 31) != 0 || biased == 0xFF || (biased == 0 && frac == 0))
        {
            throw new ArgumentOutOfRangeException(nameof(f), f, "a quantization scale must be positive and finite");
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

    /// <summary>True when f is a usable scale (positive, finite, not zero).</summary>
    public static bool IsValidScale(float f) => float.IsFinite(f) && f > 0;

    /// <summary>
    /// The multiplier and shift for R = a·b/y (three positive finite float32 values).
    /// N = ma·mb, D = my; t is the smallest integer ≥ 0 with ⌊N·2^t/D⌋ ≥ 2^30; M0 = round_half_even(N·2^t/D)
    /// (if that rounds up to 2^31, M0 = 2^30 and t − 1); s = t − (ea + eb − ey).
    /// </summary>
    public static Requant Derive(float a, float b, float y)
    {
        var (ma, ea) = Decompose(a);
        var (mb, eb) = Decompose(b);
        var (my, ey) = Decompose(y);
        ulong n = ma * mb; // < 2^48
        ulong d = my;      // < 2^24
        int t = 0;
        while ((n << t) / d < (1UL << 30))
        {
            t++; // at most 8: N/D > 2^22
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
        return new Requant((int)q, (int)shift);
    }

    /// <summary>round_half_even(p / 2^s) for |p| &lt; 2^62; s ≥ 63 gives 0; s ≤ 0 gives ±long.MaxValue (saturates) for p ≠ 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
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
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
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

    /// <summary>
    /// round_half_even(num / den) of two exact rationals, saturated to int32: used at plan time to
    /// bring a bias onto the accumulator's scale.
    /// </summary>
    public static int RoundRational(BigInteger num, BigInteger den)
    {
        if (den.Sign < 0)
        {
            num = -num;
            den = -den;
        }
        var q = BigInteger.DivRem(num, den, out var r);
        if (r.Sign < 0)
        {
            q -= 1;
            r += den;
        }
        var twice = 2 * r;
        if (twice > den || (twice == den && !q.IsEven))
        {
            q += 1;
        }
        if (q > int.MaxValue)
        {
            return int.MaxValue;
        }
        return q < int.MinValue ? int.MinValue : (int)q;
    }

    /// <summary>A finite float as an exact rational m·2^e (numerator, denominator).</summary>
    public static (BigInteger Num, BigInteger Den) Exact(float f)
    {
        if (f == 0)
        {
            return (BigInteger.Zero, BigInteger.One);
        }
        var (m, e) = Decompose(Math.Abs(f));
        BigInteger num = f < 0 ? -(BigInteger)m : m;
        return e >= 0 ? (num << e, BigInteger.One) : (num, BigInteger.One << -e);
    }
}
