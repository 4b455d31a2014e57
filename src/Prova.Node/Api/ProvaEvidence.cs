using System.Text.Json.Nodes;
using Prova.Core.Content;
using Prova.Core.Receipts;
using Prova.Node.Inference;
using Prova.Sdk;

namespace Prova.Node.Api;

/// <summary>The other nodes' side of a <c>quorum:K</c> generation: their valid answers and why the others gave none.</summary>
internal sealed record QuorumOutcome(int K, IReadOnlyList<PeerAnswer> Answers, IReadOnlyList<string> Failures);

/// <summary>
/// The <c>prova</c> member of an OpenAI-compatible response (docs/verified-chat.md): exactly a result file as
/// <c>prova infer -o</c> writes it (<see cref="ResultFile"/>: the request tensors, the generation's output tensors,
/// their hashes and every receipt), so a client can save it as result.json and run <c>prova verify</c> on it; for
/// <c>quorum:K</c> with a <c>verdict</c> member, which on disagreement holds an <c>evidence</c> member in the
/// <see cref="EvidenceFile"/> format for <c>prova verify</c> and <c>prova challenge</c>.
/// </summary>
internal static class ProvaEvidence
{
    public static JsonObject Build(Cid model, string mode, GenerationOutcome local, QuorumOutcome? quorum)
    {
        var receipts = new List<Receipt> { local.Receipt };
        if (quorum is not null)
        {
            foreach (var a in quorum.Answers)
            {
                receipts.Add(a.Result!.Receipt);
            }
        }
        var file = new ResultFile
        {
            Model = model,
            Mode = mode,
            RequestId = local.Receipt.RequestId,
            Inputs = local.Inputs,
            Outputs = local.Outputs,
            Receipts = receipts,
        };
        var prova = JsonNode.Parse(file.ToJsonBytes())!.AsObject();
        if (quorum is null)
        {
            return prova;
        }
        bool agreed = quorum.Answers.Count == quorum.K - 1;
        var nodes = new JsonArray { Node(local.Receipt) };
        foreach (var a in quorum.Answers)
        {
            agreed &= a.Result!.Receipt.OutputHash == local.Receipt.OutputHash;
            nodes.Add(Node(a.Result.Receipt));
        }
        var verdict = new JsonObject
        {
            ["agreed"] = agreed,
            ["quorum"] = quorum.K,
            ["outputHash"] = local.Receipt.OutputHash.ToString(),
            ["nodes"] = nodes,
        };
        if (quorum.Failures.Count > 0)
        {
            var failures = new JsonArray();
            foreach (var f in quorum.Failures)
            {
                failures.Add(f);
            }
            verdict["failures"] = failures;
        }
        prova["verdict"] = verdict;
        // The result file's own "evidence" holds its receipts; the dispute goes with the verdict.
        if (receipts.Exists(r => r.OutputHash != local.Receipt.OutputHash))
        {
            var evidence = new EvidenceFile
            {
                Model = model,
                InputHash = local.Receipt.InputHash,
                Inputs = local.Inputs,
                Receipts = receipts,
                Outputs = receipts.ConvertAll(r => new EvidenceOutput(r.Node, r.OutputHash)),
            };
            verdict["evidence"] = JsonNode.Parse(evidence.ToJsonBytes());
        }
        return prova;
    }

    private static JsonObject Node(Receipt receipt) => new()
    {
        ["node"] = receipt.Node.ToString(),
        ["outputHash"] = receipt.OutputHash.ToString(),
    };
}
