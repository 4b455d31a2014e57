using System.Numerics;
using Prova.Core.Crypto;

namespace Prova.Evm.Codec;

/// <summary>
/// One RLP item: a byte string or a list of items (Ethereum Yellow Paper, appendix B). Immutable.
/// Integers are byte strings holding the big-endian value without leading zeros (0 is the empty string).
/// </summary>
public sealed class RlpItem
{
    private readonly byte[]? _bytes;
    private readonly RlpItem[]? _items;

    private RlpItem(byte[]? bytes, RlpItem[]? items)
    {
        _bytes = bytes;
        _items = items;
    }

    public static readonly RlpItem Empty = new([], null);

    public static readonly RlpItem EmptyList = new(null, []);

    public bool IsList => _items is not null;

    /// <summary>The bytes of a string item.</summary>
    /// <exception cref="RlpException">The item is a list.</exception>
    public ReadOnlySpan<byte> Bytes => _bytes ?? throw new RlpException("an RLP byte string was expected, found a list");

    /// <summary>The items of a list item.</summary>
    /// <exception cref="RlpException">The item is a byte string.</exception>
    public IReadOnlyList<RlpItem> Items => _items ?? throw new RlpException("an RLP list was expected, found a byte string");

    public static RlpItem String(ReadOnlySpan<byte> bytes) => new(bytes.ToArray(), null);

    public static RlpItem String(string utf8) => new(System.Text.Encoding.UTF8.GetBytes(utf8), null);

    public static RlpItem List(params IEnumerable<RlpItem> items) => new(null, items.ToArray());

    /// <summary>A non-negative integer as its minimal big-endian bytes (0 → empty string).</summary>
    public static RlpItem Integer(BigInteger value)
    {
        if (value.Sign < 0)
        {
            throw new RlpException($"RLP integers are non-negative, got {value}");
        }
        return new(value.IsZero ? [] : value.ToByteArray(isUnsigned: true, isBigEndian: true), null);
    }

    public static RlpItem Integer(ulong value) => Integer(new BigInteger(value));

    public static RlpItem FromAddress(Address address) => new(address.ToArray(), null);

    /// <summary>The integer a string item holds; rejects leading zero bytes and values over 256 bits.</summary>
    public BigInteger ToBigInteger(string field = "integer")
    {
        var bytes = Bytes;
        if (bytes.Length > 32)
        {
            throw new RlpException($"RLP {field} is {bytes.Length} bytes, more than 256 bits");
        }
        if (bytes.Length > 0 && bytes[0] == 0)
        {
            throw new RlpException($"RLP {field} has a leading zero byte (non-canonical integer)");
        }
        return new BigInteger(bytes, isUnsigned: true, isBigEndian: true);
    }

    public ulong ToUInt64(string field = "integer")
    {
        var value = ToBigInteger(field);
        if (value > ulong.MaxValue)
        {
            throw new RlpException($"RLP {field} does not fit in 64 bits");
        }
        return (ulong)value;
    }

    public Address ToAddress(string field = "address")
    {
        var bytes = Bytes;
        if (bytes.Length != Address.Length)
        {
            throw new RlpException($"RLP {field} must be 20 bytes, got {bytes.Length}");
        }
        return new Address(bytes);
    }

    public byte[] ToArray() => Bytes.ToArray();

    public override string ToString() =>
        IsList ? "[" + string.Join(", ", _items!.Select(i => i.ToString())) + "]" : "0x" + Convert.ToHexStringLower(_bytes!);
}
