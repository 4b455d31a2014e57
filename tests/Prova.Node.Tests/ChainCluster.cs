using Microsoft.Extensions.DependencyInjection;
using Prova.Core.Keys;
using Prova.Evm.Devnet;
using Prova.Node.Hosting;
using Prova.Node.Settlement;

namespace Prova.Node.Tests;

/// <summary>
/// A real anvil with Prova's contracts deployed and four real nodes in chain mode, funded, registered and staked; node
/// <c>liar</c> runs with the corrupt-output fault. Batches are flushed by the tests (the interval is an hour).
/// </summary>
internal sealed class ChainCluster : IAsyncDisposable
{
    private ChainCluster(Anvil anvil, SettlementParameters parameters, Deployment deployment, string dir, PrivateKey[] keys, LocalCluster net)
    {
        Anvil = anvil;
        Parameters = parameters;
        Deployment = deployment;
        Dir = dir;
        Keys = keys;
        Net = net;
        Services = [.. Enumerable.Range(0, keys.Length).Select(i => net[i].Services.GetRequiredService<SettlementService>())];
        Http = [.. Enumerable.Range(0, keys.Length).Select(i => new HttpClient { BaseAddress = net[i].Url })];
        Clients = [.. Http.Select(h => new TestClient(h))];
    }

    public Anvil Anvil { get; }
    public SettlementParameters Parameters { get; }
    public Deployment Deployment { get; }
    public string Dir { get; }
    public PrivateKey[] Keys { get; }
    public LocalCluster Net { get; }
    public SettlementService[] Services { get; }
    public HttpClient[] Http { get; }
    public TestClient[] Clients { get; }

    public static async Task<ChainCluster> StartAsync(int liar)
    {
        var anvil = await Anvil.StartAsync();
        var parameters = new SettlementParameters { ChallengeWindow = 300, VotingPeriod = 120, UnbondingDelay = 900, CommitteeSize = 3 };
        var deployment = await ChainDeployer.DeployAsync(anvil.Account(0), parameters);
        string dir = Directory.CreateTempSubdirectory("prova-chain-e2e-").FullName;
        string deploymentPath = Path.Combine(dir, "deployment.json");
        deployment.Save(deploymentPath);
        var keys = Enumerable.Range(0, 4).Select(_ => PrivateKey.Generate()).ToArray();
        foreach (var key in keys)
        {
            await anvil.SetBalanceAsync(key.Address, 10 * SettlementParameters.Ether);
        }
        var net = await LocalCluster.StartAsync(4, (i, o) =>
        {
            o.Key = keys[i];
            o.Deployment = deploymentPath;
            o.ChainPollMs = 100;
            o.BatchIntervalMs = 3_600_000; // batches are flushed by the test
            o.Replicas = 0;
        }, faults: i => i == liar ? "corrupt-output" : null);
        var cluster = new ChainCluster(anvil, parameters, deployment, dir, keys, net);
        await Task.WhenAll(cluster.Services.Select(s => s.Ready)).WaitAsync(TimeSpan.FromSeconds(60));
        return cluster;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var h in Http)
        {
            h.Dispose();
        }
        await Net.DisposeAsync();
        Anvil.Dispose();
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
