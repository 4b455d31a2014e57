namespace Prova.Evm.Codec;

/// <summary>
/// Recursive Length Prefix encoding (Yellow Paper appendix B) with a strict decoder: only the
/// canonical encoding of an item is accepted (a byte below 0x80 as itself, the short forms up to 55
/// bytes, long-form lengths without leading zeros and above 55), the whole input must be one item, and
/// lists may nest at most <see cref="DefaultMaxDepth"/> deep. Decoding allocates O(input) memory.
/// </summary>
public static class Rlp
{
    public const int DefaultMaxDepth = 64;

    public static byte[] Encode(RlpItem item)
    {
        var buffer = new List<byte>(64);
        Write(buffer, item);
        return [.. buffer];
    }

    /// <summary>The encoding of a byte string.</summary>
    public static byte[] EncodeString(ReadOnlySpan<byte> bytes) => Encode(RlpItem.String(bytes));

    /// <summary>Decodes exactly one item spanning all of <paramref name="data"/>.</summary>
    /// <exception cref="RlpException">Not canonical RLP, trailing bytes, or nesting deeper than <paramref name="maxDepth"/>.</exception>
    public static RlpItem Decode(ReadOnlySpan<byte> data, int maxDepth = DefaultMaxDepth)
    {
        int position = 0;
        var item = ReadItem(data, ref position, 0, maxDepth);
        if (position != data.Length)
        {
            throw new RlpException($"{data.Length - position} trailing bytes after the RLP item");
        }
        return item;
    }

    private static void Write(List<byte> buffer, RlpItem item)
    {
        if (!item.IsList)
        {
            var bytes = item.Bytes;
            if (bytes.Length == 1 && bytes[0] < 0x80)
            {
                buffer.Add(bytes[0]);
                return;
            }
            WriteLength(buffer, bytes.Length, 0x80);
            foreach (byte b in bytes)
            {
                buffer.Add(b);
            }
            return;
        }
        var payload = new List<byte>();
        foreach (var child in item.Items)
        {
            Write(payload, child);
        }
        WriteLength(buffer, payload.Count, 0xc0);
        buffer.AddRange(payload);
    }

    private static void WriteLength(List<byte> buffer, int length, byte offset)
    {
        if (length <= 55)
        {
            buffer.Add((byte)(offset + length));
            return;
        }
        int lengthOfLength = 0;
        for (int l = length; l > 0; l >>= 8)
        {
            lengthOfLength++;
        }
        buffer.Add((byte)(offset + 55 + lengthOfLength));
        for (int i = lengthOfLength - 1; i >= 0; i--)
        {
            buffer.Add((byte)(length >> (8 * i)));
        }
    }

    private static RlpItem ReadItem(ReadOnlySpan<byte> data, ref int position, int depth, int maxDepth)
    {
        if (position >= data.Length)
        {
            throw new RlpException("RLP input ends where an item was expected");
        }
        byte prefix = data[position];
        if (prefix < 0x80)
        {
            position++;
            return RlpItem.String(data.Slice(position - 1, 1));
        }
        bool isList = prefix >= 0xc0;
        int offset = isList ? 0xc0 : 0x80;
        int length;
        int start;
        if (prefix - offset <= 55)
        {
            length = prefix - offset;
            start = position + 1;
        }
        else
        {
            int lengthOfLength = prefix - offset - 55;
            if (position + 1 + lengthOfLength > data.Length)
            {
                throw new RlpException("RLP length prefix runs past the end of the input");
            }
            if (data[position + 1] == 0)
            {
                throw new RlpException("RLP long-form length has a leading zero byte (non-canonical)");
            }
            if (lengthOfLength > 4)
            {
                throw new RlpException($"RLP item declares a {lengthOfLength}-byte length, longer than the input can hold");
            }
            long declared = 0;
            for (int i = 0; i < lengthOfLength; i++)
            {
                declared = (declared << 8) | data[position + 1 + i];
            }
            if (declared <= 55)
            {
                throw new RlpException($"RLP long form used for a {declared}-byte payload (non-canonical; the short form is required up to 55)");
            }
            if (declared > int.MaxValue)
            {
                throw new RlpException("RLP item length exceeds the input");
            }
            length = (int)declared;
            start = position + 1 + lengthOfLength;
        }
        if ((long)start + length > data.Length)
        {
            throw new RlpException($"RLP item declares {length} bytes but only {data.Length - start} remain");
        }
        if (!isList)
        {
            if (length == 1 && data[start] < 0x80)
            {
                throw new RlpException($"RLP byte 0x{data[start]:x2} encoded with a prefix (non-canonical; bytes below 0x80 are their own encoding)");
            }
            position = start + length;
            return RlpItem.String(data.Slice(start, length));
        }
        if (depth + 1 > maxDepth)
        {
            throw new RlpException($"RLP lists nest deeper than {maxDepth} levels");
        }
        var items = new List<RlpItem>();
        int end = start + length;
        int cursor = start;
        var payload = data[..end];
        while (cursor < end)
        {
            items.Add(ReadItem(payload, ref cursor, depth + 1, maxDepth));
        }
        position = end;
        return RlpItem.List(items);
    }
}
