using System.Numerics;
using Prova.Core.Crypto;
using Prova.Evm.Codec;

namespace Prova.Evm.Transactions;

/// <summary>
/// A signed transaction in its EIP-2718 form: legacy = rlp([nonce, gasPrice, gas, to, value, data, v, r, s])
/// with v = chainId·2 + 35 + yParity (EIP-155) or 27 + yParity; type 2 = 0x02 ‖ rlp([chainId, nonce,
/// maxPriorityFeePerGas, maxFeePerGas, gas, to, value, data, accessList, yParity, r, s]).
/// </summary>
public sealed class SignedTransaction
{
    /// <summary>Largest raw transaction <see cref="Decode"/> accepts (128 KiB, geth's txpool limit).</summary>
    public const int MaxEncodedLength = 128 * 1024;

    internal SignedTransaction(Transaction transaction, Signature signature)
    {
        Transaction = transaction;
        Signature = signature;
        RawBytes = Encode();
        Hash = Keccak256.Hash(RawBytes);
    }

    public Transaction Transaction { get; }

    /// <summary>The signature with v = 27 + yParity (the form Prova.Core uses).</summary>
    public Signature Signature { get; }

    /// <summary>The bytes eth_sendRawTransaction takes.</summary>
    public byte[] RawBytes { get; }

    /// <summary>The transaction hash: keccak256 of <see cref="RawBytes"/>.</summary>
    public Hash256 Hash { get; }

    /// <summary>The v value as encoded on the wire (EIP-155 for legacy, yParity 0/1 for typed).</summary>
    public BigInteger WireV => Transaction.Type == TransactionType.Legacy
        ? (Transaction.ChainId is { } id ? new BigInteger(id) * 2 + 35 + Signature.RecoveryId : 27 + Signature.RecoveryId)
        : Signature.RecoveryId;

    /// <summary>The sender: the address recovered from the signature over the signing hash.</summary>
    public Address RecoverSender()
    {
        try
        {
            return Secp256k1.EcRecover(Transaction.SigningHash(), Signature);
        }
        catch (CryptoFormatException e)
        {
            throw new TransactionFormatException("transaction signature does not recover a sender: " + e.Message, e);
        }
    }

    public string ToHex() => "0x" + Convert.ToHexStringLower(RawBytes);

    /// <summary>Decodes a raw signed transaction (legacy or EIP-1559), strictly.</summary>
    /// <exception cref="TransactionFormatException">Malformed, unsupported type or bad signature values.</exception>
    public static SignedTransaction Decode(ReadOnlySpan<byte> raw)
    {
        if (raw.Length == 0)
        {
            throw new TransactionFormatException("a raw transaction cannot be empty");
        }
        if (raw.Length > MaxEncodedLength)
        {
            throw new TransactionFormatException($"raw transaction is {raw.Length} bytes, over the {MaxEncodedLength}-byte limit");
        }
        try
        {
            if (raw[0] >= 0xc0)
            {
                return DecodeLegacy(Rlp.Decode(raw, 8));
            }
            if (raw[0] == (byte)TransactionType.Eip1559)
            {
                return Decode1559(Rlp.Decode(raw[1..], 8));
            }
            throw new TransactionFormatException($"transaction type 0x{raw[0]:x2} is not supported (legacy and 0x02 are)");
        }
        catch (RlpException e)
        {
            throw new TransactionFormatException("raw transaction is not valid RLP: " + e.Message, e);
        }
        catch (CryptoFormatException e)
        {
            throw new TransactionFormatException("raw transaction has an invalid signature: " + e.Message, e);
        }
    }

    public static SignedTransaction Decode(string hex)
    {
        byte[]? bytes = Prova.Core.Crypto.Hex.TryDecodeAny(hex ?? "");
        return bytes is null
            ? throw new TransactionFormatException("a raw transaction must be 0x-prefixed hex")
            : Decode(bytes);
    }

    private static SignedTransaction DecodeLegacy(RlpItem item)
    {
        var f = Fields(item, 9, "legacy");
        var v = f[6].ToBigInteger("v");
        ulong? chainId;
        int parity;
        if (v == 27 || v == 28)
        {
            chainId = null;
            parity = (int)(v - 27);
        }
        else if (v >= 37)
        {
            var id = (v - 35) / 2;
            if (id > ulong.MaxValue)
            {
                throw new TransactionFormatException("legacy transaction chain id does not fit in 64 bits");
            }
            chainId = (ulong)id;
            parity = (int)((v - 35) % 2);
        }
        else
        {
            throw new TransactionFormatException($"legacy transaction v = {v} is neither 27/28 nor EIP-155");
        }
        var tx = new Transaction
        {
            Type = TransactionType.Legacy,
            ChainId = chainId,
            Nonce = f[0].ToUInt64("nonce"),
            GasPrice = f[1].ToBigInteger("gasPrice"),
            GasLimit = f[2].ToUInt64("gas"),
            To = ToAddress(f[3]),
            Value = f[4].ToBigInteger("value"),
            Data = f[5].ToArray(),
        };
        return new SignedTransaction(tx, MakeSignature(f[7], f[8], parity));
    }

    private static SignedTransaction Decode1559(RlpItem item)
    {
        var f = Fields(item, 12, "EIP-1559");
        var accessList = f[8].Items.Select(e =>
        {
            if (e.Items.Count != 2)
            {
                throw new TransactionFormatException("an access-list entry must be [address, [storageKeys]]");
            }
            var keys = e.Items[1].Items.Select(k => k.Bytes.Length == 32 ? new Hash256(k.Bytes) : throw new TransactionFormatException("access-list storage keys are 32 bytes")).ToArray();
            return new AccessListEntry(e.Items[0].ToAddress("access-list address"), keys);
        }).ToArray();
        var parity = f[9].ToBigInteger("yParity");
        if (parity > 1)
        {
            throw new TransactionFormatException($"EIP-1559 yParity must be 0 or 1, got {parity}");
        }
        var tx = new Transaction
        {
            Type = TransactionType.Eip1559,
            ChainId = f[0].ToUInt64("chainId"),
            Nonce = f[1].ToUInt64("nonce"),
            MaxPriorityFeePerGas = f[2].ToBigInteger("maxPriorityFeePerGas"),
            MaxFeePerGas = f[3].ToBigInteger("maxFeePerGas"),
            GasLimit = f[4].ToUInt64("gas"),
            To = ToAddress(f[5]),
            Value = f[6].ToBigInteger("value"),
            Data = f[7].ToArray(),
            AccessList = accessList,
        };
        return new SignedTransaction(tx, MakeSignature(f[10], f[11], (int)parity));
    }

    private static IReadOnlyList<RlpItem> Fields(RlpItem item, int count, string kind)
    {
        if (!item.IsList || item.Items.Count != count)
        {
            throw new TransactionFormatException($"a signed {kind} transaction is an RLP list of {count} fields");
        }
        return item.Items;
    }

    private static Address? ToAddress(RlpItem item) => item.Bytes.Length == 0 ? null : item.ToAddress("to");

    private static Signature MakeSignature(RlpItem r, RlpItem s, int parity) =>
        new(r.ToBigInteger("r"), s.ToBigInteger("s"), (byte)(27 + parity));

    private byte[] Encode()
    {
        var r = RlpItem.Integer(Signature.R);
        var s = RlpItem.Integer(Signature.S);
        if (Transaction.Type == TransactionType.Legacy)
        {
            var fields = Transaction.LegacyFields();
            fields.Add(RlpItem.Integer(WireV));
            fields.Add(r);
            fields.Add(s);
            return Rlp.Encode(RlpItem.List(fields));
        }
        var typed = Transaction.Eip1559Fields();
        typed.Add(RlpItem.Integer((ulong)Signature.RecoveryId));
        typed.Add(r);
        typed.Add(s);
        return [(byte)Transaction.Type, .. Rlp.Encode(RlpItem.List(typed))];
    }
}
