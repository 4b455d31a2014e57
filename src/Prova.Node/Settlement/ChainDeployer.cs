using System.Numerics;
using Prova.Core.Crypto;
using Prova.Evm.Abi;
using Prova.Evm.Rpc;

namespace Prova.Node.Settlement;

/// <summary>The protocol parameters a deployment fixes (docs/settlement.md). Defaults suit a local devnet.</summary>
public sealed record SettlementParameters
{
    public static readonly BigInteger Ether = BigInteger.Pow(10, 18);

    public BigInteger MinStake { get; init; } = Ether;

    /// <summary>Seconds before unbonded stake can be withdrawn; must be ≥ ChallengeWindow + VotingPeriod.</summary>
    public ulong UnbondingDelay { get; init; } = 600;

    /// <summary>Seconds after a batch is posted during which its receipts can be challenged.</summary>
    public ulong ChallengeWindow { get; init; } = 120;

    /// <summary>Seconds the committee has to vote.</summary>
    public ulong VotingPeriod { get; init; } = 60;

    public ulong EscrowWithdrawDelay { get; init; } = 600;

    public BigInteger ChallengeBond { get; init; } = Ether / 100;

    /// <summary>Share (basis points) of a liar's slashable stake taken per proven lie.</summary>
    public ushort SlashBps { get; init; } = 5000;

    public ushort ChallengerBps { get; init; } = 5000;

    public ushort CommitteeBps { get; init; } = 2000;

    public byte CommitteeSize { get; init; } = 3;

    /// <summary>Zero address: the burned share stays locked in Settlement.</summary>
    public Address Treasury { get; init; } = Address.Zero;

    /// <summary>Seconds after which a consumer may cancel an unfulfilled InferenceRequests request.</summary>
    public ulong RequestTimeout { get; init; } = 3600;

    public uint CallbackGasLimit { get; init; } = 500_000;
}

/// <summary>
/// Deploys the Prova contracts in the order their wiring needs: ModelRegistry, NodeRegistry, Settlement(registry),
/// NodeRegistry.setSettlement(settlement), InferenceRequests(registry, models, settlement). Used by
/// <c>prova devnet up</c> and the end-to-end tests.
/// </summary>
public static class ChainDeployer
{
    public static async Task<Deployment> DeployAsync(EvmAccount deployer, SettlementParameters? parameters = null, CancellationToken cancellationToken = default)
    {
        var p = parameters ?? new SettlementParameters();
        var first = await deployer.Client.BlockNumberAsync(cancellationToken).ConfigureAwait(false);
        var models = await DeployAsync(deployer, ProvaContracts.ModelRegistry, [], cancellationToken).ConfigureAwait(false);
        var nodes = await DeployAsync(deployer, ProvaContracts.NodeRegistry, [p.MinStake, p.UnbondingDelay], cancellationToken).ConfigureAwait(false);
        var settlement = await DeployAsync(deployer, ProvaContracts.Settlement,
            [nodes, p.Treasury, p.ChallengeWindow, p.VotingPeriod, p.EscrowWithdrawDelay, p.ChallengeBond, p.SlashBps, p.ChallengerBps, p.CommitteeBps, p.CommitteeSize],
            cancellationToken).ConfigureAwait(false);
        await deployer.SendAndWaitAsync(new TransactionRequest
        {
            To = nodes,
            Data = ProvaContracts.NodeRegistry.Abi.Function("setSettlement").EncodeCall(settlement),
            Errors = ProvaContracts.NodeRegistry.Errors,
        }, 1, cancellationToken).ConfigureAwait(false);
        var requests = await DeployAsync(deployer, ProvaContracts.InferenceRequests,
            [nodes, models, settlement, p.RequestTimeout, p.CallbackGasLimit], cancellationToken).ConfigureAwait(false);
        return new Deployment
        {
            Rpc = deployer.Client.Url.AbsoluteUri.TrimEnd('/'),
            ChainId = deployer.ChainId,
            ModelRegistry = models,
            NodeRegistry = nodes,
            Settlement = settlement,
            InferenceRequests = requests,
            Block = first,
        };
    }

    /// <summary>Deploys one compiled contract with its constructor arguments; returns its address.</summary>
    public static async Task<Address> DeployAsync(EvmAccount deployer, ContractArtifact contract, object?[] arguments, CancellationToken cancellationToken = default)
    {
        var types = contract.Abi.Constructor.Inputs.Select(i => i.Type).ToArray();
        var receipt = await deployer.DeployAsync(contract.Bytecode, AbiCodec.Encode(types, arguments), 0, contract.Errors, cancellationToken).ConfigureAwait(false);
        return receipt.ContractAddress!.Value;
    }
}
