using System.Buffers.Binary;

namespace Prova.Core.Crypto;

/// <summary>
/// A 32-byte digest (Keccak-256 in Ethereum contexts). Text form: "0x" + 64 lower-case hex digits;
/// parsing accepts either case and requires the prefix.
/// </summary>
public readonly struct Hash256 : IEquatable<Hash256>
{
    public const int Length = 32;

    // Big-endian words, so that comparing them in order compares the bytes.
    private readonly ulong _w0;
    private readonly ulong _w1;
    private readonly ulong _w2;
    private readonly ulong _w3;

    public static readonly Hash256 Zero;

    public Hash256(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Length)
        {
            throw new CryptoFormatException($"a 32-byte hash was expected, got {bytes.Length} bytes");
        }
        _w0 = BinaryPrimitives.ReadUInt64BigEndian(bytes);
        _w1 = BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]);
        _w2 = BinaryPrimitives.ReadUInt64BigEndian(bytes[16..]);
        _w3 = BinaryPrimitives.ReadUInt64BigEndian(bytes[24..]);
    }

    public void WriteTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, _w0);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], _w1);
        BinaryPrimitives.WriteUInt64BigEndian(destination[16..], _w2);
        BinaryPrimitives.WriteUInt64BigEndian(destination[24..], _w3);
    }

    public byte[] ToArray()
    {
        var bytes = new byte[Length];
        WriteTo(bytes);
        return bytes;
    }

    public bool IsZero => (_w0 | _w1 | _w2 | _w3) == 0;

    public static Hash256 Parse(string text) =>
        TryParse(text, out var hash)
            ? hash
            : throw new CryptoFormatException($"'{Shorten(text)}' is not a 32-byte hash: expected \"0x\" followed by 64 hex digits");

    public static bool TryParse(string? text, out Hash256 hash)
    {
        Span<byte> bytes = stackalloc byte[Length];
        if (text is null || !Hex.TryDecode(text, bytes))
        {
            hash = default;
            return false;
        }
        hash = new Hash256(bytes);
        return true;
    }

    public override string ToString()
    {
        Span<byte> bytes = stackalloc byte[Length];
        WriteTo(bytes);
        return Hex.Encode(bytes);
    }

    public bool Equals(Hash256 other) =>
        _w0 == other._w0 && _w1 == other._w1 && _w2 == other._w2 && _w3 == other._w3;

    public override bool Equals(object? obj) => obj is Hash256 other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(_w0, _w1, _w2, _w3);

    public static bool operator ==(Hash256 left, Hash256 right) => left.Equals(right);

    public static bool operator !=(Hash256 left, Hash256 right) => !left.Equals(right);

    internal static string Shorten(string? text) =>
        text is null ? "null" : text.Length <= 80 ? text : text[..77] + "...";
}
