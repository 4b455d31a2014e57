using System.Globalization;
using System.Numerics;
using System.Text.Json;
using Prova.Core.Crypto;

namespace Prova.Evm.Rpc;

/// <summary>Block parameters for JSON-RPC ("latest", "pending", … or a number).</summary>
public static class BlockTag
{
    public const string Latest = "latest";
    public const string Pending = "pending";
    public const string Earliest = "earliest";
    public const string Safe = "safe";
    public const string Finalized = "finalized";

    public static string Number(ulong block) => Quantity.Format(block);
}

/// <summary>A call or transaction to simulate (eth_call, eth_estimateGas).</summary>
public sealed record CallRequest
{
    public Address? From { get; init; }

    /// <summary>Null for contract creation.</summary>
    public Address? To { get; init; }

    public byte[] Data { get; init; } = [];

    public BigInteger Value { get; init; }

    public ulong? Gas { get; init; }
}

/// <summary>An event log from a receipt or eth_getLogs.</summary>
public sealed record Log(Address Address, IReadOnlyList<Hash256> Topics, byte[] Data, ulong BlockNumber, Hash256 BlockHash, Hash256 TransactionHash, ulong LogIndex, bool Removed);

/// <summary>A mined transaction's receipt.</summary>
public sealed record TransactionReceipt(
    Hash256 TransactionHash,
    ulong BlockNumber,
    Hash256 BlockHash,
    Address From,
    Address? To,
    Address? ContractAddress,
    bool Succeeded,
    ulong GasUsed,
    BigInteger EffectiveGasPrice,
    byte TransactionType,
    IReadOnlyList<Log> Logs);

/// <summary>The header fields Prova needs from eth_getBlockByNumber.</summary>
public sealed record BlockHeader(ulong Number, Hash256 Hash, ulong Timestamp, BigInteger? BaseFeePerGas, ulong GasLimit, ulong GasUsed);

/// <summary>eth_getLogs filter. Topics: one entry per position, null = any, several = any of them.</summary>
public sealed record LogFilter
{
    public IReadOnlyList<Address> Addresses { get; init; } = [];

    public IReadOnlyList<IReadOnlyList<Hash256>?> Topics { get; init; } = [];

    public ulong? FromBlock { get; init; }

    public ulong? ToBlock { get; init; }
}

/// <summary>JSON-RPC quantities: "0x"-prefixed hex without leading zeros.</summary>
public static class Quantity
{
    public static string Format(BigInteger value) =>
        value.Sign < 0 ? throw new ArgumentOutOfRangeException(nameof(value), "quantities are non-negative")
        : value.IsZero ? "0x0" : "0x" + value.ToString("x", CultureInfo.InvariantCulture).TrimStart('0');

    public static string Format(ulong value) => "0x" + value.ToString("x", CultureInfo.InvariantCulture);

    public static BigInteger ParseBig(string? text, string what)
    {
        if (text is null || text.Length < 3 || !text.StartsWith("0x", StringComparison.Ordinal) || text.Length > 66)
        {
            throw new FormatException($"{what} is not a hex quantity: '{Shorten(text)}'");
        }
        if (!BigInteger.TryParse("0" + text[2..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value))
        {
            throw new FormatException($"{what} is not a hex quantity: '{Shorten(text)}'");
        }
        return value;
    }

    public static ulong Parse(string? text, string what)
    {
        var value = ParseBig(text, what);
        return value <= ulong.MaxValue ? (ulong)value : throw new FormatException($"{what} does not fit in 64 bits");
    }

    internal static string Shorten(string? text) => text is null ? "null" : text.Length <= 80 ? text : text[..77] + "...";
}

internal static class RpcJson
{
    public static ulong U64(JsonElement e, string name) => Quantity.Parse(Str(e, name), name);

    public static BigInteger Big(JsonElement e, string name) => Quantity.ParseBig(Str(e, name), name);

    public static string Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : throw new FormatException($"missing string field '{name}'");

    public static string? OptStr(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    public static Hash256 Hash(JsonElement e, string name) => Hash256.TryParse(Str(e, name), out var h) ? h : throw new FormatException($"'{name}' is not a 32-byte hash");

    public static Address Addr(JsonElement e, string name) => Address.TryParse(Str(e, name), out var a) ? a : throw new FormatException($"'{name}' is not an address");

    public static Address? OptAddr(JsonElement e, string name) => OptStr(e, name) is { } s ? (Address.TryParse(s, out var a) ? a : throw new FormatException($"'{name}' is not an address")) : null;

    public static byte[] Bytes(string? hex, string name) => Prova.Core.Crypto.Hex.TryDecodeAny(hex ?? "") ?? throw new FormatException($"'{name}' is not 0x-prefixed hex");

    public static Log ParseLog(JsonElement e) => new(
        Addr(e, "address"),
        e.GetProperty("topics").EnumerateArray().Select(t => Hash256.TryParse(t.GetString(), out var h) ? h : throw new FormatException("a log topic is not a 32-byte hash")).ToArray(),
        Bytes(OptStr(e, "data") ?? "0x", "data"),
        U64(e, "blockNumber"),
        Hash(e, "blockHash"),
        Hash(e, "transactionHash"),
        U64(e, "logIndex"),
        e.TryGetProperty("removed", out var r) && r.ValueKind == JsonValueKind.True);

    public static TransactionReceipt ParseReceipt(JsonElement e) => new(
        Hash(e, "transactionHash"),
        U64(e, "blockNumber"),
        Hash(e, "blockHash"),
        Addr(e, "from"),
        OptAddr(e, "to"),
        OptAddr(e, "contractAddress"),
        OptStr(e, "status") is { } status ? Quantity.Parse(status, "status") == 1 : throw new FormatException("receipt has no status (pre-Byzantium chains are not supported)"),
        U64(e, "gasUsed"),
        OptStr(e, "effectiveGasPrice") is { } price ? Quantity.ParseBig(price, "effectiveGasPrice") : BigInteger.Zero,
        OptStr(e, "type") is { } type ? (byte)Quantity.Parse(type, "type") : (byte)0,
        e.TryGetProperty("logs", out var logs) && logs.ValueKind == JsonValueKind.Array ? logs.EnumerateArray().Select(ParseLog).ToArray() : []);

    public static BlockHeader ParseBlock(JsonElement e) => new(
        U64(e, "number"),
        Hash(e, "hash"),
        U64(e, "timestamp"),
        OptStr(e, "baseFeePerGas") is { } fee ? Quantity.ParseBig(fee, "baseFeePerGas") : null,
        U64(e, "gasLimit"),
        U64(e, "gasUsed"));
}
