using System.Numerics;
using Prova.Core.Crypto;

namespace Prova.Evm.Abi;

/// <summary>A contract function: its signature "name(types)", 4-byte selector and argument/return codecs.</summary>
public sealed class AbiFunction
{
    public AbiFunction(string name, IReadOnlyList<AbiParameter> inputs, IReadOnlyList<AbiParameter> outputs, string stateMutability = "nonpayable")
    {
        Name = name;
        Inputs = inputs;
        Outputs = outputs;
        StateMutability = stateMutability;
        Signature = name + AbiType.Describe(inputs.Select(p => p.Type));
        Selector = Keccak256.Hash(Signature).ToArray()[..4];
    }

    /// <summary>Parses "name(type,…)" (no return types), e.g. "transfer(address,uint256)".</summary>
    public static AbiFunction Parse(string signature, params IEnumerable<AbiType> outputs)
    {
        int open = signature.IndexOf('(');
        if (open <= 0 || !signature.EndsWith(')'))
        {
            throw new AbiException($"'{signature}' is not a function signature: expected name(type,…)");
        }
        var tuple = AbiType.Parse(signature[open..]);
        return new AbiFunction(signature[..open], tuple.Components, outputs.Select(t => new AbiParameter("", t)).ToArray());
    }

    public string Name { get; }

    public IReadOnlyList<AbiParameter> Inputs { get; }

    public IReadOnlyList<AbiParameter> Outputs { get; }

    /// <summary>"pure", "view", "nonpayable" or "payable".</summary>
    public string StateMutability { get; }

    public bool IsReadOnly => StateMutability is "view" or "pure";

    public string Signature { get; }

    public byte[] Selector { get; }

    /// <summary>Selector ‖ ABI-encoded arguments: the calldata of a call.</summary>
    public byte[] EncodeCall(params IReadOnlyList<object?> arguments)
    {
        byte[] encoded = AbiCodec.Encode(Inputs.Select(p => p.Type).ToArray(), arguments);
        return [.. Selector, .. encoded];
    }

    /// <summary>Decodes calldata made by <see cref="EncodeCall"/> (checks the selector).</summary>
    public object?[] DecodeCall(ReadOnlySpan<byte> calldata)
    {
        if (calldata.Length < 4 || !calldata[..4].SequenceEqual(Selector))
        {
            throw new AbiException($"calldata does not start with the selector of {Signature}");
        }
        return AbiCodec.Decode(Inputs.Select(p => p.Type).ToArray(), calldata[4..]);
    }

    public object?[] DecodeOutput(ReadOnlySpan<byte> returnData) =>
        AbiCodec.Decode(Outputs.Select(p => p.Type).ToArray(), returnData);

    public override string ToString() => Signature;
}

/// <summary>A custom error (or the built-in Error(string) / Panic(uint256)).</summary>
public sealed class AbiError
{
    public AbiError(string name, IReadOnlyList<AbiParameter> inputs)
    {
        Name = name;
        Inputs = inputs;
        Signature = name + AbiType.Describe(inputs.Select(p => p.Type));
        Selector = Keccak256.Hash(Signature).ToArray()[..4];
    }

    public static readonly AbiError Error = new("Error", [new AbiParameter("message", AbiType.StringType)]);

    public static readonly AbiError Panic = new("Panic", [new AbiParameter("code", AbiType.UInt256)]);

    public string Name { get; }

    public IReadOnlyList<AbiParameter> Inputs { get; }

    public string Signature { get; }

    public byte[] Selector { get; }

    public byte[] Encode(params IReadOnlyList<object?> arguments) =>
        [.. Selector, .. AbiCodec.Encode(Inputs.Select(p => p.Type).ToArray(), arguments)];

    public object?[] DecodeArguments(ReadOnlySpan<byte> revertData) =>
        AbiCodec.Decode(Inputs.Select(p => p.Type).ToArray(), revertData[4..]);

    public override string ToString() => Signature;
}

/// <summary>An event: topic 0 = keccak256 of its signature (unless anonymous); indexed parameters are topics.</summary>
public sealed class AbiEvent
{
    public AbiEvent(string name, IReadOnlyList<AbiParameter> inputs, bool anonymous = false)
    {
        Name = name;
        Inputs = inputs;
        Anonymous = anonymous;
        Signature = name + AbiType.Describe(inputs.Select(p => p.Type));
        Topic = Keccak256.Hash(Signature);
        if (inputs.Count(p => p.Indexed) > (anonymous ? 4 : 3))
        {
            throw new AbiException($"event {Signature} has more indexed parameters than topics allow");
        }
    }

    public string Name { get; }

    public IReadOnlyList<AbiParameter> Inputs { get; }

    public bool Anonymous { get; }

    public string Signature { get; }

    /// <summary>keccak256(signature): the first topic of every (non-anonymous) log of this event.</summary>
    public Hash256 Topic { get; }

    /// <summary>
    /// The topic for an indexed parameter's value: the value's 32-byte encoding for value types,
    /// keccak256 of the contents for string/bytes, keccak256 of the in-place encoding for arrays and tuples.
    /// </summary>
    public static Hash256 EncodeTopic(AbiType type, object? value)
    {
        switch (type.Kind)
        {
            case AbiKind.String:
                return Keccak256.Hash(value as string ?? throw new AbiException("an indexed string topic needs a string value"));
            case AbiKind.Bytes:
                return Keccak256.Hash(value as byte[] ?? throw new AbiException("an indexed bytes topic needs a byte[] value"));
            case AbiKind.Array:
            case AbiKind.FixedArray:
            case AbiKind.Tuple:
                return Keccak256.Hash(AbiTopics.EncodeInPlace(type, value));
            default:
                return new Hash256(AbiCodec.Encode(type, value));
        }
    }

    /// <summary>
    /// Decodes a log into one value per input, in declaration order. Indexed value types are decoded
    /// from their topic; indexed string/bytes/arrays/tuples come back as their <see cref="Hash256"/> topic.
    /// </summary>
    public object?[] Decode(IReadOnlyList<Hash256> topics, ReadOnlySpan<byte> data)
    {
        int first = Anonymous ? 0 : 1;
        int indexedCount = Inputs.Count(p => p.Indexed);
        if (!Anonymous && (topics.Count == 0 || topics[0] != Topic))
        {
            throw new AbiException($"log is not a {Signature} event (topic 0 differs)");
        }
        if (topics.Count != first + indexedCount)
        {
            throw new AbiException($"{Signature} logs have {first + indexedCount} topics, this one has {topics.Count}");
        }
        var dataTypes = Inputs.Where(p => !p.Indexed).Select(p => p.Type).ToArray();
        var dataValues = AbiCodec.Decode(dataTypes, data);
        var values = new object?[Inputs.Count];
        int topic = first;
        int dataIndex = 0;
        for (int i = 0; i < Inputs.Count; i++)
        {
            var p = Inputs[i];
            if (!p.Indexed)
            {
                values[i] = dataValues[dataIndex++];
                continue;
            }
            var t = topics[topic++];
            values[i] = p.Type.IsDynamic || p.Type.Kind is AbiKind.FixedArray or AbiKind.Tuple
                ? t
                : AbiCodec.Decode(p.Type, t.ToArray());
        }
        return values;
    }

    public override string ToString() => Signature;
}

internal static class AbiTopics
{
    // Indexed arrays/tuples: the "in-place" encoding (elements padded to 32 bytes, no offsets or lengths).
    public static byte[] EncodeInPlace(AbiType type, object? value)
    {
        using var stream = new MemoryStream();
        Write(stream, type, value);
        return stream.ToArray();
    }

    private static void Write(MemoryStream stream, AbiType type, object? value)
    {
        switch (type.Kind)
        {
            case AbiKind.String:
                Pad(stream, System.Text.Encoding.UTF8.GetBytes(value as string ?? ""));
                break;
            case AbiKind.Bytes:
                Pad(stream, value as byte[] ?? []);
                break;
            case AbiKind.Array:
            case AbiKind.FixedArray:
                foreach (object? item in (System.Collections.IList)value!)
                {
                    Write(stream, type.Element!, item);
                }
                break;
            case AbiKind.Tuple:
                var list = (System.Collections.IList)value!;
                for (int i = 0; i < type.Components.Count; i++)
                {
                    Write(stream, type.Components[i].Type, list[i]);
                }
                break;
            default:
                stream.Write(AbiCodec.Encode(type, value));
                break;
        }
    }

    private static void Pad(MemoryStream stream, byte[] bytes)
    {
        stream.Write(bytes);
        stream.Write(new byte[(32 - bytes.Length % 32) % 32]);
    }
}

public enum RevertKind
{
    /// <summary>Reverted without data (revert(), require without message, out of gas in a call).</summary>
    Empty,

    /// <summary>Error(string): require(cond, "message") or revert("message").</summary>
    Error,

    /// <summary>Panic(uint256): assert, overflow, division by zero, array bounds…</summary>
    Panic,

    /// <summary>A custom error declared in the contract's ABI.</summary>
    Custom,

    /// <summary>Data that matches no known error.</summary>
    Unknown,
}

/// <summary>Why a call reverted, decoded from its revert data.</summary>
public sealed record RevertReason(RevertKind Kind, string Message, byte[] Data, AbiError? Error = null, IReadOnlyList<object?>? Arguments = null)
{
    /// <summary>The Panic code (0x01 assert, 0x11 overflow, 0x12 division by zero, 0x32 out of bounds…), if a panic.</summary>
    public BigInteger? PanicCode => Kind == RevertKind.Panic ? (BigInteger)Arguments![0]! : null;

    /// <summary>The custom error's name (or "Error" / "Panic"), null when empty or unknown.</summary>
    public string? ErrorName => Error?.Name;

    /// <summary>Decodes revert data with Error(string), Panic(uint256) and the given custom errors.</summary>
    public static RevertReason Decode(ReadOnlySpan<byte> data, IEnumerable<AbiError>? customErrors = null)
    {
        byte[] bytes = data.ToArray();
        if (data.Length == 0)
        {
            return new RevertReason(RevertKind.Empty, "reverted without a reason", bytes);
        }
        if (data.Length >= 4)
        {
            var selector = data[..4];
            try
            {
                if (selector.SequenceEqual(AbiError.Error.Selector))
                {
                    var args = AbiError.Error.DecodeArguments(data);
                    return new RevertReason(RevertKind.Error, (string)args[0]!, bytes, AbiError.Error, args);
                }
                if (selector.SequenceEqual(AbiError.Panic.Selector))
                {
                    var args = AbiError.Panic.DecodeArguments(data);
                    var code = (BigInteger)args[0]!;
                    return new RevertReason(RevertKind.Panic, $"panic 0x{code:x2} ({PanicText(code)})", bytes, AbiError.Panic, args);
                }
                foreach (var error in customErrors ?? [])
                {
                    if (selector.SequenceEqual(error.Selector))
                    {
                        var args = error.DecodeArguments(data);
                        return new RevertReason(RevertKind.Custom, error.Name + "(" + string.Join(", ", args.Select(Format)) + ")", bytes, error, args);
                    }
                }
            }
            catch (AbiException)
            {
                // Malformed arguments: fall through to Unknown with the raw data.
            }
        }
        return new RevertReason(RevertKind.Unknown, "reverted with unrecognised data 0x" + Convert.ToHexStringLower(data.Length > 68 ? data[..68] : data) + (data.Length > 68 ? "…" : ""), bytes);
    }

    private static string PanicText(BigInteger code) => (int)(code & 0xff) switch
    {
        0x01 => "assertion failed",
        0x11 => "arithmetic overflow or underflow",
        0x12 => "division or modulo by zero",
        0x21 => "invalid enum value",
        0x22 => "invalid storage byte array",
        0x31 => "pop on an empty array",
        0x32 => "array index out of bounds",
        0x41 => "out of memory",
        0x51 => "call to an uninitialised function",
        _ => "unknown panic code",
    };

    internal static string Format(object? value) => value switch
    {
        byte[] b => "0x" + Convert.ToHexStringLower(b),
        string s => "\"" + s + "\"",
        object?[] a => "[" + string.Join(", ", a.Select(Format)) + "]",
        null => "null",
        _ => value.ToString() ?? "",
    };
}
