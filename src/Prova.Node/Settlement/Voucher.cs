using System.Globalization;
using System.Numerics;
using System.Text.Json;
using Prova.Core.Crypto;
using Prova.Core.Keys;
using Prova.Core.Receipts;

namespace Prova.Node.Settlement;

/// <summary>
/// A client's payment voucher (EIP-712, the Settlement contract's domain):
/// <c>Voucher(address client,address node,uint256 cumulative)</c> — the total the client has authorised
/// <c>node</c> to take from its escrow so far. The node posts the latest one with a batch
/// (<c>Settlement.postBatch</c>) and is paid <c>cumulative − already paid</c> after the challenge window.
/// JSON: <c>{"client": "0x…", "node": "0x…", "cumulative": "1000", "signature": "0x…"}</c>.
/// </summary>
public sealed record Voucher
{
    public const string PrimaryType = "Voucher";

    private static readonly IReadOnlyDictionary<string, IReadOnlyList<Eip712.Field>> s_types =
        new Dictionary<string, IReadOnlyList<Eip712.Field>>(StringComparer.Ordinal)
        {
            [PrimaryType] = [new("client", "address"), new("node", "address"), new("cumulative", "uint256")],
        };

    public required Address Client { get; init; }

    public required Address Node { get; init; }

    public required BigInteger Cumulative { get; init; }

    public Signature Signature { get; init; }

    public Hash256 SigningHash(BigInteger chainId, Address settlement)
    {
        var message = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["client"] = Client,
            ["node"] = Node,
            ["cumulative"] = Cumulative,
        };
        return Eip712.TypedData.Create(ProvaDomain.Create(chainId, settlement), s_types, PrimaryType, message).SigningHash();
    }

    /// <summary>This voucher signed by the client's key (whose address becomes <see cref="Client"/>).</summary>
    public Voucher SignWith(PrivateKey client, BigInteger chainId, Address settlement)
    {
        var unsigned = this with { Client = client.Address, Signature = default };
        return unsigned with { Signature = client.Sign(unsigned.SigningHash(chainId, settlement)) };
    }

    public bool IsSignedByClient(BigInteger chainId, Address settlement) =>
        Signature != default && Secp256k1.TryRecover(SigningHash(chainId, settlement), Signature, out var signer) && signer == Client;

    public string ToJson() => JsonSerializer.Serialize(new Dictionary<string, string>
    {
        ["client"] = Client.ToString(),
        ["node"] = Node.ToString(),
        ["cumulative"] = Cumulative.ToString(CultureInfo.InvariantCulture),
        ["signature"] = Signature.ToString(),
    });

    /// <summary>Reads a voucher; a malformed one is a <see cref="FormatException"/> naming the field.</summary>
    public static Voucher FromJson(JsonElement json)
    {
        if (json.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException("a voucher must be a JSON object");
        }
        string Field(string name) => json.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String
            ? v.GetString()!
            : throw new FormatException($"voucher \"{name}\" must be a string");
        string cumulative = Field("cumulative");
        if (cumulative.Length is 0 or > 78 || !BigInteger.TryParse(cumulative, NumberStyles.None, CultureInfo.InvariantCulture, out var amount)
            || amount >= BigInteger.One << 256)
        {
            throw new FormatException("voucher \"cumulative\" must be a decimal uint256 (wei)");
        }
        return new Voucher
        {
            Client = Address.TryParse(Field("client"), out var client) ? client : throw new FormatException("voucher \"client\" is not an address"),
            Node = Address.TryParse(Field("node"), out var node) ? node : throw new FormatException("voucher \"node\" is not an address"),
            Cumulative = amount,
            Signature = Signature.TryParse(Field("signature"), out var signature) ? signature : throw new FormatException("voucher \"signature\" is not 65 bytes of hex"),
        };
    }
}
