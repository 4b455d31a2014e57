using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Prova.Runtime.Simd;

/// <summary>
/// The IEEE operations a deterministic float kernel may use, for one lane type: a plain float or
/// a Vector128/256/512 of floats (with the matching int lanes). Algorithms written once against
/// this interface run the exact same operation sequence per lane whatever the width, which is
/// what makes SIMD and scalar results bit-identical. Masks are all-ones / all-zero float lanes.
/// Every member is exactly specified by IEEE 754 (no estimates, no contraction).
/// </summary>
internal unsafe interface ILanes<TF, TI>
{
    /// <summary>Floats in one value of the lane type.</summary>
    static abstract int Width { get; }

    /// <summary>Reads <see cref="Width"/> consecutive floats.</summary>
    static abstract TF Load(float* source);

    /// <summary>Writes <see cref="Width"/> consecutive floats.</summary>
    static abstract void Store(TF value, float* destination);

    static abstract TF Splat(float value);

    static abstract TI SplatInt(int value);

    static abstract TF Add(TF a, TF b);

    static abstract TF Sub(TF a, TF b);

    static abstract TF Mul(TF a, TF b);

    static abstract TF Div(TF a, TF b);

    /// <summary>a * b + c with one rounding.</summary>
    static abstract TF Fma(TF a, TF b, TF c);

    static abstract TF Sqrt(TF a);

    static abstract TF Floor(TF a);

    static abstract TF LessThan(TF a, TF b);

    static abstract TF LessOrEqual(TF a, TF b);

    static abstract TF Eq(TF a, TF b);

    /// <summary>mask ? a : b per lane (bitwise).</summary>
    static abstract TF Select(TF mask, TF a, TF b);

    static abstract TF And(TF a, TF b);

    static abstract TF Or(TF a, TF b);

    static abstract TF AndNot(TF a, TF b);

    static abstract TI AsInt(TF a);

    static abstract TF AsFloat(TI a);

    static abstract TI IAdd(TI a, TI b);

    static abstract TI ISub(TI a, TI b);

    static abstract TI IAnd(TI a, TI b);

    static abstract TI ShiftLeft(TI a, int count);

    static abstract TI ShiftRightArithmetic(TI a, int count);

    /// <summary>Int to float; used only on integers small enough to convert exactly.</summary>
    static abstract TF IntToFloat(TI a);

    /// <summary>All-ones where the int lane is non-zero.</summary>
    static abstract TF NonZero(TI a);
}

internal readonly unsafe struct ScalarLanes : ILanes<float, int>
{
    public static int Width => 1;

    public static float Load(float* source) => *source;

    public static void Store(float value, float* destination) => *destination = value;

    public static float Splat(float value) => value;

    public static int SplatInt(int value) => value;

    public static float Add(float a, float b) => a + b;

    public static float Sub(float a, float b) => a - b;

    public static float Mul(float a, float b) => a * b;

    public static float Div(float a, float b) => a / b;

    public static float Fma(float a, float b, float c) => MathF.FusedMultiplyAdd(a, b, c);

    public static float Sqrt(float a) => MathF.Sqrt(a);

    public static float Floor(float a) => MathF.Floor(a);

    public static float LessThan(float a, float b) => Mask(a < b);

    public static float LessOrEqual(float a, float b) => Mask(a <= b);

    public static float Eq(float a, float b) => Mask(a == b);

    public static float Select(float mask, float a, float b)
    {
        int m = BitConverter.SingleToInt32Bits(mask);
        return BitConverter.Int32BitsToSingle((m & BitConverter.SingleToInt32Bits(a)) | (~m & BitConverter.SingleToInt32Bits(b)));
    }

    public static float And(float a, float b) => BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(a) & BitConverter.SingleToInt32Bits(b));

    public static float Or(float a, float b) => BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(a) | BitConverter.SingleToInt32Bits(b));

    public static float AndNot(float a, float b) => BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(a) & ~BitConverter.SingleToInt32Bits(b));

    public static int AsInt(float a) => BitConverter.SingleToInt32Bits(a);

    public static float AsFloat(int a) => BitConverter.Int32BitsToSingle(a);

    public static int IAdd(int a, int b) => a + b;

    public static int ISub(int a, int b) => a - b;

    public static int IAnd(int a, int b) => a & b;

    public static int ShiftLeft(int a, int count) => a << count;

    public static int ShiftRightArithmetic(int a, int count) => a >> count;

    public static float IntToFloat(int a) => a;

    public static float NonZero(int a) => Mask(a != 0);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Mask(bool b) => BitConverter.Int32BitsToSingle(b ? -1 : 0);
}

internal readonly unsafe struct Lanes128 : ILanes<Vector128<float>, Vector128<int>>
{
    public static int Width => 4;

    public static Vector128<float> Load(float* source) => Vector128.Load(source);

    public static void Store(Vector128<float> value, float* destination) => value.Store(destination);

    public static Vector128<float> Splat(float value) => Vector128.Create(value);

    public static Vector128<int> SplatInt(int value) => Vector128.Create(value);

    public static Vector128<float> Add(Vector128<float> a, Vector128<float> b) => a + b;

    public static Vector128<float> Sub(Vector128<float> a, Vector128<float> b) => a - b;

    public static Vector128<float> Mul(Vector128<float> a, Vector128<float> b) => a * b;

    public static Vector128<float> Div(Vector128<float> a, Vector128<float> b) => a / b;

    public static Vector128<float> Fma(Vector128<float> a, Vector128<float> b, Vector128<float> c) => Vector128.FusedMultiplyAdd(a, b, c);

    public static Vector128<float> Sqrt(Vector128<float> a) => Vector128.Sqrt(a);

    public static Vector128<float> Floor(Vector128<float> a) => Vector128.Floor(a);

    public static Vector128<float> LessThan(Vector128<float> a, Vector128<float> b) => Vector128.LessThan(a, b);

    public static Vector128<float> LessOrEqual(Vector128<float> a, Vector128<float> b) => Vector128.LessThanOrEqual(a, b);

    public static Vector128<float> Eq(Vector128<float> a, Vector128<float> b) => Vector128.Equals(a, b);

    public static Vector128<float> Select(Vector128<float> mask, Vector128<float> a, Vector128<float> b) => Vector128.ConditionalSelect(mask, a, b);

    public static Vector128<float> And(Vector128<float> a, Vector128<float> b) => a & b;

    public static Vector128<float> Or(Vector128<float> a, Vector128<float> b) => a | b;

    public static Vector128<float> AndNot(Vector128<float> a, Vector128<float> b) => Vector128.AndNot(a, b);

    public static Vector128<int> AsInt(Vector128<float> a) => a.AsInt32();

    public static Vector128<float> AsFloat(Vector128<int> a) => a.AsSingle();

    public static Vector128<int> IAdd(Vector128<int> a, Vector128<int> b) => a + b;

    public static Vector128<int> ISub(Vector128<int> a, Vector128<int> b) => a - b;

    public static Vector128<int> IAnd(Vector128<int> a, Vector128<int> b) => a & b;

    public static Vector128<int> ShiftLeft(Vector128<int> a, int count) => a << count;

    public static Vector128<int> ShiftRightArithmetic(Vector128<int> a, int count) => a >> count;

    public static Vector128<float> IntToFloat(Vector128<int> a) => Vector128.ConvertToSingle(a);

    public static Vector128<float> NonZero(Vector128<int> a) => (~Vector128.Equals(a, Vector128<int>.Zero)).AsSingle();
}

internal readonly unsafe struct Lanes256 : ILanes<Vector256<float>, Vector256<int>>
{
    public static int Width => 8;

    public static Vector256<float> Load(float* source) => Vector256.Load(source);

    public static void Store(Vector256<float> value, float* destination) => value.Store(destination);

    public static Vector256<float> Splat(float value) => Vector256.Create(value);

    public static Vector256<int> SplatInt(int value) => Vector256.Create(value);

    public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;

    public static Vector256<float> Sub(Vector256<float> a, Vector256<float> b) => a - b;

    public static Vector256<float> Mul(Vector256<float> a, Vector256<float> b) => a * b;

    public static Vector256<float> Div(Vector256<float> a, Vector256<float> b) => a / b;

    public static Vector256<float> Fma(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.FusedMultiplyAdd(a, b, c);

    public static Vector256<float> Sqrt(Vector256<float> a) => Vector256.Sqrt(a);

    public static Vector256<float> Floor(Vector256<float> a) => Vector256.Floor(a);

    public static Vector256<float> LessThan(Vector256<float> a, Vector256<float> b) => Vector256.LessThan(a, b);

    public static Vector256<float> LessOrEqual(Vector256<float> a, Vector256<float> b) => Vector256.LessThanOrEqual(a, b);

    public static Vector256<float> Eq(Vector256<float> a, Vector256<float> b) => Vector256.Equals(a, b);

    public static Vector256<float> Select(Vector256<float> mask, Vector256<float> a, Vector256<float> b) => Vector256.ConditionalSelect(mask, a, b);

    public static Vector256<float> And(Vector256<float> a, Vector256<float> b) => a & b;

    public static Vector256<float> Or(Vector256<float> a, Vector256<float> b) => a | b;

    public static Vector256<float> AndNot(Vector256<float> a, Vector256<float> b) => Vector256.AndNot(a, b);

    public static Vector256<int> AsInt(Vector256<float> a) => a.AsInt32();

    public static Vector256<float> AsFloat(Vector256<int> a) => a.AsSingle();

    public static Vector256<int> IAdd(Vector256<int> a, Vector256<int> b) => a + b;

    public static Vector256<int> ISub(Vector256<int> a, Vector256<int> b) => a - b;

    public static Vector256<int> IAnd(Vector256<int> a, Vector256<int> b) => a & b;

    public static Vector256<int> ShiftLeft(Vector256<int> a, int count) => a << count;

    public static Vector256<int> ShiftRightArithmetic(Vector256<int> a, int count) => a >> count;

    public static Vector256<float> IntToFloat(Vector256<int> a) => Vector256.ConvertToSingle(a);

    public static Vector256<float> NonZero(Vector256<int> a) => (~Vector256.Equals(a, Vector256<int>.Zero)).AsSingle();
}

internal readonly unsafe struct Lanes512 : ILanes<Vector512<float>, Vector512<int>>
{
    public static int Width => 16;

    public static Vector512<float> Load(float* source) => Vector512.Load(source);

    public static void Store(Vector512<float> value, float* destination) => value.Store(destination);

    public static Vector512<float> Splat(float value) => Vector512.Create(value);

    public static Vector512<int> SplatInt(int value) => Vector512.Create(value);

    public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;

    public static Vector512<float> Sub(Vector512<float> a, Vector512<float> b) => a - b;

    public static Vector512<float> Mul(Vector512<float> a, Vector512<float> b) => a * b;

    public static Vector512<float> Div(Vector512<float> a, Vector512<float> b) => a / b;

    public static Vector512<float> Fma(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(a, b, c);

    public static Vector512<float> Sqrt(Vector512<float> a) => Vector512.Sqrt(a);

    public static Vector512<float> Floor(Vector512<float> a) => Vector512.Floor(a);

    public static Vector512<float> LessThan(Vector512<float> a, Vector512<float> b) => Vector512.LessThan(a, b);

    public static Vector512<float> LessOrEqual(Vector512<float> a, Vector512<float> b) => Vector512.LessThanOrEqual(a, b);

    public static Vector512<float> Eq(Vector512<float> a, Vector512<float> b) => Vector512.Equals(a, b);

    public static Vector512<float> Select(Vector512<float> mask, Vector512<float> a, Vector512<float> b) => Vector512.ConditionalSelect(mask, a, b);

    public static Vector512<float> And(Vector512<float> a, Vector512<float> b) => a & b;

    public static Vector512<float> Or(Vector512<float> a, Vector512<float> b) => a | b;

    public static Vector512<float> AndNot(Vector512<float> a, Vector512<float> b) => Vector512.AndNot(a, b);

    public static Vector512<int> AsInt(Vector512<float> a) => a.AsInt32();

    public static Vector512<float> AsFloat(Vector512<int> a) => a.AsSingle();

    public static Vector512<int> IAdd(Vector512<int> a, Vector512<int> b) => a + b;

    public static Vector512<int> ISub(Vector512<int> a, Vector512<int> b) => a - b;

    public static Vector512<int> IAnd(Vector512<int> a, Vector512<int> b) => a & b;

    public static Vector512<int> ShiftLeft(Vector512<int> a, int count) => a << count;

    public static Vector512<int> ShiftRightArithmetic(Vector512<int> a, int count) => a >> count;

    public static Vector512<float> IntToFloat(Vector512<int> a) => Vector512.ConvertToSingle(a);

    public static Vector512<float> NonZero(Vector512<int> a) => (~Vector512.Equals(a, Vector512<int>.Zero)).AsSingle();
}
