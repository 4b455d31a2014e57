using System.Collections;
using System.Globalization;
using System.Numerics;
using System.Text;
using Prova.Core.Keys;

namespace Prova.Core.Crypto;

/// <summary>
/// EIP-712 typed structured data hashing and signing (the eth_signTypedData_v4 rules):
///   signing hash = keccak256(0x19 ‖ 0x01 ‖ domainSeparator ‖ hashStruct(message))
///   hashStruct(s) = keccak256(typeHash(s) ‖ encodeData(s))
///   encodeType    = primary type, then every type it references (transitively) sorted by name
/// Values are given as plain objects: dictionaries for structs, lists for arrays, and for atomic
/// members the natural .NET value (BigInteger or any integer, bool, <see cref="Address"/>, byte[],
/// <see cref="Hash256"/>) or the JSON form ("0x…" hex, decimal strings).
/// </summary>
public static partial class Eip712
{
    public const string DomainTypeName = "EIP712Domain";

    // A value nested deeper than this is almost certainly a cycle in the caller's object graph.
    private const int MaxDepth = 64;

    // Bounds the recursion of encodeType on hostile type tables.
    private const int MaxStructTypes = 256;

    /// <summary>One member of a struct type: its name and its EIP-712 type ("uint256", "Person[]", ...).</summary>
    public sealed record Field(string Name, string Type);

    /// <summary>keccak256(0x19 ‖ 0x01 ‖ domainSeparator ‖ messageHash).</summary>
    public static Hash256 SigningHash(Hash256 domainSeparator, Hash256 messageHash)
    {
        Span<byte> buffer = stackalloc byte[2 + 2 * Hash256.Length];
        buffer[0] = 0x19;
        buffer[1] = 0x01;
        domainSeparator.WriteTo(buffer[2..]);
        messageHash.WriteTo(buffer[34..]);
        return Keccak256.Hash(buffer);
    }

    public static Signature Sign(PrivateKey key, TypedData data) => key.Sign(data.SigningHash());

    /// <exception cref="CryptoFormatException">the signature cannot be recovered (high s, or no matching key).</exception>
    public static Address Recover(TypedData data, Signature signature) =>
        Secp256k1.EcRecover(data.SigningHash(), signature);

    public static bool Verify(TypedData data, Signature signature, Address signer) =>
        Secp256k1.Verify(data.SigningHash(), signature, signer);

    /// <summary>e.g. "Mail(Person from,Person to,string contents)Person(string name,address wallet)".</summary>
    public static string EncodeType(IReadOnlyDictionary<string, IReadOnlyList<Field>> types, string primaryType)
    {
        var found = new List<string>();
        CollectDependencies(types, primaryType, found);
        found.Remove(primaryType);
        found.Sort(StringComparer.Ordinal);
        found.Insert(0, primaryType);
        var text = new StringBuilder();
        foreach (var name in found)
        {
            text.Append(name).Append('(');
            var fields = types[name];
            for (int i = 0; i < fields.Count; i++)
            {
                if (i > 0)
                {
                    text.Append(',');
                }
                text.Append(fields[i].Type).Append(' ').Append(fields[i].Name);
            }
            text.Append(')');
        }
        return text.ToString();
    }

    public static Hash256 TypeHash(IReadOnlyDictionary<string, IReadOnlyList<Field>> types, string primaryType) =>
        Keccak256.Hash(EncodeType(types, primaryType));

    /// <summary>typeHash ‖ enc(value₁) ‖ … ‖ enc(valueₙ), each 32 bytes.</summary>
    public static byte[] EncodeData(
        IReadOnlyDictionary<string, IReadOnlyList<Field>> types, string primaryType, IReadOnlyDictionary<string, object?> data) =>
        EncodeData(types, primaryType, data, depth: 0);

    public static Hash256 HashStruct(
        IReadOnlyDictionary<string, IReadOnlyList<Field>> types, string primaryType, IReadOnlyDictionary<string, object?> data) =>
        Keccak256.Hash(EncodeData(types, primaryType, data, depth: 0));

    private static byte[] EncodeData(
        IReadOnlyDictionary<string, IReadOnlyList<Field>> types, string typeName, IReadOnlyDictionary<string, object?> data, int depth)
    {
        if (!types.TryGetValue(typeName, out var fields))
        {
            throw new CryptoFormatException($"typed data: struct type '{typeName}' is not defined in types");
        }
        var output = new byte[32 * (1 + fields.Count)];
        TypeHash(types, typeName).WriteTo(output);
        for (int i = 0; i < fields.Count; i++)
        {
            var field = fields[i];
            data.TryGetValue(field.Name, out object? value);
            if (value is null && types.ContainsKey(field.Type))
            {
                // eth_signTypedData_v4: an absent struct member encodes as 32 zero bytes (this is how
                // recursive types such as Person(Person mother) terminate).
                continue;
            }
            if (value is null)
            {
                throw new CryptoFormatException($"typed data: {typeName}.{field.Name} ({field.Type}) has no value");
            }
            EncodeValue(types, field.Type, value, output.AsSpan(32 * (i + 1), 32), $"{typeName}.{field.Name}", depth);
        }
        return output;
    }

    private static void EncodeValue(
        IReadOnlyDictionary<string, IReadOnlyList<Field>> types, string type, object? value, Span<byte> slot, string path, int depth)
    {
        if (depth > MaxDepth)
        {
            throw new CryptoFormatException($"typed data: {path} is nested more than {MaxDepth} levels deep");
        }
        if (value is null)
        {
            throw new CryptoFormatException($"typed data: {path} ({type}) is null");
        }
        if (type.EndsWith(']'))
        {
            EncodeArray(types, type, value, slot, path, depth);
            return;
        }
        if (types.ContainsKey(type))
        {
            var members = AsStruct(value) ?? throw new CryptoFormatException($"typed data: {path} must be an object (struct {type})");
            Keccak256.Hash(EncodeData(types, type, members, depth + 1)).WriteTo(slot);
            return;
        }
        switch (type)
        {
            case "string":
                if (value is not string text)
                {
                    throw new CryptoFormatException($"typed data: {path} must be a string");
                }
                Keccak256.Hash(text).WriteTo(slot);
                return;
            case "bytes":
                Keccak256.Hash(AsBytes(value, -1, path)).WriteTo(slot);
                return;
            case "bool":
                if (value is not bool flag)
                {
                    throw new CryptoFormatException($"typed data: {path} must be true or false");
                }
                slot.Clear();
                slot[31] = flag ? (byte)1 : (byte)0;
                return;
            case "address":
                slot.Clear();
                AsAddress(value, path).WriteTo(slot[12..]);
                return;
        }
        if (TryAtomicWidth(type, "bytes", out int size) && size <= 32)
        {
            slot.Clear();
            AsBytes(value, size, path).CopyTo(slot);
            return;
        }
        if (TryAtomicWidth(type, "uint", out int bits) && bits <= 256 && bits % 8 == 0)
        {
            var n = AsInteger(value, path);
            if (n.Sign < 0 || n.GetBitLength() > bits)
            {
                throw new CryptoFormatException($"typed data: {path} = {n} does not fit {type}");
            }
            WriteWord(n, slot);
            return;
        }
        if (TryAtomicWidth(type, "int", out bits) && bits <= 256 && bits % 8 == 0)
        {
            var n = AsInteger(value, path);
            var limit = BigInteger.One << (bits - 1);
            if (n < -limit || n >= limit)
            {
                throw new CryptoFormatException($"typed data: {path} = {n} does not fit {type}");
            }
            WriteWord(n.Sign < 0 ? (BigInteger.One << 256) + n : n, slot);
            return;
        }
        throw new CryptoFormatException($"typed data: {path} has unknown type '{type}' (not an atomic type, string, bytes, array, or a struct defined in types)");
    }

    private static void EncodeArray(
        IReadOnlyDictionary<string, IReadOnlyList<Field>> types, string type, object value, Span<byte> slot, string path, int depth)
    {
        int open = type.LastIndexOf('[');
        string elementType = open > 0 ? type[..open] : throw new CryptoFormatException($"typed data: {path} has malformed array type '{type}'");
        string size = type[(open + 1)..^1];
        if (value is string || value is byte[] || value is not IEnumerable items)
        {
            throw new CryptoFormatException($"typed data: {path} must be an array ({type})");
        }
        var encoded = new List<byte>();
        var element = new byte[32];
        int count = 0;
        foreach (object? item in items)
        {
            EncodeValue(types, elementType, item, element, $"{path}[{count}]", depth + 1);
            encoded.AddRange(element);
            count++;
        }
        if (size.Length > 0)
        {
            if (!int.TryParse(size, NumberStyles.None, CultureInfo.InvariantCulture, out int fixedLength))
            {
                throw new CryptoFormatException($"typed data: {path} has malformed array type '{type}'");
            }
            if (count != fixedLength)
            {
                throw new CryptoFormatException($"typed data: {path} has {count} elements but its type {type} needs {fixedLength}");
            }
        }
        Keccak256.Hash(encoded.ToArray()).WriteTo(slot);
    }

    private static void CollectDependencies(IReadOnlyDictionary<string, IReadOnlyList<Field>> types, string type, List<string> found)
    {
        string baseType = BaseType(type);
        if (found.Contains(baseType))
        {
            return;
        }
        if (!types.TryGetValue(baseType, out var fields))
        {
            if (found.Count == 0)
            {
                throw new CryptoFormatException($"typed data: struct type '{baseType}' is not defined in types");
            }
            if (!IsAtomicOrDynamic(baseType))
            {
                throw new CryptoFormatException($"typed data: type '{baseType}' is neither an atomic type nor defined in types");
            }
            return;
        }
        if (found.Count >= MaxStructTypes)
        {
            throw new CryptoFormatException($"typed data: {found[0]} references more than {MaxStructTypes} struct types");
        }
        found.Add(baseType);
        foreach (var field in fields)
        {
            CollectDependencies(types, field.Type, found);
        }
    }

    private static string BaseType(string type)
    {
        int open = type.IndexOf('[');
        return open < 0 ? type : type[..open];
    }

    private static bool IsAtomicOrDynamic(string type) =>
        type is "string" or "bytes" or "bool" or "address"
        || (TryAtomicWidth(type, "bytes", out int size) && size <= 32)
        || (TryAtomicWidth(type, "uint", out int bits) && bits <= 256 && bits % 8 == 0)
        || (TryAtomicWidth(type, "int", out bits) && bits <= 256 && bits % 8 == 0);

    private static bool TryAtomicWidth(string type, string prefix, out int width)
    {
        width = 0;
        return type.StartsWith(prefix, StringComparison.Ordinal)
            && type.Length > prefix.Length
            && type.Length <= prefix.Length + 3
            && type[prefix.Length] != '0'
            && int.TryParse(type.AsSpan(prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out width)
            && width >= 1;
    }

    private static void WriteWord(BigInteger value, Span<byte> slot)
    {
        slot.Clear();
        int length = value.GetByteCount(isUnsigned: true);
        value.TryWriteBytes(slot[(32 - length)..], out _, isUnsigned: true, isBigEndian: true);
    }

    private static IReadOnlyDictionary<string, object?>? AsStruct(object value) => value switch
    {
        IReadOnlyDictionary<string, object?> members => members,
        IDictionary<string, object?> members => new Dictionary<string, object?>(members, StringComparer.Ordinal),
        _ => null,
    };

    private static BigInteger AsInteger(object value, string path)
    {
        switch (value)
        {
            case BigInteger n:
                return n;
            case int or long or short or sbyte:
                return Convert.ToInt64(value, CultureInfo.InvariantCulture);
            case uint or ulong or ushort or byte:
                return Convert.ToUInt64(value, CultureInfo.InvariantCulture);
            case string text:
                // uint256 needs at most 78 decimal or 64 hex digits; longer text is refused before parsing.
                if (text.Length is > 0 and <= 80)
                {
                    if (text.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
                    {
                        string digits = text[2..];
                        byte[]? bytes = digits.Length == 0 ? null
                            : Hex.TryDecodeAny(digits.Length % 2 == 1 ? "0" + digits : digits, prefixed: false);
                        if (bytes is not null)
                        {
                            return new BigInteger(bytes, isUnsigned: true, isBigEndian: true);
                        }
                    }
                    else if (BigInteger.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var parsed))
                    {
                        return parsed;
                    }
                }
                break;
        }
        throw new CryptoFormatException($"typed data: {path} must be an integer (a number, a decimal string or a \"0x\" hex string)");
    }

    private static Address AsAddress(object value, string path) => value switch
    {
        Address address => address,
        string text => Address.TryParse(text, out var parsed)
            ? parsed
            : throw new CryptoFormatException($"typed data: {path} must be an address (\"0x\" + 40 hex digits with a valid EIP-55 checksum if mixed-case)"),
        byte[] { Length: Address.Length } bytes => new Address(bytes),
        _ => throw new CryptoFormatException($"typed data: {path} must be an address"),
    };

    /// <summary>The bytes of a bytes/bytesN value; <paramref name="size"/> −1 means any length.</summary>
    private static byte[] AsBytes(object value, int size, string path)
    {
        byte[]? bytes = value switch
        {
            byte[] array => array,
            ReadOnlyMemory<byte> memory => memory.ToArray(),
            Memory<byte> memory => memory.ToArray(),
            Hash256 hash => hash.ToArray(),
            string text => Hex.TryDecodeAny(text),
            _ => null,
        };
        if (bytes is null)
        {
            throw new CryptoFormatException($"typed data: {path} must be bytes (a byte array or a \"0x\" hex string)");
        }
        if (size >= 0 && bytes.Length != size)
        {
            throw new CryptoFormatException($"typed data: {path} must be exactly {size} bytes, got {bytes.Length}");
        }
        return bytes;
    }
}
