using System.Numerics;
using Prova.Core.Crypto;
using Prova.Core.Keys;
using Prova.Evm.Codec;

namespace Prova.Evm.Transactions;

public enum TransactionType : byte
{
    /// <summary>Legacy (pre-EIP-2718) transaction, signed with EIP-155 replay protection when ChainId is set.</summary>
    Legacy = 0,

    /// <summary>EIP-1559 dynamic-fee transaction, EIP-2718 envelope type 0x02.</summary>
    Eip1559 = 2,
}

/// <summary>One EIP-2930 access-list entry: an address and the storage slots the transaction touches.</summary>
public sealed record AccessListEntry(Address Address, IReadOnlyList<Hash256> StorageKeys);

/// <summary>
/// An unsigned transaction. Legacy transactions use <see cref="GasPrice"/>; EIP-1559 ones use
/// <see cref="MaxFeePerGas"/> and <see cref="MaxPriorityFeePerGas"/>. <see cref="To"/> null creates a contract.
/// </summary>
public sealed record Transaction
{
    public TransactionType Type { get; init; } = TransactionType.Eip1559;

    /// <summary>Chain id (EIP-155). Required for EIP-1559; null only for a pre-EIP-155 legacy transaction.</summary>
    public ulong? ChainId { get; init; }

    public ulong Nonce { get; init; }

    public BigInteger GasPrice { get; init; }

    public BigInteger MaxPriorityFeePerGas { get; init; }

    public BigInteger MaxFeePerGas { get; init; }

    public ulong GasLimit { get; init; }

    public Address? To { get; init; }

    public BigInteger Value { get; init; }

    public byte[] Data { get; init; } = [];

    public IReadOnlyList<AccessListEntry> AccessList { get; init; } = [];

    /// <summary>The hash a signer signs: keccak256 of the EIP-155 payload or of 0x02 ‖ rlp(1559 fields).</summary>
    public Hash256 SigningHash()
    {
        Validate();
        if (Type == TransactionType.Legacy)
        {
            var fields = LegacyFields();
            if (ChainId is { } chainId)
            {
                fields.Add(RlpItem.Integer(chainId));
                fields.Add(RlpItem.Empty);
                fields.Add(RlpItem.Empty);
            }
            return Keccak256.Hash(Rlp.Encode(RlpItem.List(fields)));
        }
        return Keccak256.Hash([(byte)Type, .. Rlp.Encode(RlpItem.List(Eip1559Fields()))]);
    }

    /// <summary>Signs with <paramref name="key"/> (RFC 6979, low-s).</summary>
    public SignedTransaction Sign(PrivateKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var signature = key.Sign(SigningHash());
        return new SignedTransaction(this, signature);
    }

    internal void Validate()
    {
        if (Type == TransactionType.Eip1559)
        {
            if (ChainId is null)
            {
                throw new TransactionFormatException("an EIP-1559 transaction needs a chain id");
            }
            if (MaxPriorityFeePerGas > MaxFeePerGas)
            {
                throw new TransactionFormatException($"maxPriorityFeePerGas ({MaxPriorityFeePerGas}) exceeds maxFeePerGas ({MaxFeePerGas})");
            }
        }
        else if (Type != TransactionType.Legacy)
        {
            throw new TransactionFormatException($"transaction type {(byte)Type} is not supported (0 legacy, 2 EIP-1559)");
        }
        foreach (var (name, value) in new[] { ("gasPrice", GasPrice), ("maxFeePerGas", MaxFeePerGas), ("maxPriorityFeePerGas", MaxPriorityFeePerGas), ("value", Value) })
        {
            if (value.Sign < 0 || value.GetByteCount(isUnsigned: true) > 32)
            {
                throw new TransactionFormatException($"transaction {name} must be a 256-bit non-negative integer, got {value}");
            }
        }
    }

    internal List<RlpItem> LegacyFields() =>
    [
        RlpItem.Integer(Nonce),
        RlpItem.Integer(GasPrice),
        RlpItem.Integer(GasLimit),
        To is { } to ? RlpItem.FromAddress(to) : RlpItem.Empty,
        RlpItem.Integer(Value),
        RlpItem.String(Data),
    ];

    internal List<RlpItem> Eip1559Fields() =>
    [
        RlpItem.Integer(ChainId!.Value),
        RlpItem.Integer(Nonce),
        RlpItem.Integer(MaxPriorityFeePerGas),
        RlpItem.Integer(MaxFeePerGas),
        RlpItem.Integer(GasLimit),
        To is { } to ? RlpItem.FromAddress(to) : RlpItem.Empty,
        RlpItem.Integer(Value),
        RlpItem.String(Data),
        RlpItem.List(AccessList.Select(e => RlpItem.List(RlpItem.FromAddress(e.Address), RlpItem.List(e.StorageKeys.Select(k => RlpItem.String(k.ToArray())))))),
    ];
}
