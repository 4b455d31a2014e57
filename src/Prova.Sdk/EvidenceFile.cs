using System.Buffers;
using System.Text;
using System.Text.Json;
using Prova.Core;
using Prova.Core.Content;
using Prova.Core.Crypto;
using Prova.Core.Receipts;

namespace Prova.Sdk;

/// <summary>One node's claim in an evidence file: the output hash it signed.</summary>
public sealed record EvidenceOutput(Address Node, Hash256 OutputHash);

/// <summary>
/// Evidence that nodes disagreed (docs/devnet.md, "Evidence"): the receipts of a quorum whose members
/// signed different output hashes for the same model, input and request. Written by the SDK and
/// <c>prova infer</c>, checked by <c>prova verify</c>, and meant to become an on-chain challenge:
/// <code>{"kind": "prova-evidence/v1", "reason": "quorum-disagreement", "model", "inputHash", "inputs": {…}, "receipts": […], "outputs": [{"node", "outputHash"}…]}</code>
/// </summary>
public sealed record EvidenceFile
{
    public const string Kind = "prova-evidence/v1";
    public const string QuorumDisagreement = "quorum-disagreement";

    public string Reason { get; init; } = QuorumDisagreement;
    public required Cid Model { get; init; }
    public required Hash256 InputHash { get; init; }
    public required IReadOnlyDictionary<string, Tensor> Inputs { get; init; }
    public required IReadOnlyList<Receipt> Receipts { get; init; }
    public required IReadOnlyList<EvidenceOutput> Outputs { get; init; }

    /// <summary>Evidence from the answers of one quorum request.</summary>
    public static EvidenceFile FromAnswers(Cid model, IReadOnlyDictionary<string, Tensor> inputs, IReadOnlyList<InferenceResult> answers) => new()
    {
        Model = model,
        InputHash = Receipt.HashTensors(inputs),
        Inputs = inputs,
        Receipts = answers.Select(a => a.Receipt).ToList(),
        Outputs = answers.Select(a => new EvidenceOutput(a.Receipt.Node, a.Receipt.OutputHash)).ToList(),
    };

    /// <summary>True when <paramref name="json"/> is an object whose "kind" is <see cref="Kind"/>.</summary>
    public static bool IsEvidence(byte[] json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json, Json.DocumentOptions);
            return doc.RootElement.ValueKind == JsonValueKind.Object
                && doc.RootElement.TryGetProperty("kind", out var k) && k.ValueKind == JsonValueKind.String && k.GetString() == Kind;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    public byte[] ToJsonBytes()
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            WriteJson(writer);
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Writes the evidence as one JSON object (also nested in a chat result's <c>verdict</c>).</summary>
    public void WriteJson(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteString("kind", Kind);
        writer.WriteString("reason", Reason);
        writer.WriteString("model", Model.ToString());
        writer.WriteString("inputHash", InputHash.ToString());
        writer.WritePropertyName("inputs");
        TensorJson.WriteTensorMap(writer, Inputs);
        writer.WriteStartArray("receipts");
        foreach (var receipt in Receipts)
        {
            receipt.WriteJson(writer);
        }
        writer.WriteEndArray();
        writer.WriteStartArray("outputs");
        foreach (var output in Outputs)
        {
            writer.WriteStartObject();
            writer.WriteString("node", output.Node.ToString());
            writer.WriteString("outputHash", output.OutputHash.ToString());
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    public string ToJson() => Encoding.UTF8.GetString(ToJsonBytes());

    /// <summary>Writes the file atomically (temporary file, fsync, rename).</summary>
    public void Save(string path) => ResultFile.WriteAtomically(path, ToJsonBytes());

    /// <summary>Parses an evidence file; a malformed one is an <see cref="EvidenceFormatException"/> naming the field.</summary>
    public static EvidenceFile Parse(byte[] json)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, Json.DocumentOptions);
        }
        catch (JsonException ex)
        {
            throw new EvidenceFormatException($"not an evidence file: invalid JSON ({ex.Message})");
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new EvidenceFormatException($"not an evidence file: expected a JSON object, got {root.ValueKind}");
            }
            if (Str(root, "kind") != Kind)
            {
                throw new EvidenceFormatException($"not an evidence file: \"kind\" is not \"{Kind}\"");
            }
            string reason = Str(root, "reason") ?? throw new EvidenceFormatException("\"reason\" is missing");
            if (!Cid.TryParse(Str(root, "model"), out var model, out string? problem))
            {
                throw new EvidenceFormatException($"\"model\" is missing or not a CID{(problem is null ? "" : ": " + problem)}");
            }
            if (!Hash256.TryParse(Str(root, "inputHash"), out var inputHash))
            {
                throw new EvidenceFormatException("\"inputHash\" is missing or not 0x + 64 hex digits");
            }
            Dictionary<string, Tensor> inputs;
            try
            {
                inputs = TensorJson.ReadNamedTensors(json, "inputs");
            }
            catch (TensorFormatException ex)
            {
                throw new EvidenceFormatException($"the inputs are malformed: {ex.Message}");
            }
            if (!root.TryGetProperty("receipts", out var rs) || rs.ValueKind != JsonValueKind.Array)
            {
                throw new EvidenceFormatException("\"receipts\" is missing or not an array");
            }
            var receipts = new List<Receipt>();
            foreach (var r in rs.EnumerateArray())
            {
                try
                {
                    receipts.Add(Receipt.FromJson(r));
                }
                catch (ReceiptFormatException ex)
                {
                    throw new EvidenceFormatException($"receipt {receipts.Count} is malformed: {ex.Message}");
                }
            }
            if (!root.TryGetProperty("outputs", out var os) || os.ValueKind != JsonValueKind.Array)
            {
                throw new EvidenceFormatException("\"outputs\" is missing or not an array");
            }
            var outputs = new List<EvidenceOutput>();
            foreach (var o in os.EnumerateArray())
            {
                if (o.ValueKind != JsonValueKind.Object || !Address.TryParse(Str(o, "node"), out var node) || !Hash256.TryParse(Str(o, "outputHash"), out var hash))
                {
                    throw new EvidenceFormatException($"outputs[{outputs.Count}] is not {{\"node\": \"0x…\", \"outputHash\": \"0x…\"}}");
                }
                outputs.Add(new EvidenceOutput(node, hash));
            }
            return new EvidenceFile { Reason = reason, Model = model, InputHash = inputHash, Inputs = inputs, Receipts = receipts, Outputs = outputs };
        }
    }

    private static string? Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}

/// <summary>An evidence file cannot be read (not JSON, a field missing or malformed).</summary>
public sealed class EvidenceFormatException : ProvaException
{
    public EvidenceFormatException(string message) : base(message) { }
}
