using Prova.Core.Crypto;
using Prova.Evm.Abi;

namespace Prova.Evm.Rpc;

/// <summary>The node answered a JSON-RPC request with an error object.</summary>
public class RpcException : EvmException
{
    public RpcException(string method, long code, string rpcMessage, string? data)
        : base($"{method} failed: {rpcMessage} (JSON-RPC error {code})")
    {
        Method = method;
        Code = code;
        RpcMessage = rpcMessage;
        ErrorData = data;
    }

    public string Method { get; }

    public long Code { get; }

    public string RpcMessage { get; }

    /// <summary>The error's "data" member as raw JSON text (or the hex string), if any.</summary>
    public string? ErrorData { get; }
}

/// <summary>The request never got a usable answer: connection refused, HTTP error, timeout, oversized or malformed response.</summary>
public sealed class RpcTransportException : EvmException
{
    public RpcTransportException(string method, string message, Exception? inner = null)
        : base($"{method}: {message}", inner ?? new InvalidOperationException(message))
    {
        Method = method;
    }

    public string Method { get; }
}

/// <summary>An eth_call or eth_estimateGas reverted; <see cref="Reason"/> is the decoded revert data.</summary>
public sealed class ContractRevertException : EvmException
{
    public ContractRevertException(string method, RevertReason reason, Hash256? transactionHash = null)
        : base($"{method} reverted: {reason.Message}")
    {
        Method = method;
        Reason = reason;
        TransactionHash = transactionHash;
    }

    public string Method { get; }

    public RevertReason Reason { get; }

    public Hash256? TransactionHash { get; }
}

/// <summary>A transaction was mined with status 0 (it reverted on chain).</summary>
public sealed class TransactionFailedException : EvmException
{
    public TransactionFailedException(TransactionReceipt receipt, RevertReason? reason)
        : base($"transaction {receipt.TransactionHash} reverted in block {receipt.BlockNumber}" + (reason is null ? "" : ": " + reason.Message))
    {
        Receipt = receipt;
        Reason = reason;
    }

    public TransactionReceipt Receipt { get; }

    /// <summary>The revert reason found by replaying the transaction with eth_call, when that worked.</summary>
    public RevertReason? Reason { get; }
}

/// <summary>No receipt (or not enough confirmations) within the allowed time.</summary>
public sealed class ReceiptTimeoutException : EvmException
{
    public ReceiptTimeoutException(Hash256 transactionHash, TimeSpan waited, int confirmations)
        : base($"transaction {transactionHash} not mined with {confirmations} confirmation(s) within {waited.TotalSeconds:0.#} s")
    {
        TransactionHash = transactionHash;
    }

    public Hash256 TransactionHash { get; }
}
