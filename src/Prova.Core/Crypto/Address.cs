using System.Buffers.Binary;
using System.Text;

namespace Prova.Core.Crypto;

/// <summary>
/// A 20-byte Ethereum address: the last 20 bytes of Keccak-256 of an uncompressed secp256k1 public
/// key (without its 0x04 prefix). Formatted with the EIP-55 mixed-case checksum. Parsing accepts
/// all-lower-case or all-upper-case hex (no checksum) and mixed case only when the checksum is right,
/// so a mistyped address is caught instead of silently naming someone else.
/// </summary>
public readonly struct Address : IEquatable<Address>
{
    public const int Length = 20;

    private readonly ulong _w0;
    private readonly ulong _w1;
    private readonly uint _w2;

    /// <summary>The zero address (used as verifyingContract before a contract exists).</summary>
    public static readonly Address Zero;

    public Address(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Length)
        {
            throw new CryptoFormatException($"a 20-byte address was expected, got {bytes.Length} bytes");
        }
        _w0 = BinaryPrimitives.ReadUInt64BigEndian(bytes);
        _w1 = BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]);
        _w2 = BinaryPrimitives.ReadUInt32BigEndian(bytes[16..]);
    }

    /// <summary>The address of a 64-byte uncompressed public key (x ‖ y, no 0x04 prefix).</summary>
    public static Address FromPublicKey(ReadOnlySpan<byte> publicKey64)
    {
        if (publicKey64.Length != 64)
        {
            throw new CryptoFormatException($"a 64-byte uncompressed public key (x ‖ y) was expected, got {publicKey64.Length} bytes");
        }
        Span<byte> hash = stackalloc byte[Hash256.Length];
        Keccak256.Hash(publicKey64).WriteTo(hash);
        return new Address(hash[12..]);
    }

    public void WriteTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, _w0);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], _w1);
        BinaryPrimitives.WriteUInt32BigEndian(destination[16..], _w2);
    }

    public byte[] ToArray()
    {
        var bytes = new byte[Length];
        WriteTo(bytes);
        return bytes;
    }

    public bool IsZero => (_w0 | _w1 | _w2) == 0;

    public static Address Parse(string text)
    {
        if (TryParse(text, out var address, out string? error))
        {
            return address;
        }
        throw new CryptoFormatException(error!);
    }

    public static bool TryParse(string? text, out Address address) => TryParse(text, out address, out _);

    private static bool TryParse(string? text, out Address address, out string? error)
    {
        address = default;
        Span<byte> bytes = stackalloc byte[Length];
        if (text is null || !Hex.TryDecode(text, bytes))
        {
            error = $"'{Hash256.Shorten(text)}' is not an address: expected \"0x\" followed by 40 hex digits";
            return false;
        }
        var candidate = new Address(bytes);
        ReadOnlySpan<char> digits = text.AsSpan(2);
        bool hasLower = digits.ContainsAnyInRange('a', 'f');
        bool hasUpper = digits.ContainsAnyInRange('A', 'F');
        if (hasLower && hasUpper && !digits.SequenceEqual(candidate.ToString().AsSpan(2)))
        {
            error = $"'{text}' has a wrong EIP-55 checksum (mixed-case letters do not match); check for a typo, the checksummed form of these bytes is {candidate}";
            return false;
        }
        address = candidate;
        error = null;
        return true;
    }

    /// <summary>EIP-55 checksummed form, e.g. 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed.</summary>
    public override string ToString()
    {
        Span<byte> bytes = stackalloc byte[Length];
        WriteTo(bytes);
        string lower = Convert.ToHexStringLower(bytes);
        Span<byte> hash = stackalloc byte[Hash256.Length];
        Keccak256.Hash(Encoding.ASCII.GetBytes(lower)).WriteTo(hash);
        Span<char> result = stackalloc char[2 + 2 * Length];
        result[0] = '0';
        result[1] = 'x';
        for (int i = 0; i < lower.Length; i++)
        {
            char c = lower[i];
            int nibble = (i % 2 == 0) ? hash[i / 2] >> 4 : hash[i / 2] & 0xF;
            result[2 + i] = c >= 'a' && nibble >= 8 ? (char)(c - 'a' + 'A') : c;
        }
        return new string(result);
    }

    /// <summary>"0x" + 40 lower-case hex digits (no checksum), as stored in keystore files and signed data.</summary>
    public string ToLowerHex()
    {
        Span<byte> bytes = stackalloc byte[Length];
        WriteTo(bytes);
        return Hex.Encode(bytes);
    }

    public bool Equals(Address other) => _w0 == other._w0 && _w1 == other._w1 && _w2 == other._w2;

    public override bool Equals(object? obj) => obj is Address other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(_w0, _w1, _w2);

    public static bool operator ==(Address left, Address right) => left.Equals(right);

    public static bool operator !=(Address left, Address right) => !left.Equals(right);
}
