using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;
using Prova.Core.Network;
using Prova.Node.Hosting;
using Prova.Node.Store;

namespace Prova.Node.Network;

/// <summary>
/// Gossip (docs/network.md): every <see cref="NodeOptions.GossipIntervalMs"/> the node announces its
/// signed record to every known peer and to every seed it does not know yet, verifies and merges the
/// records it gets back, counts failures, drops dead peers, then lets the <see cref="Replicator"/> act.
/// </summary>
public sealed class PeerService : BackgroundService
{
    private readonly NodeIdentity _identity;
    private readonly ModelCatalog _catalog;
    private readonly ContentStore _store;
    private readonly PeerTable _table;
    private readonly PeerClient _client;
    private readonly Replicator _replicator;
    private readonly FaultInjector _faults;
    private readonly NodeOptions _options;
    private readonly TimeProvider _time;
    private readonly IServer _server;
    private readonly ILogger<PeerService> _logger;
    private readonly Lock _selfLock = new();
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private PeerRecord? _self;
    private string? _url;
    private long _rounds;

    public PeerService(NodeIdentity identity, ModelCatalog catalog, ContentStore store, PeerTable table, PeerClient client, Replicator replicator,
        IOptions<NodeOptions> options, TimeProvider time, IServer server, IHostApplicationLifetime lifetime, ILogger<PeerService> logger, FaultInjector faults)
    {
        _faults = faults;
        _identity = identity;
        _catalog = catalog;
        _store = store;
        _table = table;
        _client = client;
        _replicator = replicator;
        _options = options.Value;
        _time = time;
        _server = server;
        _logger = logger;
        lifetime.ApplicationStarted.Register(() => _started.TrySetResult());
    }

    /// <summary>Completed gossip rounds (tests wait on it).</summary>
    public long Rounds => Interlocked.Read(ref _rounds);

    public ulong Now => (ulong)_time.GetUtcNow().ToUnixTimeSeconds();

    /// <summary>The URL this node advertises (PublicUrl, else the address Kestrel listens on); null before start.</summary>
    public string? Url
    {
        get
        {
            if (_url is not null)
            {
                return _url;
            }
            if (_options.PublicUrl is { Length: > 0 } configured)
            {
                return _url = PeerRecord.NormaliseUrl(configured);
            }
            var listening = _server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
            // An in-memory test server has no address: advertise a placeholder (set PublicUrl for a real one).
            return listening is null ? (_started.Task.IsCompleted ? _url = "http://localhost" : null) : _url = PeerRecord.NormaliseUrl(listening);
        }
    }

    /// <summary>Our record, re-signed when the hosted models change or it is a second old.</summary>
    public PeerRecord Self()
    {
        string url = Url ?? throw new InvalidOperationException("the node is not listening yet");
        var models = _catalog.HostedModels().Where(m => !_store.IsDamaged(m)).Take(PeerRecord.MaxModels).ToList();
        ulong now = Now;
        lock (_selfLock)
        {
            if (_self is { } s && s.Timestamp == now && s.Url == url && s.Models.SequenceEqual(models.OrderBy(m => m.ToString(), StringComparer.Ordinal)))
            {
                return s;
            }
            return _self = PeerRecord.Create(_identity.Key, url, models, now);
        }
    }

    /// <summary>Verifies and merges a record that a peer announced to us; throws <see cref="PeerRecordException"/> when it is bad.</summary>
    public void AcceptAnnounce(PeerRecord record)
    {
        record.Verify(Now, _options.PeerRecordMaxAgeSeconds);
        if (record.Address == _identity.Address)
        {
            return;
        }
        if (_table.Offer(record, direct: true, _time.GetUtcNow()) && _logger.IsEnabled(LogLevel.Debug))
        {
            Log.PeerAnnounced(_logger, record.Address, record.Url);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await _started.Task.WaitAsync(stoppingToken);
            if (Url is null)
            {
                return;
            }
            while (!stoppingToken.IsCancellationRequested && !_faults.IsCrashing)
            {
                try
                {
                    await RoundAsync(stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    Log.GossipFailed(_logger, ex);
                }
                Interlocked.Increment(ref _rounds);
                await Task.Delay(TimeSpan.FromMilliseconds(_options.GossipIntervalMs), _time, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>One round: exchange with every known peer and unknown seed at once, expire, replicate.</summary>
    public async Task RoundAsync(CancellationToken cancellationToken)
    {
        var self = Self();
        var known = _table.Snapshot();
        var knownUrls = known.Select(p => p.Record.Url).ToHashSet(StringComparer.Ordinal);
        var seeds = _options.Peers.Select(PeerRecord.NormaliseUrl)
            .Where(u => u != self.Url && !knownUrls.Contains(u)).Distinct(StringComparer.Ordinal);
        var exchanges = known.Select(p => ExchangeAsync(p.Record.Url, p.Record.Address, self, cancellationToken))
            .Concat(seeds.Select(u => ExchangeAsync(u, null, self, cancellationToken)));
        await Task.WhenAll(exchanges);
        foreach (var dropped in _table.Expire(Now))
        {
            Log.PeerDropped(_logger, dropped, "its newest record is too old");
        }
        _replicator.Tick(self, _table.Records());
    }

    private async Task ExchangeAsync(string url, Prova.Core.Crypto.Address? expected, PeerRecord self, CancellationToken cancellationToken)
    {
        PeerList list;
        try
        {
            list = await _client.AnnounceAsync(url, self, cancellationToken);
            list.Self.Verify(Now, _options.PeerRecordMaxAgeSeconds);
            if (expected is { } e && list.Self.Address != e)
            {
                throw new PeerException($"{url} now answers as {list.Self.Address}, not {e}");
            }
        }
        catch (Exception ex) when (ex is PeerException or PeerRecordException)
        {
            if (expected is { } address && _table.Failed(address))
            {
                Log.PeerDropped(_logger, address, $"{_options.PeerMaxFailures} exchanges failed, the last: {ex.Message}");
            }
            return;
        }
        var now = _time.GetUtcNow();
        if (list.Self.Address != _identity.Address)
        {
            _table.Offer(list.Self, direct: true, now);
        }
        foreach (var record in list.Peers)
        {
            if (record.Address == _identity.Address || record.Address == list.Self.Address)
            {
                continue;
            }
            var current = _table.Find(record.Address);
            if (current is not null && current.Record.Timestamp >= record.Timestamp)
            {
                continue;
            }
            try
            {
                record.Verify(Now, _options.PeerRecordMaxAgeSeconds);
            }
            catch (PeerRecordException)
            {
                continue;
            }
            _table.Offer(record, direct: false, now);
        }
    }
}
