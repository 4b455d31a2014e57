using System.Text;
using System.Text.Json;
using Prova.Core.Crypto;

namespace Prova.Sdk;

/// <summary>
/// The outcome of a <c>quorum:K</c> chat completion as the answering node reports it in the result's <c>verdict</c>
/// (docs/cli.md, "The result file"): <c>{"agreed": bool, "quorum": K, "outputHash": "0x…", "nodes": [{"node", "outputHash"}…], "failures": […]}</c>.
/// On disagreement <c>verdict.evidence</c> is the quorum's evidence file (<see cref="EvidenceFile"/>, all K receipts):
/// <see cref="Evidence"/>, to be checked with <c>prova verify</c>, which names the node that lied.
/// </summary>
public sealed record QuorumVerdict(bool Agreed, Hash256? OutputHash, IReadOnlyList<EvidenceOutput> Nodes)
{
    public EvidenceFile? Evidence { get; init; }

    /// <summary>K of <c>quorum:K</c>, when the node says it.</summary>
    public int? Quorum { get; init; }

    /// <summary>Why some of the K nodes gave no answer (a quorum that was not reached), as the node reports it.</summary>
    public IReadOnlyList<string> Failures { get; init; } = [];

    public void WriteJson(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteBoolean("agreed", Agreed);
        if (Quorum is { } k)
        {
            writer.WriteNumber("quorum", k);
        }
        if (OutputHash is { } hash)
        {
            writer.WriteString("outputHash", hash.ToString());
        }
        writer.WriteStartArray("nodes");
        foreach (var node in Nodes)
        {
            writer.WriteStartObject();
            writer.WriteString("node", node.Node.ToString());
            writer.WriteString("outputHash", node.OutputHash.ToString());
            writer.WriteEndObject();
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
        var nodes = new List<EvidenceOutput>();
        if (v.TryGetProperty("nodes", out var ns) && ns.ValueKind == JsonValueKind.Array)
        {
            foreach (var n in ns.EnumerateArray())
            {
                if (n.ValueKind != JsonValueKind.Object || !Address.TryParse(Str(n, "node"), out var node) || !Hash256.TryParse(Str(n, "outputHash"), out var signed))
                {
                    throw new EvidenceFormatException($"\"verdict.nodes[{nodes.Count}]\" is not {{\"node\": \"0x…\", \"outputHash\": \"0x…\"}}");
                }
                nodes.Add(new EvidenceOutput(node, signed));
            }
        }
        int? quorum = v.TryGetProperty("quorum", out var q) && q.ValueKind == JsonValueKind.Number && q.TryGetInt32(out int k) ? k : null;
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
        return new QuorumVerdict(agreed.GetBoolean(), hash, nodes) { Evidence = evidence, Failures = failures, Quorum = quorum };
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
