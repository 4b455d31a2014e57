using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Prova.Runtime.Simd;

// Namespace Prova.Runtime (not Prova.Runtime.Math): a namespace named Math would hide System.Math in all engine code.
namespace Prova.Runtime;

/// <summary>
/// Deterministic float32 transcendental functions. Platform libm results differ between machines,
/// so these are built only from +, -, *, /, fma, sqrt, floor and bit manipulation, each written once
/// against <see cref="ILanes{TF, TI}"/>: the scalar and the Vector128/256/512 versions perform the
/// same IEEE operation sequence per lane and are bit-identical. Branches are expressed as selects
/// so that a lane's result never depends on its neighbours.
///
/// Measured accuracy (float inputs, against double-precision references; see DetMathAccuracyTests):
/// Exp 0.99 ulp, Log 0.80 ulp, Tanh 1.26 ulp, Sigmoid 2.09 ulp, Erf 0.94 ulp (max over 500K samples per range);
/// Sin, Cos 1.45 ulp on [-10, 10]; for larger |x| the reduction's absolute error (below 8e-8 up to |x| = 10⁵) dominates near the zeros.
/// Pow: exact repeated squaring for integer exponents |y| ≤ 32 (then one reciprocal for y &lt; 0),
/// sqrt for y = 0.5, otherwise exp(y·log|x|) whose error grows with |y·log x|.
/// </summary>
public static class DetMath
{
    // exp: x = n·ln2 + r with a two-constant Cody–Waite split (Ln2Hi has 9 significant bits so n·Ln2Hi is exact).
    private const float Log2E = 1.44269504088896341f;
    private const float Ln2Hi = 0.693359375f;
    private const float Ln2Lo = -2.12194440e-4f;
    private const float RoundMagic = 12582912f; // 1.5·2^23: adding it rounds to an integer (ties to even)

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static TF Exp<TF, TI, L>(TF x) where L : ILanes<TF, TI>
    {
        // Clamp so n stays in [-150, 128]; overflow to +inf and underflow to 0 then happen in the final scaling.
        var xc = L.Select(L.LessThan(L.Splat(89f), x), L.Splat(89f), x);
        xc = L.Select(L.LessThan(xc, L.Splat(-104f)), L.Splat(-104f), xc);
        var k = L.Add(L.Mul(xc, L.Splat(Log2E)), L.Splat(RoundMagic));
        var n = L.Sub(k, L.Splat(RoundMagic));
        var r = L.Fma(n, L.Splat(-Ln2Hi), xc);
        r = L.Fma(n, L.Splat(-Ln2Lo), r);
        // Minimax polynomial for e^r on |r| ≤ ln2/2 (Cephes expf coefficients).
        var p = L.Splat(1.9875691500e-4f);
        p = L.Fma(p, r, L.Splat(1.3981999507e-3f));
        p = L.Fma(p, r, L.Splat(8.3334519073e-3f));
        p = L.Fma(p, r, L.Splat(4.1665795894e-2f));
        p = L.Fma(p, r, L.Splat(1.6666665459e-1f));
        p = L.Fma(p, r, L.Splat(5.0000001201e-1f));
        var y = L.Fma(p, L.Mul(r, r), r);
        y = L.Add(y, L.Splat(1f));
        // Scale by 2^n in two exact-exponent steps so subnormal results round once and n = 128 still works.
        var ni = L.ISub(L.AsInt(k), L.AsInt(L.Splat(RoundMagic)));
        var n1 = L.ShiftRightArithmetic(ni, 1);
        var n2 = L.ISub(ni, n1);
        var s1 = L.AsFloat(L.ShiftLeft(L.IAdd(n1, L.SplatInt(127)), 23));
        var s2 = L.AsFloat(L.ShiftLeft(L.IAdd(n2, L.SplatInt(127)), 23));
        var result = L.Mul(L.Mul(y, s1), s2);
        return L.Select(L.Eq(x, x), result, x);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static TF Log<TF, TI, L>(TF x) where L : ILanes<TF, TI>
    {
        // Subnormals: scale into the normal range first.
        var sub = L.LessThan(x, L.Splat(1.17549435e-38f));
        var xs = L.Select(sub, L.Mul(x, L.Splat(8388608f)), x);
        var bias = L.Select(sub, L.Splat(23f), L.Splat(0f));
        var bits = L.AsInt(xs);
        var e = L.ISub(L.ShiftRightArithmetic(bits, 23), L.SplatInt(127));
        var m = L.AsFloat(L.AsInt(L.Or(L.And(xs, L.AsFloat(L.SplatInt(0x007FFFFF))), L.Splat(1f))));
        // m in [1, 2); fold to [sqrt(1/2), sqrt(2)) so the polynomial argument is small. Both branches are exact.
        var big = L.LessThan(L.Splat(1.41421356f), m);
        var f = L.Select(big, L.Sub(L.Mul(m, L.Splat(0.5f)), L.Splat(1f)), L.Sub(m, L.Splat(1f)));
        var ef = L.Add(L.Sub(L.IntToFloat(e), bias), L.And(big, L.Splat(1f)));
        var z = L.Mul(f, f);
        // Cephes logf polynomial: log(1+f) = f - f²/2 + f³·P(f).
        var p = L.Splat(7.0376836292e-2f);
        p = L.Fma(p, f, L.Splat(-1.1514610310e-1f));
        p = L.Fma(p, f, L.Splat(1.1676998740e-1f));
        p = L.Fma(p, f, L.Splat(-1.2420140846e-1f));
        p = L.Fma(p, f, L.Splat(1.4249322787e-1f));
        p = L.Fma(p, f, L.Splat(-1.6668057665e-1f));
        p = L.Fma(p, f, L.Splat(2.0000714765e-1f));
        p = L.Fma(p, f, L.Splat(-2.4999993993e-1f));
        p = L.Fma(p, f, L.Splat(3.3333331174e-1f));
        var y = L.Mul(L.Mul(p, f), z);
        y = L.Fma(ef, L.Splat(Ln2Lo), y);
        y = L.Fma(z, L.Splat(-0.5f), y);
        var result = L.Add(f, y);
        result = L.Fma(ef, L.Splat(Ln2Hi), result);
        result = L.Select(L.Eq(x, L.Splat(float.PositiveInfinity)), x, result);
        result = L.Select(L.Eq(x, L.Splat(0f)), L.Splat(float.NegativeInfinity), result);
        result = L.Select(L.LessThan(x, L.Splat(0f)), L.Splat(float.NaN), result);
        return L.Select(L.Eq(x, x), result, x);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static TF Tanh<TF, TI, L>(TF x) where L : ILanes<TF, TI>
    {
        var sign = L.And(x, L.Splat(-0f));
        var ax = L.AndNot(x, L.Splat(-0f));
        // |x| < 0.625: odd polynomial (Cephes tanhf), no cancellation near 0.
        var z = L.Mul(ax, ax);
        var p = L.Splat(-5.70498872745e-3f);
        p = L.Fma(p, z, L.Splat(2.06390887954e-2f));
        p = L.Fma(p, z, L.Splat(-5.37397155531e-2f));
        p = L.Fma(p, z, L.Splat(1.33314422036e-1f));
        p = L.Fma(p, z, L.Splat(-3.33332819422e-1f));
        var small = L.Fma(L.Mul(p, z), ax, ax);
        // Otherwise 1 - 2/(e^{2|x|} + 1); saturates to exactly 1 once e^{2|x|} is large or infinite.
        var e = Exp<TF, TI, L>(L.Add(ax, ax));
        var large = L.Sub(L.Splat(1f), L.Div(L.Splat(2f), L.Add(e, L.Splat(1f))));
        var result = L.Select(L.LessThan(ax, L.Splat(0.625f)), small, large);
        return L.Or(result, sign);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static TF Sigmoid<TF, TI, L>(TF x) where L : ILanes<TF, TI>
    {
        // e = e^{-|x|} never overflows: 1/(1+e) for x ≥ 0 and e/(1+e) for x < 0 (keeps tiny results for very negative x).
        var e = Exp<TF, TI, L>(L.Or(x, L.Splat(-0f)));
        var d = L.Add(L.Splat(1f), e);
        return L.Select(L.LessThan(x, L.Splat(0f)), L.Div(e, d), L.Div(L.Splat(1f), d));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static TF Erf<TF, TI, L>(TF x) where L : ILanes<TF, TI>
    {
        var sign = L.And(x, L.Splat(-0f));
        var ax = L.AndNot(x, L.Splat(-0f));
        // |x| < 1: erf(x) = x + x·P(x²), P a degree-7 Chebyshev fit of erf(√z)/√z - 1 on [0, 1] (one final rounding).
        var z = L.Mul(ax, ax);
        var p = L.Splat(-9.667044650996104e-06f);
        p = L.Fma(p, z, L.Splat(0.00011265958892181516f));
        p = L.Fma(p, z, L.Splat(-0.0008484080317430198f));
        p = L.Fma(p, z, L.Splat(0.005221031606197357f));
        p = L.Fma(p, z, L.Splat(-0.026865430176258087f));
        p = L.Fma(p, z, L.Splat(0.11283782124519348f));
        p = L.Fma(p, z, L.Splat(-0.37612637877464294f));
        p = L.Fma(p, z, L.Splat(0.12837916612625122f));
        var small = L.Fma(ax, p, ax);
        // 1 ≤ |x| < 4: erf = 1 - e^{-x²}·R(1/|x|), R a degree-10 fit of erfcx on u = 1/|x| in [1/4, 1]
        // (in s = u - 0.625). x² = z + dz exactly; e^{-x²} ≈ e^{-z}·(1 - dz).
        var s = L.Sub(L.Div(L.Splat(1f), ax), L.Splat(0.625f));
        var q = L.Splat(-0.03289220854640007f);
        q = L.Fma(q, s, L.Splat(0.02603401429951191f));
        q = L.Fma(q, s, L.Splat(0.004455900751054287f));
        q = L.Fma(q, s, L.Splat(-0.026927344501018524f));
        q = L.Fma(q, s, L.Splat(0.043242406100034714f));
        q = L.Fma(q, s, L.Splat(-0.046942297369241714f));
        q = L.Fma(q, s, L.Splat(0.02332945354282856f));
        q = L.Fma(q, s, L.Splat(0.04376691207289696f));
        q = L.Fma(q, s, L.Splat(-0.1723947525024414f));
        q = L.Fma(q, s, L.Splat(0.3822837769985199f));
        q = L.Fma(q, s, L.Splat(0.3059529960155487f));
        var dz = L.Fma(ax, ax, L.Sub(L.Splat(0f), z));
        var c = L.Mul(Exp<TF, TI, L>(L.Sub(L.Splat(0f), z)), q);
        c = L.Fma(L.Sub(L.Splat(0f), dz), c, c);
        var tail = L.Sub(L.Splat(1f), c);
        var result = L.Select(L.LessThan(ax, L.Splat(1f)), small, tail);
        // erfc(x) < 2^-25 for x ≥ 3.9192, so erf rounds to 1 there (this also covers +inf).
        result = L.Select(L.LessOrEqual(L.Splat(3.9192059f), ax), L.Splat(1f), result);
        return L.Or(result, sign);
    }

    /// <summary>x^n for integer |n| ≤ 32 by square-and-multiply over the 6 low bits of |n|, then 1/r when n &lt; 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TF PowSmallInt<TF, TI, L>(TF x, TI n, TF negative) where L : ILanes<TF, TI>
    {
        var r = L.Splat(1f);
        var b = x;
        for (int bit = 0; bit < 6; bit++)
        {
            var set = L.NonZero(L.IAnd(n, L.SplatInt(1 << bit)));
            r = L.Select(set, L.Mul(r, b), r);
            if (bit < 5)
            {
                b = L.Mul(b, b);
            }
        }
        return L.Select(negative, L.Div(L.Splat(1f), r), r);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static TF Pow<TF, TI, L>(TF x, TF y) where L : ILanes<TF, TI>
    {
        var ay = L.AndNot(y, L.Splat(-0f));
        var isInt = L.Eq(L.Floor(y), y);
        // Integer |y| < 2^23: adding 2^23 puts the integer in the low mantissa bits.
        var yBits = L.ISub(L.AsInt(L.Add(ay, L.Splat(8388608f))), L.AsInt(L.Splat(8388608f)));
        var below23 = L.LessThan(ay, L.Splat(8388608f));
        var odd = L.And(L.And(isInt, below23), L.NonZero(L.IAnd(yBits, L.SplatInt(1))));
        // 2^23 ≤ |y| < 2^24 integers: parity is the lowest mantissa bit.
        var odd24 = L.And(L.AndNot(L.And(isInt, L.LessThan(ay, L.Splat(16777216f))), below23), L.NonZero(L.IAnd(L.AsInt(ay), L.SplatInt(1))));
        odd = L.Or(odd, odd24);

        var ax = L.AndNot(x, L.Splat(-0f));
        var general = Exp<TF, TI, L>(L.Mul(y, Log<TF, TI, L>(ax)));
        var negSign = L.And(L.And(x, L.Splat(-0f)), odd);
        general = L.Or(general, negSign);
        var negFinite = L.And(L.LessThan(x, L.Splat(0f)), L.LessThan(L.Splat(float.NegativeInfinity), x));
        general = L.Select(L.AndNot(negFinite, isInt), L.Splat(float.NaN), general);
        // |x| = 1 with y = ±inf is 1 (C99 pow).
        general = L.Select(L.And(L.Eq(ax, L.Splat(1f)), L.Eq(ay, L.Splat(float.PositiveInfinity))), L.Splat(1f), general);

        var smallInt = L.And(isInt, L.LessOrEqual(ay, L.Splat(32f)));
        var result = L.Select(smallInt, PowSmallInt<TF, TI, L>(x, yBits, L.LessThan(y, L.Splat(0f))), general);

        var root = L.Sqrt(L.Add(x, L.Splat(0f)));
        root = L.Select(L.Eq(x, L.Splat(float.NegativeInfinity)), L.Splat(float.PositiveInfinity), root);
        result = L.Select(L.Eq(y, L.Splat(0.5f)), root, result);
        result = L.Select(L.Or(L.Eq(x, L.Splat(1f)), L.Eq(y, L.Splat(0f))), L.Splat(1f), result);
        // Every NaN leaves as the one float.NaN constant: NaNs made by different instructions (sqrt of a negative,
        // arithmetic on a NaN, a sign bit OR-ed in) differ in sign and payload, and the output hash sees those bits.
        return L.Select(L.Eq(result, result), result, L.Splat(float.NaN));
    }

    /// <summary>
    /// x^n for a fixed integer |n| ≤ 32: the same multiplications as <see cref="Pow(float, float)"/>'s
    /// integer path (bit-identical), unrolled for a known exponent.
    /// </summary>
    public static float PowInt(float x, int n)
    {
        int m = Math.Abs(n);
        float r = 1f;
        float b = x;
        for (int bit = 0; bit < 6; bit++)
        {
            if ((m & (1 << bit)) != 0)
            {
                r *= b;
            }
            b *= b;
        }
        r = n < 0 ? 1f / r : r;
        return float.IsNaN(r) ? float.NaN : r;
    }

    // sin/cos: x = k·π/2 + r with k = floor(x·2/π + 0.5) and a three-constant Cody–Waite split of π/2
    // (Cephes's π/4 split, doubled; the first two have few significant bits), reduced with fma.
    private const float TwoOverPi = 0.636619772367581343f;
    private const float HalfPi1 = 1.5703125f;
    private const float HalfPi2 = 4.837512969970703125e-4f;
    private const float HalfPi3 = 7.54978995489188216e-8f;

    /// <summary>sin(x) (quadrantShift 0) or cos(x) = sin(x + π/2) (quadrantShift 1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TF SinQuadrant<TF, TI, L>(TF x, float quadrantShift) where L : ILanes<TF, TI>
    {
        var k = L.Floor(L.Add(L.Mul(x, L.Splat(TwoOverPi)), L.Splat(0.5f)));
        var r = L.Fma(k, L.Splat(-HalfPi1), x);
        r = L.Fma(k, L.Splat(-HalfPi2), r);
        r = L.Fma(k, L.Splat(-HalfPi3), r);
        // Quadrant q = (k + shift) mod 4, computed exactly in float (k/4 and 4·floor(k/4) are exact).
        var kq = L.Add(k, L.Splat(quadrantShift));
        var q = L.Sub(kq, L.Mul(L.Splat(4f), L.Floor(L.Mul(kq, L.Splat(0.25f)))));
        var z = L.Mul(r, r);
        // Cephes sinf / cosf minimax polynomials on |r| ≤ π/4.
        var ps = L.Splat(-1.9515295891e-4f);
        ps = L.Fma(ps, z, L.Splat(8.3321608736e-3f));
        ps = L.Fma(ps, z, L.Splat(-1.6666654611e-1f));
        var sin = L.Fma(L.Mul(ps, z), r, r);
        var pc = L.Splat(2.443315711809948e-5f);
        pc = L.Fma(pc, z, L.Splat(-1.388731625493765e-3f));
        pc = L.Fma(pc, z, L.Splat(4.166664568298827e-2f));
        var cos = L.Add(L.Fma(L.Mul(pc, z), z, L.Mul(L.Splat(-0.5f), z)), L.Splat(1f));
        // q = 0: sin r, 1: cos r, 2: -sin r, 3: -cos r.
        var odd = L.Or(L.Eq(q, L.Splat(1f)), L.Eq(q, L.Splat(3f)));
        var y = L.Select(odd, cos, sin);
        return L.Select(L.LessOrEqual(L.Splat(2f), q), L.Mul(y, L.Splat(-1f)), y);
    }

    /// <summary>
    /// sin(x): 1.45 ulp on [-10, 10], absolute error below 8e-8 up to |x| = 10⁵ (the reduction error
    /// grows with k); sin(±0) = ±0, NaN for ±∞ and NaN.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static TF Sin<TF, TI, L>(TF x) where L : ILanes<TF, TI>
        => L.Select(L.Eq(x, L.Splat(0f)), x, SinQuadrant<TF, TI, L>(x, 0f));

    /// <summary>cos(x), as <see cref="Sin{TF, TI, L}"/> one quadrant on.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static TF Cos<TF, TI, L>(TF x) where L : ILanes<TF, TI> => SinQuadrant<TF, TI, L>(x, 1f);

    public static float Sin(float x) => Sin<float, int, ScalarLanes>(x);

    public static float Cos(float x) => Cos<float, int, ScalarLanes>(x);

    public static float Exp(float x) => Exp<float, int, ScalarLanes>(x);

    public static Vector128<float> Exp(Vector128<float> x) => Exp<Vector128<float>, Vector128<int>, Lanes128>(x);

    public static Vector256<float> Exp(Vector256<float> x) => Exp<Vector256<float>, Vector256<int>, Lanes256>(x);

    public static Vector512<float> Exp(Vector512<float> x) => Exp<Vector512<float>, Vector512<int>, Lanes512>(x);

    public static float Log(float x) => Log<float, int, ScalarLanes>(x);

    public static Vector128<float> Log(Vector128<float> x) => Log<Vector128<float>, Vector128<int>, Lanes128>(x);

    public static Vector256<float> Log(Vector256<float> x) => Log<Vector256<float>, Vector256<int>, Lanes256>(x);

    public static Vector512<float> Log(Vector512<float> x) => Log<Vector512<float>, Vector512<int>, Lanes512>(x);

    public static float Tanh(float x) => Tanh<float, int, ScalarLanes>(x);

    public static Vector128<float> Tanh(Vector128<float> x) => Tanh<Vector128<float>, Vector128<int>, Lanes128>(x);

    public static Vector256<float> Tanh(Vector256<float> x) => Tanh<Vector256<float>, Vector256<int>, Lanes256>(x);

    public static Vector512<float> Tanh(Vector512<float> x) => Tanh<Vector512<float>, Vector512<int>, Lanes512>(x);

    public static float Sigmoid(float x) => Sigmoid<float, int, ScalarLanes>(x);

    public static Vector128<float> Sigmoid(Vector128<float> x) => Sigmoid<Vector128<float>, Vector128<int>, Lanes128>(x);

    public static Vector256<float> Sigmoid(Vector256<float> x) => Sigmoid<Vector256<float>, Vector256<int>, Lanes256>(x);

    public static Vector512<float> Sigmoid(Vector512<float> x) => Sigmoid<Vector512<float>, Vector512<int>, Lanes512>(x);

    public static float Erf(float x) => Erf<float, int, ScalarLanes>(x);

    public static Vector128<float> Erf(Vector128<float> x) => Erf<Vector128<float>, Vector128<int>, Lanes128>(x);

    public static Vector256<float> Erf(Vector256<float> x) => Erf<Vector256<float>, Vector256<int>, Lanes256>(x);

    public static Vector512<float> Erf(Vector512<float> x) => Erf<Vector512<float>, Vector512<int>, Lanes512>(x);

    public static float Pow(float x, float y) => Pow<float, int, ScalarLanes>(x, y);

    public static Vector128<float> Pow(Vector128<float> x, Vector128<float> y) => Pow<Vector128<float>, Vector128<int>, Lanes128>(x, y);

    public static Vector256<float> Pow(Vector256<float> x, Vector256<float> y) => Pow<Vector256<float>, Vector256<int>, Lanes256>(x, y);

    public static Vector512<float> Pow(Vector512<float> x, Vector512<float> y) => Pow<Vector512<float>, Vector512<int>, Lanes512>(x, y);
}
