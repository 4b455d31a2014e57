using Prova.Runtime.Simd;

namespace Prova.Runtime.Ops.Elementwise;

// Float32 elementwise operators (ONNX operator docs, default domain). Each is written once against
// ILanes, so its scalar and vector forms are the same IEEE operation sequence. Where a formula could
// be fused or not, the choice is written here once (plain Mul then Add means unfused).

internal readonly struct AddOp : IBinaryOperator
{
    public TF Invoke<TF, TI, L>(TF a, TF b) where L : ILanes<TF, TI> => L.Add(a, b);
}

internal readonly struct SubOp : IBinaryOperator
{
    public TF Invoke<TF, TI, L>(TF a, TF b) where L : ILanes<TF, TI> => L.Sub(a, b);
}

internal readonly struct MulOp : IBinaryOperator
{
    public TF Invoke<TF, TI, L>(TF a, TF b) where L : ILanes<TF, TI> => L.Mul(a, b);
}

internal readonly struct DivOp : IBinaryOperator
{
    public TF Invoke<TF, TI, L>(TF a, TF b) where L : ILanes<TF, TI> => L.Div(a, b);
}

/// <summary>min with NaN propagation (numpy.minimum): explicit compare+select, identical on every width.</summary>
internal readonly struct MinOp : IBinaryOperator
{
    public TF Invoke<TF, TI, L>(TF a, TF b) where L : ILanes<TF, TI>
        => L.Select(L.Eq(a, a), L.Select(L.LessThan(a, b), a, b), a);
}

internal readonly struct MaxOp : IBinaryOperator
{
    public TF Invoke<TF, TI, L>(TF a, TF b) where L : ILanes<TF, TI>
        => L.Select(L.Eq(a, a), L.Select(L.LessThan(b, a), a, b), a);
}

internal readonly struct PowOp : IBinaryOperator
{
    public TF Invoke<TF, TI, L>(TF a, TF b) where L : ILanes<TF, TI> => DetMath.Pow<TF, TI, L>(a, b);
}

/// <summary>PRelu: x &lt; 0 ? slope·x : x.</summary>
internal readonly struct PReluOp : IBinaryOperator
{
    public TF Invoke<TF, TI, L>(TF a, TF b) where L : ILanes<TF, TI>
        => L.Select(L.LessThan(a, L.Splat(0f)), L.Mul(a, b), a);
}

internal readonly struct NegOp : IUnaryOperator
{
    public TF Invoke<TF, TI, L>(TF x) where L : ILanes<TF, TI> => L.Sub(L.Splat(-0f), x);
}

internal readonly struct AbsOp : IUnaryOperator
{
    public TF Invoke<TF, TI, L>(TF x) where L : ILanes<TF, TI> => L.AndNot(x, L.Splat(-0f));
}

internal readonly struct SqrtOp : IUnaryOperator
{
    public TF Invoke<TF, TI, L>(TF x) where L : ILanes<TF, TI> => L.Sqrt(x);
}

internal readonly struct ReciprocalOp : IUnaryOperator
{
    public TF Invoke<TF, TI, L>(TF x) where L : ILanes<TF, TI> => L.Div(L.Splat(1f), x);
}

internal readonly struct ExpOp : IUnaryOperator
{
    public TF Invoke<TF, TI, L>(TF x) where L : ILanes<TF, TI> => DetMath.Exp<TF, TI, L>(x);
}

internal readonly struct LogOp : IUnaryOperator
{
    public TF Invoke<TF, TI, L>(TF x) where L : ILanes<TF, TI> => DetMath.Log<TF, TI, L>(x);
}

internal readonly struct TanhOp : IUnaryOperator
{
    public TF Invoke<TF, TI, L>(TF x) where L : ILanes<TF, TI> => DetMath.Tanh<TF, TI, L>(x);
}

internal readonly struct SigmoidOp : IUnaryOperator
{
    public TF Invoke<TF, TI, L>(TF x) where L : ILanes<TF, TI> => DetMath.Sigmoid<TF, TI, L>(x);
}

internal readonly struct ErfOp : IUnaryOperator
{
    public TF Invoke<TF, TI, L>(TF x) where L : ILanes<TF, TI> => DetMath.Erf<TF, TI, L>(x);
}

internal readonly struct FloorOp : IUnaryOperator
{
    public TF Invoke<TF, TI, L>(TF x) where L : ILanes<TF, TI> => L.Floor(x);
}

/// <summary>ceil(x) = -floor(-x), exact (including the sign of zero).</summary>
internal readonly struct CeilOp : IUnaryOperator
{
    public TF Invoke<TF, TI, L>(TF x) where L : ILanes<TF, TI> => L.Sub(L.Splat(-0f), L.Floor(L.Sub(L.Splat(-0f), x)));
}

internal readonly struct SignOp : IUnaryOperator
{
    public TF Invoke<TF, TI, L>(TF x) where L : ILanes<TF, TI>
        => L.Select(L.LessThan(L.Splat(0f), x), L.Splat(1f), L.Select(L.LessThan(x, L.Splat(0f)), L.Splat(-1f), x));
}

internal readonly struct ReluOp : IUnaryOperator
{
    public TF Invoke<TF, TI, L>(TF x) where L : ILanes<TF, TI> => L.Select(L.LessThan(x, L.Splat(0f)), L.Splat(0f), x);
}

internal readonly struct LeakyReluOp(float alpha) : IUnaryOperator
{
    public TF Invoke<TF, TI, L>(TF x) where L : ILanes<TF, TI>
        => L.Select(L.LessThan(x, L.Splat(0f)), L.Mul(x, L.Splat(alpha)), x);
}

/// <summary>max(0, min(1, alpha·x + beta)), unfused.</summary>
internal readonly struct HardSigmoidOp(float alpha, float beta) : IUnaryOperator
{
    public TF Invoke<TF, TI, L>(TF x) where L : ILanes<TF, TI> => HardSigmoid<TF, TI, L>(x, alpha, beta);

    public static TF HardSigmoid<TF, TI, L>(TF x, float alpha, float beta) where L : ILanes<TF, TI>
    {
        var y = L.Add(L.Mul(x, L.Splat(alpha)), L.Splat(beta));
        y = L.Select(L.LessThan(L.Splat(1f), y), L.Splat(1f), y);
        return L.Select(L.LessThan(y, L.Splat(0f)), L.Splat(0f), y);
    }
}

/// <summary>x · HardSigmoid(x) with alpha = 1/6, beta = 0.5.</summary>
internal readonly struct HardSwishOp : IUnaryOperator
{
    public TF Invoke<TF, TI, L>(TF x) where L : ILanes<TF, TI>
        => L.Mul(x, HardSigmoidOp.HardSigmoid<TF, TI, L>(x, 1f / 6f, 0.5f));
}

/// <summary>x &lt; 0 ? alpha·(e^x - 1) : x.</summary>
internal readonly struct EluOp(float alpha) : IUnaryOperator
{
    public TF Invoke<TF, TI, L>(TF x) where L : ILanes<TF, TI>
        => L.Select(L.LessThan(x, L.Splat(0f)), L.Mul(L.Splat(alpha), L.Sub(DetMath.Exp<TF, TI, L>(x), L.Splat(1f))), x);
}

/// <summary>x &gt; 0 ? gamma·x : gamma·(alpha·e^x - alpha).</summary>
internal readonly struct SeluOp(float alpha, float gamma) : IUnaryOperator
{
    public TF Invoke<TF, TI, L>(TF x) where L : ILanes<TF, TI>
    {
        var neg = L.Mul(L.Splat(gamma), L.Sub(L.Mul(L.Splat(alpha), DetMath.Exp<TF, TI, L>(x)), L.Splat(alpha)));
        return L.Select(L.LessThan(L.Splat(0f), x), L.Mul(L.Splat(gamma), x), neg);
    }
}

/// <summary>log(1 + e^x) as max(x, 0) + log(1 + e^{-|x|}) (no overflow), with log(1+e) ≈ e - e²/2 for tiny e.</summary>
internal readonly struct SoftplusOp : IUnaryOperator
{
    public TF Invoke<TF, TI, L>(TF x) where L : ILanes<TF, TI>
    {
        var e = DetMath.Exp<TF, TI, L>(L.Or(x, L.Splat(-0f)));
        var log1p = L.Select(L.LessThan(e, L.Splat(1e-4f)), L.Fma(e, L.Mul(e, L.Splat(-0.5f)), e), DetMath.Log<TF, TI, L>(L.Add(L.Splat(1f), e)));
        var pos = L.Select(L.LessThan(L.Splat(0f), x), x, L.Splat(0f));
        return L.Add(pos, log1p);
    }
}

/// <summary>Gelu (opset 20), approximate = "none": 0.5·x·(1 + erf(x·(1/√2))).</summary>
internal readonly struct GeluOp : IUnaryOperator
{
    public TF Invoke<TF, TI, L>(TF x) where L : ILanes<TF, TI>
    {
        var e = DetMath.Erf<TF, TI, L>(L.Mul(x, L.Splat(0.70710678118654752f)));
        return L.Mul(L.Mul(L.Splat(0.5f), x), L.Add(L.Splat(1f), e));
    }
}

/// <summary>Gelu, approximate = "tanh": 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).</summary>
internal readonly struct GeluTanhOp : IUnaryOperator
{
    public TF Invoke<TF, TI, L>(TF x) where L : ILanes<TF, TI>
    {
        var x3 = L.Mul(L.Mul(x, x), x);
        var inner = L.Mul(L.Splat(0.79788456080286536f), L.Add(x, L.Mul(L.Splat(0.044715f), x3)));
        var t = DetMath.Tanh<TF, TI, L>(inner);
        return L.Mul(L.Mul(L.Splat(0.5f), x), L.Add(L.Splat(1f), t));
    }
}

/// <summary>Clip: x below lo becomes lo, then above hi becomes hi (numpy.clip order; NaN passes through).</summary>
internal readonly struct ClipOp(float lo, float hi) : IUnaryOperator
{
    public TF Invoke<TF, TI, L>(TF x) where L : ILanes<TF, TI>
    {
        var y = L.Select(L.LessThan(x, L.Splat(lo)), L.Splat(lo), x);
        return L.Select(L.LessThan(L.Splat(hi), y), L.Splat(hi), y);
    }
}

/// <summary>x^n for a constant integer |n| ≤ 32: exactly DetMath.Pow's integer path (see DetMath.PowInt).</summary>
internal readonly struct PowIntOp(int n) : IUnaryOperator
{
    public TF Invoke<TF, TI, L>(TF x) where L : ILanes<TF, TI>
    {
        int m = System.Math.Abs(n);
        var r = L.Splat(1f);
        var b = x;
        for (int bit = 0; bit < 6 && (m >> bit) != 0; bit++)
        {
            if ((m & (1 << bit)) != 0)
            {
                r = L.Mul(r, b);
            }
            b = L.Mul(b, b);
        }
        r = n < 0 ? L.Div(L.Splat(1f), r) : r;
        return L.Select(L.Eq(r, r), r, L.Splat(float.NaN)); // one NaN, as DetMath.Pow
    }
}

/// <summary>x / d (Mean's final step).</summary>
internal readonly struct DivideByOp(float d) : IUnaryOperator
{
    public TF Invoke<TF, TI, L>(TF x) where L : ILanes<TF, TI> => L.Div(x, L.Splat(d));
}
