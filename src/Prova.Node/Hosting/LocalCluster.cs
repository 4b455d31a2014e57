using Prova.Core.Keys;
using Prova.Node.Testing;

namespace Prova.Node.Hosting;

/// <summary>
/// Several nodes in this process on 127.0.0.1 with fresh keys and temporary data directories, each
/// seeded with the previous node's URL (a chain), for tests and benchmarks:
/// <code>
/// await using var net = await LocalCluster.StartAsync(4, (_, o) =&gt; o.Replicas = 1, faults: i =&gt; i == 3 ? "corrupt-output" : null);
/// await net.WaitForFullMeshAsync(TimeSpan.FromSeconds(10));
/// </code>
/// Disposing stops every node and deletes the data directories.
/// </summary>
public sealed class LocalCluster : IAsyncDisposable
{
    private readonly List<NodeHost?> _nodes = [];
    private readonly List<string> _dirs = [];

    private LocalCluster()
    {
    }

    /// <summary>The running nodes in start order (stopped ones left out; index them with the indexer).</summary>
    public IReadOnlyList<NodeHost> Nodes => _nodes.OfType<NodeHost>().ToList();

    public NodeHost this[int index] => _nodes[index] ?? throw new InvalidOperationException($"node {index} was stopped");

    public int Count => _nodes.Count;

    /// <summary>
    /// Starts <paramref name="count"/> nodes; <paramref name="configure"/> gets each node's index and options
    /// (defaults: port 0, a fresh in-memory key, gossip every 100 ms, 2 s peer timeout) and <paramref name="faults"/> each
    /// node's faults (a <see cref="NodeFaults"/> spec; null = honest; a crash fault stops only that node).
    /// </summary>
    public static async Task<LocalCluster> StartAsync(int count, Action<int, NodeOptions>? configure = null, LogLevel logLevel = LogLevel.Warning, Func<int, string?>? faults = null)
    {
        var cluster = new LocalCluster();
        try
        {
            for (int i = 0; i < count; i++)
            {
                await cluster.AddAsync(o => configure?.Invoke(i, o), logLevel, faults?.Invoke(i));
            }
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
        return cluster;
    }

    /// <summary>Starts one more node seeded with the last running node's URL (unless <paramref name="configure"/> sets Peers), with <paramref name="faults"/> if given.</summary>
    public async Task<NodeHost> AddAsync(Action<NodeOptions>? configure = null, LogLevel logLevel = LogLevel.Warning, string? faults = null)
    {
        string dir = Directory.CreateTempSubdirectory("prova-cluster-").FullName;
        _dirs.Add(dir);
        var options = new NodeOptions
        {
            DataDir = dir,
            Listen = "127.0.0.1:0",
            Key = PrivateKey.Generate(),
            GossipIntervalMs = 100,
            PeerTimeoutMs = 2000,
        };
        if (_nodes.LastOrDefault(n => n is not null) is { } previous)
        {
            options.Peers = [previous.Url.AbsoluteUri.TrimEnd('/')];
        }
        configure?.Invoke(options);
        var node = await FaultyNode.StartAsync(options, faults, logLevel, crashInProcess: true);
        _nodes.Add(node);
        return node;
    }

    /// <summary>Stops node <paramref name="index"/> (its data directory stays until the cluster is disposed).</summary>
    public async Task StopAsync(int index)
    {
        if (_nodes[index] is { } node)
        {
            _nodes[index] = null;
            await node.DisposeAsync();
        }
    }

    /// <summary>Waits until every running node lists every other running node as a peer.</summary>
    public async Task WaitForFullMeshAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var running = _nodes.OfType<NodeHost>().ToList();
            var addresses = running.Select(n => n.Address).ToHashSet();
            if (running.All(n => n.Peers().Select(p => p.Record.Address).ToHashSet().IsSupersetOf(addresses.Where(a => a != n.Address))))
            {
                return;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"the {running.Count} nodes did not all learn of each other within {timeout.TotalSeconds} s");
            }
            await Task.Delay(20);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in _nodes.OfType<NodeHost>())
        {
            try
            {
                await node.DisposeAsync();
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
            }
        }
        _nodes.Clear();
        foreach (string dir in _dirs)
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
