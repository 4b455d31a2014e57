using System.Numerics;

namespace Prova.Runtime.Ops.Elementwise;

/// <summary>An elementwise op for the non-float32 paths (integers, bool results): plain scalar loops.</summary>
internal interface IScalarBinary<TIn, TOut>
{
    TOut Invoke(TIn a, TIn b);
}

internal interface IScalarUnary<TIn, TOut>
{
    TOut Invoke(TIn x);
}

internal readonly struct IntAdd<T> : IScalarBinary<T, T> where T : IBinaryInteger<T>
{
    public T Invoke(T a, T b) => unchecked(a + b);
}

internal readonly struct IntSub<T> : IScalarBinary<T, T> where T : IBinaryInteger<T>
{
    public T Invoke(T a, T b) => unchecked(a - b);
}

internal readonly struct IntMul<T> : IScalarBinary<T, T> where T : IBinaryInteger<T>
{
    public T Invoke(T a, T b) => unchecked(a * b);
}

/// <summary>Integer Div truncates toward zero. Division by zero (undefined in ONNX) gives 0 instead of crashing; MIN / -1 wraps.</summary>
internal readonly struct IntDiv<T> : IScalarBinary<T, T> where T : IBinaryInteger<T>, ISignedNumber<T>
{
    public T Invoke(T a, T b) => T.IsZero(b) ? T.Zero : b == T.NegativeOne ? unchecked(-a) : a / b;
}

/// <summary>Mod with fmod = 0: the result takes the divisor's sign (Python %). x mod 0 gives 0.</summary>
internal readonly struct IntMod<T> : IScalarBinary<T, T> where T : IBinaryInteger<T>, ISignedNumber<T>
{
    public T Invoke(T a, T b)
    {
        if (T.IsZero(b) || b == T.NegativeOne)
        {
            return T.Zero;
        }
        T r = a % b;
        if (!T.IsZero(r) && T.IsNegative(r) != T.IsNegative(b))
        {
            r += b;
        }
        return r;
    }
}

/// <summary>Mod with fmod = 1 on integers: C fmod (the result takes the dividend's sign).</summary>
internal readonly struct IntFmod<T> : IScalarBinary<T, T> where T : IBinaryInteger<T>, ISignedNumber<T>
{
    public T Invoke(T a, T b) => T.IsZero(b) || b == T.NegativeOne ? T.Zero : a % b;
}

/// <summary>Mod with fmod = 1 on floats: C fmod, an exact operation.</summary>
internal readonly struct FloatFmod : IScalarBinary<float, float>
{
    public float Invoke(float a, float b) => a % b;
}

internal readonly struct IntMin<T> : IScalarBinary<T, T> where T : IBinaryInteger<T>
{
    public T Invoke(T a, T b) => a < b ? a : b;
}

internal readonly struct IntMax<T> : IScalarBinary<T, T> where T : IBinaryInteger<T>
{
    public T Invoke(T a, T b) => a > b ? a : b;
}

internal readonly struct EqualOp<T> : IScalarBinary<T, bool> where T : IEquatable<T>
{
    public bool Invoke(T a, T b) => a.Equals(b) && !(typeof(T) == typeof(float) && float.IsNaN((float)(object)a));
}

internal readonly struct LessOp<T> : IScalarBinary<T, bool> where T : IComparisonOperators<T, T, bool>
{
    public bool Invoke(T a, T b) => a < b;
}

internal readonly struct LessOrEqualOp<T> : IScalarBinary<T, bool> where T : IComparisonOperators<T, T, bool>
{
    public bool Invoke(T a, T b) => a <= b;
}

internal readonly struct GreaterOp<T> : IScalarBinary<T, bool> where T : IComparisonOperators<T, T, bool>
{
    public bool Invoke(T a, T b) => a > b;
}

internal readonly struct GreaterOrEqualOp<T> : IScalarBinary<T, bool> where T : IComparisonOperators<T, T, bool>
{
    public bool Invoke(T a, T b) => a >= b;
}

internal readonly struct AndOp : IScalarBinary<bool, bool>
{
    public bool Invoke(bool a, bool b) => a & b;
}

internal readonly struct OrOp : IScalarBinary<bool, bool>
{
    public bool Invoke(bool a, bool b) => a | b;
}

internal readonly struct XorOp : IScalarBinary<bool, bool>
{
    public bool Invoke(bool a, bool b) => a ^ b;
}

internal readonly struct IntNeg<T> : IScalarUnary<T, T> where T : IBinaryInteger<T>
{
    public T Invoke(T x) => unchecked(T.Zero - x);
}

/// <summary>|MIN| wraps to MIN (two's complement), like numpy.</summary>
internal readonly struct IntAbs<T> : IScalarUnary<T, T> where T : IBinaryInteger<T>
{
    public T Invoke(T x) => T.IsNegative(x) ? unchecked(T.Zero - x) : x;
}

internal readonly struct IntSign<T> : IScalarUnary<T, T> where T : IBinaryInteger<T>
{
    public T Invoke(T x) => T.IsZero(x) ? T.Zero : T.IsNegative(x) ? unchecked(T.Zero - T.One) : T.One;
}

internal readonly struct NotOp : IScalarUnary<bool, bool>
{
    public bool Invoke(bool x) => !x;
}

internal readonly struct IntClip<T>(T lo, T hi) : IScalarUnary<T, T> where T : IBinaryInteger<T>
{
    public T Invoke(T x)
    {
        T y = x < lo ? lo : x;
        return y > hi ? hi : y;
    }
}

internal readonly struct IsNaNOp : IScalarUnary<float, bool>
{
    public bool Invoke(float x) => float.IsNaN(x);
}

/// <summary>IsInf-10: true for +∞ when detect_positive, for -∞ when detect_negative.</summary>
internal readonly struct IsInfOp(bool positive, bool negative) : IScalarUnary<float, bool>
{
    public bool Invoke(float x) => (positive && float.IsPositiveInfinity(x)) || (negative && float.IsNegativeInfinity(x));
}
