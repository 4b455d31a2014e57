using System.Buffers;
using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Json;
using Prova.Core.Content;
using Prova.Core.Crypto;
using Prova.Core.Keys;

namespace Prova.Core.Receipts;

/// <summary>
/// What a node signs for every inference (EIP-712, docs/receipts.md):
/// <code>
/// Receipt(bytes32 model,bytes32 inputHash,bytes32 outputHash,string mode,bytes32 requestId,address node,uint64 timestamp,uint256 chainId)
/// </code>
/// in the Prova domain (name "Prova", version "1", chainId, verifyingContract). <c>model</c> is the
/// model CID's sha2-256 digest; <c>inputHash</c>/<c>outputHash</c> are <see cref="TensorEncoding.Hash(IReadOnlyDictionary{string, Tensor})"/>
/// of the named input and output tensors.
/// </summary>
public sealed record Receipt
{
    public const string PrimaryType = "Receipt";

    /// <summary>The only mode a single node's receipt attests today.</summary>
    public const string AttestedMode = "attested";

    public static IReadOnlyList<Eip712.Field> Fields { get; } =
    [
        new("model", "bytes32"),
        new("inputHash", "bytes32"),
        new("outputHash", "bytes32"),
        new("mode", "string"),
        new("requestId", "bytes32"),
        new("node", "address"),
        new("timestamp", "uint64"),
        new("chainId", "uint256"),
    ];

    /// <summary>The EIP-712 encodeType string of the receipt.</summary>
    public static string TypeString { get; } = Eip712.EncodeType(Types, PrimaryType);

    private static IReadOnlyDictionary<string, IReadOnlyList<Eip712.Field>> Types =>
        new Dictionary<string, IReadOnlyList<Eip712.Field>>(StringComparer.Ordinal) { [PrimaryType] = Fields };

    public required Cid Model { get; init; }

    public required Hash256 InputHash { get; init; }

    public required Hash256 OutputHash { get; init; }

    public string Mode { get; init; } = AttestedMode;

    public required Hash256 RequestId { get; init; }

    /// <summary>The signing node's address (its node id).</summary>
    public Address Node { get; init; }

    /// <summary>Unix time in seconds when the node produced the result.</summary>
    public required ulong Timestamp { get; init; }

    public required BigInteger ChainId { get; init; }

    /// <summary>The domain's verifying contract (the zero address before settlement exists).</summary>
    public Address VerifyingContract { get; init; }

    /// <summary>The node's signature; default until <see cref="SignWith"/>.</summary>
    public Signature Signature { get; init; }

    /// <summary>The hash of named tensors as a receipt carries it (SHA-256 of the canonical encoding).</summary>
    public static Hash256 HashTensors(IReadOnlyDictionary<string, Tensor> tensors) =>
        Hash256.Parse("0x" + TensorEncoding.Hash(tensors));

    /// <summary>The receipt as EIP-712 typed data (what wallets and contracts verify).</summary>
    public Eip712.TypedData ToTypedData()
    {
        var message = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["model"] = Model.Digest,
            ["inputHash"] = InputHash,
            ["outputHash"] = OutputHash,
            ["mode"] = Mode,
            ["requestId"] = RequestId,
            ["node"] = Node,
            ["timestamp"] = Timestamp,
            ["chainId"] = ChainId,
        };
        return Eip712.TypedData.Create(ProvaDomain.Create(ChainId, VerifyingContract), Types, PrimaryType, message);
    }

    public Hash256 SigningHash() => ToTypedData().SigningHash();

    /// <summary>This receipt with <see cref="Node"/> set to the key's address and signed by it.</summary>
    public Receipt SignWith(PrivateKey key)
    {
        var unsigned = this with { Node = key.Address, Signature = default };
        return unsigned with { Signature = key.Sign(unsigned.SigningHash()) };
    }

    /// <summary>
    /// Checks the signature and, for each expectation given, that the receipt matches it. The checks run
    /// in a fixed order (signature, signer, chain, model, mode, request, inputs, outputs); the first failure is returned.
    /// </summary>
    public VerificationResult Verify(
        IReadOnlyDictionary<string, Tensor>? inputs = null,
        IReadOnlyDictionary<string, Tensor>? outputs = null,
        Cid? model = null,
        Address? signer = null,
        BigInteger? chainId = null,
        Hash256? requestId = null,
        string? mode = null)
    {
        Hash256 hash;
        try
        {
            hash = SigningHash();
        }
        catch (CryptoFormatException ex)
        {
            return VerificationResult.Fail(VerificationReason.BadSignature, $"the receipt cannot be encoded: {ex.Message}");
        }
        if (Signature == default || !Secp256k1.TryRecover(hash, Signature, out var recovered))
        {
            return VerificationResult.Fail(VerificationReason.BadSignature, "the signature does not recover to any address");
        }
        if (recovered != Node)
        {
            return VerificationResult.Fail(VerificationReason.BadSignature, $"the signature recovers to {recovered}, not to the receipt's node {Node}: the receipt or its signature was altered");
        }
        if (signer is { } expectedSigner && expectedSigner != Node)
        {
            return VerificationResult.Fail(VerificationReason.SignerMismatch, $"signed by {Node}, expected {expectedSigner}");
        }
        if (chainId is { } expectedChain && expectedChain != ChainId)
        {
            return VerificationResult.Fail(VerificationReason.ChainMismatch, $"receipt is for chain {ChainId}, expected {expectedChain}");
        }
        if (model is { } expectedModel && expectedModel != Model)
        {
            return VerificationResult.Fail(VerificationReason.ModelMismatch, $"receipt is for model {Model}, expected {expectedModel}");
        }
        if (mode is not null && mode != Mode)
        {
            return VerificationResult.Fail(VerificationReason.ModeMismatch, $"receipt mode is '{Mode}', expected '{mode}'");
        }
        if (requestId is { } expectedRequest && expectedRequest != RequestId)
        {
            return VerificationResult.Fail(VerificationReason.RequestMismatch, $"receipt answers request {RequestId}, expected {expectedRequest}");
        }
        if (inputs is not null && HashTensors(inputs) is var inputHash && inputHash != InputHash)
        {
            return VerificationResult.Fail(VerificationReason.InputHashMismatch, $"the inputs hash to {inputHash}, the receipt says {InputHash}");
        }
        if (outputs is not null && HashTensors(outputs) is var outputHash && outputHash != OutputHash)
        {
            return VerificationResult.Fail(VerificationReason.OutputHashMismatch, $"the outputs hash to {outputHash}, the receipt says {OutputHash}");
        }
        return VerificationResult.Valid;
    }

    // ---------------------------------------------------------------- JSON

    /// <summary>Writes the receipt's JSON object (docs/receipts.md).</summary>
    public void WriteJson(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteString("model", Model.ToString());
        writer.WriteString("inputHash", InputHash.ToString());
        writer.WriteString("outputHash", OutputHash.ToString());
        writer.WriteString("mode", Mode);
        writer.WriteString("requestId", RequestId.ToString());
        writer.WriteString("node", Node.ToString());
        writer.WriteNumber("timestamp", Timestamp);
        writer.WriteString("chainId", ChainId.ToString(CultureInfo.InvariantCulture));
        writer.WriteString("verifyingContract", VerifyingContract.ToString());
        writer.WriteString("signature", Signature.ToString());
        writer.WriteEndObject();
    }

    public string ToJson()
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            WriteJson(writer);
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    public static Receipt FromJson(string json)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            return FromJson(document.RootElement);
        }
        catch (JsonException ex)
        {
            throw new ReceiptFormatException($"malformed receipt: invalid JSON: {ex.Message}", ex);
        }
    }

    /// <summary>Reads a receipt object; every missing or ill-typed field is a <see cref="ReceiptFormatException"/> naming it.</summary>
    public static Receipt FromJson(JsonElement json)
    {
        if (json.ValueKind != JsonValueKind.Object)
        {
            throw new ReceiptFormatException($"malformed receipt: expected a JSON object, got {json.ValueKind}");
        }
        try
        {
            return new Receipt
            {
                Model = Cid.Parse(String(json, "model")),
                InputHash = Hash256.Parse(String(json, "inputHash")),
                OutputHash = Hash256.Parse(String(json, "outputHash")),
                Mode = String(json, "mode"),
                RequestId = Hash256.Parse(String(json, "requestId")),
                Node = Address.Parse(String(json, "node")),
                Timestamp = Field(json, "timestamp") is { ValueKind: JsonValueKind.Number } t && t.TryGetUInt64(out ulong ts)
                    ? ts
                    : throw new ReceiptFormatException("malformed receipt: \"timestamp\" must be an unsigned integer (unix seconds)"),
                ChainId = ReadChainId(Field(json, "chainId")),
                VerifyingContract = json.TryGetProperty("verifyingContract", out var vc) && vc.ValueKind == JsonValueKind.String
                    ? Address.Parse(vc.GetString()!)
                    : Address.Zero,
                Signature = Signature.Parse(String(json, "signature")),
            };
        }
        catch (ProvaException ex) when (ex is not ReceiptFormatException)
        {
            throw new ReceiptFormatException($"malformed receipt: {ex.Message}", ex);
        }
    }

    private static BigInteger ReadChainId(JsonElement value)
    {
        string text = value.ValueKind switch
        {
            JsonValueKind.String => value.GetString()!,
            JsonValueKind.Number => value.GetRawText(),
            _ => "",
        };
        if (text.Length is 0 or > 78 || !BigInteger.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var chainId))
        {
            throw new ReceiptFormatException("malformed receipt: \"chainId\" must be a non-negative decimal integer");
        }
        return chainId;
    }

    private static JsonElement Field(JsonElement json, string name) =>
        json.TryGetProperty(name, out var value) ? value : throw new ReceiptFormatException($"malformed receipt: \"{name}\" is missing");

    private static string String(JsonElement json, string name) =>
        Field(json, name) is { ValueKind: JsonValueKind.String } value
            ? value.GetString()!
            : throw new ReceiptFormatException($"malformed receipt: \"{name}\" must be a string");
}
