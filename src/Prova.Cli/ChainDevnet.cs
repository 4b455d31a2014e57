using System.Numerics;
using Prova.Core.Crypto;
using Prova.Core.Keys;
using Prova.Evm.Devnet;
using Prova.Node.Settlement;

namespace Prova.Cli;

/// <summary>
/// The chain part of a devnet (<c>prova devnet up --chain</c>, <c>prova demo</c>): starts anvil, deploys the
/// Prova contracts (<see cref="ChainDeployer"/>), writes &lt;devnet&gt;/deployment.json, and gives every node
/// <c>--chain URL --deployment FILE</c> after funding its address with 100 ETH; each node then registers and
/// stakes the registry's minimum by itself (docs/settlement-node.md).
/// <code>
/// var chain = new ChainDevnet();
/// await using var devnet = await Devnet.StartAsync(new DevnetOptions { Components = [chain] });
/// await chain.WaitForNodesAsync(devnet.Nodes.Select(n => n.Address), TimeSpan.FromSeconds(60));
/// </code>
/// </summary>
public sealed class ChainDevnet : IDevnetComponent
{
    public static readonly BigInteger NodeFunding = 100 * SettlementParameters.Ether;

    private readonly SettlementParameters _parameters;
    private Anvil? _anvil;

    public ChainDevnet(SettlementParameters? parameters = null)
    {
        _parameters = parameters ?? new SettlementParameters();
    }

    public string Name => "chain";

    /// <summary>Milliseconds between the nodes' receipt batches (<c>--batch-interval</c>); null keeps the node default (10 s).</summary>
    public int? BatchIntervalMs { get; init; }

    /// <summary>Milliseconds between the nodes' reads of chain events (<c>--chain-poll</c>); null keeps the node default (1 s).</summary>
    public int? ChainPollMs { get; init; }

    public SettlementParameters Parameters => _parameters;

    /// <summary>The running anvil (dev keys 0–9 are funded; key 0 deployed the contracts).</summary>
    public Anvil Anvil => _anvil ?? throw new InvalidOperationException("the chain has not started");

    public Deployment Deployment { get; private set; } = null!;

    public string DeploymentPath { get; private set; } = "";

    public async Task StartAsync(DevnetContext context, CancellationToken cancellationToken)
    {
        try
        {
            _anvil = await Anvil.StartAsync(new AnvilOptions(), cancellationToken);
        }
        catch (AnvilException ex)
        {
            throw new CliException($"cannot start the devnet chain: {ex.Message} (run scripts/setup.sh, or set {Anvil.BinaryVariable})", ex);
        }
        Deployment = await ChainDeployer.DeployAsync(_anvil.Account(0), _parameters, cancellationToken);
        DeploymentPath = Path.Combine(context.Directory, "deployment.json");
        Deployment.Save(DeploymentPath);
        context.Options.Log?.Invoke($"chain: anvil at {_anvil.Url} (chain {_anvil.ChainId}); contracts deployed, {DeploymentPath}");
    }

    public void ConfigureNode(DevnetNodeSpec node)
    {
        // The devnet created the node's key already; fund its address before the node starts.
        var address = KeyStore.ReadAddress(KeyStore.NodeKeyPath(node.DataDir));
        Anvil.SetBalanceAsync(address, NodeFunding).GetAwaiter().GetResult();
        node.Arguments.AddRange(["--chain", Anvil.Url.AbsoluteUri.TrimEnd('/'), "--deployment", DeploymentPath]);
        if (BatchIntervalMs is { } batch)
        {
            node.Arguments.AddRange(["--batch-interval", batch.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        }
        if (ChainPollMs is { } poll)
        {
            node.Arguments.AddRange(["--chain-poll", poll.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        }
    }

    /// <summary>Waits until every node is registered and active (staked) on NodeRegistry.</summary>
    public async Task WaitForNodesAsync(IEnumerable<Address> nodes, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        using var chain = new SettlementChain(Anvil.Client, Anvil.DevKeys[0], Deployment);
        var deadline = DateTime.UtcNow + timeout;
        foreach (var node in nodes)
        {
            while (!await chain.IsActiveAsync(node))
            {
                if (DateTime.UtcNow > deadline)
                {
                    throw new CliException($"node {node} did not register and stake on chain within {timeout.TotalSeconds:0} s");
                }
                await Task.Delay(100, cancellationToken);
            }
        }
    }

    public ValueTask DisposeAsync()
    {
        _anvil?.Dispose();
        _anvil = null;
        return ValueTask.CompletedTask;
    }
}
