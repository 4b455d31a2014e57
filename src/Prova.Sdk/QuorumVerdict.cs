using System.Text;
using System.Text.Json;
using Prova.Core.Crypto;

namespace Prova.Sdk;

/// <summary>
/// The outcome of a <c>quorum:K</c> chat completion as the answering node reports it in the result's <c>verdict</c>
/// (docs/cli.md, "The result file"): <c>{"agreed": bool, "quorum": K, "outputHash": "0x…", "nodes": [{"node", "outputHash"}…], "failures": […]}</c>.
/// On disagreement the node replaces the result's <c>evidence</c> member by the quorum's evidence file
/// (<see cref="EvidenceFile"/>, whose <c>receipts</c> are all K receipts): <see cref="Evidence"/>, to be checked with
/// <c>prova verify</c>, which names the node that lied. A result written by the SDK nests it as <c>verdict.evidence</c>.
/// </summary>
public sealed record QuorumVerdict(bool Agreed, Hash256? OutputHash, IReadOnlyList<string> Nodes)
{
    public EvidenceFile? Evidence { get; init; }

    /// <summary>Why some of the K nodes gave no answer (a quorum that was not reached), as the node reports it.</summary>
    public IReadOnlyList<string> Failures { get; init; } = [];

    public void WriteJson(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteBoolean("agreed", Agreed);
        if (OutputHash is { } hash)
        {
            writer.WriteString("outputHash", hash.ToString());
        }
        writer.WriteStartArray("nodes");
        foreach (var node in Nodes)
        {
            writer.WriteStringValue(node);
        }
        writer.WriteEndArray();
        if (Failures.Count > 0)
        {
            writer.WriteStartArray("failures");
            foreach (var failure in Failures)
            {
                writer.WriteStringValue(failure);
            }
            writer.WriteEndArray();
        }
        if (Evidence is not null)
        {
            writer.WritePropertyName("evidence");
            Evidence.WriteJson(writer);
        }
        writer.WriteEndObject();
    }

    /// <summary>
    /// Reads the <c>verdict</c> of a result object; null when there is none. The evidence of a disagreement is taken from
    /// <c>verdict.evidence</c> or from any other member of the result holding an object of kind <see cref="EvidenceFile.Kind"/>.
    /// Throws <see cref="EvidenceFormatException"/> naming a malformed field.
    /// </summary>
    public static QuorumVerdict? Read(JsonElement result)
    {
        if (!result.TryGetProperty("verdict", out var v) || v.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        if (v.ValueKind != JsonValueKind.Object || !v.TryGetProperty("agreed", out var agreed) || agreed.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
        {
            throw new EvidenceFormatException("\"verdict\" is not {\"agreed\": true|false, …}");
        }
        Hash256? hash = null;
        if (v.TryGetProperty("outputHash", out var h) && h.ValueKind != JsonValueKind.Null)
        {
            hash = h.ValueKind == JsonValueKind.String && Hash256.TryParse(h.GetString(), out var parsed)
                ? parsed
                : throw new EvidenceFormatException("\"verdict.outputHash\" is not 0x + 64 hex digits");
        }
        var nodes = new List<string>();
        if (v.TryGetProperty("nodes", out var ns) && ns.ValueKind == JsonValueKind.Array)
        {
            foreach (var n in ns.EnumerateArray())
            {
                nodes.Add(n.ValueKind switch
                {
                    JsonValueKind.String => n.GetString()!,
                    JsonValueKind.Object when (Str(n, "address") ?? Str(n, "node")) is { } a => a,
                    _ => n.GetRawText(),
                });
            }
        }
        var failures = new List<string>();
        if (v.TryGetProperty("failures", out var fs) && fs.ValueKind == JsonValueKind.Array)
        {
            foreach (var failure in fs.EnumerateArray())
            {
                failures.Add(failure.ValueKind == JsonValueKind.String ? failure.GetString()! : failure.GetRawText());
            }
        }
        var evidence = FindEvidence(v) ?? FindEvidence(result)
            ?? (result.TryGetProperty("evidence", out var e) && e.ValueKind == JsonValueKind.Object ? FindEvidence(e) : null);
        return new QuorumVerdict(agreed.GetBoolean(), hash, nodes) { Evidence = evidence, Failures = failures };
    }

    private static EvidenceFile? FindEvidence(JsonElement parent)
    {
        if (parent.ValueKind != JsonValueKind.Object)
        {
            return null;
        }
        foreach (var p in parent.EnumerateObject())
        {
            if (p.Value.ValueKind == JsonValueKind.Object && Str(p.Value, "kind") == EvidenceFile.Kind)
            {
                return EvidenceFile.Parse(Encoding.UTF8.GetBytes(p.Value.GetRawText()));
            }
        }
        return null;
    }

    private static string? Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
