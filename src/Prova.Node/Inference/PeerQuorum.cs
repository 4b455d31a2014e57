using Microsoft.Extensions.Options;
using Prova.Core;
using Prova.Core.Content;
using Prova.Core.Crypto;
using Prova.Core.Network;
using Prova.Node.Hosting;
using Prova.Node.Network;
using Prova.Sdk;

namespace Prova.Node.Inference;

/// <summary>One peer's answer to a quorum request: its signed result, or why it gave none.</summary>
public sealed record PeerAnswer(PeerRecord Peer, Prova.Sdk.InferenceResult? Result, string? Failure)
{
    /// <summary>True when the peer answered with a receipt it signed itself over the inputs sent and the outputs it returned.</summary>
    public bool IsValid => Result is { Verification.IsValid: true } r && r.Receipt.Node == Peer.Address;
}

/// <summary>
/// Asks other nodes to run a request under the same request id and mode (<c>POST /v1/infer</c>), for the
/// <c>quorum:K</c> mode of on-chain requests (SettlementService) and of the OpenAI-compatible routes
/// (docs/verified-chat.md). Candidates are the peers whose signed records list the model, in an order derived
/// from the request id so the load spreads and every node asks the same peers first.
/// </summary>
public sealed class PeerQuorum(PeerTable peers, NodeIdentity identity, IOptions<NodeOptions> options)
{
    private readonly NodeOptions _options = options.Value;

    /// <summary>The peers that host <paramref name="model"/>, this node excluded, in the request's order.</summary>
    public IReadOnlyList<PeerRecord> Candidates(Cid model, Hash256 requestId) =>
        peers.Records()
            .Where(p => p.Address != identity.Address && p.Models.Contains(model))
            .OrderBy(p => Replicator.Rank(requestId, p.Address).ToString(), StringComparer.Ordinal)
            .ToList();

    /// <summary>Runs the request on <paramref name="peer"/>; a peer that cannot be reached or answers malformed gives a failure, not an exception.</summary>
    public async Task<PeerAnswer> AskAsync(PeerRecord peer, Cid model, IReadOnlyDictionary<string, Tensor> inputs, string mode, Hash256 requestId,
        CancellationToken cancellationToken)
    {
        var clientOptions = new ProvaClientOptions { RequestTimeout = TimeSpan.FromSeconds(_options.RequestTimeoutSeconds), ConnectTimeout = TimeSpan.FromSeconds(5) };
        try
        {
            using var client = new ProvaClient(new Uri(peer.Url), clientOptions);
            var result = await client.InferAsync(model, inputs, mode, requestId, cancellationToken).ConfigureAwait(false);
            var answer = new PeerAnswer(peer, result, null);
            return answer.IsValid ? answer : answer with { Failure = $"peer {peer.Address} answered with a receipt that does not verify: {result.Verification.Message}" };
        }
        catch (Exception ex) when (ex is ProvaException or HttpRequestException or UriFormatException || ex is TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return new PeerAnswer(peer, null, $"peer {peer.Address}: {ex.Message}");
        }
    }

    /// <summary>
    /// Collects <paramref name="needed"/> valid answers from distinct candidates, asking <paramref name="needed"/> at a time;
    /// a candidate that fails is replaced by the next one. Returns the valid answers (fewer when the candidates run out) and the failures.
    /// </summary>
    public async Task<(List<PeerAnswer> Answers, List<string> Failures)> GatherAsync(IReadOnlyList<PeerRecord> candidates, int needed, Cid model,
        IReadOnlyDictionary<string, Tensor> inputs, string mode, Hash256 requestId, CancellationToken cancellationToken)
    {
        var answers = new List<PeerAnswer>();
        var failures = new List<string>();
        int next = 0;
        var gate = new object();
        async Task Lane()
        {
            while (true)
            {
                PeerRecord peer;
                lock (gate)
                {
                    if (answers.Count >= needed || next >= candidates.Count)
                    {
                        return;
                    }
                    peer = candidates[next++];
                }
                var answer = await AskAsync(peer, model, inputs, mode, requestId, cancellationToken).ConfigureAwait(false);
                lock (gate)
                {
                    if (answer.IsValid)
                    {
                        answers.Add(answer);
                        return;
                    }
                    failures.Add(answer.Failure!);
                }
            }
        }
        var lanes = new Task[Math.Max(0, needed)];
        for (int i = 0; i < lanes.Length; i++)
        {
            lanes[i] = Lane();
        }
        await Task.WhenAll(lanes).ConfigureAwait(false);
        return (answers, failures);
    }
}
