using System.Security.Cryptography;
using Prova.Core.Crypto;

namespace Prova.Core.Content;

/// <summary>
/// A content identifier: CIDv1 (multiformats CID spec) with a sha2-256 multihash, written in multibase
/// base32 lower case without padding (prefix "b"), e.g. "bafkrei…". Prova's model CIDs use the
/// <c>raw</c> codec (0x55) over the bytes of a <see cref="ModelManifest"/>; any codec parses.
/// Binary form: varint 1 · varint codec · varint 0x12 (sha2-256) · varint 32 · 32-byte digest.
/// </summary>
public readonly struct Cid : IEquatable<Cid>
{
    /// <summary>Multicodec "raw": the digest is over plain bytes (for Prova, the manifest's encoding).</summary>
    public const ulong RawCodec = 0x55;

    /// <summary>Multihash code of sha2-256.</summary>
    public const ulong Sha256Code = 0x12;

    private const string Alphabet = "abcdefghijklmnopqrstuvwxyz234567";

    // Longest text accepted by Parse: 1 + base32 of (4 varints of ≤ 10 bytes + 32).
    private const int MaxTextLength = 128;

    private readonly Hash256 _digest;

    public Cid(ulong codec, Hash256 digest)
    {
        Codec = codec;
        _digest = digest;
    }

    /// <summary>The content's multicodec (0x55 raw for model manifests).</summary>
    public ulong Codec { get; }

    /// <summary>The SHA-256 digest of the content: the bytes32 that receipts and publications sign.</summary>
    public Hash256 Digest => _digest;

    /// <summary>The CID of <paramref name="content"/> with the raw codec.</summary>
    public static Cid ForBytes(ReadOnlySpan<byte> content)
    {
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(content, digest);
        return new Cid(RawCodec, new Hash256(digest));
    }

    /// <summary>The binary form (version, codec, multihash).</summary>
    public byte[] ToBytes()
    {
        var bytes = new List<byte>(40);
        WriteVarint(bytes, 1);
        WriteVarint(bytes, Codec);
        WriteVarint(bytes, Sha256Code);
        WriteVarint(bytes, 32);
        bytes.AddRange(_digest.ToArray());
        return [.. bytes];
    }

    public static Cid Parse(string text) =>
        TryParse(text, out var cid, out string? problem)
            ? cid
            : throw new ContentFormatException($"'{Hash256.Shorten(text)}' is not a CID: {problem}");

    public static bool TryParse(string? text, out Cid cid) => TryParse(text, out cid, out _);

    public static bool TryParse(string? text, out Cid cid, out string? problem)
    {
        cid = default;
        if (string.IsNullOrEmpty(text))
        {
            problem = "it is empty";
            return false;
        }
        if (text.Length > MaxTextLength)
        {
            problem = $"it is longer than {MaxTextLength} characters";
            return false;
        }
        if (text[0] != 'b')
        {
            problem = text.StartsWith("Qm", StringComparison.Ordinal)
                ? "CIDv0 is not supported; expected a CIDv1 in base32 (starting with \"b\")"
                : "expected a CIDv1 in multibase base32 lower case (starting with \"b\")";
            return false;
        }
        if (!TryDecodeBase32(text.AsSpan(1), out byte[]? bytes))
        {
            problem = "it is not valid base32 (lower-case letters a-z and digits 2-7)";
            return false;
        }
        int pos = 0;
        if (!TryReadVarint(bytes, ref pos, out ulong version) || version != 1)
        {
            problem = "only CID version 1 is supported";
            return false;
        }
        if (!TryReadVarint(bytes, ref pos, out ulong codec))
        {
            problem = "it has a truncated codec";
            return false;
        }
        if (!TryReadVarint(bytes, ref pos, out ulong hashCode) || hashCode != Sha256Code)
        {
            problem = "its multihash is not sha2-256 (0x12)";
            return false;
        }
        if (!TryReadVarint(bytes, ref pos, out ulong length) || length != 32 || bytes.Length - pos != 32)
        {
            problem = "its sha2-256 digest is not 32 bytes";
            return false;
        }
        cid = new Cid(codec, new Hash256(bytes.AsSpan(pos)));
        // One text per CID: refuse non-minimal varints or stray trailing bits by re-encoding.
        if (cid.ToString() != text)
        {
            cid = default;
            problem = "it is not in canonical form";
            return false;
        }
        problem = null;
        return true;
    }

    public override string ToString()
    {
        if (_digest.IsZero && Codec == 0)
        {
            return "(no cid)";
        }
        byte[] bytes = ToBytes();
        var chars = new char[1 + (bytes.Length * 8 + 4) / 5];
        chars[0] = 'b';
        int n = 1, buffer = 0, bits = 0;
        foreach (byte b in bytes)
        {
            buffer = (buffer << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                chars[n++] = Alphabet[(buffer >> (bits - 5)) & 31];
                bits -= 5;
            }
        }
        if (bits > 0)
        {
            chars[n++] = Alphabet[(buffer << (5 - bits)) & 31];
        }
        return new string(chars, 0, n);
    }

    public bool Equals(Cid other) => Codec == other.Codec && _digest == other._digest;

    public override bool Equals(object? obj) => obj is Cid other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(Codec, _digest);

    public static bool operator ==(Cid left, Cid right) => left.Equals(right);

    public static bool operator !=(Cid left, Cid right) => !left.Equals(right);

    private static bool TryDecodeBase32(ReadOnlySpan<char> text, out byte[] bytes)
    {
        bytes = new byte[text.Length * 5 / 8];
        int n = 0, buffer = 0, bits = 0;
        foreach (char c in text)
        {
            int v = c is >= 'a' and <= 'z' ? c - 'a' : c is >= '2' and <= '7' ? c - '2' + 26 : -1;
            if (v < 0)
            {
                return false;
            }
            buffer = ((buffer << 5) | v) & 0xFFFF;
            bits += 5;
            if (bits >= 8)
            {
                bytes[n++] = (byte)(buffer >> (bits - 8));
                bits -= 8;
            }
        }
        return n == bytes.Length;
    }

    private static void WriteVarint(List<byte> output, ulong value)
    {
        while (value >= 0x80)
        {
            output.Add((byte)(value | 0x80));
            value >>= 7;
        }
        output.Add((byte)value);
    }

    private static bool TryReadVarint(byte[] bytes, ref int pos, out ulong value)
    {
        value = 0;
        for (int shift = 0; shift < 63; shift += 7)
        {
            if (pos >= bytes.Length)
            {
                return false;
            }
            byte b = bytes[pos++];
            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return true;
            }
        }
        return false;
    }
}
