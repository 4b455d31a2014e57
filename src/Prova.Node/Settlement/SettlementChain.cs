using System.Numerics;
using Prova.Core.Crypto;
using Prova.Core.Keys;
using Prova.Core.Receipts;
using Prova.Evm.Abi;
using Prova.Evm.Rpc;

namespace Prova.Node.Settlement;

/// <summary>A challenge as the ChallengeOpened event announces it.</summary>
public sealed record ChallengeInfo(BigInteger Id, BigInteger BatchId, Address Challenger, Hash256 Model, Hash256 InputHash,
    IReadOnlyList<Address> Accused, IReadOnlyList<Hash256> ClaimedOutputs, ulong Deadline, string InputUri);

/// <summary>Settlement.Verdict, in the contract's order.</summary>
public enum ChallengeVerdict
{
    Pending,
    NodeLied,
    ChallengeFailed,
    Inconclusive,
}

/// <summary>What <c>Settlement.getChallenge</c> says about a challenge now.</summary>
public sealed record ChallengeStatus(BigInteger Id, ChallengeVerdict Verdict, ulong Deadline, IReadOnlyList<Address> Accused, IReadOnlyList<Address> Committee);

/// <summary>An InferenceRequests.InferenceRequested event.</summary>
public sealed record InferenceRequestInfo(Hash256 RequestId, Address Consumer, Hash256 Model, Hash256 InputHash, string Mode,
    BigInteger Fee, byte[] Input, string InputUri, ulong Block);

/// <summary>
/// The node's view of the Prova contracts on one chain: typed calls and transactions from the node's
/// key (docs/settlement-node.md). One instance per node; safe to use from several tasks.
/// </summary>
public sealed class SettlementChain : IDisposable
{
    private readonly bool _ownsClient;

    public SettlementChain(EthClient client, PrivateKey key, Deployment deployment, bool ownsClient = false)
    {
        Client = client;
        Deployment = deployment;
        Account = new EvmAccount(client, key, (ulong)deployment.ChainId);
        _ownsClient = ownsClient;
    }

    public EthClient Client { get; }

    public EvmAccount Account { get; }

    public Deployment Deployment { get; }

    public Address Address => Account.Address;

    public void Dispose()
    {
        if (_ownsClient)
        {
            Client.Dispose();
        }
    }

    // ------------------------------------------------------------ generic

    public async Task<object?[]> CallAsync(ContractArtifact contract, Address at, string function, params object?[] arguments)
    {
        var f = contract.Abi.Function(function);
        byte[] data = await Client.CallAsync(new CallRequest { From = Address, To = at, Data = f.EncodeCall(arguments) }, BlockTag.Latest, contract.Errors).ConfigureAwait(false);
        return f.DecodeOutput(data);
    }

    public Task<TransactionReceipt> SendAsync(ContractArtifact contract, Address at, string function, BigInteger value, CancellationToken cancellationToken, params object?[] arguments) =>
        Account.SendAndWaitAsync(new TransactionRequest
        {
            To = at,
            Data = contract.Abi.Function(function).EncodeCall(arguments),
            Value = value,
            Errors = contract.Errors,
        }, 1, cancellationToken);

    /// <summary>The decoded events <paramref name="eventName"/> of <paramref name="contract"/> in blocks from..to.</summary>
    public async Task<IReadOnlyList<(object?[] Values, Prova.Evm.Rpc.Log Log)>> EventsAsync(ContractArtifact contract, Address at, string eventName, ulong fromBlock, ulong toBlock, CancellationToken cancellationToken = default)
    {
        var e = contract.Abi.Event(eventName);
        var logs = await Client.GetLogsAsync(new LogFilter { Addresses = [at], Topics = [[e.Topic]], FromBlock = fromBlock, ToBlock = toBlock }, cancellationToken).ConfigureAwait(false);
        return [.. logs.Where(l => !l.Removed).Select(l => (e.Decode(l.Topics, l.Data), l))];
    }

    /// <summary>The latest block's number and timestamp (chain time: windows are measured in it).</summary>
    public async Task<(ulong Number, ulong Timestamp)> HeadAsync(CancellationToken cancellationToken = default)
    {
        var block = await Client.GetBlockAsync(BlockTag.Latest, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException("the chain returned no latest block");
        return (block.Number, block.Timestamp);
    }

    // ------------------------------------------------------------ NodeRegistry

    public async Task<bool> IsRegisteredAsync(Address node) =>
        (bool)(await CallAsync(ProvaContracts.NodeRegistry, Deployment.NodeRegistry, "isRegistered", node).ConfigureAwait(false))[0]!;

    public async Task<bool> IsActiveAsync(Address node) =>
        (bool)(await CallAsync(ProvaContracts.NodeRegistry, Deployment.NodeRegistry, "isActive", node).ConfigureAwait(false))[0]!;

    public async Task<BigInteger> StakeOfAsync(Address node) =>
        (BigInteger)(await CallAsync(ProvaContracts.NodeRegistry, Deployment.NodeRegistry, "stakeOf", node).ConfigureAwait(false))[0]!;

    public async Task<BigInteger> MinStakeAsync() =>
        (BigInteger)(await CallAsync(ProvaContracts.NodeRegistry, Deployment.NodeRegistry, "minStake").ConfigureAwait(false))[0]!;

    public Task<TransactionReceipt> RegisterAsync(string endpoint, IReadOnlyList<Hash256> models, BigInteger stake, CancellationToken cancellationToken = default) =>
        SendAsync(ProvaContracts.NodeRegistry, Deployment.NodeRegistry, "register", stake, cancellationToken, endpoint, models.Select(m => (object?)m.ToArray()).ToArray());

    public Task<TransactionReceipt> SetModelsAsync(IReadOnlyList<Hash256> models, CancellationToken cancellationToken = default) =>
        SendAsync(ProvaContracts.NodeRegistry, Deployment.NodeRegistry, "setModels", 0, cancellationToken, [models.Select(m => (object?)m.ToArray()).ToArray()]);

    public Task<TransactionReceipt> AddStakeAsync(BigInteger amount, CancellationToken cancellationToken = default) =>
        SendAsync(ProvaContracts.NodeRegistry, Deployment.NodeRegistry, "addStake", amount, cancellationToken);

    // ------------------------------------------------------------ Settlement

    public async Task<ulong> ChallengeWindowAsync() =>
        (ulong)(BigInteger)(await CallAsync(ProvaContracts.Settlement, Deployment.Settlement, "challengeWindow").ConfigureAwait(false))[0]!;

    public async Task<BigInteger> ChallengeBondAsync() =>
        (BigInteger)(await CallAsync(ProvaContracts.Settlement, Deployment.Settlement, "challengeBond").ConfigureAwait(false))[0]!;

    /// <summary>Posts a batch root (with a client's voucher, or none); returns the on-chain batch id.</summary>
    public async Task<(BigInteger BatchId, TransactionReceipt Receipt)> PostBatchAsync(Hash256 root, int count, Voucher? voucher, CancellationToken cancellationToken = default)
    {
        var receipt = await SendAsync(ProvaContracts.Settlement, Deployment.Settlement, "postBatch", 0, cancellationToken,
            root.ToArray(), (uint)count, voucher?.Client ?? Address.Zero, voucher?.Cumulative ?? BigInteger.Zero,
            voucher is null ? Array.Empty<byte>() : voucher.Signature.ToArray()).ConfigureAwait(false);
        var posted = ProvaContracts.Settlement.Abi.Event("BatchPosted");
        var log = receipt.Logs.First(l => l.Address == Deployment.Settlement && l.Topics.Count > 0 && l.Topics[0] == posted.Topic);
        return ((BigInteger)posted.Decode(log.Topics, log.Data)[0]!, receipt);
    }

    public Task<TransactionReceipt> CollectFeesAsync(IReadOnlyList<BigInteger> batchIds, CancellationToken cancellationToken = default) =>
        SendAsync(ProvaContracts.Settlement, Deployment.Settlement, "collectFees", 0, cancellationToken, [batchIds.Cast<object?>().ToArray()]);

    /// <summary>Opens a bonded challenge of one batched receipt; returns the challenge id.</summary>
    public async Task<(BigInteger ChallengeId, TransactionReceipt Receipt)> ChallengeAsync(BigInteger batchId, Receipt receipt, IReadOnlyList<Hash256> proof, string inputUri, CancellationToken cancellationToken = default)
    {
        var bond = await ChallengeBondAsync().ConfigureAwait(false);
        var tx = await SendAsync(ProvaContracts.Settlement, Deployment.Settlement, "challenge", bond, cancellationToken,
            batchId, ReceiptTuple(receipt), receipt.Signature.ToArray(), proof.Select(p => (object?)p.ToArray()).ToArray(), inputUri).ConfigureAwait(false);
        return (OpenedChallengeId(tx) ?? throw new InvalidOperationException("challenge mined without a ChallengeOpened event"), tx);
    }

    /// <summary>
    /// Reports two validly signed receipts for one model, input and request id with different outputs
    /// (<c>Settlement.reportConflict</c>, no bond). From two nodes a committee decides which one lied and the
    /// challenge id is returned; from one node it is equivocation, slashed at once, and 0 is returned.
    /// </summary>
    public async Task<(BigInteger ChallengeId, TransactionReceipt Receipt)> ReportConflictAsync(Receipt a, Receipt b, string inputUri, CancellationToken cancellationToken = default)
    {
        var tx = await SendAsync(ProvaContracts.Settlement, Deployment.Settlement, "reportConflict", 0, cancellationToken,
            ReceiptTuple(a), a.Signature.ToArray(), ReceiptTuple(b), b.Signature.ToArray(), inputUri).ConfigureAwait(false);
        return (OpenedChallengeId(tx) ?? BigInteger.Zero, tx);
    }

    public async Task<ChallengeStatus> ChallengeStatusAsync(BigInteger challengeId)
    {
        var c = (object?[])(await CallAsync(ProvaContracts.Settlement, Deployment.Settlement, "getChallenge", challengeId).ConfigureAwait(false))[0]!;
        return new ChallengeStatus(challengeId, (ChallengeVerdict)(int)(BigInteger)c[1]!, (ulong)(BigInteger)c[3]!,
            [.. ((object?[])c[9]!).Cast<Address>()], [.. ((object?[])c[11]!).Cast<Address>()]);
    }

    private BigInteger? OpenedChallengeId(TransactionReceipt tx)
    {
        var opened = ProvaContracts.Settlement.Abi.Event("ChallengeOpened");
        var log = tx.Logs.FirstOrDefault(l => l.Address == Deployment.Settlement && l.Topics.Count > 0 && l.Topics[0] == opened.Topic);
        return log is null ? null : (BigInteger)opened.Decode(log.Topics, log.Data)[0]!;
    }

    public Task<TransactionReceipt> VoteAsync(BigInteger challengeId, Hash256 outputHash, CancellationToken cancellationToken = default) =>
        SendAsync(ProvaContracts.Settlement, Deployment.Settlement, "vote", 0, cancellationToken, challengeId, outputHash.ToArray());

    public Task<TransactionReceipt> ResolveAsync(BigInteger challengeId, CancellationToken cancellationToken = default) =>
        SendAsync(ProvaContracts.Settlement, Deployment.Settlement, "resolve", 0, cancellationToken, challengeId);

    public async Task<IReadOnlyList<Address>> CommitteeOfAsync(BigInteger challengeId) =>
        [.. ((object?[])(await CallAsync(ProvaContracts.Settlement, Deployment.Settlement, "committeeOf", challengeId).ConfigureAwait(false))[0]!).Cast<Address>()];

    public async Task<bool> HasVotedAsync(BigInteger challengeId, Address member) =>
        (bool)(await CallAsync(ProvaContracts.Settlement, Deployment.Settlement, "hasVoted", challengeId, member).ConfigureAwait(false))[0]!;

    public async Task<BigInteger> VoteCountAsync(BigInteger challengeId) =>
        (BigInteger)(await CallAsync(ProvaContracts.Settlement, Deployment.Settlement, "voteCount", challengeId).ConfigureAwait(false))[0]!;

    public async Task<IReadOnlyList<ChallengeInfo>> ChallengesOpenedAsync(ulong fromBlock, ulong toBlock, CancellationToken cancellationToken = default) =>
        [.. (await EventsAsync(ProvaContracts.Settlement, Deployment.Settlement, "ChallengeOpened", fromBlock, toBlock, cancellationToken).ConfigureAwait(false))
            .Select(e => new ChallengeInfo(
                (BigInteger)e.Values[0]!, (BigInteger)e.Values[1]!, (Address)e.Values[2]!,
                new Hash256((byte[])e.Values[4]!), new Hash256((byte[])e.Values[5]!),
                [.. ((object?[])e.Values[6]!).Cast<Address>()],
                [.. ((object?[])e.Values[7]!).Select(o => new Hash256((byte[])o!))],
                (ulong)(BigInteger)e.Values[8]!, (string)e.Values[9]!))];

    // ------------------------------------------------------------ InferenceRequests

    public async Task<IReadOnlyList<InferenceRequestInfo>> InferenceRequestsAsync(ulong fromBlock, ulong toBlock, CancellationToken cancellationToken = default) =>
        [.. (await EventsAsync(ProvaContracts.InferenceRequests, Deployment.InferenceRequests, "InferenceRequested", fromBlock, toBlock, cancellationToken).ConfigureAwait(false))
            .Select(e => new InferenceRequestInfo(
                new Hash256((byte[])e.Values[0]!), (Address)e.Values[1]!, new Hash256((byte[])e.Values[2]!), new Hash256((byte[])e.Values[3]!),
                (string)e.Values[4]!, (BigInteger)e.Values[5]!, (byte[])e.Values[6]!, (string)e.Values[7]!, e.Log.BlockNumber))];

    /// <summary>Fulfils an on-chain request with its receipt(s) (K for <c>quorum:K</c>, signers in ascending address order) and the canonical output bytes.</summary>
    public Task<TransactionReceipt> FulfilAsync(Hash256 requestId, IReadOnlyList<Receipt> receipts, byte[] output, CancellationToken cancellationToken = default) =>
        SendAsync(ProvaContracts.InferenceRequests, Deployment.InferenceRequests, "fulfil", 0, cancellationToken,
            requestId.ToArray(), receipts.Select(r => (object?)ReceiptTuple(r)).ToArray(), receipts.Select(r => (object?)r.Signature.ToArray()).ToArray(), output);

    // ------------------------------------------------------------ helpers

    /// <summary>The receipt as the contracts' <c>ProvaReceipts.Receipt</c> tuple.</summary>
    public static object?[] ReceiptTuple(Receipt r) =>
    [
        r.Model.Digest.ToArray(), r.InputHash.ToArray(), r.OutputHash.ToArray(), r.Mode, r.RequestId.ToArray(), r.Node, r.Timestamp, r.ChainId,
    ];

    /// <summary>The custom error name of a revert (e.g. "BatchUnderChallenge"), or null.</summary>
    public static string? RevertName(Exception ex) => ex switch
    {
        ContractRevertException c => c.Reason.ErrorName,
        TransactionFailedException t => t.Reason?.ErrorName,
        _ => null,
    };
}
