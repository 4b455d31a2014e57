using System.Numerics;
using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using Prova.Core;
using Prova.Core.Content;
using Prova.Core.Crypto;
using Prova.Core.Receipts;
using Prova.Evm;
using Prova.Evm.Rpc;
using Prova.Node.Api;
using Prova.Node.Hosting;
using Prova.Node.Inference;
using Prova.Node.Network;
using Prova.Node.Store;
using Prova.Sdk;
using InferenceResult = Prova.Node.Inference.InferenceResult;

namespace Prova.Node.Settlement;

/// <summary>What the settlement loop did so far (GET /v1/settlement).</summary>
public sealed record SettlementStatus(bool Registered, BigInteger Stake, long Pending, int BatchesPosted, int BatchesCollected,
    BigInteger FeesCollected, int Votes, int Fulfilled, string? LastError);

/// <summary>
/// The node's chain mode (docs/settlement-node.md): registers and stakes at start, then every
/// <see cref="NodeOptions.ChainPollMs"/> it (1) reads new ChallengeOpened events and, when this node is on the
/// committee, re-executes the inference on its own engine and votes, then resolves once every member voted;
/// (2) serves InferenceRequested events for models it hosts (mode "attested"); (3) every
/// <see cref="NodeOptions.BatchIntervalMs"/> posts the Merkle root of the receipts served since the last batch,
/// with the best client voucher it holds; (4) collects the fees of batches whose challenge window passed.
/// </summary>
public sealed class SettlementService : BackgroundService
{
    private readonly NodeOptions _options;
    private readonly SettlementMode _mode;
    private readonly IServiceProvider _services;
    private readonly NodeIdentity _identity;
    private readonly InferenceService _inference;
    private readonly ModelCatalog _catalog;
    private readonly PeerService _peers;
    private readonly PeerQuorum _quorum;
    private readonly ILogger<SettlementService> _logger;
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly HashSet<BigInteger> _voted = [];
    private readonly HashSet<Hash256> _fulfilled = [];
    private readonly Lock _statusLock = new();
    private SettlementChain? _chain;
    private ulong _cursor;
    private ulong _window;
    private long _lastBatchMs;
    private string? _registeredModels;
    private int _votes;
    private int _fulfilledCount;
    private BigInteger _fees;
    private string? _lastError;

    public SettlementService(IOptions<NodeOptions> options, SettlementMode mode, IServiceProvider services, NodeIdentity identity,
        InferenceService inference, ModelCatalog catalog, PeerService peers, PeerQuorum quorum, IHostApplicationLifetime lifetime, ILogger<SettlementService> logger)
    {
        _options = options.Value;
        _mode = mode;
        _services = services;
        _identity = identity;
        _inference = inference;
        _catalog = catalog;
        _peers = peers;
        _quorum = quorum;
        _logger = logger;
        lifetime.ApplicationStarted.Register(() => _started.TrySetResult());
    }

    /// <summary>Completes once the node is registered and staked on chain (or faults with the reason).</summary>
    public Task Ready => _ready.Task;

    public SettlementChain Chain => _chain ?? throw new InvalidOperationException("the settlement service has not connected yet");

    public Deployment Deployment => _mode.Deployment ?? throw new InvalidOperationException("chain mode is off (no --deployment)");

    /// <summary>The node's receipt and batch log.</summary>
    public ReceiptLog Receipts => _services.GetRequiredService<ReceiptLog>();

    /// <summary>Posts the pending receipts now (instead of waiting for the interval); returns the on-chain batch id or null.</summary>
    public async Task<BigInteger?> FlushAsync(CancellationToken cancellationToken = default)
    {
        await _ready.Task.ConfigureAwait(false);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await PostPendingAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Runs one round of the loop now (events, batches, fees).</summary>
    public async Task TickAsync(CancellationToken cancellationToken = default)
    {
        await _ready.Task.ConfigureAwait(false);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await RoundAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    private readonly SemaphoreSlim _gate = new(1, 1);

    public SettlementStatus Status()
    {
        var batches = Receipts.Batches();
        lock (_statusLock)
        {
            return new SettlementStatus(_ready.Task.IsCompletedSuccessfully, BigInteger.Zero, Receipts.PendingCount(),
                batches.Count(b => b.State != BatchState.Built), batches.Count(b => b.State == BatchState.Collected),
                _fees, _votes, _fulfilledCount, _lastError);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!_mode.Enabled)
        {
            _ready.TrySetException(new InvalidOperationException("chain mode is off (no --deployment)"));
            _ = _ready.Task.Exception;
            return;
        }
        try
        {
            await _started.Task.WaitAsync(stoppingToken).ConfigureAwait(false);
            while (true)
            {
                try
                {
                    await ConnectAsync(stoppingToken).ConfigureAwait(false);
                    break;
                }
                catch (NodeStartException)
                {
                    throw;
                }
                catch (Exception ex) when (ex is ProvaException or HttpRequestException or InvalidOperationException)
                {
                    // Not funded yet, or the chain is not up yet: a devnet funds nodes right after they start.
                    lock (_statusLock)
                    {
                        _lastError = ex.Message;
                    }
                    SettlementLog.ConnectFailed(_logger, ex, Deployment.Rpc);
                    _chain?.Dispose();
                    _chain = null;
                    await Task.Delay(1000, stoppingToken).ConfigureAwait(false);
                }
            }
            _ready.TrySetResult();
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            _ready.TrySetCanceled(stoppingToken);
            return;
        }
        catch (NodeStartException ex)
        {
            SettlementLog.ConnectFailed(_logger, ex, Deployment.Rpc);
            _ready.TrySetException(ex);
            return;
        }
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(_options.ChainPollMs));
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await _gate.WaitAsync(stoppingToken).ConfigureAwait(false);
                try
                {
                    await RoundAsync(stoppingToken).ConfigureAwait(false);
                }
                finally
                {
                    _gate.Release();
                }
                await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is ProvaException or HttpRequestException or InvalidOperationException or TimeoutException)
            {
                // The chain may be briefly unreachable; every step is retried next round.
                lock (_statusLock)
                {
                    _lastError = ex.Message;
                }
                SettlementLog.RoundFailed(_logger, ex);
                await Task.Delay(_options.ChainPollMs, stoppingToken).ConfigureAwait(false);
            }
        }
    }

    private async Task ConnectAsync(CancellationToken cancellationToken)
    {
        string rpc = _options.Chain is { Length: > 0 } c ? c : Deployment.Rpc;
        var client = new EthClient(new Uri(rpc), new EthClientOptions { PollInterval = TimeSpan.FromMilliseconds(Math.Min(_options.ChainPollMs, 250)) });
        _chain = new SettlementChain(client, _identity.Key, Deployment, ownsClient: true);
        ulong chainId = await client.ChainIdAsync(cancellationToken).ConfigureAwait(false);
        if (chainId != Deployment.ChainId)
        {
            throw new NodeStartException($"the chain at {rpc} has id {chainId} but the deployment is for chain {Deployment.ChainId}");
        }
        if (_identity.ChainId != Deployment.ChainId || _identity.VerifyingContract != Deployment.Settlement)
        {
            throw new NodeStartException("the node's receipt domain does not match the deployment (chain id and Settlement address)");
        }
        var (head, _) = await _chain.HeadAsync(cancellationToken).ConfigureAwait(false);
        _cursor = Math.Max(Deployment.Block, head > 0 ? head : 0);
        _window = await _chain.ChallengeWindowAsync().ConfigureAwait(false);
        if (!await _chain.IsRegisteredAsync(_identity.Address).ConfigureAwait(false))
        {
            var stake = _options.Stake is { Length: > 0 } s ? BigInteger.Parse(s, System.Globalization.CultureInfo.InvariantCulture) : await _chain.MinStakeAsync().ConfigureAwait(false);
            var models = HostedDigests();
            string url = _peers.Url ?? throw new InvalidOperationException("the node is not listening yet");
            await _chain.RegisterAsync(url, models, stake, cancellationToken).ConfigureAwait(false);
            _registeredModels = Key(models);
            SettlementLog.Registered(_logger, _identity.Address, stake.ToString(System.Globalization.CultureInfo.InvariantCulture), url);
        }
        _lastBatchMs = Environment.TickCount64;
    }

    private async Task RoundAsync(CancellationToken cancellationToken)
    {
        var chain = Chain;
        var (head, now) = await chain.HeadAsync(cancellationToken).ConfigureAwait(false);
        if (head >= _cursor)
        {
            foreach (var challenge in await chain.ChallengesOpenedAsync(_cursor, head, cancellationToken).ConfigureAwait(false))
            {
                await VoteIfMemberAsync(challenge, cancellationToken).ConfigureAwait(false);
            }
            foreach (var request in await chain.InferenceRequestsAsync(_cursor, head, cancellationToken).ConfigureAwait(false))
            {
                await FulfilAsync(request, cancellationToken).ConfigureAwait(false);
            }
            _cursor = head + 1;
        }
        await ResolveVotedAsync(now, cancellationToken).ConfigureAwait(false);
        await UpdateModelsAsync(cancellationToken).ConfigureAwait(false);
        if (Environment.TickCount64 - _lastBatchMs >= _options.BatchIntervalMs)
        {
            await PostPendingAsync(cancellationToken).ConfigureAwait(false);
        }
        await CollectAsync(now, cancellationToken).ConfigureAwait(false);
    }

    private async Task<BigInteger?> PostPendingAsync(CancellationToken cancellationToken)
    {
        _lastBatchMs = Environment.TickCount64;
        Receipts.CreateBatch(_options.MaxBatchReceipts, DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        BigInteger? last = null;
        // Also retries batches whose post failed before.
        foreach (var batch in Receipts.Batches(BatchState.Built))
        {
            var voucher = Receipts.NextVoucher(_identity.Address);
            var (id, receipt) = await Chain.PostBatchAsync(batch.Root, batch.Count, voucher, cancellationToken).ConfigureAwait(false);
            var block = await Chain.Client.GetBlockAsync(BlockTag.Number(receipt.BlockNumber), cancellationToken).ConfigureAwait(false);
            Receipts.MarkPosted(batch.Id, id.ToString(System.Globalization.CultureInfo.InvariantCulture), receipt.TransactionHash.ToString(), (long)(block?.Timestamp ?? 0));
            if (voucher is not null)
            {
                Receipts.MarkVoucherPosted(voucher.Client, voucher.Cumulative);
            }
            SettlementLog.BatchPosted(_logger, id.ToString(System.Globalization.CultureInfo.InvariantCulture), batch.Count, batch.Root, receipt.GasUsed);
            last = id;
        }
        return last;
    }

    private async Task CollectAsync(ulong now, CancellationToken cancellationToken)
    {
        foreach (var batch in Receipts.Batches(BatchState.Posted))
        {
            if (batch.PostedAt is not { } postedAt || (ulong)postedAt + _window > now)
            {
                continue;
            }
            var id = BigInteger.Parse(batch.ChainBatchId!, System.Globalization.CultureInfo.InvariantCulture);
            try
            {
                var receipt = await Chain.CollectFeesAsync([id], cancellationToken).ConfigureAwait(false);
                var collected = ProvaContracts.Settlement.Abi.Event("FeesCollected");
                var fee = receipt.Logs.Where(l => l.Topics.Count > 0 && l.Topics[0] == collected.Topic)
                    .Select(l => (BigInteger)collected.Decode(l.Topics, l.Data)[2]!).Aggregate(BigInteger.Zero, (a, b) => a + b);
                Receipts.MarkCollected(batch.Id, fee.ToString(System.Globalization.CultureInfo.InvariantCulture));
                lock (_statusLock)
                {
                    _fees += fee;
                }
                SettlementLog.FeesCollected(_logger, batch.ChainBatchId!, fee.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
            catch (EvmException ex) when (SettlementChain.RevertName(ex) is "BatchNotOpen")
            {
                // A challenge proved a receipt of this batch false: the fee went back to the client.
                Receipts.MarkCollected(batch.Id, "voided");
            }
            catch (EvmException ex) when (SettlementChain.RevertName(ex) is "BatchUnderChallenge" or "ChallengeWindowOpen")
            {
                // Try again next round.
            }
        }
    }

    private async Task VoteIfMemberAsync(ChallengeInfo challenge, CancellationToken cancellationToken)
    {
        if (_voted.Contains(challenge.Id))
        {
            return;
        }
        var committee = await Chain.CommitteeOfAsync(challenge.Id).ConfigureAwait(false);
        if (!committee.Contains(_identity.Address) || await Chain.HasVotedAsync(challenge.Id, _identity.Address).ConfigureAwait(false))
        {
            return;
        }
        var output = await ReExecuteAsync(challenge, cancellationToken).ConfigureAwait(false);
        try
        {
            await Chain.VoteAsync(challenge.Id, output, cancellationToken).ConfigureAwait(false);
        }
        catch (EvmException ex) when (SettlementChain.RevertName(ex) is "AlreadyVoted" or "VotingClosed" or "AlreadyResolved")
        {
        }
        _voted.Add(challenge.Id);
        lock (_statusLock)
        {
            _votes++;
        }
        SettlementLog.Voted(_logger, challenge.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), output,
            challenge.ClaimedOutputs.Contains(output) ? "agrees with" : "disagrees with");
    }

    /// <summary>
    /// The output hash this node computes for the challenged inference, or zero when it cannot get inputs
    /// that hash to the challenged inputHash or does not host the model.
    /// </summary>
    private async Task<Hash256> ReExecuteAsync(ChallengeInfo challenge, CancellationToken cancellationToken)
    {
        if (FindModel(challenge.Model) is not { } model)
        {
            SettlementLog.CannotReExecute(_logger, challenge.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), "the model is not hosted here");
            return Hash256.Zero;
        }
        byte[]? input = await InputFetcher.FetchAsync(challenge.InputUri, _options.MaxRequestBytes, TimeSpan.FromSeconds(_options.RequestTimeoutSeconds), cancellationToken).ConfigureAwait(false);
        if (input is null || new Hash256(SHA256.HashData(input)) != challenge.InputHash)
        {
            SettlementLog.CannotReExecute(_logger, challenge.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), "the inputs could not be fetched or do not hash to inputHash");
            return Hash256.Zero;
        }
        try
        {
            var inputs = CanonicalTensors.Decode(input);
            var result = await _inference.ExecuteAsync(model, inputs, Keccak256.Hash("prova-challenge/" + challenge.Id), Receipt.AttestedMode, cancellationToken).ConfigureAwait(false);
            return result.Receipt.OutputHash;
        }
        catch (Exception ex) when (ex is ProvaException or ApiException)
        {
            SettlementLog.CannotReExecute(_logger, challenge.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), ex.Message);
            return Hash256.Zero;
        }
    }

    private async Task ResolveVotedAsync(ulong now, CancellationToken cancellationToken)
    {
        foreach (var id in _voted.ToArray())
        {
            var committee = await Chain.CommitteeOfAsync(id).ConfigureAwait(false);
            var votes = await Chain.VoteCountAsync(id).ConfigureAwait(false);
            if (votes < committee.Count)
            {
                // After the deadline anyone may resolve; nodes leave that to the challenger.
                continue;
            }
            try
            {
                await Chain.ResolveAsync(id, cancellationToken).ConfigureAwait(false);
                SettlementLog.Resolved(_logger, id.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
            catch (EvmException ex) when (SettlementChain.RevertName(ex) is "AlreadyResolved" or "VotingOpen")
            {
            }
            _voted.Remove(id);
        }
        _ = now;
    }

    private async Task FulfilAsync(InferenceRequestInfo request, CancellationToken cancellationToken)
    {
        int quorum = request.Mode == Receipt.AttestedMode ? 1 : InferModes.TryParseQuorum(request.Mode, out int k) ? k : 0;
        if (quorum == 0 || _fulfilled.Contains(request.RequestId) || FindModel(request.Model) is not { } model)
        {
            return;
        }
        _fulfilled.Add(request.RequestId);
        byte[]? input = request.Input.Length > 0
            ? request.Input
            : await InputFetcher.FetchAsync(request.InputUri, _options.MaxRequestBytes, TimeSpan.FromSeconds(_options.RequestTimeoutSeconds), cancellationToken).ConfigureAwait(false);
        if (input is null || new Hash256(SHA256.HashData(input)) != request.InputHash)
        {
            SettlementLog.RequestSkipped(_logger, request.RequestId, "the input could not be fetched or does not hash to inputHash");
            return;
        }
        var inputs = CanonicalTensors.Decode(input);
        InferenceResult result;
        try
        {
            result = await _inference.ExecuteAsync(model, inputs, request.RequestId, request.Mode, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is ProvaException or ApiException)
        {
            SettlementLog.RequestSkipped(_logger, request.RequestId, ex.Message);
            return;
        }
        var receipts = new List<Receipt> { result.Receipt };
        if (quorum > 1)
        {
            await GatherQuorumAsync(model, inputs, request, result.Receipt.OutputHash, quorum, receipts, cancellationToken).ConfigureAwait(false);
            if (receipts.Count < quorum)
            {
                SettlementLog.RequestSkipped(_logger, request.RequestId, $"only {receipts.Count} of {quorum} active nodes signed this output");
                return;
            }
            // The contract wants the signers in ascending address order.
            receipts.Sort((a, b) => a.Node.ToArray().AsSpan().SequenceCompareTo(b.Node.ToArray()));
        }
        byte[] output = CanonicalTensors.Encode(result.Outputs);
        if (output.Length > 64 * 1024)
        {
            output = [];
        }
        try
        {
            await Chain.FulfilAsync(request.RequestId, receipts, output, cancellationToken).ConfigureAwait(false);
            lock (_statusLock)
            {
                _fulfilledCount++;
            }
            SettlementLog.Fulfilled(_logger, request.RequestId, result.Receipt.OutputHash);
        }
        catch (EvmException ex) when (SettlementChain.RevertName(ex) is "NotPending")
        {
            // Another node was first.
        }
        catch (EvmException ex)
        {
            SettlementLog.RequestSkipped(_logger, request.RequestId, ex.Message);
        }
    }

    /// <summary>
    /// For an on-chain <c>quorum:K</c> request: asks active peers that host the model (in an order derived from
    /// the request id, so the load spreads) to run it under the same request id, and keeps the receipts that
    /// name this node's output hash until K distinct nodes signed it. A peer that answers differently is
    /// skipped: the request is fulfilled by the honest majority, or not at all.
    /// </summary>
    private async Task GatherQuorumAsync(Cid model, IReadOnlyDictionary<string, Tensor> inputs, InferenceRequestInfo request, Hash256 outputHash,
        int quorum, List<Receipt> receipts, CancellationToken cancellationToken)
    {
        foreach (var peer in _quorum.Candidates(model, request.RequestId))
        {
            if (receipts.Count >= quorum)
            {
                return;
            }
            try
            {
                if (!await Chain.IsActiveAsync(peer.Address).ConfigureAwait(false))
                {
                    continue;
                }
            }
            catch (Exception ex) when (ex is ProvaException or HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                SettlementLog.RequestSkipped(_logger, request.RequestId, $"peer {peer.Address}: {ex.Message}");
                continue;
            }
            var answer = await _quorum.AskAsync(peer, model, inputs, request.Mode, request.RequestId, cancellationToken).ConfigureAwait(false);
            if (answer.Failure is not null)
            {
                SettlementLog.RequestSkipped(_logger, request.RequestId, answer.Failure);
            }
            else if (answer.Result!.Receipt.OutputHash == outputHash)
            {
                receipts.Add(answer.Result.Receipt);
            }
            else
            {
                SettlementLog.RequestSkipped(_logger, request.RequestId, $"peer {peer.Address} answered {answer.Result.Receipt.OutputHash}, not {outputHash}");
            }
        }
    }

    private async Task UpdateModelsAsync(CancellationToken cancellationToken)
    {
        var models = HostedDigests();
        string key = Key(models);
        if (key == _registeredModels)
        {
            return;
        }
        await Chain.SetModelsAsync(models, cancellationToken).ConfigureAwait(false);
        _registeredModels = key;
    }

    private List<Hash256> HostedDigests() => [.. _catalog.HostedModels().Select(c => c.Digest).Distinct().Take(64)];

    private static string Key(IEnumerable<Hash256> models) => string.Join(',', models.Select(m => m.ToString()).Order(StringComparer.Ordinal));

    private Cid? FindModel(Hash256 digest)
    {
        foreach (var cid in _catalog.HostedModels())
        {
            if (cid.Digest == digest)
            {
                return cid;
            }
        }
        return null;
    }

    public override void Dispose()
    {
        base.Dispose();
        _chain?.Dispose();
        _gate.Dispose();
    }
}
