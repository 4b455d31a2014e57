// The quadratic extension Fp2 = Fp[X] / (X^2 - 7) of the Goldilocks field (7 is a non-residue mod p,
// checked by a test). |Fp2| ≈ 2^128, which is where every Fiat–Shamir challenge lives.
using System.Runtime.CompilerServices;

namespace Prova.Proofs.Field;

/// <summary>c0 + c1·X with X^2 = 7.</summary>
public readonly struct Fp2 : IEquatable<Fp2>
{
    /// <summary>The non-residue W with X^2 = W.</summary>
    public const ulong NonResidue = 7;

    /// <summary>Bytes of the encoding: c0 then c1, each 8 bytes little-endian.</summary>
    public const int ByteLength = 16;

    public static readonly Fp2 Zero = default;
    public static readonly Fp2 One = new(Fp.One, Fp.Zero);

    public Fp2(Fp c0, Fp c1)
    {
        C0 = c0;
        C1 = c1;
    }

    public Fp C0 { get; }

    public Fp C1 { get; }

    public bool IsZero => C0.IsZero && C1.IsZero;

    /// <summary>True when the element lies in the base field (c1 = 0).</summary>
    public bool IsBase => C1.IsZero;

    public static Fp2 FromBase(Fp value) => new(value, Fp.Zero);

    public static implicit operator Fp2(Fp value) => new(value, Fp.Zero);

    /// <summary>Reads 16 bytes; returns false when either limb is not canonical.</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out Fp2 value)
    {
        bool ok = Fp.TryRead(source, out var c0) & Fp.TryRead(source[Fp.ByteLength..], out var c1);
        value = new Fp2(c0, c1);
        return ok;
    }

    public void WriteTo(Span<byte> destination)
    {
        C0.WriteTo(destination);
        C1.WriteTo(destination[Fp.ByteLength..]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Fp2 operator +(Fp2 a, Fp2 b) => new(a.C0 + b.C0, a.C1 + b.C1);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Fp2 operator -(Fp2 a, Fp2 b) => new(a.C0 - b.C0, a.C1 - b.C1);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Fp2 operator -(Fp2 a) => new(-a.C0, -a.C1);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Fp2 operator +(Fp2 a, Fp b) => new(a.C0 + b, a.C1);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Fp2 operator -(Fp2 a, Fp b) => new(a.C0 - b, a.C1);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Fp2 operator *(Fp2 a, Fp b) => new(a.C0 * b, a.C1 * b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Fp2 operator *(Fp b, Fp2 a) => new(a.C0 * b, a.C1 * b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Fp2 operator *(Fp2 a, Fp2 b)
    {
        // (a0 + a1 X)(b0 + b1 X) = a0 b0 + 7 a1 b1 + (a0 b1 + a1 b0) X, Karatsuba for the X term.
        ulong a0 = a.C0.Value, a1 = a.C1.Value, b0 = b.C0.Value, b1 = b.C1.Value;
        ulong v0 = Fp.MulRaw(a0, b0);
        ulong v1 = Fp.MulRaw(a1, b1);
        ulong cross = Fp.MulRaw(Fp.AddRaw(a0, a1), Fp.AddRaw(b0, b1));
        ulong c1 = Fp.SubRaw(Fp.SubRaw(cross, v0), v1);
        ulong c0 = Fp.AddRaw(v0, MulBy7(v1));
        return new Fp2(Fp.FromRaw(c0), Fp.FromRaw(c1));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong MulBy7(ulong v)
    {
        // 7v = hi·2^64 + lo with hi < 7, and 2^64 = 2^32 - 1 (mod p): lo + hi·(2^32 - 1) < 2^64 + 2^35.
        ulong hi = Math.BigMul(v, NonResidue, out ulong lo);
        return Fp.AddRaw(lo >= Fp.Modulus ? lo - Fp.Modulus : lo, hi * Fp.Epsilon);
    }

    public static bool operator ==(Fp2 a, Fp2 b) => a.C0 == b.C0 && a.C1 == b.C1;

    public static bool operator !=(Fp2 a, Fp2 b) => !(a == b);

    public Fp2 Square() => this * this;

    public Fp2 Double() => this + this;

    public Fp2 Pow(ulong exponent)
    {
        Fp2 result = One;
        Fp2 b = this;
        while (exponent != 0)
        {
            if ((exponent & 1) != 0)
            {
                result *= b;
            }
            b = b.Square();
            exponent >>= 1;
        }
        return result;
    }

    /// <summary>The norm a0^2 - 7 a1^2 ∈ Fp (zero only for zero).</summary>
    public Fp Norm() => C0.Square() - Fp.FromUInt64(NonResidue) * C1.Square();

    /// <summary>(a0 - a1 X) / (a0^2 - 7 a1^2); throws for zero.</summary>
    public Fp2 Inverse()
    {
        if (IsZero)
        {
            throw new DivideByZeroException("zero has no inverse in Fp2");
        }
        Fp n = Norm().Inverse();
        return new Fp2(C0 * n, -(C1 * n));
    }

    /// <summary>Inverts every element in place with one inversion; throws on zero.</summary>
    public static void BatchInvert(Span<Fp2> values)
    {
        if (values.Length == 0)
        {
            return;
        }
        var prefix = new Fp2[values.Length];
        Fp2 acc = One;
        for (int i = 0; i < values.Length; i++)
        {
            prefix[i] = acc;
            acc *= values[i];
        }
        Fp2 inv = acc.Inverse();
        for (int i = values.Length - 1; i >= 0; i--)
        {
            Fp2 v = values[i];
            values[i] = inv * prefix[i];
            inv *= v;
        }
    }

    public bool Equals(Fp2 other) => this == other;

    public override bool Equals(object? obj) => obj is Fp2 other && this == other;

    public override int GetHashCode() => HashCode.Combine(C0, C1);

    public override string ToString() => $"({C0} + {C1}·X)";
}
