using Prova.Core.Keys;
using Prova.Node.Hosting;

namespace Prova.Node.Testing;

/// <summary>
/// The test and devnet host's hooks into a node (docs/network.md, "Fault options"): a node that misbehaves on purpose
/// (<see cref="AddFaults"/>) and a cheap key-file cost for throw-away keys (<see cref="AddLightKeystore"/>). They are
/// service registrations, applied by code that starts a node (<see cref="NodeHost.StartAsync(NodeOptions, Action{IServiceCollection}?, LogLevel, CancellationToken)"/>,
/// <see cref="LocalCluster"/>, the devnet's hidden <c>prova devnet faulty-node</c>); no node setting, switch or
/// configuration key reaches them, so <c>prova node start</c> cannot turn them on.
/// <code>await using var liar = await FaultyNode.StartAsync(new NodeOptions { DataDir = d, Listen = "127.0.0.1:0", Key = k }, "corrupt-output");</code>
/// </summary>
public static class FaultyNode
{
    /// <summary>
    /// Makes the node built from <paramref name="services"/> misbehave as <paramref name="faults"/> says. With
    /// <paramref name="crashInProcess"/> a crash-after fault stops only this host (in-process tests) instead of killing the process.
    /// </summary>
    public static IServiceCollection AddFaults(this IServiceCollection services, NodeFaults faults, bool crashInProcess = false)
    {
        if (!faults.Any)
        {
            return services;
        }
        var state = new InferenceFaults(faults, crashInProcess);
        services.AddSingleton(state);
        services.AddSingleton<IStartupFilter>(state);
        services.AddSingleton<IServingSeam>(new FaultySeam(faults));
        return services;
    }

    /// <summary>A key the node creates is written with the light scrypt cost (throw-away keys of tests only).</summary>
    public static IServiceCollection AddLightKeystore(this IServiceCollection services) => services.AddSingleton(KeystoreOptions.Light);

    /// <summary>Starts a node with <paramref name="faults"/> (a spec, see <see cref="NodeFaults"/>; null or empty = an honest node).</summary>
    public static Task<NodeHost> StartAsync(NodeOptions options, string? faults, LogLevel minimumLogLevel = LogLevel.Warning, bool crashInProcess = true) =>
        NodeHost.StartAsync(options, s => s.AddLightKeystore().AddFaults(NodeFaults.Parse(faults), crashInProcess), minimumLogLevel);

    /// <summary>Cancelled once an in-process crash-after fault has fired and the node stopped listening.</summary>
    public static CancellationToken Crashed(this NodeHost node) =>
        node.Services.GetService<InferenceFaults>()?.Crashed ?? CancellationToken.None;
}
