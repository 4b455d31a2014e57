using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using Prova.Core;
using Prova.Core.Content;
using Prova.Core.Crypto;
using Prova.Core.Network;
using Prova.Core.Receipts;

namespace Prova.Sdk;

/// <summary>Settings of a <see cref="ProvaNetwork"/>.</summary>
public sealed record ProvaNetworkOptions
{
    /// <summary>Timeout of one inference on one node; past it the node counts as failed and another is tried.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Timeout of metadata calls (peers, node info, model lookups).</summary>
    public TimeSpan MetadataTimeout { get; init; } = TimeSpan.FromSeconds(5);

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>Nodes tried for one attested request (the first plus retries).</summary>
    public int MaxAttempts { get; init; } = 4;

    /// <summary>How long a node that failed is avoided (unless no other node can serve).</summary>
    public TimeSpan FailureCooldown { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Follow GET /v1/peers from the seeds to find the other nodes (otherwise only the seeds are used).</summary>
    public bool Discover { get; init; } = true;

    /// <summary>Peer lists older than this are fetched again before choosing nodes.</summary>
    public TimeSpan RefreshInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Most nodes remembered (a hostile peer list cannot grow the table without bound).</summary>
    public int MaxNodes { get; init; } = 256;
}

/// <summary>What the client knows about one node.</summary>
public sealed class NetworkNode
{
    private int _outstanding;
    private long _served;
    private long _failures;

    internal NetworkNode(Uri url, ProvaClient client)
    {
        Url = url;
        Client = client;
    }

    public Uri Url { get; }

    /// <summary>The node's address (from its signed peer record or GET /v1/node); null until known.</summary>
    public Address? Address { get; internal set; }

    /// <summary>Models the node says it hosts (its signed record); null when it did not say (no /v1/peers).</summary>
    public IReadOnlySet<Cid>? Models { get; internal set; }

    /// <summary>Requests sent and not yet answered.</summary>
    public int Outstanding => Volatile.Read(ref _outstanding);

    public long Served => Interlocked.Read(ref _served);

    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>The node is avoided until then after a failure.</summary>
    public DateTimeOffset FailedUntil { get; internal set; }

    public string? LastError { get; internal set; }

    internal ProvaClient Client { get; }

    internal bool Healthy(DateTimeOffset now) => FailedUntil <= now;

    internal void Begin() => Interlocked.Increment(ref _outstanding);

    internal void End(bool ok)
    {
        Interlocked.Decrement(ref _outstanding);
        Interlocked.Increment(ref ok ? ref _served : ref _failures);
    }

    public override string ToString() => Address is { } a ? $"{a} at {Url}" : Url.ToString();
}

/// <summary>One node's failure during a request, retried elsewhere (or not).</summary>
public sealed record NodeFailure(Uri Node, Address? Address, string Code, string Message);

/// <summary>
/// A verified inference from the network: in <c>attested</c> mode one answer, in <c>quorum:K</c> K
/// answers from K distinct nodes whose receipts all sign the same output hash.
/// </summary>
public sealed record NetworkInferenceResult
{
    public required Cid Model { get; init; }
    public required string Mode { get; init; }
    public required Hash256 RequestId { get; init; }
    public required IReadOnlyDictionary<string, Tensor> Inputs { get; init; }
    public required IReadOnlyDictionary<string, Tensor> Outputs { get; init; }

    /// <summary>The verified answers, one per node.</summary>
    public required IReadOnlyList<InferenceResult> Answers { get; init; }

    /// <summary>Nodes that failed along the way (and were replaced).</summary>
    public IReadOnlyList<NodeFailure> Failures { get; init; } = [];

    public TimeSpan Elapsed { get; init; }

    public Hash256 OutputHash => Answers[0].OutputHash;

    public ResultFile ToResultFile() => new()
    {
        Model = Model,
        Mode = Mode,
        RequestId = RequestId,
        Inputs = Inputs,
        Outputs = Outputs,
        Receipts = Answers.Select(a => a.Receipt).ToList(),
        Proof = Answers.Count == 1 ? Answers[0].Proof : null,
        Node = Answers.Count == 1 ? Answers[0].Node?.ToString() : null,
    };
}

/// <summary>Per-request choices of <see cref="ProvaNetwork.InferAsync"/>.</summary>
public sealed record NetworkInferOptions
{
    /// <summary>The request id (random when null); quorum members all get the same one.</summary>
    public Hash256? RequestId { get; init; }

    /// <summary>Nodes that must be among those asked (e.g. to audit one); they are asked first.</summary>
    public IReadOnlyList<Address> Include { get; init; } = [];

    /// <summary>Nodes never to ask.</summary>
    public IReadOnlyList<Address> Exclude { get; init; } = [];
}

/// <summary>The nodes of a quorum signed different output hashes. <see cref="Evidence"/> holds their receipts.</summary>
public sealed class QuorumDisagreementException : ProvaClientException
{
    public QuorumDisagreementException(string message, EvidenceFile evidence, IReadOnlyList<InferenceResult> answers)
        : base(message, "quorum-disagreement")
    {
        Evidence = evidence;
        Answers = answers;
    }

    public EvidenceFile Evidence { get; }

    public IReadOnlyList<InferenceResult> Answers { get; }
}

/// <summary>
/// A client of the Prova network (docs/sdk.md). It starts from one or more node URLs, discovers the
/// others through their signed peer records (<c>GET /v1/peers</c>), finds the nodes hosting a model,
/// spreads requests over them (fewest outstanding requests first, round robin among equals), retries
/// on another node when one is unreachable, times out, answers 5xx or returns a receipt that does not
/// check out, and verifies every answer it returns. In <c>quorum:K</c> mode K distinct nodes answer the
/// same request id and must sign the same output hash; otherwise <see cref="QuorumDisagreementException"/>
/// carries the evidence.
/// </summary>
public sealed class ProvaNetwork : IDisposable
{
    private readonly ConcurrentDictionary<string, NetworkNode> _nodes = new(StringComparer.Ordinal);
    private readonly List<Uri> _seeds;
    private readonly SemaphoreSlim _refreshLock = new(1, 1);
    private long _lastRefresh;
    private int _roundRobin;
    private bool _refreshed;

    public ProvaNetwork(IEnumerable<Uri> seeds, ProvaNetworkOptions? options = null)
    {
        Options = options ?? new ProvaNetworkOptions();
        if (Options.MaxAttempts < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "MaxAttempts must be at least 1");
        }
        _seeds = seeds.ToList();
        if (_seeds.Count == 0)
        {
            throw new ArgumentException("give at least one node URL", nameof(seeds));
        }
        foreach (var seed in _seeds)
        {
            GetOrAdd(seed);
        }
    }

    public ProvaNetworkOptions Options { get; }

    /// <summary>Every node known so far.</summary>
    public IReadOnlyList<NetworkNode> Nodes => _nodes.Values.OrderBy(n => n.Url.AbsoluteUri, StringComparer.Ordinal).ToList();

    public void Dispose()
    {
        foreach (var node in _nodes.Values)
        {
            node.Client.Dispose();
        }
        _refreshLock.Dispose();
    }

    private NetworkNode? GetOrAdd(Uri url)
    {
        string key = Key(url);
        if (_nodes.TryGetValue(key, out var known))
        {
            return known;
        }
        if (_nodes.Count >= Options.MaxNodes)
        {
            return null;
        }
        return _nodes.GetOrAdd(key, _ => new NetworkNode(new Uri(key), new ProvaClient(new Uri(key), new ProvaClientOptions
        {
            RequestTimeout = Options.RequestTimeout,
            ConnectTimeout = Options.ConnectTimeout,
        })));
    }

    private static string Key(Uri url) => url.GetLeftPart(UriPartial.Authority) + "/";

    // ---------------------------------------------------------------- discovery

    /// <summary>
    /// Asks every known node for its peer list (following newly found nodes a few rounds) and updates
    /// addresses and hosted models. Nodes without <c>/v1/peers</c> are identified through <c>GET /v1/node</c>.
    /// </summary>
    public async Task RefreshAsync(CancellationToken cancellationToken = default)
    {
        await _refreshLock.WaitAsync(cancellationToken);
        try
        {
            var asked = new HashSet<string>(StringComparer.Ordinal);
            for (int round = 0; round < 4; round++)
            {
                var batch = _nodes.Values.Where(n => asked.Add(Key(n.Url))).ToList();
                if (batch.Count == 0)
                {
                    break;
                }
                await Task.WhenAll(batch.Select(n => AskPeersAsync(n, cancellationToken)));
                if (!Options.Discover)
                {
                    break;
                }
            }
            Interlocked.Exchange(ref _lastRefresh, Stopwatch.GetTimestamp());
            _refreshed = true;
        }
        finally
        {
            _refreshLock.Release();
        }
    }

    private async Task AskPeersAsync(NetworkNode node, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Options.MetadataTimeout);
        try
        {
            PeerList list;
            try
            {
                list = await node.Client.GetPeersAsync(timeout.Token);
            }
            catch (ProvaClientException ex) when (ex.Status == 404)
            {
                // A node without peer support: identify it, models unknown (looked up per model).
                var info = await node.Client.GetNodeInfoAsync(timeout.Token);
                node.Address = info.Address;
                return;
            }
            node.Address = list.Self.Address;
            node.Models = list.Self.Models.ToHashSet();
            node.FailedUntil = default;
            if (!Options.Discover)
            {
                return;
            }
            foreach (var peer in list.Peers)
            {
                if (GetOrAdd(new Uri(peer.Url)) is { } other && other.Models is null)
                {
                    // Second-hand until the peer is asked itself.
                    other.Address ??= peer.Address;
                }
            }
        }
        catch (ProvaClientException ex)
        {
            MarkFailed(node, ex.Code, ex.Message);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            MarkFailed(node, "timeout", $"node at {node.Url} did not answer GET /v1/peers within {Options.MetadataTimeout.TotalSeconds:0.#} s");
        }
    }

    private void MarkFailed(NetworkNode node, string code, string message)
    {
        node.FailedUntil = DateTimeOffset.UtcNow + Options.FailureCooldown;
        node.LastError = $"{code}: {message}";
    }

    private async Task EnsureFreshAsync(bool force, CancellationToken cancellationToken)
    {
        long last = Interlocked.Read(ref _lastRefresh);
        if (force || !_refreshed || Stopwatch.GetElapsedTime(last) > Options.RefreshInterval)
        {
            await RefreshAsync(cancellationToken);
        }
    }

    /// <summary>The nodes hosting <paramref name="model"/> (by their signed records, or GET /v1/models/{cid} for nodes that publish none), refreshing stale peer lists first.</summary>
    public async Task<IReadOnlyList<NetworkNode>> FindHostsAsync(Cid model, CancellationToken cancellationToken = default)
    {
        await EnsureFreshAsync(false, cancellationToken);
        return await HostsAsync(model, cancellationToken);
    }

    private async Task<List<NetworkNode>> HostsAsync(Cid model, CancellationToken cancellationToken)
    {
        var hosts = new ConcurrentBag<NetworkNode>();
        await Task.WhenAll(_nodes.Values.Select(async n =>
        {
            if (n.Models is { } models)
            {
                if (models.Contains(model))
                {
                    hosts.Add(n);
                }
                return;
            }
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(Options.MetadataTimeout);
            try
            {
                await n.Client.GetModelAsync(model, timeout.Token);
                n.Address ??= (await n.Client.GetNodeInfoAsync(timeout.Token)).Address;
                hosts.Add(n);
            }
            catch (ProvaClientException)
            {
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
            }
        }));
        return hosts.Where(h => h.Address is not null).ToList();
    }

    // ---------------------------------------------------------------- inference

    /// <summary>
    /// Runs <paramref name="model"/> on the network in <paramref name="mode"/> (<c>attested</c> or <c>quorum:K</c>)
    /// and returns verified answers. Throws <see cref="QuorumDisagreementException"/> when quorum members
    /// disagree, and <see cref="ProvaClientException"/> when not enough nodes could answer.
    /// </summary>
    public async Task<NetworkInferenceResult> InferAsync(Cid model, IReadOnlyDictionary<string, Tensor> inputs, string mode = Receipt.AttestedMode,
        NetworkInferOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new NetworkInferOptions();
        mode = QuorumMode.Normalize(mode);
        int k = QuorumMode.TryParse(mode, out int quorum) ? quorum : 1;
        var start = Stopwatch.GetTimestamp();
        var requestId = options.RequestId ?? new Hash256(RandomNumberGenerator.GetBytes(32));
        var hosts = Usable(await FindHostsAsync(model, cancellationToken), options);
        if (DistinctAddresses(hosts) < k || options.Include.Any(a => hosts.All(h => h.Address != a)))
        {
            // Replication may just have finished: ask again before giving up.
            await EnsureFreshAsync(true, cancellationToken);
            hosts = Usable(await HostsAsync(model, cancellationToken), options);
        }
        foreach (var wanted in options.Include)
        {
            if (hosts.All(h => h.Address != wanted))
            {
                throw new ProvaClientException($"node {wanted} does not host model {model} (or is unknown)", "no-hosts");
            }
        }
        if (hosts.Count == 0)
        {
            throw new ProvaClientException($"no node hosts model {model} (unknown-model on the {_nodes.Count} node(s) known)", "no-hosts");
        }
        if (DistinctAddresses(hosts) < k)
        {
            throw new ProvaClientException($"{mode} needs {k} distinct nodes hosting {model}; only {DistinctAddresses(hosts)} found", "not-enough-nodes");
        }

        var failures = new ConcurrentQueue<NodeFailure>();
        var used = new HashSet<Address>();
        var usedLock = new object();
        int maxTries = k == 1 ? Options.MaxAttempts : hosts.Count;
        int tries = 0;

        NetworkNode? Next()
        {
            lock (usedLock)
            {
                if (tries >= maxTries)
                {
                    return null;
                }
                var candidates = hosts.Where(h => !used.Contains(h.Address!.Value)).ToList();
                if (candidates.Count == 0)
                {
                    return null;
                }
                var forced = candidates.FirstOrDefault(c => options.Include.Contains(c.Address!.Value));
                var chosen = forced ?? Choose(candidates);
                used.Add(chosen.Address!.Value);
                tries++;
                return chosen;
            }
        }

        async Task<InferenceResult?> Member()
        {
            while (Next() is { } node)
            {
                var answer = await TryInferAsync(node, model, inputs, mode, requestId, failures, cancellationToken);
                if (answer is not null)
                {
                    return answer;
                }
            }
            return null;
        }

        var answers = (await Task.WhenAll(Enumerable.Range(0, k).Select(_ => Member()))).Where(a => a is not null).Select(a => a!).ToList();
        var failed = failures.ToList();
        if (answers.Count < k)
        {
            // Every failure (at most MaxAttempts of them for one answer), so the user sees what each node said.
            string why = failed.Count == 0 ? "" : ": " + string.Join("; ", failed.Select(f => $"{f.Node} {f.Code}: {f.Message}"));
            throw new ProvaClientException(k == 1
                ? $"no node could run {model} ({failed.Count} tried){why}"
                : $"{mode}: only {answers.Count} of {k} nodes answered ({failed.Count} failed){why}", "not-enough-nodes");
        }
        var hashes = answers.GroupBy(a => a.OutputHash).OrderByDescending(g => g.Count()).ToList();
        if (hashes.Count > 1)
        {
            var evidence = EvidenceFile.FromAnswers(model, inputs, answers);
            string detail = string.Join("; ", hashes.Select(g => $"{string.Join(", ", g.Select(a => a.Receipt.Node))} signed {g.Key.ToString()[..18]}…"));
            throw new QuorumDisagreementException($"{mode}: the nodes disagree: {detail}", evidence, answers);
        }
        return new NetworkInferenceResult
        {
            Model = model,
            Mode = mode,
            RequestId = requestId,
            Inputs = inputs,
            Outputs = answers[0].Outputs,
            Answers = answers,
            Failures = failed,
            Elapsed = Stopwatch.GetElapsedTime(start),
        };
    }

    private static List<NetworkNode> Usable(IReadOnlyList<NetworkNode> hosts, NetworkInferOptions options) =>
        hosts.Where(h => !options.Exclude.Contains(h.Address!.Value)).ToList();

    private static int DistinctAddresses(IEnumerable<NetworkNode> nodes) => nodes.Select(n => n.Address).Distinct().Count();

    /// <summary>Healthy nodes first, then fewest outstanding requests, then round robin.</summary>
    private NetworkNode Choose(List<NetworkNode> candidates)
    {
        var now = DateTimeOffset.UtcNow;
        int offset = Interlocked.Increment(ref _roundRobin);
        int n = candidates.Count;
        return candidates
            .Select((c, i) => (Node: c, Rank: ((i - offset) % n + n) % n))
            .OrderBy(c => c.Node.Healthy(now) ? 0 : 1)
            .ThenBy(c => c.Node.Outstanding)
            .ThenBy(c => c.Rank)
            .First().Node;
    }

    private async Task<InferenceResult?> TryInferAsync(NetworkNode node, Cid model, IReadOnlyDictionary<string, Tensor> inputs, string mode, Hash256 requestId,
        ConcurrentQueue<NodeFailure> failures, CancellationToken cancellationToken)
    {
        node.Begin();
        bool ok = false;
        try
        {
            var answer = await node.Client.InferAsync(model, inputs, mode, requestId, cancellationToken);
            if (!answer.Verification.IsValid)
            {
                Fail("bad-receipt", $"node {node} sent a receipt that does not check out: {answer.Verification.Message}");
                return null;
            }
            if (answer.ProofCheck is { Valid: false } proofCheck)
            {
                Fail("bad-proof", $"node {node} sent a proof that does not check out: {proofCheck.Message}");
                return null;
            }
            if (node.Address is { } expected && answer.Receipt.Node != expected)
            {
                Fail("bad-receipt", $"node at {node.Url} signed as {answer.Receipt.Node}, its peer record says {expected}");
                return null;
            }
            ok = true;
            return answer;
        }
        catch (ProvaClientException ex) when (Retryable(ex))
        {
            Fail(ex.Code, ex.Message);
            return null;
        }
        finally
        {
            node.End(ok);
        }

        void Fail(string code, string message)
        {
            MarkFailed(node, code, message);
            failures.Enqueue(new NodeFailure(node.Url, node.Address, code, message));
        }
    }

    /// <summary>
    /// Problems of the node (retry elsewhere), as opposed to problems of the request (invalid input: report). 409 is the
    /// node's: it lost a chunk of the model (<c>incomplete-content</c>) and is repairing it, another host can answer.
    /// </summary>
    private static bool Retryable(ProvaClientException ex) => ex.Status switch
    {
        null => ex.Code is not "bad-url",
        >= 500 => true,
        404 or 408 or 409 or 429 => true,
        _ => false,
    };
}
