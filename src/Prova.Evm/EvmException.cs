using Prova.Core;

namespace Prova.Evm;

/// <summary>
/// Base of every error <c>Prova.Evm</c> raises: malformed RLP, ABI data or transactions, JSON-RPC
/// failures, reverts, timeouts. The message names what failed (the RPC method, the type, the field).
/// </summary>
public abstract class EvmException : ProvaException
{
    protected EvmException(string message) : base(message) { }

    protected EvmException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>Bytes are not valid (canonical) RLP, or nest/extend beyond the decoder's limits.</summary>
public sealed class RlpException : EvmException
{
    public RlpException(string message) : base(message) { }
}

/// <summary>A value does not fit its ABI type, or ABI-encoded data is malformed.</summary>
public sealed class AbiException : EvmException
{
    public AbiException(string message) : base(message) { }

    public AbiException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>A transaction (signed or not) is malformed or cannot be signed as asked.</summary>
public sealed class TransactionFormatException : EvmException
{
    public TransactionFormatException(string message) : base(message) { }

    public TransactionFormatException(string message, Exception inner) : base(message, inner) { }
}
