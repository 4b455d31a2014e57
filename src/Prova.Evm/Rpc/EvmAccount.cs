using System.Numerics;
using Prova.Core.Crypto;
using Prova.Core.Keys;
using Prova.Evm.Abi;
using Prova.Evm.Transactions;

namespace Prova.Evm.Rpc;

/// <summary>What to send: <see cref="To"/> null deploys <see cref="Data"/> as init code. Unset gas and fees are filled in.</summary>
public sealed record TransactionRequest
{
    public Address? To { get; init; }

    public byte[] Data { get; init; } = [];

    public BigInteger Value { get; init; }

    /// <summary>Gas limit; null = eth_estimateGas × <see cref="EvmAccount.GasMargin"/>.</summary>
    public ulong? GasLimit { get; init; }

    public BigInteger? MaxFeePerGas { get; init; }

    public BigInteger? MaxPriorityFeePerGas { get; init; }

    /// <summary>Custom errors used to decode a revert (from the contract's ABI).</summary>
    public IReadOnlyList<AbiError> Errors { get; init; } = [];
}

/// <summary>
/// A sending account: a private key bound to a client and chain id, with its own <see cref="NonceManager"/>.
/// Sends EIP-1559 transactions: tip = eth_maxPriorityFeePerGas, fee cap = 2 × latest base fee + tip,
/// gas = estimate × 1.25 (an estimate that reverts throws <see cref="ContractRevertException"/> before anything is sent).
/// Safe to use from many tasks at once.
/// </summary>
public sealed class EvmAccount
{
    public EvmAccount(EthClient client, PrivateKey key, ulong chainId)
    {
        Client = client ?? throw new ArgumentNullException(nameof(client));
        Key = key ?? throw new ArgumentNullException(nameof(key));
        ChainId = chainId;
        Nonces = new NonceManager(client, key.Address);
    }

    /// <summary>Reads the chain id from the node.</summary>
    public static async Task<EvmAccount> ConnectAsync(EthClient client, PrivateKey key, CancellationToken cancellationToken = default) =>
        new(client, key, await client.ChainIdAsync(cancellationToken).ConfigureAwait(false));

    public const double GasMargin = 1.25;

    public EthClient Client { get; }

    public ulong ChainId { get; }

    public Address Address => Key.Address;

    public NonceManager Nonces { get; }

    internal PrivateKey Key { get; }

    /// <summary>Fills in gas and fees, signs with the next nonce and broadcasts. Returns the sent transaction.</summary>
    public async Task<SignedTransaction> SendAsync(TransactionRequest request, CancellationToken cancellationToken = default)
    {
        ulong gas = request.GasLimit ?? (ulong)(await Client.EstimateGasAsync(
            new CallRequest { From = Address, To = request.To, Data = request.Data, Value = request.Value },
            request.Errors, cancellationToken).ConfigureAwait(false) * GasMargin);
        var (maxFee, tip) = await FeesAsync(request, cancellationToken).ConfigureAwait(false);
        return await Nonces.WithNextNonceAsync(async nonce =>
        {
            var signed = new Transaction
            {
                Type = TransactionType.Eip1559,
                ChainId = ChainId,
                Nonce = nonce,
                MaxFeePerGas = maxFee,
                MaxPriorityFeePerGas = tip,
                GasLimit = gas,
                To = request.To,
                Value = request.Value,
                Data = request.Data,
            }.Sign(Key);
            await Client.SendRawTransactionAsync(signed.RawBytes, cancellationToken).ConfigureAwait(false);
            return signed;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Sends and waits for the receipt with <paramref name="confirmations"/> confirmations. A mined
    /// revert throws <see cref="TransactionFailedException"/> with the reason replayed through eth_call.
    /// </summary>
    public async Task<TransactionReceipt> SendAndWaitAsync(TransactionRequest request, int confirmations = 1, CancellationToken cancellationToken = default)
    {
        var sent = await SendAsync(request, cancellationToken).ConfigureAwait(false);
        var receipt = await Client.WaitForReceiptAsync(sent.Hash, confirmations, cancellationToken: cancellationToken).ConfigureAwait(false);
        if (!receipt.Succeeded)
        {
            RevertReason? reason = null;
            try
            {
                await Client.CallAsync(new CallRequest { From = Address, To = request.To, Data = request.Data, Value = request.Value, Gas = sent.Transaction.GasLimit },
                    BlockTag.Number(receipt.BlockNumber - 1), request.Errors, cancellationToken).ConfigureAwait(false);
            }
            catch (ContractRevertException e)
            {
                reason = e.Reason;
            }
            catch (RpcException)
            {
            }
            throw new TransactionFailedException(receipt, reason);
        }
        return receipt;
    }

    /// <summary>Sends native currency.</summary>
    public Task<TransactionReceipt> TransferAsync(Address to, BigInteger value, CancellationToken cancellationToken = default) =>
        SendAndWaitAsync(new TransactionRequest { To = to, Value = value }, 1, cancellationToken);

    /// <summary>Deploys init code (bytecode ‖ ABI-encoded constructor arguments); returns the receipt (ContractAddress set).</summary>
    public async Task<TransactionReceipt> DeployAsync(byte[] bytecode, byte[] constructorArguments, BigInteger value = default, IReadOnlyList<AbiError>? errors = null, CancellationToken cancellationToken = default)
    {
        var receipt = await SendAndWaitAsync(new TransactionRequest { Data = [.. bytecode, .. constructorArguments], Value = value, Errors = errors ?? [] }, 1, cancellationToken).ConfigureAwait(false);
        return receipt.ContractAddress is null
            ? throw new TransactionFormatException($"deployment {receipt.TransactionHash} has no contract address in its receipt")
            : receipt;
    }

    private async Task<(BigInteger MaxFee, BigInteger Tip)> FeesAsync(TransactionRequest request, CancellationToken cancellationToken)
    {
        if (request.MaxFeePerGas is { } fixedMax && request.MaxPriorityFeePerGas is { } fixedTip)
        {
            return (fixedMax, fixedTip);
        }
        BigInteger tip;
        if (request.MaxPriorityFeePerGas is { } t)
        {
            tip = t;
        }
        else
        {
            try
            {
                tip = await Client.MaxPriorityFeePerGasAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (RpcException)
            {
                tip = 1_000_000_000; // nodes without eth_maxPriorityFeePerGas: 1 gwei
            }
        }
        var block = await Client.GetBlockAsync(BlockTag.Latest, cancellationToken).ConfigureAwait(false);
        var baseFee = block?.BaseFeePerGas ?? throw new TransactionFormatException("the chain's latest block has no base fee; EIP-1559 transactions need a London-enabled chain");
        var maxFee = request.MaxFeePerGas ?? baseFee * 2 + tip;
        return (maxFee, BigInteger.Min(tip, maxFee));
    }
}
