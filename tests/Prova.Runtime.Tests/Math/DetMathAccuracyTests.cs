using Xunit.Abstractions;

namespace Prova.Runtime.Tests.DetMathTests;

/// <summary>DetMath against double-precision references over millions of sampled floats plus special values.</summary>
public sealed class DetMathAccuracyTests
{
    private const int Samples = 500_000;

    private readonly ITestOutputHelper _output;

    public DetMathAccuracyTests(ITestOutputHelper output)
    {
        _output = output;
    }

    [Fact]
    public void ExpIsWithinOneUlp()
    {
        double worst = MaxUlps(DetMath.Exp, System.Math.Exp, -104f, 89f, seed: 11);
        Assert.True(worst <= 1.0, $"exp max error {worst} ulp");
    }

    [Fact]
    public void LogIsWithinOneUlp()
    {
        double worst = MaxUlps(DetMath.Log, System.Math.Log, 0f, float.MaxValue, seed: 12, logUniform: true);
        worst = System.Math.Max(worst, MaxUlps(DetMath.Log, System.Math.Log, 0.5f, 2f, seed: 13));
        worst = System.Math.Max(worst, MaxUlps(DetMath.Log, System.Math.Log, 0f, 1e-37f, seed: 14));
        Assert.True(worst <= 1.0, $"log max error {worst} ulp");
    }

    [Fact]
    public void TanhIsWithinTwoUlps()
    {
        double worst = MaxUlps(DetMath.Tanh, System.Math.Tanh, -10f, 10f, seed: 15);
        worst = System.Math.Max(worst, MaxUlps(DetMath.Tanh, System.Math.Tanh, -1e-3f, 1e-3f, seed: 16));
        Assert.True(worst <= 2.0, $"tanh max error {worst} ulp");
    }

    [Fact]
    public void SigmoidIsWithinTwoAndAHalfUlps()
    {
        double worst = MaxUlps(DetMath.Sigmoid, x => 1.0 / (1.0 + System.Math.Exp(-x)), -100f, 30f, seed: 17);
        Assert.True(worst <= 2.5, $"sigmoid max error {worst} ulp");
    }

    [Fact]
    public void ErfIsWithinTwoUlps()
    {
        double worst = MaxUlps(DetMath.Erf, ReferenceErf, -5f, 5f, seed: 18);
        worst = System.Math.Max(worst, MaxUlps(DetMath.Erf, ReferenceErf, -1e-3f, 1e-3f, seed: 19));
        Assert.True(worst <= 2.0, $"erf max error {worst} ulp");
    }

    [Fact]
    public void SinAndCosAreWithinTwoUlpsForModerateArguments()
    {
        double worst = 0;
        foreach (var (lo, hi, seed) in new[] { (-10f, 10f, 21), (-1e-3f, 1e-3f, 22) })
        {
            worst = System.Math.Max(worst, MaxUlps(DetMath.Sin, System.Math.Sin, lo, hi, seed));
            worst = System.Math.Max(worst, MaxUlps(DetMath.Cos, System.Math.Cos, lo, hi, seed + 100));
        }
        Assert.True(worst <= 2.0, $"sin/cos max error {worst} ulp");
        // Further out the reduction's absolute error (k · the residue of the π/2 split) shows near the zeros.
        worst = System.Math.Max(MaxUlps(DetMath.Sin, System.Math.Sin, -1000f, 1000f, 23), MaxUlps(DetMath.Cos, System.Math.Cos, -1000f, 1000f, 123));
        Assert.True(worst <= 8.0, $"sin/cos on [-1000, 1000] max error {worst} ulp");
    }

    [Fact]
    public void SinAndCosStayCloseForRotaryPositions()
    {
        // Rotary embeddings take sin/cos of position · frequency: arguments up to ~10^5.
        var rng = new Random(24);
        _output.WriteLine("seed 24");
        double worst = 0;
        for (int i = 0; i < Samples; i++)
        {
            float x = (float)(rng.NextDouble() * 2e5 - 1e5);
            worst = System.Math.Max(worst, System.Math.Abs(DetMath.Sin(x) - System.Math.Sin(x)));
            worst = System.Math.Max(worst, System.Math.Abs(DetMath.Cos(x) - System.Math.Cos(x)));
        }
        _output.WriteLine($"max absolute error {worst:E3}");
        Assert.True(worst <= 2e-7, $"sin/cos max absolute error {worst}");
    }

    [Fact]
    public void SinAndCosSpecialValues()
    {
        foreach (float x in (float[])[0f, -0f, float.PositiveInfinity, float.NegativeInfinity, float.NaN])
        {
            float s = DetMath.Sin(x);
            float c = DetMath.Cos(x);
            if (float.IsFinite(x))
            {
                Assert.Equal(BitConverter.SingleToInt32Bits(x), BitConverter.SingleToInt32Bits(s));
                Assert.Equal(1f, c);
            }
            else
            {
                Assert.True(float.IsNaN(s) && float.IsNaN(c), $"sin/cos({x}) = {s}, {c}");
            }
        }
    }

    [Fact]
    public void PowIsAccurateForTypicalArguments()
    {
        var rng = new Random(20);
        _output.WriteLine("seed 20");
        double worstInt = 0;
        double worstGeneral = 0;
        for (int i = 0; i < Samples / 4; i++)
        {
            float x = (float)(rng.NextDouble() * 20 - 10);
            int n = rng.Next(-8, 9);
            worstInt = System.Math.Max(worstInt, Ulps(DetMath.Pow(x, n), System.Math.Pow(x, n)));
            float ax = (float)(rng.NextDouble() * 10);
            float y = (float)(rng.NextDouble() * 6 - 3);
            worstGeneral = System.Math.Max(worstGeneral, Ulps(DetMath.Pow(ax, y), System.Math.Pow(ax, y)));
        }
        _output.WriteLine($"pow integer exponents |n| <= 8: max {worstInt:F2} ulp; general x in [0,10), y in [-3,3): max {worstGeneral:F2} ulp");
        Assert.True(worstInt <= 8, $"pow int {worstInt}");
        Assert.True(worstGeneral <= 24, $"pow general {worstGeneral}");
    }

    [Theory]
    [InlineData(float.NaN, float.NaN)]
    [InlineData(float.PositiveInfinity, float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity, 0f)]
    [InlineData(0f, 1f)]
    [InlineData(88.72283f, 3.4028e38f)]
    [InlineData(88.7229f, float.PositiveInfinity)]
    [InlineData(1000f, float.PositiveInfinity)]
    [InlineData(-1000f, 0f)]
    [InlineData(-103.2789f, 1.401298464e-45f)]
    [InlineData(-87.33654f, 1.1754952e-38f)]
    public void ExpSpecialValues(float x, float expected)
    {
        AssertClose(expected, DetMath.Exp(x));
    }

    [Theory]
    [InlineData(float.NaN, float.NaN)]
    [InlineData(float.PositiveInfinity, float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity, float.NaN)]
    [InlineData(0f, float.NegativeInfinity)]
    [InlineData(-1f, float.NaN)]
    [InlineData(1f, 0f)]
    [InlineData(1.401298464e-45f, -103.27893f)]
    [InlineData(float.MaxValue, 88.72284f)]
    public void LogSpecialValues(float x, float expected)
    {
        AssertClose(expected, DetMath.Log(x));
    }

    [Theory]
    [InlineData(float.NaN, float.NaN)]
    [InlineData(float.PositiveInfinity, 1f)]
    [InlineData(float.NegativeInfinity, -1f)]
    [InlineData(0f, 0f)]
    [InlineData(100f, 1f)]
    [InlineData(-100f, -1f)]
    [InlineData(1e-30f, 1e-30f)]
    public void TanhAndErfSpecialValues(float x, float expectedTanh)
    {
        AssertClose(expectedTanh, DetMath.Tanh(x));
        float expectedErf = float.IsNaN(x) ? float.NaN : System.Math.Abs(x) >= 100f ? MathF.Sign(x) : x == 0 ? 0f : (float)ReferenceErf(x);
        AssertClose(expectedErf, DetMath.Erf(x));
    }

    [Fact]
    public void SignOfZeroIsKept()
    {
        Assert.True(float.IsNegative(DetMath.Tanh(-0f)));
        Assert.True(float.IsNegative(DetMath.Erf(-0f)));
        Assert.False(float.IsNegative(DetMath.Tanh(0f)));
    }

    [Theory]
    [InlineData(2f, 10f, 1024f)]
    [InlineData(-2f, 3f, -8f)]
    [InlineData(-2f, -1f, -0.5f)]
    [InlineData(-2f, 0.5f, float.NaN)]
    [InlineData(4f, 0.5f, 2f)]
    [InlineData(float.NaN, 0f, 1f)]
    [InlineData(1f, float.NaN, 1f)]
    [InlineData(float.NaN, 1f, float.NaN)]
    [InlineData(0f, -1f, float.PositiveInfinity)]
    [InlineData(-0f, -1f, float.NegativeInfinity)]
    [InlineData(-0f, 0.5f, 0f)]
    [InlineData(float.NegativeInfinity, 0.5f, float.PositiveInfinity)]
    [InlineData(-1f, float.PositiveInfinity, 1f)]
    [InlineData(0.5f, float.PositiveInfinity, 0f)]
    [InlineData(2f, float.NegativeInfinity, 0f)]
    [InlineData(-3f, 33f, -5.55906e15f)]
    [InlineData(-3f, 16777216f, float.PositiveInfinity)]
    [InlineData(8f, 1f / 3f, 2f)]
    public void PowSpecialValues(float x, float y, float expected)
    {
        AssertClose(expected, DetMath.Pow(x, y));
    }

    [Fact]
    public void PowIntMatchesPowBitForBit()
    {
        var rng = new Random(21);
        for (int i = 0; i < 100_000; i++)
        {
            float x = BitConverter.Int32BitsToSingle(rng.Next() | (rng.Next(2) << 31));
            int n = rng.Next(-32, 33);
            Assert.Equal(BitConverter.SingleToInt32Bits(DetMath.Pow(x, n)), BitConverter.SingleToInt32Bits(DetMath.PowInt(x, n)));
        }
    }

    private static void AssertClose(float expected, float actual)
    {
        if (float.IsNaN(expected))
        {
            Assert.True(float.IsNaN(actual), $"expected NaN, got {actual}");
            return;
        }
        if (float.IsInfinity(expected) || expected == 0)
        {
            Assert.Equal(expected, actual);
            return;
        }
        Assert.True(System.Math.Abs(actual - expected) <= 1e-5 * System.Math.Abs(expected), $"expected {expected}, got {actual}");
    }

    private double MaxUlps(Func<float, float> f, Func<double, double> reference, float lo, float hi, int seed, bool logUniform = false)
    {
        var rng = new Random(seed);
        double worst = 0;
        float worstX = 0;
        for (int i = 0; i < Samples; i++)
        {
            float x;
            if (logUniform)
            {
                // Uniform over bit patterns of positive floats: every binade weighted equally, subnormals included.
                x = BitConverter.Int32BitsToSingle(rng.Next(1, 0x7F800000));
            }
            else
            {
                x = (float)(lo + rng.NextDouble() * (hi - lo));
            }
            double e = Ulps(f(x), reference(x));
            if (e > worst)
            {
                worst = e;
                worstX = x;
            }
        }
        _output.WriteLine($"seed {seed}: range [{lo}, {hi}] max error {worst:F3} ulp at x = {worstX:R}");
        return worst;
    }

    /// <summary>Error of a float result in units of the float ulp at the exact value.</summary>
    internal static double Ulps(float actual, double exact)
    {
        if (double.IsNaN(exact))
        {
            return float.IsNaN(actual) ? 0 : double.PositiveInfinity;
        }
        float rounded = (float)exact;
        if (float.IsInfinity(rounded))
        {
            return actual == rounded ? 0 : float.IsInfinity(actual) ? double.PositiveInfinity : System.Math.Abs(actual - exact) / System.Math.Pow(2, 104);
        }
        int exponent = rounded == 0 ? -126 : System.Math.Max(-126, System.Math.ILogB(System.Math.Abs(exact)));
        double ulp = System.Math.Pow(2, exponent - 23);
        return System.Math.Abs(actual - exact) / ulp;
    }

    /// <summary>erf in double: Taylor series below 2, continued fraction for erfc above.</summary>
    internal static double ReferenceErf(double x)
    {
        double ax = System.Math.Abs(x);
        double result;
        if (ax < 2)
        {
            double sum = 0;
            double term = ax;
            for (int n = 0; n < 200; n++)
            {
                double t = term / (2 * n + 1);
                sum += t;
                if (System.Math.Abs(t) < 1e-17 * sum)
                {
                    break;
                }
                term *= -ax * ax / (n + 1);
            }
            result = 2 / System.Math.Sqrt(System.Math.PI) * sum;
        }
        else
        {
            double k = ax;
            for (int n = 300; n >= 1; n--)
            {
                k = ax + n / 2.0 / k;
            }
            result = 1 - System.Math.Exp(-ax * ax) / (System.Math.Sqrt(System.Math.PI) * k);
        }
        return x < 0 ? -result : result;
    }
}
