using Prova.Runtime.Simd;

namespace Prova.Runtime.Ops.Elementwise;

/// <summary>op(a + b): a unary activation after a bias add (BiasGelu, FastGelu with bias), one rounding for the add.</summary>
internal readonly struct BiasedOp<TOp> : IBinaryOperator where TOp : struct, IUnaryOperator
{
    public TF Invoke<TF, TI, L>(TF a, TF b) where L : ILanes<TF, TI> => default(TOp).Invoke<TF, TI, L>(L.Add(a, b));
}

/// <summary>QuickGelu (com.microsoft): x · sigmoid(alpha · x).</summary>
internal readonly struct QuickGeluOp(float alpha) : IUnaryOperator
{
    public TF Invoke<TF, TI, L>(TF x) where L : ILanes<TF, TI>
        => L.Mul(x, DetMath.Sigmoid<TF, TI, L>(L.Mul(L.Splat(alpha), x)));
}

internal readonly struct SinOp : IUnaryOperator
{
    public TF Invoke<TF, TI, L>(TF x) where L : ILanes<TF, TI> => DetMath.Sin<TF, TI, L>(x);
}

internal readonly struct CosOp : IUnaryOperator
{
    public TF Invoke<TF, TI, L>(TF x) where L : ILanes<TF, TI> => DetMath.Cos<TF, TI, L>(x);
}
