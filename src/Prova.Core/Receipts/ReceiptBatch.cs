using Prova.Core.Crypto;

namespace Prova.Core.Receipts;

/// <summary>
/// A Merkle tree over a batch of receipts, whose root a node posts to the Settlement contract
/// (docs/settlement-node.md). The rule, shared with the contract:
/// <list type="bullet">
/// <item>leaf = keccak256(receipt.SigningHash()) (the EIP-712 digest, hashed once more so a leaf is never a digest a node signed);</item>
/// <item>inner node = keccak256(min(a, b) ‖ max(a, b)) (sorted pair, byte-wise unsigned order, 32 + 32 bytes);</item>
/// <item>an odd last node of a level is promoted unchanged to the next level;</item>
/// <item>a batch of one leaf has root = leaf.</item>
/// </list>
/// A proof is the list of sibling hashes from the leaf up (promoted levels contribute nothing), so it is
/// OpenZeppelin <c>MerkleProof.verify</c>-compatible and carries no index.
/// </summary>
public sealed class ReceiptBatch
{
    /// <summary>The largest batch (2^24 leaves): bounds memory and a proof's length (≤ 24 siblings).</summary>
    public const int MaxLeaves = 1 << 24;

    // _levels[0] = leaves; _levels[^1] = [root].
    private readonly Hash256[][] _levels;

    public ReceiptBatch(IReadOnlyList<Hash256> leaves)
    {
        ArgumentNullException.ThrowIfNull(leaves);
        if (leaves.Count == 0)
        {
            throw new ArgumentException("a receipt batch needs at least one leaf", nameof(leaves));
        }
        if (leaves.Count > MaxLeaves)
        {
            throw new ArgumentException($"a receipt batch holds at most {MaxLeaves} leaves, got {leaves.Count}", nameof(leaves));
        }
        var levels = new List<Hash256[]> { leaves.ToArray() };
        while (levels[^1].Length > 1)
        {
            var below = levels[^1];
            var above = new Hash256[(below.Length + 1) / 2];
            for (int i = 0; i < above.Length; i++)
            {
                above[i] = 2 * i + 1 < below.Length ? HashPair(below[2 * i], below[2 * i + 1]) : below[2 * i];
            }
            levels.Add(above);
        }
        _levels = [.. levels];
    }

    /// <summary>A batch of signed receipts (in the given order).</summary>
    public static ReceiptBatch FromReceipts(IEnumerable<Receipt> receipts) =>
        new([.. receipts.Select(Leaf)]);

    public int Count => _levels[0].Length;

    public Hash256 Root => _levels[^1][0];

    public IReadOnlyList<Hash256> Leaves => _levels[0];

    /// <summary>The leaf of a receipt: keccak256 of its EIP-712 signing hash.</summary>
    public static Hash256 Leaf(Receipt receipt)
    {
        ArgumentNullException.ThrowIfNull(receipt);
        return Leaf(receipt.SigningHash());
    }

    /// <summary>The leaf for an EIP-712 receipt digest.</summary>
    public static Hash256 Leaf(Hash256 signingHash)
    {
        Span<byte> bytes = stackalloc byte[Hash256.Length];
        signingHash.WriteTo(bytes);
        return Keccak256.Hash(bytes);
    }

    /// <summary>keccak256(min(a,b) ‖ max(a,b)).</summary>
    public static Hash256 HashPair(Hash256 a, Hash256 b)
    {
        Span<byte> bytes = stackalloc byte[2 * Hash256.Length];
        a.WriteTo(bytes);
        b.WriteTo(bytes[Hash256.Length..]);
        if (bytes[..Hash256.Length].SequenceCompareTo(bytes[Hash256.Length..]) > 0)
        {
            b.WriteTo(bytes);
            a.WriteTo(bytes[Hash256.Length..]);
        }
        return Keccak256.Hash(bytes);
    }

    /// <summary>The inclusion proof of leaf <paramref name="index"/>: sibling hashes, leaf level first.</summary>
    public IReadOnlyList<Hash256> Proof(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        var proof = new List<Hash256>(_levels.Length);
        for (int level = 0; level < _levels.Length - 1; level++)
        {
            int sibling = index ^ 1;
            if (sibling < _levels[level].Length)
            {
                proof.Add(_levels[level][sibling]);
            }
            index /= 2;
        }
        return proof;
    }

    /// <summary>The root a leaf and its proof lead to.</summary>
    public static Hash256 ComputeRoot(Hash256 leaf, IEnumerable<Hash256> proof)
    {
        ArgumentNullException.ThrowIfNull(proof);
        var node = leaf;
        foreach (var sibling in proof)
        {
            node = HashPair(node, sibling);
        }
        return node;
    }

    /// <summary>True when <paramref name="proof"/> shows <paramref name="leaf"/> is in the batch with <paramref name="root"/>.</summary>
    public static bool Verify(Hash256 leaf, IEnumerable<Hash256> proof, Hash256 root) => ComputeRoot(leaf, proof) == root;

    /// <summary>True when <paramref name="proof"/> shows the signed receipt is in the batch with <paramref name="root"/>.</summary>
    public static bool Verify(Receipt receipt, IEnumerable<Hash256> proof, Hash256 root) => Verify(Leaf(receipt), proof, root);
}
