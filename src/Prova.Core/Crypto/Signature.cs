using System.Numerics;

namespace Prova.Core.Crypto;

/// <summary>
/// A recoverable secp256k1 ECDSA signature (r, s, v) in Ethereum's 65-byte encoding r ‖ s ‖ v with
/// v = 27 or 28. r and s are in [1, n−1]. A high s (s &gt; n/2) can be held so that a malleated
/// signature can be parsed and reported, but <see cref="Secp256k1"/> refuses to verify or recover
/// it (EIP-2); signatures made by <see cref="Keys.PrivateKey"/> are always low-s.
/// </summary>
public readonly struct Signature : IEquatable<Signature>
{
    public const int Length = 65;

    private readonly Hash256 _r;
    private readonly Hash256 _s;

    /// <summary>27 or 28: 27 + the parity of the y coordinate of the nonce point R.</summary>
    public byte V { get; }

    public Signature(ReadOnlySpan<byte> r, ReadOnlySpan<byte> s, byte v)
    {
        if (r.Length != 32 || s.Length != 32)
        {
            throw new CryptoFormatException("signature r and s must be 32 bytes each");
        }
        if (!TryValidate(r, s, v, out string? error))
        {
            throw new CryptoFormatException(error!);
        }
        _r = new Hash256(r);
        _s = new Hash256(s);
        V = v;
    }

    public Signature(BigInteger r, BigInteger s, byte v)
        : this(ToBytes32(r, "r"), ToBytes32(s, "s"), v)
    {
    }

    public BigInteger R => new(_r.ToArray(), isUnsigned: true, isBigEndian: true);

    public BigInteger S => new(_s.ToArray(), isUnsigned: true, isBigEndian: true);

    /// <summary>0 or 1 (V − 27).</summary>
    public int RecoveryId => V - 27;

    /// <summary>True when s ≤ n/2, the only form Ethereum accepts since EIP-2.</summary>
    public bool IsLowS => S <= Secp256k1.HalfOrder;

    internal byte[] RBytes => _r.ToArray();

    internal byte[] SBytes => _s.ToArray();

    /// <summary>The same signature with s replaced by n − s and v flipped, if s was high.</summary>
    public Signature ToLowS() =>
        IsLowS ? this : new Signature(R, Secp256k1.Order - S, (byte)(V == 27 ? 28 : 27));

    public static Signature FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Length)
        {
            throw new CryptoFormatException($"a 65-byte signature (r ‖ s ‖ v) was expected, got {bytes.Length} bytes");
        }
        return new Signature(bytes[..32], bytes[32..64], bytes[64]);
    }

    public static bool TryFromBytes(ReadOnlySpan<byte> bytes, out Signature signature)
    {
        if (bytes.Length != Length || !TryValidate(bytes[..32], bytes[32..64], bytes[64], out _))
        {
            signature = default;
            return false;
        }
        signature = new Signature(bytes[..32], bytes[32..64], bytes[64]);
        return true;
    }

    /// <summary>Parses "0x" + 130 hex digits (r ‖ s ‖ v).</summary>
    public static Signature Parse(string text)
    {
        Span<byte> bytes = stackalloc byte[Length];
        if (text is null || !Hex.TryDecode(text, bytes))
        {
            throw new CryptoFormatException($"'{Hash256.Shorten(text)}' is not a signature: expected \"0x\" followed by 130 hex digits (r ‖ s ‖ v)");
        }
        return FromBytes(bytes);
    }

    public static bool TryParse(string? text, out Signature signature)
    {
        Span<byte> bytes = stackalloc byte[Length];
        if (text is null || !Hex.TryDecode(text, bytes))
        {
            signature = default;
            return false;
        }
        return TryFromBytes(bytes, out signature);
    }

    public void WriteTo(Span<byte> destination)
    {
        _r.WriteTo(destination);
        _s.WriteTo(destination[32..]);
        destination[64] = V;
    }

    public byte[] ToArray()
    {
        var bytes = new byte[Length];
        WriteTo(bytes);
        return bytes;
    }

    public override string ToString()
    {
        Span<byte> bytes = stackalloc byte[Length];
        WriteTo(bytes);
        return Hex.Encode(bytes);
    }

    public bool Equals(Signature other) => _r == other._r && _s == other._s && V == other.V;

    public override bool Equals(object? obj) => obj is Signature other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(_r, _s, V);

    public static bool operator ==(Signature left, Signature right) => left.Equals(right);

    public static bool operator !=(Signature left, Signature right) => !left.Equals(right);

    private static bool TryValidate(ReadOnlySpan<byte> r, ReadOnlySpan<byte> s, byte v, out string? error)
    {
        if (v != 27 && v != 28)
        {
            error = $"signature v must be 27 or 28, got {v}";
            return false;
        }
        var rValue = new BigInteger(r, isUnsigned: true, isBigEndian: true);
        var sValue = new BigInteger(s, isUnsigned: true, isBigEndian: true);
        if (rValue.IsZero || rValue >= Secp256k1.Order)
        {
            error = "signature r is out of range [1, n-1]";
            return false;
        }
        if (sValue.IsZero || sValue >= Secp256k1.Order)
        {
            error = "signature s is out of range [1, n-1]";
            return false;
        }
        error = null;
        return true;
    }

    private static byte[] ToBytes32(BigInteger value, string name)
    {
        if (value.Sign < 0 || value.GetByteCount(isUnsigned: true) > 32)
        {
            throw new CryptoFormatException($"signature {name} must be a non-negative 256-bit integer");
        }
        var bytes = new byte[32];
        value.TryWriteBytes(bytes.AsSpan(32 - value.GetByteCount(isUnsigned: true)), out _, isUnsigned: true, isBigEndian: true);
        return bytes;
    }
}
