// The Goldilocks prime field p = 2^64 - 2^32 + 1 (as used by Plonky2). Elements are stored canonically
// (0 <= value < p). Reduction uses 2^64 = 2^32 - 1 (mod p) and 2^96 = -1 (mod p).
using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Prova.Proofs.Field;

/// <summary>An element of the Goldilocks field, always in canonical form.</summary>
public readonly struct Fp : IEquatable<Fp>, IComparable<Fp>
{
    /// <summary>p = 2^64 - 2^32 + 1.</summary>
    public const ulong Modulus = 0xFFFF_FFFF_0000_0001UL;

    /// <summary>2^64 mod p = 2^32 - 1.</summary>
    internal const ulong Epsilon = 0xFFFF_FFFFUL;

    /// <summary>Bytes of the canonical little-endian encoding.</summary>
    public const int ByteLength = 8;

    /// <summary>p - 1 = 2^32 * (2^32 - 1): the multiplicative group has a subgroup of order 2^32.</summary>
    public const int TwoAdicity = 32;

    /// <summary>7 generates the whole multiplicative group of order p - 1.</summary>
    public static readonly Fp MultiplicativeGenerator = new(7);

    public static readonly Fp Zero = default;
    public static readonly Fp One = new(1);

    private readonly ulong _value;

    private Fp(ulong canonical) => _value = canonical;

    /// <summary>The canonical representative in [0, p).</summary>
    public ulong Value => _value;

    public bool IsZero => _value == 0;

    /// <summary>Any 64-bit integer, reduced mod p.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Fp FromUInt64(ulong value) => new(value >= Modulus ? value - Modulus : value);

    /// <summary>A signed integer mapped to the field (negative values become p - |v|).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Fp FromInt64(long value) =>
        value >= 0 ? FromUInt64((ulong)value) : -FromUInt64((ulong)(-(value + 1)) + 1);

    /// <summary>Wraps a value that must already be canonical; throws otherwise.</summary>
    public static Fp FromCanonical(ulong value)
    {
        if (value >= Modulus)
        {
            throw new ArgumentOutOfRangeException(nameof(value), value, "not a canonical Goldilocks element (must be < p)");
        }
        return new Fp(value);
    }

    /// <summary>Wraps a value the caller guarantees is canonical (no check: hot paths only).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Fp FromRaw(ulong canonical) => new(canonical);

    /// <summary>Reads 8 little-endian bytes; returns false when they do not encode a canonical element.</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out Fp value)
    {
        ulong v = BinaryPrimitives.ReadUInt64LittleEndian(source);
        value = new Fp(v < Modulus ? v : 0);
        return v < Modulus;
    }

    /// <summary>Writes the canonical value as 8 little-endian bytes.</summary>
    public void WriteTo(Span<byte> destination) => BinaryPrimitives.WriteUInt64LittleEndian(destination, _value);

    /// <summary>Reduces a 128-bit product hi * 2^64 + lo to canonical form.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong Reduce128(ulong hi, ulong lo)
    {
        // Branch-free: with random operands the borrow/carry below are taken half the time.
        ulong hiHi = hi >> 32;
        ulong hiLo = hi & Epsilon;
        // lo - hiHi (2^96 = -1); on borrow add p, i.e. subtract 2^32 - 1 modulo 2^64.
        ulong t0 = lo - hiHi;
        t0 -= Mask(lo < hiHi) & Epsilon;
        // hiLo * 2^64 = hiLo * (2^32 - 1) < 2^64.
        ulong t1 = hiLo * Epsilon;
        ulong t2 = t0 + t1;
        t2 += Mask(t2 < t1) & Epsilon;
        return t2 >= Modulus ? t2 - Modulus : t2;
    }

    /// <summary>All ones when b, else zero (compiles to setcc/neg, no branch).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Mask(bool b) => 0UL - (ulong)Unsafe.As<bool, byte>(ref b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong AddRaw(ulong a, ulong b)
    {
        // On overflow a + b - 2^64 + (2^32 - 1) = a + b - p < p; otherwise subtract p when s >= p.
        ulong s = a + b;
        s += Mask(s < a) & Epsilon;
        return s >= Modulus ? s - Modulus : s;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong SubRaw(ulong a, ulong b)
    {
        ulong d = a - b;
        // On borrow: (a - b + 2^64) - (2^64 - p) = a - b + p.
        return d - (Mask(a < b) & Epsilon);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong MulRaw(ulong a, ulong b)
    {
        ulong hi = Math.BigMul(a, b, out ulong lo);
        return Reduce128(hi, lo);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Fp operator +(Fp a, Fp b) => new(AddRaw(a._value, b._value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Fp operator -(Fp a, Fp b) => new(SubRaw(a._value, b._value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Fp operator -(Fp a) => new(a._value == 0 ? 0 : Modulus - a._value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Fp operator *(Fp a, Fp b) => new(MulRaw(a._value, b._value));

    public static bool operator ==(Fp a, Fp b) => a._value == b._value;

    public static bool operator !=(Fp a, Fp b) => a._value != b._value;

    public static explicit operator Fp(ulong value) => FromUInt64(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Fp Square() => new(MulRaw(_value, _value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Fp Double() => new(AddRaw(_value, _value));

    public Fp Pow(ulong exponent)
    {
        ulong result = 1;
        ulong b = _value;
        while (exponent != 0)
        {
            if ((exponent & 1) != 0)
            {
                result = MulRaw(result, b);
            }
            b = MulRaw(b, b);
            exponent >>= 1;
        }
        return new Fp(result);
    }

    /// <summary>The multiplicative inverse (Fermat: a^(p-2)); throws for zero.</summary>
    public Fp Inverse()
    {
        if (_value == 0)
        {
            throw new DivideByZeroException("zero has no inverse in the Goldilocks field");
        }
        return Pow(Modulus - 2);
    }

    /// <summary>Inverts every element in place with one field inversion (Montgomery's trick); throws on zero.</summary>
    public static void BatchInvert(Span<Fp> values)
    {
        if (values.Length == 0)
        {
            return;
        }
        var prefix = new Fp[values.Length];
        Fp acc = One;
        for (int i = 0; i < values.Length; i++)
        {
            prefix[i] = acc;
            acc *= values[i];
        }
        Fp inv = acc.Inverse();
        for (int i = values.Length - 1; i >= 0; i--)
        {
            Fp v = values[i];
            values[i] = inv * prefix[i];
            inv *= v;
        }
    }

    /// <summary>A primitive 2^logOrder-th root of unity (logOrder ≤ 32), consistent across sizes: ω_{k}^2 = ω_{k-1}.</summary>
    public static Fp RootOfUnity(int logOrder)
    {
        if ((uint)logOrder > TwoAdicity)
        {
            throw new ArgumentOutOfRangeException(nameof(logOrder), logOrder, "Goldilocks has roots of unity of order up to 2^32");
        }
        return s_rootsOfUnity[logOrder];
    }

    private static readonly Fp[] s_rootsOfUnity = BuildRoots();

    private static Fp[] BuildRoots()
    {
        var roots = new Fp[TwoAdicity + 1];
        roots[TwoAdicity] = MultiplicativeGenerator.Pow((Modulus - 1) >> TwoAdicity);
        for (int k = TwoAdicity - 1; k >= 0; k--)
        {
            roots[k] = roots[k + 1].Square();
        }
        return roots;
    }

    public BigInteger ToBigInteger() => new(_value);

    public bool Equals(Fp other) => _value == other._value;

    public override bool Equals(object? obj) => obj is Fp other && _value == other._value;

    public override int GetHashCode() => _value.GetHashCode();

    public int CompareTo(Fp other) => _value.CompareTo(other._value);

    public override string ToString() => _value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
