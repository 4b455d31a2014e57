using System.Numerics;

namespace Prova.Runtime.Ops.Reduce;

/// <summary>An associative-in-spirit reduction: each element is mapped, then folded with Combine.</summary>
internal interface IReduceOp
{
    static abstract float Identity { get; }

    static abstract float Map(float x, float p);

    static abstract Vector<float> Map(Vector<float> x, Vector<float> p);

    static abstract float Combine(float a, float b);

    static abstract Vector<float> Combine(Vector<float> a, Vector<float> b);
}

internal readonly struct SumOp : IReduceOp
{
    public static float Identity => 0f;

    public static float Map(float x, float p) => x;

    public static Vector<float> Map(Vector<float> x, Vector<float> p) => x;

    public static float Combine(float a, float b) => a + b;

    public static Vector<float> Combine(Vector<float> a, Vector<float> b) => a + b;
}

internal readonly struct SumSquareOp : IReduceOp
{
    public static float Identity => 0f;

    public static float Map(float x, float p) => x * x;

    public static Vector<float> Map(Vector<float> x, Vector<float> p) => x * x;

    public static float Combine(float a, float b) => a + b;

    public static Vector<float> Combine(Vector<float> a, Vector<float> b) => a + b;
}

/// <summary>Σ (x - p)², the variance numerator around a given mean p (unfused: subtract, square, add).</summary>
internal readonly struct SquaredDiffOp : IReduceOp
{
    public static float Identity => 0f;

    public static float Map(float x, float p)
    {
        float d = x - p;
        return d * d;
    }

    public static Vector<float> Map(Vector<float> x, Vector<float> p)
    {
        var d = x - p;
        return d * d;
    }

    public static float Combine(float a, float b) => a + b;

    public static Vector<float> Combine(Vector<float> a, Vector<float> b) => a + b;
}

internal readonly struct L1Op : IReduceOp
{
    public static float Identity => 0f;

    public static float Map(float x, float p) => MathF.Abs(x);

    public static Vector<float> Map(Vector<float> x, Vector<float> p) => Vector.Abs(x);

    public static float Combine(float a, float b) => a + b;

    public static Vector<float> Combine(Vector<float> a, Vector<float> b) => a + b;
}

internal readonly struct ProdOp : IReduceOp
{
    public static float Identity => 1f;

    public static float Map(float x, float p) => x;

    public static Vector<float> Map(Vector<float> x, Vector<float> p) => x;

    public static float Combine(float a, float b) => a * b;

    public static Vector<float> Combine(Vector<float> a, Vector<float> b) => a * b;
}

/// <summary>IEEE 754-2019 maximum: NaN propagates and +0 &gt; -0, so the result does not depend on the order.</summary>
internal readonly struct MaxOp : IReduceOp
{
    public static float Identity => float.NegativeInfinity;

    public static float Map(float x, float p) => x;

    public static Vector<float> Map(Vector<float> x, Vector<float> p) => x;

    public static float Combine(float a, float b) => MathF.Max(a, b);

    public static Vector<float> Combine(Vector<float> a, Vector<float> b) => Vector.Max(a, b);
}

internal readonly struct MinOp : IReduceOp
{
    public static float Identity => float.PositiveInfinity;

    public static float Map(float x, float p) => x;

    public static Vector<float> Map(Vector<float> x, Vector<float> p) => x;

    public static float Combine(float a, float b) => MathF.Min(a, b);

    public static Vector<float> Combine(Vector<float> a, Vector<float> b) => Vector.Min(a, b);
}

/// <summary>
/// The one reduction order Prova uses along a contiguous run of n floats: element i goes into
/// partial accumulator i mod 16 (in order), then the 16 partials are folded pairwise
/// (l += l+8, then l += l+4, l += l+2, l += l+1). The order depends only on n, so the vector
/// paths (1, 2 or 4 registers of 16, 8 or 4 lanes) and the scalar path give identical bits.
/// </summary>
internal static unsafe class Lanes16
{
    public const int Lanes = 16;

    public static float Reduce<TOp>(float* x, int n, float p = 0f) where TOp : IReduceOp
        => NormParams.UseVectors && n >= Lanes && Vector<float>.Count is 4 or 8 or 16
            ? ReduceVector<TOp>(x, n, p)
            : ReduceScalar<TOp>(x, n, p);

    public static float ReduceScalar<TOp>(float* x, int n, float p = 0f) where TOp : IReduceOp
    {
        float* acc = stackalloc float[Lanes];
        for (int l = 0; l < Lanes; l++)
        {
            acc[l] = TOp.Identity;
        }
        int full = n & ~(Lanes - 1);
        for (int i = 0; i < full; i += Lanes)
        {
            for (int l = 0; l < Lanes; l++)
            {
                acc[l] = TOp.Combine(acc[l], TOp.Map(x[i + l], p));
            }
        }
        return Finish<TOp>(acc, x, full, n, p);
    }

    public static float ReduceVector<TOp>(float* x, int n, float p = 0f) where TOp : IReduceOp
    {
        float* acc = stackalloc float[Lanes];
        int full = n & ~(Lanes - 1);
        var vp = new Vector<float>(p);
        var a0 = new Vector<float>(TOp.Identity);
        int w = Vector<float>.Count;
        if (w == 16)
        {
            for (int i = 0; i < full; i += Lanes)
            {
                a0 = TOp.Combine(a0, TOp.Map(Vector.Load(x + i), vp));
            }
            a0.Store(acc);
        }
        else if (w == 8)
        {
            var a1 = a0;
            for (int i = 0; i < full; i += Lanes)
            {
                a0 = TOp.Combine(a0, TOp.Map(Vector.Load(x + i), vp));
                a1 = TOp.Combine(a1, TOp.Map(Vector.Load(x + i + 8), vp));
            }
            a0.Store(acc);
            a1.Store(acc + 8);
        }
        else
        {
            var a1 = a0;
            var a2 = a0;
            var a3 = a0;
            for (int i = 0; i < full; i += Lanes)
            {
                a0 = TOp.Combine(a0, TOp.Map(Vector.Load(x + i), vp));
                a1 = TOp.Combine(a1, TOp.Map(Vector.Load(x + i + 4), vp));
                a2 = TOp.Combine(a2, TOp.Map(Vector.Load(x + i + 8), vp));
                a3 = TOp.Combine(a3, TOp.Map(Vector.Load(x + i + 12), vp));
            }
            a0.Store(acc);
            a1.Store(acc + 4);
            a2.Store(acc + 8);
            a3.Store(acc + 12);
        }
        return Finish<TOp>(acc, x, full, n, p);
    }

    private static float Finish<TOp>(float* acc, float* x, int full, int n, float p) where TOp : IReduceOp
    {
        for (int i = full; i < n; i++)
        {
            int l = i & (Lanes - 1);
            acc[l] = TOp.Combine(acc[l], TOp.Map(x[i], p));
        }
        for (int w = Lanes / 2; w >= 1; w /= 2)
        {
            for (int l = 0; l < w; l++)
            {
                acc[l] = TOp.Combine(acc[l], acc[l + w]);
            }
        }
        return acc[0];
    }

    /// <summary>
    /// Column reduction: y[j] = Combine(y[j], Map(x[j])) for j in [0, n) — each element keeps
    /// its own sequential order, vectorised across j only.
    /// </summary>
    public static void Accumulate<TOp>(float* y, float* x, int n) where TOp : IReduceOp
    {
        int j = 0;
        if (Vector.IsHardwareAccelerated)
        {
            int w = Vector<float>.Count;
            var zero = Vector<float>.Zero;
            for (; j <= n - w; j += w)
            {
                TOp.Combine(Vector.Load(y + j), TOp.Map(Vector.Load(x + j), zero)).Store(y + j);
            }
        }
        for (; j < n; j++)
        {
            y[j] = TOp.Combine(y[j], TOp.Map(x[j], 0f));
        }
    }
}
