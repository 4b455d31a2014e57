using System.Collections;
using System.Numerics;
using System.Text;
using Prova.Core.Crypto;

namespace Prova.Evm.Abi;

/// <summary>
/// Solidity ABI encoding and strict decoding (docs.soliditylang.org, "Contract ABI Specification").
/// <para>Values: uint/int → <see cref="BigInteger"/> (encoding also takes any .NET integer),
/// address → <see cref="Address"/>, bool → bool, bytes&lt;M&gt; and bytes → byte[] (encoding also takes
/// <see cref="Hash256"/> for bytes32), string → string, T[] / T[k] / tuples → object?[] (encoding
/// takes any <see cref="IList"/>).</para>
/// <para>Decoding rejects offsets and lengths outside the data, dirty high bits of value types,
/// bools other than 0/1, non-UTF-8 strings, and data that would decode to more values than its size
/// allows (offset loops), so untrusted input gives an <see cref="AbiException"/>, never a crash.</para>
/// </summary>
public static class AbiCodec
{
    public static byte[] Encode(IReadOnlyList<AbiType> types, IReadOnlyList<object?> values)
    {
        if (types.Count != values.Count)
        {
            throw new AbiException($"{AbiType.Describe(types)} takes {types.Count} values, got {values.Count}");
        }
        using var stream = new MemoryStream();
        EncodeSequence(stream, types, values, "");
        return stream.ToArray();
    }

    public static byte[] Encode(AbiType type, object? value) => Encode([type], [value]);

    public static object?[] Decode(IReadOnlyList<AbiType> types, ReadOnlySpan<byte> data)
    {
        var budget = new Budget(2 * (data.Length / 32) + 16);
        return DecodeSequence(data, 0, types, budget, "");
    }

    public static object? Decode(AbiType type, ReadOnlySpan<byte> data) => Decode([type], data)[0];

    // ---------- encoding ----------

    private static void EncodeSequence(MemoryStream output, IReadOnlyList<AbiType> types, IReadOnlyList<object?> values, string path)
    {
        int headSize = types.Sum(t => t.HeadSize);
        var heads = new MemoryStream();
        var tails = new MemoryStream();
        for (int i = 0; i < types.Count; i++)
        {
            string at = path + "[" + i + "]";
            if (types[i].IsDynamic)
            {
                WriteWord(heads, new BigInteger(headSize + tails.Length));
                EncodeValue(tails, types[i], values[i], at);
            }
            else
            {
                EncodeValue(heads, types[i], values[i], at);
            }
        }
        heads.WriteTo(output);
        tails.WriteTo(output);
    }

    private static void EncodeValue(MemoryStream output, AbiType type, object? value, string path)
    {
        switch (type.Kind)
        {
            case AbiKind.UInt:
            case AbiKind.Int:
                {
                    var n = ToBigInteger(value, type, path);
                    var (min, max) = Range(type);
                    if (n < min || n > max)
                    {
                        throw new AbiException($"value {n} at {Where(path)} does not fit {type}");
                    }
                    WriteWord(output, n);
                    return;
                }
            case AbiKind.Address:
                {
                    var address = value is Address a ? a
                        : value is string s ? Address.Parse(s)
                        : throw Mismatch(type, value, path);
                    output.Write(new byte[12]);
                    output.Write(address.ToArray());
                    return;
                }
            case AbiKind.Bool:
                WriteWord(output, value is bool b ? (b ? BigInteger.One : BigInteger.Zero) : throw Mismatch(type, value, path));
                return;
            case AbiKind.FixedBytes:
                {
                    byte[] bytes = ToBytes(value, type, path);
                    if (bytes.Length != type.Size)
                    {
                        throw new AbiException($"{type} at {Where(path)} needs exactly {type.Size} bytes, got {bytes.Length}");
                    }
                    WritePadded(output, bytes);
                    return;
                }
            case AbiKind.Bytes:
                {
                    byte[] bytes = ToBytes(value, type, path);
                    WriteWord(output, bytes.Length);
                    WritePadded(output, bytes);
                    return;
                }
            case AbiKind.String:
                {
                    byte[] bytes = Encoding.UTF8.GetBytes(value as string ?? throw Mismatch(type, value, path));
                    WriteWord(output, bytes.Length);
                    WritePadded(output, bytes);
                    return;
                }
            case AbiKind.Array:
                {
                    var list = value as IList ?? throw Mismatch(type, value, path);
                    WriteWord(output, list.Count);
                    EncodeSequence(output, Repeat(type.Element!, list.Count), ToObjects(list), path);
                    return;
                }
            case AbiKind.FixedArray:
                {
                    var list = value as IList ?? throw Mismatch(type, value, path);
                    if (list.Count != type.Size)
                    {
                        throw new AbiException($"{type} at {Where(path)} needs {type.Size} elements, got {list.Count}");
                    }
                    EncodeSequence(output, Repeat(type.Element!, list.Count), ToObjects(list), path);
                    return;
                }
            case AbiKind.Tuple:
                {
                    var list = value as IList ?? throw Mismatch(type, value, path);
                    if (list.Count != type.Components.Count)
                    {
                        throw new AbiException($"tuple {type} at {Where(path)} has {type.Components.Count} components, got {list.Count} values");
                    }
                    EncodeSequence(output, type.Components.Select(c => c.Type).ToArray(), ToObjects(list), path);
                    return;
                }
        }
    }

    private static object?[] ToObjects(IList list)
    {
        var result = new object?[list.Count];
        list.CopyTo(result, 0);
        return result;
    }

    private static AbiType[] Repeat(AbiType type, int count)
    {
        var types = new AbiType[count];
        Array.Fill(types, type);
        return types;
    }

    private static BigInteger ToBigInteger(object? value, AbiType type, string path) => value switch
    {
        BigInteger n => n,
        int n => n,
        long n => n,
        uint n => n,
        ulong n => n,
        short n => n,
        ushort n => n,
        byte n => n,
        sbyte n => n,
        UInt128 n => (BigInteger)n,
        Int128 n => (BigInteger)n,
        _ => throw Mismatch(type, value, path),
    };

    private static byte[] ToBytes(object? value, AbiType type, string path) => value switch
    {
        byte[] b => b,
        Hash256 h => h.ToArray(),
        ReadOnlyMemory<byte> m => m.ToArray(),
        Memory<byte> m => m.ToArray(),
        _ => throw Mismatch(type, value, path),
    };

    internal static (BigInteger Min, BigInteger Max) Range(AbiType type) => type.Kind == AbiKind.UInt
        ? (BigInteger.Zero, (BigInteger.One << type.Size) - 1)
        : (-(BigInteger.One << (type.Size - 1)), (BigInteger.One << (type.Size - 1)) - 1);

    private static void WriteWord(MemoryStream output, BigInteger value)
    {
        Span<byte> word = stackalloc byte[32];
        byte fill = (byte)(value.Sign < 0 ? 0xff : 0);
        word.Fill(fill);
        int count = value.GetByteCount(isUnsigned: value.Sign >= 0);
        if (count > 32)
        {
            throw new AbiException($"value {value} does not fit in 256 bits");
        }
        value.TryWriteBytes(word[(32 - count)..], out _, isUnsigned: value.Sign >= 0, isBigEndian: true);
        output.Write(word);
    }

    private static void WritePadded(MemoryStream output, byte[] bytes)
    {
        output.Write(bytes);
        int pad = (32 - bytes.Length % 32) % 32;
        output.Write(new byte[pad]);
    }

    private static AbiException Mismatch(AbiType type, object? value, string path) =>
        new($"{type} at {Where(path)} cannot take a {(value is null ? "null" : value.GetType().Name)} value");

    private static string Where(string path) => path.Length == 0 ? "the top level" : "position " + path;

    // ---------- decoding ----------

    private sealed class Budget(int remaining)
    {
        public void Take(string path)
        {
            if (--remaining < 0)
            {
                throw new AbiException($"ABI data at {Where(path)} decodes to more values than its size allows (overlapping offsets)");
            }
        }
    }

    private static object?[] DecodeSequence(ReadOnlySpan<byte> data, int start, IReadOnlyList<AbiType> types, Budget budget, string path)
    {
        var values = new object?[types.Count];
        int head = start;
        for (int i = 0; i < types.Count; i++)
        {
            string at = path + "[" + i + "]";
            var type = types[i];
            if (type.IsDynamic)
            {
                int offset = ReadLength(data, head, at, "offset");
                long target = (long)start + offset;
                if (target > data.Length)
                {
                    throw new AbiException($"ABI offset {offset} at {Where(at)} points past the end of the data ({data.Length} bytes)");
                }
                values[i] = DecodeValue(data, (int)target, type, budget, at);
            }
            else
            {
                values[i] = DecodeValue(data, head, type, budget, at);
            }
            head += type.HeadSize;
        }
        return values;
    }

    private static object? DecodeValue(ReadOnlySpan<byte> data, int position, AbiType type, Budget budget, string path)
    {
        budget.Take(path);
        switch (type.Kind)
        {
            case AbiKind.UInt:
            case AbiKind.Int:
                {
                    var word = Word(data, position, path);
                    var value = type.Kind == AbiKind.UInt
                        ? new BigInteger(word, isUnsigned: true, isBigEndian: true)
                        : new BigInteger(word, isUnsigned: false, isBigEndian: true);
                    var (min, max) = Range(type);
                    if (value < min || value > max)
                    {
                        throw new AbiException($"ABI word at {Where(path)} is not a clean {type} (dirty high bits)");
                    }
                    return value;
                }
            case AbiKind.Address:
                {
                    var word = Word(data, position, path);
                    if (word[..12].ContainsAnyExcept((byte)0))
                    {
                        throw new AbiException($"ABI word at {Where(path)} is not a clean address (non-zero high 12 bytes)");
                    }
                    return new Address(word[12..]);
                }
            case AbiKind.Bool:
                {
                    var word = Word(data, position, path);
                    if (word[..31].ContainsAnyExcept((byte)0) || word[31] > 1)
                    {
                        throw new AbiException($"ABI word at {Where(path)} is not a bool (must be 0 or 1)");
                    }
                    return word[31] == 1;
                }
            case AbiKind.FixedBytes:
                {
                    var word = Word(data, position, path);
                    if (word[type.Size..].ContainsAnyExcept((byte)0))
                    {
                        throw new AbiException($"ABI word at {Where(path)} is not a clean {type} (non-zero padding)");
                    }
                    return word[..type.Size].ToArray();
                }
            case AbiKind.Bytes:
            case AbiKind.String:
                {
                    int length = ReadLength(data, position, path, "length");
                    if ((long)position + 32 + length > data.Length)
                    {
                        throw new AbiException($"ABI {type} at {Where(path)} declares {length} bytes, past the end of the data");
                    }
                    var bytes = data.Slice(position + 32, length);
                    if (type.Kind == AbiKind.Bytes)
                    {
                        return bytes.ToArray();
                    }
                    try
                    {
                        return new UTF8Encoding(false, true).GetString(bytes);
                    }
                    catch (DecoderFallbackException)
                    {
                        throw new AbiException($"ABI string at {Where(path)} is not valid UTF-8");
                    }
                }
            case AbiKind.Array:
                {
                    int count = ReadLength(data, position, path, "array length");
                    long minimum = (long)count * type.Element!.HeadSize;
                    if (position + 32 + minimum > data.Length || (type.Element.HeadSize == 0 && count > data.Length))
                    {
                        throw new AbiException($"ABI array at {Where(path)} declares {count} elements, more than the data holds");
                    }
                    return DecodeSequence(data, position + 32, Repeat(type.Element, count), budget, path);
                }
            case AbiKind.FixedArray:
                return DecodeSequence(data, position, Repeat(type.Element!, type.Size), budget, path);
            case AbiKind.Tuple:
                return DecodeSequence(data, position, type.Components.Select(c => c.Type).ToArray(), budget, path);
            default:
                throw new AbiException($"unsupported ABI type {type}");
        }
    }

    private static ReadOnlySpan<byte> Word(ReadOnlySpan<byte> data, int position, string path)
    {
        if (position < 0 || (long)position + 32 > data.Length)
        {
            throw new AbiException($"ABI data ends before the word at {Where(path)} (needs {position + 32L} bytes, has {data.Length})");
        }
        return data.Slice(position, 32);
    }

    private static int ReadLength(ReadOnlySpan<byte> data, int position, string path, string what)
    {
        var word = Word(data, position, path);
        if (word[..28].ContainsAnyExcept((byte)0) || word[28] >= 0x80)
        {
            throw new AbiException($"ABI {what} at {Where(path)} is larger than any data can be");
        }
        return (word[28] << 24) | (word[29] << 16) | (word[30] << 8) | word[31];
    }
}
