using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Prova.Core.Content;
using Prova.Core.Crypto;
using Prova.Core.Network;
using Prova.Node.Api;
using Prova.Node.Hosting;
using Prova.Node.Store;

namespace Prova.Node.Network;

/// <summary>A model could not be replicated this time (no peer served what was needed, or the publication was refused).</summary>
public sealed class ReplicationException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Keeps <see cref="NodeOptions.Replicas"/> copies of every model beyond the first (docs/network.md,
/// "Replication"). After each gossip round, for every model a known peer hosts and this node does not,
/// with fewer than R+1 known hosts: the nodes that do not host it (this one and the known peers) are
/// ranked by keccak256(cid digest ‖ address); the first (R+1 − hosts) of them pull it. Every node ranks
/// the same way, so the pullers agree without talking, and a pull in progress does not make others
/// pull too. A pull takes the owner-signed publication and the manifest (checked against the CID) from
/// any host, then each missing chunk from the hosts in turn, verifying it against the manifest before
/// it is stored; a host that serves a bad chunk is skipped for the rest of the transfer.
/// </summary>
public sealed class Replicator : IDisposable
{
    /// <summary>Models pulled at once.</summary>
    public const int MaxConcurrentPulls = 2;

    private static readonly TimeSpan s_maxBackoff = TimeSpan.FromSeconds(30);

    private readonly ContentStore _store;
    private readonly ModelCatalog _catalog;
    private readonly NodeIdentity _identity;
    private readonly PeerClient _client;
    private readonly NodeMetrics _metrics;
    private readonly NodeOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<Replicator> _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<Cid, Task> _pulls = new();
    private readonly ConcurrentDictionary<Cid, (int Failures, DateTimeOffset RetryAt)> _backoff = new();
    private long _replicated;
    private long _badChunks;

    public Replicator(ContentStore store, ModelCatalog catalog, NodeIdentity identity, PeerClient client, NodeMetrics metrics,
        IOptions<NodeOptions> options, TimeProvider time, ILogger<Replicator> logger)
    {
        _store = store;
        _catalog = catalog;
        _identity = identity;
        _client = client;
        _metrics = metrics;
        _options = options.Value;
        _time = time;
        _logger = logger;
    }

    /// <summary>Models this node has pulled and newly published since it started.</summary>
    public long Replicated => Interlocked.Read(ref _replicated);

    /// <summary>Chunks peers served that did not match the manifest (none of them stored).</summary>
    public long BadChunksRefused => Interlocked.Read(ref _badChunks);

    /// <summary>The rank key of <paramref name="node"/> for <paramref name="cid"/>: keccak256(digest ‖ address), lower pulls first.</summary>
    public static Hash256 Rank(Cid cid, Address node) => Rank(cid.Digest, node);

    /// <summary>
    /// The rank key of <paramref name="node"/> for a 32-byte <paramref name="key"/> (a model digest, an on-chain
    /// request id): keccak256(key ‖ address). Every node computes the same order without talking; lower goes first.
    /// </summary>
    public static Hash256 Rank(Hash256 key, Address node) => Keccak256.HashConcat(key.ToArray(), node.ToArray());

    /// <summary>
    /// Whether <paramref name="self"/> is one of the nodes that should pull <paramref name="cid"/>, given
    /// the nodes known to host it and all known nodes (see the class summary).
    /// </summary>
    public static bool ShouldPull(Cid cid, Address self, IReadOnlyCollection<Address> hosts, IEnumerable<Address> known, int replicas)
    {
        if (hosts.Contains(self))
        {
            return false;
        }
        int need = replicas + 1 - hosts.Count;
        if (need <= 0)
        {
            return false;
        }
        return known.Append(self).Distinct().Where(a => !hosts.Contains(a))
            .OrderBy(a => Rank(cid, a).ToString(), StringComparer.Ordinal)
            .Take(need).Contains(self);
    }

    /// <summary>Called after each gossip round with our record and the known peers' records; starts the pulls this node owes.</summary>
    public void Tick(PeerRecord self, IReadOnlyList<PeerRecord> peers)
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }
        Repair(peers);
        if (_options.Replicas == 0)
        {
            return;
        }
        var hosted = self.Models.ToHashSet();
        var known = peers.Select(p => p.Address).ToList();
        var byModel = peers.SelectMany(p => p.Models.Select(m => (Model: m, Peer: p)))
            .Where(x => !hosted.Contains(x.Model))
            .GroupBy(x => x.Model, x => x.Peer);
        var now = _time.GetUtcNow();
        foreach (var group in byModel.OrderBy(g => g.Key.ToString(), StringComparer.Ordinal))
        {
            var cid = group.Key;
            var hosts = group.ToList();
            if (_pulls.ContainsKey(cid) || (_backoff.TryGetValue(cid, out var b) && b.RetryAt > now)
                || !ShouldPull(cid, self.Address, hosts.Select(h => h.Address).ToHashSet(), known, _options.Replicas)
                || _catalog.Find(cid) is not null)
            {
                continue;
            }
            if (_pulls.Count >= MaxConcurrentPulls)
            {
                break;
            }
            // Spread the load: each puller starts with a different host.
            var sources = hosts.OrderBy(h => Rank(cid, h.Address).ToString(), StringComparer.Ordinal).Select(h => h.Url).ToList();
            var task = new Task<Task>(() => PullAndRecordAsync(cid, sources));
            if (_pulls.TryAdd(cid, task.Unwrap()))
            {
                task.Start(TaskScheduler.Default);
            }
        }
    }

    /// <summary>
    /// Self-healing (docs/network.md): a model published here that lost a chunk (found missing or corrupted when read)
    /// is withdrawn from what the node advertises until it is whole again; here its missing chunks are pulled, each
    /// verified against the manifest, from the peers whose records list the model. Same back-off as a replication.
    /// </summary>
    private void Repair(IReadOnlyList<PeerRecord> peers)
    {
        var now = _time.GetUtcNow();
        foreach (var cid in _store.Damaged)
        {
            if (_pulls.Count >= MaxConcurrentPulls)
            {
                break;
            }
            if (_pulls.ContainsKey(cid) || (_backoff.TryGetValue(cid, out var b) && b.RetryAt > now) || _catalog.Find(cid) is null)
            {
                continue;
            }
            var sources = peers.Where(p => p.Models.Contains(cid))
                .OrderBy(p => Rank(cid, p.Address).ToString(), StringComparer.Ordinal).Select(p => p.Url).ToList();
            if (sources.Count == 0)
            {
                continue;
            }
            var task = new Task<Task>(() => PullAndRecordAsync(cid, sources));
            if (_pulls.TryAdd(cid, task.Unwrap()))
            {
                task.Start(TaskScheduler.Default);
            }
        }
    }

    /// <summary>Waits for the pulls in progress (tests).</summary>
    public Task WhenIdleAsync() => Task.WhenAll(_pulls.Values);

    private async Task PullAndRecordAsync(Cid cid, IReadOnlyList<string> sources)
    {
        try
        {
            await PullAsync(cid, sources, _stopping.Token);
            _backoff.TryRemove(cid, out _);
        }
        catch (Exception ex) when (ex is ReplicationException or ApiException or PeerException)
        {
            var failures = _backoff.TryGetValue(cid, out var b) ? b.Failures + 1 : 1;
            var wait = TimeSpan.FromMilliseconds(Math.Min(s_maxBackoff.TotalMilliseconds, _options.GossipIntervalMs * Math.Pow(2, failures)));
            _backoff[cid] = (failures, _time.GetUtcNow() + wait);
            Log.ReplicationFailed(_logger, cid.ToString(), ex.Message);
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            Log.ReplicationFailed(_logger, cid.ToString(), "unexpected: " + ex);
        }
        finally
        {
            _pulls.TryRemove(cid, out _);
        }
    }

    /// <summary>
    /// Pulls <paramref name="cid"/> from <paramref name="sources"/> (base URLs of hosts) and publishes it
    /// here with its owner's signature. Throws <see cref="ReplicationException"/> when it cannot.
    /// </summary>
    public async Task<ModelInfo> PullAsync(Cid cid, IReadOnlyList<string> sources, CancellationToken cancellationToken)
    {
        if (sources.Count == 0)
        {
            throw new ReplicationException($"no peer hosts {cid}");
        }
        Log.Replicating(_logger, cid.ToString(), sources.Count);
        using var pin = _store.Pin(cid);
        var timeout = TimeSpan.FromMilliseconds(Math.Max(_options.PeerTimeoutMs, 1000));
        var publication = await FirstAsync(sources, url => FetchPublicationAsync(url, cid, timeout, cancellationToken), "the publication");
        byte[] manifestBytes = await FirstAsync(sources, url => FetchManifestBytesAsync(url, cid, timeout, cancellationToken), "the manifest");
        var bad = new HashSet<string>(StringComparer.Ordinal);
        int pulled = 0;
        if (BundleManifest.LooksLikeBundle(manifestBytes))
        {
            // A bundle: the manifest names every file's CID; each file is then pulled like a single model.
            BundleManifest bundle;
            try
            {
                bundle = BundleEndpoints.Check(manifestBytes, _options, _store);
            }
            catch (ApiException ex)
            {
                throw new ReplicationException($"bundle {cid} cannot be stored here: {ex.Message}", ex);
            }
            _store.AnnounceBundle(bundle, out _);
            foreach (var file in bundle.Files)
            {
                var fileManifest = await FirstAsync(sources, url => FetchManifestAsync(url, file.Cid, _options.MaxBundleFileBytes, timeout, cancellationToken), $"the manifest of '{file.Path}'");
                if (fileManifest.Size != file.Size)
                {
                    throw new ReplicationException($"'{file.Path}' of {cid} is listed with {file.Size} bytes but its CID names {fileManifest.Size}");
                }
                pulled += await PullChunksAsync(fileManifest, sources, bad, cancellationToken);
            }
        }
        else
        {
            var manifest = Decode(manifestBytes, cid, _options.MaxModelBytes);
            pulled += await PullChunksAsync(manifest, sources, bad, cancellationToken);
        }
        var (info, created) = ModelEndpoints.PublishVerified(publication, _store, _catalog, _identity, _options, _time, _logger);
        if (created)
        {
            Interlocked.Increment(ref _replicated);
            Log.Replicated(_logger, cid.ToString(), info.Name, info.Version, pulled);
        }
        return info;
    }

    /// <summary>Pulls the chunks of <paramref name="manifest"/> this store misses, each verified before it is stored; returns how many.</summary>
    private async Task<int> PullChunksAsync(ModelManifest manifest, IReadOnlyList<string> sources, HashSet<string> bad, CancellationToken cancellationToken)
    {
        var cid = manifest.Cid;
        var status = _store.Announce(manifest, out _);
        var chunkTimeout = TimeSpan.FromSeconds(Math.Max(30, _options.PeerTimeoutMs / 1000.0));
        int pulled = 0;
        foreach (int index in status.Missing)
        {
            cancellationToken.ThrowIfCancellationRequested();
            bool stored = false;
            for (int attempt = 0; attempt < sources.Count && !stored; attempt++)
            {
                string url = sources[(index + attempt) % sources.Count];
                if (bad.Contains(url))
                {
                    continue;
                }
                byte[] bytes;
                try
                {
                    bytes = await _client.GetAsync(url, $"/v1/models/{cid}/chunks/{index}", manifest.ChunkLength(index), chunkTimeout, cancellationToken);
                }
                catch (PeerException)
                {
                    continue;
                }
                if (!manifest.Verify(index, bytes))
                {
                    // Never stored: the store would refuse it too. Skip this peer for the rest of the transfer.
                    bad.Add(url);
                    Interlocked.Increment(ref _badChunks);
                    _metrics.ChunkRejected();
                    Log.BadChunkFromPeer(_logger, url, cid.ToString(), index);
                    continue;
                }
                _store.PutChunk(manifest, index, bytes);
                _metrics.ChunkStored();
                stored = true;
                pulled++;
            }
            if (!stored)
            {
                throw new ReplicationException($"no peer served a good chunk {index} of {cid} ({bad.Count} of {sources.Count} served bad chunks)");
            }
        }
        return pulled;
    }

    private static async Task<T> FirstAsync<T>(IReadOnlyList<string> sources, Func<string, Task<T>> fetch, string what)
    {
        var problems = new List<string>();
        foreach (string url in sources)
        {
            try
            {
                return await fetch(url);
            }
            catch (Exception ex) when (ex is PeerException or ReplicationException)
            {
                problems.Add(ex.Message);
            }
        }
        throw new ReplicationException($"no peer served {what}: {string.Join("; ", problems)}");
    }

    private async Task<ModelEndpoints.PublishRequest> FetchPublicationAsync(string url, Cid cid, TimeSpan timeout, CancellationToken cancellationToken)
    {
        byte[] body = await _client.GetAsync(url, $"/v1/models/{cid}", 256 * 1024, timeout, cancellationToken);
        ModelEndpoints.PublishRequest request;
        try
        {
            using var document = JsonDocument.Parse(body);
            var e = document.RootElement;
            request = new ModelEndpoints.PublishRequest(
                e.GetProperty("cid").GetString()!, e.GetProperty("name").GetString()!, e.GetProperty("version").GetString()!,
                e.GetProperty("description").GetString(), e.GetProperty("license").GetString(), e.GetProperty("owner").GetString()!,
                e.GetProperty("timestamp").GetUInt64(), e.GetProperty("signature").GetString()!);
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or NullReferenceException)
        {
            throw new ReplicationException($"{url} served malformed metadata for {cid}", ex);
        }
        // Check the owner's signature before downloading anything (PublishVerified checks everything again).
        if (request.Cid != cid.ToString() || !Address.TryParse(request.Owner, out var owner) || !Signature.TryParse(request.Signature, out var signature)
            || !new ModelPublication(request.Name, request.Version, cid, owner, request.Timestamp).Verify(signature, _identity.ChainId, _identity.VerifyingContract).IsValid)
        {
            throw new ReplicationException($"{url} served a publication of {cid} that its owner did not sign (for chain {_identity.ChainId})");
        }
        return request;
    }

    private async Task<byte[]> FetchManifestBytesAsync(string url, Cid cid, TimeSpan timeout, CancellationToken cancellationToken)
    {
        byte[] bytes = await _client.GetAsync(url, $"/v1/models/{cid}/manifest", _options.MaxRequestBytes, timeout, cancellationToken);
        if (Cid.ForBytes(bytes) != cid)
        {
            throw new ReplicationException($"{url} served a manifest that does not hash to {cid}");
        }
        return bytes;
    }

    private async Task<ModelManifest> FetchManifestAsync(string url, Cid cid, long maxBytes, TimeSpan timeout, CancellationToken cancellationToken) =>
        Decode(await FetchManifestBytesAsync(url, cid, timeout, cancellationToken), cid, maxBytes);

    private ModelManifest Decode(byte[] bytes, Cid cid, long maxBytes)
    {
        ModelManifest manifest;
        try
        {
            manifest = ModelManifest.Decode(bytes, _options.MaxManifestChunks, _options.MinChunkBytes);
        }
        catch (ContentFormatException ex)
        {
            throw new ReplicationException($"the manifest of {cid} is malformed: {ex.Message}", ex);
        }
        if (manifest.Size > maxBytes || manifest.ChunkSize > _options.MaxChunkBytes)
        {
            throw new ReplicationException($"{cid} ({manifest.Size} bytes, chunks of {manifest.ChunkSize}) is above this node's size limit ({maxBytes}) or MaxChunkBytes");
        }
        return manifest;
    }

    public void Dispose()
    {
        _stopping.Cancel();
        try
        {
            Task.WaitAll([.. _pulls.Values], TimeSpan.FromSeconds(10));
        }
        catch (AggregateException)
        {
        }
        _stopping.Dispose();
    }
}
