using System.Numerics;
using System.Runtime.CompilerServices;
using Prova.Core.Crypto;
using Prova.Evm.Abi;
using Prova.Evm.Rpc;

namespace Prova.Evm.Contracts;

/// <summary>
/// Base of the typed contract bindings generated at build time from contracts/out/*.json
/// (see docs/evm.md). Holds the contract's address, ABI, client and (for sends) the sending account.
/// View/pure functions run through eth_call; others are sent as EIP-1559 transactions and awaited.
/// Reverts surface as <see cref="ContractRevertException"/> (from the gas estimate or a call) or
/// <see cref="TransactionFailedException"/> (mined with status 0), decoded with the contract's custom errors.
/// </summary>
public abstract class ContractBinding
{
    protected ContractBinding(AbiContract abi, Address address, EthClient client, EvmAccount? account)
    {
        Abi = abi;
        Address = address;
        Client = client ?? throw new ArgumentNullException(nameof(client));
        Account = account;
    }

    public AbiContract Abi { get; }

    public Address Address { get; }

    public EthClient Client { get; }

    /// <summary>The account that sends transactions (and is msg.sender of calls); null = read-only binding.</summary>
    public EvmAccount? Account { get; }

    /// <summary>The deployment's receipt when this binding came from DeployAsync.</summary>
    public TransactionReceipt? DeploymentReceipt { get; init; }

    /// <summary>eth_call of <paramref name="function"/>; returns the decoded outputs.</summary>
    protected async Task<object?[]> CallCoreAsync(AbiFunction function, object?[] arguments, string block, CancellationToken cancellationToken)
    {
        byte[] result = await Client.CallAsync(new CallRequest { From = Account?.Address, To = Address, Data = function.EncodeCall(arguments) }, block, Abi.Errors, cancellationToken).ConfigureAwait(false);
        try
        {
            return function.DecodeOutput(result);
        }
        catch (AbiException e)
        {
            throw new AbiException($"{function.Signature} at {Address} returned data that does not decode: {e.Message}", e);
        }
    }

    /// <summary>Sends <paramref name="function"/> as a transaction from <see cref="Account"/> and waits for its receipt.</summary>
    protected Task<TransactionReceipt> SendCoreAsync(AbiFunction function, object?[] arguments, BigInteger value, CancellationToken cancellationToken)
    {
        var account = Account ?? throw new InvalidOperationException($"this {GetType().Name} binding is read-only: create it with an EvmAccount to send {function.Name}");
        return account.SendAndWaitAsync(new TransactionRequest { To = Address, Data = function.EncodeCall(arguments), Value = value, Errors = Abi.Errors }, 1, cancellationToken);
    }

    protected static async Task<TransactionReceipt> DeployCoreAsync(EvmAccount account, AbiContract abi, byte[] bytecode, object?[] arguments, BigInteger value, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(account);
        byte[] encoded = AbiCodec.Encode(abi.Constructor.Inputs.Select(p => p.Type).ToArray(), arguments);
        return await account.DeployAsync(bytecode, encoded, value, abi.Errors, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Decodes <paramref name="log"/> as <paramref name="abiEvent"/> when it is one (right topic 0 and shape).</summary>
    public static bool TryDecodeEvent(AbiEvent abiEvent, Log log, out object?[] values)
    {
        values = [];
        if (log.Topics.Count == 0 || (!abiEvent.Anonymous && log.Topics[0] != abiEvent.Topic))
        {
            return false;
        }
        try
        {
            values = abiEvent.Decode(log.Topics, log.Data);
            return true;
        }
        catch (AbiException)
        {
            return false;
        }
    }

    protected async Task<IReadOnlyList<T>> GetEventsCoreAsync<T>(AbiEvent abiEvent, Func<object?[], Log, T> make, ulong fromBlock, ulong? toBlock, CancellationToken cancellationToken)
    {
        var logs = await Client.GetLogsAsync(Filter(abiEvent) with { FromBlock = fromBlock, ToBlock = toBlock }, cancellationToken).ConfigureAwait(false);
        var result = new List<T>();
        foreach (var log in logs)
        {
            if (TryDecodeEvent(abiEvent, log, out var values))
            {
                result.Add(make(values, log));
            }
        }
        return result;
    }

    protected async IAsyncEnumerable<T> WatchEventsCoreAsync<T>(AbiEvent abiEvent, Func<object?[], Log, T> make, ulong fromBlock, int confirmations, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var log in Client.WatchLogsAsync(Filter(abiEvent), fromBlock, confirmations, cancellationToken).ConfigureAwait(false))
        {
            if (TryDecodeEvent(abiEvent, log, out var values))
            {
                yield return make(values, log);
            }
        }
    }

    protected static IReadOnlyList<T> EventsIn<T>(AbiEvent abiEvent, Address address, TransactionReceipt receipt, Func<object?[], Log, T> make)
    {
        var result = new List<T>();
        foreach (var log in receipt.Logs)
        {
            if (log.Address == address && TryDecodeEvent(abiEvent, log, out var values))
            {
                result.Add(make(values, log));
            }
        }
        return result;
    }

    private LogFilter Filter(AbiEvent abiEvent) => new()
    {
        Addresses = [Address],
        Topics = abiEvent.Anonymous ? [] : [[abiEvent.Topic]],
    };
}
