using Prova.Core.Crypto;

namespace Prova.Node.Hosting;

/// <summary>
/// A running node on Kestrel: what <c>prova node start</c> and integration tests use.
/// <code>await using var node = await NodeHost.StartAsync(new NodeOptions { DataDir = d, Listen = "127.0.0.1:0" });</code>
/// </summary>
public sealed class NodeHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private NodeHost(WebApplication app, Uri url, Address address)
    {
        _app = app;
        Url = url;
        Address = address;
    }

    /// <summary>The base URL, e.g. http://127.0.0.1:39211/.</summary>
    public Uri Url { get; }

    /// <summary>The node's id (its key's address).</summary>
    public Address Address { get; }

    public IServiceProvider Services => _app.Services;

    /// <summary>The peers this node knows now (docs/network.md).</summary>
    public IReadOnlyList<Network.PeerState> Peers() => Services.GetRequiredService<Network.PeerTable>().Snapshot();

    /// <summary>The CIDs of the models this node hosts (published here or replicated).</summary>
    public IReadOnlyList<Prova.Core.Content.Cid> HostedModels()
    {
        var store = Services.GetRequiredService<Store.ContentStore>();
        return Services.GetRequiredService<Store.ModelCatalog>().HostedModels().Where(m => !store.IsDamaged(m)).ToList();
    }

    /// <summary>Cancelled when an in-process crash-after fault has fired (<see cref="NodeOptions.CrashInProcess"/>).</summary>
    public CancellationToken Crashed => Services.GetRequiredService<Network.FaultInjector>().Crashed;

    /// <summary>Starts a node; bad settings or key problems raise <see cref="Prova.Core.ProvaException"/> subclasses with one clear message.</summary>
    public static async Task<NodeHost> StartAsync(NodeOptions options, LogLevel minimumLogLevel = LogLevel.Information, CancellationToken cancellationToken = default)
    {
        var builder = NodeApp.CreateBuilder([], o => o.CopyFrom(options));
        builder.Logging.SetMinimumLevel(minimumLogLevel);
        var app = NodeApp.Build(builder);
        await app.StartAsync(cancellationToken);
        string url = NodeApp.ListeningUrl(app) ?? throw new NodeStartException("the server started without an address");
        var address = app.Services.GetRequiredService<NodeIdentity>().Address;
        Log.Listening(app.Logger, address, url);
        return new NodeHost(app, new Uri(url.EndsWith('/') ? url : url + "/"), address);
    }

    /// <summary>Completes when the node shuts down (Ctrl+C, SIGTERM or <see cref="StopAsync"/>).</summary>
    public Task WaitForShutdownAsync(CancellationToken cancellationToken = default) => _app.WaitForShutdownAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken = default) => _app.StopAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _app.StopAsync();
        }
        finally
        {
            await _app.DisposeAsync();
        }
    }
}
