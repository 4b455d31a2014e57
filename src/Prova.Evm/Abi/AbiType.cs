using System.Text;

namespace Prova.Evm.Abi;

public enum AbiKind
{
    UInt,
    Int,
    Address,
    Bool,
    FixedBytes,
    Bytes,
    String,
    Array,
    FixedArray,
    Tuple,
}

/// <summary>A named member of a tuple, function, event or error.</summary>
public sealed record AbiParameter(string Name, AbiType Type, bool Indexed = false, string? InternalType = null);

/// <summary>
/// A Solidity ABI type: uint&lt;M&gt;, int&lt;M&gt;, address, bool, bytes&lt;M&gt;, bytes, string, T[], T[k] and
/// tuples. <see cref="Parse"/> reads the canonical text ("uint256", "(uint256,bytes)[2]"); JSON ABI
/// entries with "tuple" and "components" are read by <see cref="AbiContract"/>.
/// </summary>
public sealed class AbiType
{
    private AbiType(AbiKind kind, int size = 0, AbiType? element = null, IReadOnlyList<AbiParameter>? components = null)
    {
        Kind = kind;
        Size = size;
        Element = element;
        Components = components ?? [];
        IsDynamic = kind switch
        {
            AbiKind.Bytes or AbiKind.String or AbiKind.Array => true,
            AbiKind.FixedArray => element!.IsDynamic && size > 0,
            AbiKind.Tuple => Components.Any(c => c.Type.IsDynamic),
            _ => false,
        };
        HeadSize = IsDynamic ? 32 : kind switch
        {
            AbiKind.FixedArray => size * element!.HeadSize,
            AbiKind.Tuple => Components.Sum(c => c.Type.HeadSize),
            _ => 32,
        };
        CanonicalName = kind switch
        {
            AbiKind.UInt => $"uint{size}",
            AbiKind.Int => $"int{size}",
            AbiKind.Address => "address",
            AbiKind.Bool => "bool",
            AbiKind.FixedBytes => $"bytes{size}",
            AbiKind.Bytes => "bytes",
            AbiKind.String => "string",
            AbiKind.Array => element!.CanonicalName + "[]",
            AbiKind.FixedArray => $"{element!.CanonicalName}[{size}]",
            _ => "(" + string.Join(",", Components.Select(c => c.Type.CanonicalName)) + ")",
        };
    }

    public AbiKind Kind { get; }

    /// <summary>Bits for uint/int, bytes for bytes&lt;M&gt;, the length k for T[k]; 0 otherwise.</summary>
    public int Size { get; }

    /// <summary>T for T[] and T[k].</summary>
    public AbiType? Element { get; }

    public IReadOnlyList<AbiParameter> Components { get; }

    public bool IsDynamic { get; }

    /// <summary>Bytes this type takes in the head of an enclosing tuple (32 for dynamic types).</summary>
    public int HeadSize { get; }

    /// <summary>The form used in signatures, e.g. "(uint256,address)[]".</summary>
    public string CanonicalName { get; }

    public static readonly AbiType UInt256 = new(AbiKind.UInt, 256);
    public static readonly AbiType AddressType = new(AbiKind.Address);
    public static readonly AbiType BoolType = new(AbiKind.Bool);
    public static readonly AbiType StringType = new(AbiKind.String);
    public static readonly AbiType BytesType = new(AbiKind.Bytes);
    public static readonly AbiType Bytes32 = new(AbiKind.FixedBytes, 32);

    public static AbiType UInt(int bits) => new(AbiKind.UInt, CheckBits(bits));

    public static AbiType Int(int bits) => new(AbiKind.Int, CheckBits(bits));

    public static AbiType FixedBytes(int size) =>
        size is >= 1 and <= 32 ? new(AbiKind.FixedBytes, size) : throw new AbiException($"bytes{size} is not an ABI type (1 to 32 bytes)");

    public static AbiType ArrayOf(AbiType element) => new(AbiKind.Array, 0, element);

    public static AbiType FixedArrayOf(AbiType element, int length) =>
        length >= 0 && length <= 1 << 20 ? new(AbiKind.FixedArray, length, element) : throw new AbiException($"fixed array length {length} is out of range");

    public static AbiType Tuple(params IEnumerable<AbiParameter> components) => new(AbiKind.Tuple, 0, null, components.ToArray());

    public static AbiType Tuple(params IEnumerable<AbiType> components) =>
        Tuple(components.Select((t, i) => new AbiParameter("", t)));

    /// <summary>
    /// Parses a canonical type: an elementary type ("uint" and "int" mean 256 bits), a parenthesised
    /// tuple, each optionally followed by any number of "[]" or "[k]".
    /// </summary>
    public static AbiType Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int position = 0;
        var type = ParseAt(text, ref position, 0);
        if (position != text.Length)
        {
            throw new AbiException($"'{text}' is not an ABI type: unexpected '{text[position..]}'");
        }
        return type;
    }

    /// <summary>Applies the array suffixes of <paramref name="suffix"/> ("[]", "[3][]") to <paramref name="element"/>.</summary>
    public static AbiType WithArraySuffix(AbiType element, string suffix)
    {
        int position = 0;
        var type = ParseSuffixes(suffix, ref position, element);
        if (position != suffix.Length)
        {
            throw new AbiException($"'{suffix}' is not an array suffix");
        }
        return type;
    }

    public override string ToString() => CanonicalName;

    private static AbiType ParseAt(string text, ref int position, int depth)
    {
        if (depth > 32)
        {
            throw new AbiException($"'{text}' nests tuples more than 32 deep");
        }
        AbiType type;
        if (position < text.Length && text[position] == '(')
        {
            position++;
            var components = new List<AbiType>();
            if (position < text.Length && text[position] == ')')
            {
                position++;
            }
            else
            {
                while (true)
                {
                    components.Add(ParseAt(text, ref position, depth + 1));
                    if (position >= text.Length)
                    {
                        throw new AbiException($"'{text}' is not an ABI type: unclosed tuple");
                    }
                    char c = text[position++];
                    if (c == ')')
                    {
                        break;
                    }
                    if (c != ',')
                    {
                        throw new AbiException($"'{text}' is not an ABI type: expected ',' or ')' at {position - 1}");
                    }
                }
            }
            type = Tuple(components);
        }
        else
        {
            int start = position;
            while (position < text.Length && char.IsAsciiLetterOrDigit(text[position]))
            {
                position++;
            }
            type = Elementary(text[start..position], text);
        }
        return ParseSuffixes(text, ref position, type);
    }

    private static AbiType ParseSuffixes(string text, ref int position, AbiType type)
    {
        while (position < text.Length && text[position] == '[')
        {
            int close = text.IndexOf(']', position);
            if (close < 0)
            {
                throw new AbiException($"'{text}' is not an ABI type: unclosed '['");
            }
            string inner = text[(position + 1)..close];
            if (inner.Length == 0)
            {
                type = ArrayOf(type);
            }
            else if ((inner == "0" || inner[0] != '0') && int.TryParse(inner, System.Globalization.NumberStyles.None, null, out int length))
            {
                type = FixedArrayOf(type, length);
            }
            else
            {
                throw new AbiException($"'{text}' is not an ABI type: bad array length '{inner}'");
            }
            position = close + 1;
        }
        return type;
    }

    private static AbiType Elementary(string name, string text)
    {
        switch (name)
        {
            case "address":
                return AddressType;
            case "bool":
                return BoolType;
            case "string":
                return StringType;
            case "bytes":
                return BytesType;
            case "uint":
                return UInt256;
            case "int":
                return Int(256);
        }
        if (name.StartsWith("uint", StringComparison.Ordinal) && TryNumber(name[4..], out int ub))
        {
            return UInt(ub);
        }
        if (name.StartsWith("int", StringComparison.Ordinal) && TryNumber(name[3..], out int ib))
        {
            return Int(ib);
        }
        if (name.StartsWith("bytes", StringComparison.Ordinal) && TryNumber(name[5..], out int size))
        {
            return FixedBytes(size);
        }
        throw new AbiException($"'{text}' is not an ABI type: unknown type '{name}'");
    }

    private static bool TryNumber(string digits, out int value)
    {
        value = 0;
        if (digits.Length == 0 || digits.Length > 3 || digits[0] == '0')
        {
            return false;
        }
        return int.TryParse(digits, System.Globalization.NumberStyles.None, null, out value);
    }

    private static int CheckBits(int bits) =>
        bits is >= 8 and <= 256 && bits % 8 == 0 ? bits : throw new AbiException($"int/uint width {bits} is not a multiple of 8 in [8, 256]");

    internal static string Describe(IEnumerable<AbiType> types)
    {
        var builder = new StringBuilder("(");
        builder.AppendJoin(',', types.Select(t => t.CanonicalName));
        return builder.Append(')').ToString();
    }
}
