// Binary SHA-256 Merkle tree over a power-of-two number of leaves.
// leaf = SHA-256(0x00 ‖ leaf bytes), node = SHA-256(0x01 ‖ left ‖ right).
// Multi-openings send only the siblings the verifier cannot compute itself, level by level from the
// leaves up, in increasing index order within a level.
using System.Numerics;
using System.Security.Cryptography;
using Prova.Core.Crypto;
using Prova.Proofs.Transcript;

namespace Prova.Proofs.Commitments;

public sealed class MerkleTree
{
    private const int ParallelNodes = 1 << 10;

    // _levels[0] = leaf digests, _levels[^1] = [root].
    private readonly byte[][] _levels;

    private MerkleTree(byte[][] levels)
    {
        _levels = levels;
    }

    public int LeafCount => _levels[0].Length / Hash256.Length;

    public Hash256 Root => new(_levels[^1]);

    /// <summary>Builds the tree from leaf digests (count must be a power of two).</summary>
    public static MerkleTree FromLeafDigests(byte[] leafDigests)
    {
        int n = leafDigests.Length / Hash256.Length;
        if (n == 0 || !BitOperations.IsPow2(n) || leafDigests.Length != n * Hash256.Length)
        {
            throw new ArgumentException($"a Merkle tree needs a power-of-two number of 32-byte leaves, got {leafDigests.Length} bytes");
        }
        int depth = BitOperations.Log2((uint)n);
        var levels = new byte[depth + 1][];
        levels[0] = leafDigests;
        for (int d = 1; d <= depth; d++)
        {
            var below = levels[d - 1];
            var level = new byte[below.Length / 2];
            int count = level.Length / Hash256.Length;
            if (count >= ParallelNodes)
            {
                Parallel.For(0, 8, c => HashNodes(below, level, count * c / 8, count * (c + 1) / 8));
            }
            else
            {
                HashNodes(below, level, 0, count);
            }
            levels[d] = level;
        }
        return new MerkleTree(levels);
    }

    public static void HashLeaf(ReadOnlySpan<byte> leaf, Span<byte> digest)
    {
        using var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        h.AppendData([0x00]);
        h.AppendData(leaf);
        h.GetHashAndReset(digest);
    }

    /// <summary>The sibling digests needed to verify the given sorted, distinct leaf indices.</summary>
    public Hash256[] Open(ReadOnlySpan<int> sortedDistinctIndices)
    {
        var result = new List<Hash256>();
        var current = sortedDistinctIndices.ToArray();
        for (int d = 0; d < _levels.Length - 1; d++)
        {
            var next = new List<int>(current.Length);
            for (int i = 0; i < current.Length; i++)
            {
                int idx = current[i];
                int sibling = idx ^ 1;
                bool siblingKnown = (idx & 1) == 0 && i + 1 < current.Length && current[i + 1] == sibling;
                if (siblingKnown)
                {
                    i++;
                }
                else
                {
                    result.Add(new Hash256(_levels[d].AsSpan(sibling * Hash256.Length, Hash256.Length)));
                }
                next.Add(idx >> 1);
            }
            current = [.. next];
        }
        return [.. result];
    }

    /// <summary>
    /// Recomputes the root from the opened leaves' digests and the sibling list; true when it matches.
    /// Throws <see cref="ProofRejectedException"/> when the sibling list has the wrong length.
    /// </summary>
    public static bool Verify(Hash256 root, int depth, ReadOnlySpan<int> sortedDistinctIndices, ReadOnlySpan<Hash256> leafDigests, ReadOnlySpan<Hash256> siblings)
    {
        var idx = sortedDistinctIndices.ToArray();
        var hashes = leafDigests.ToArray();
        int used = 0;
        Span<byte> buf = stackalloc byte[1 + 2 * Hash256.Length];
        Span<byte> outDigest = stackalloc byte[Hash256.Length];
        for (int d = 0; d < depth; d++)
        {
            var nextIdx = new List<int>(idx.Length);
            var nextHash = new List<Hash256>(idx.Length);
            for (int i = 0; i < idx.Length; i++)
            {
                int index = idx[i];
                Hash256 left, right;
                if ((index & 1) == 0 && i + 1 < idx.Length && idx[i + 1] == (index ^ 1))
                {
                    left = hashes[i];
                    right = hashes[i + 1];
                    i++;
                }
                else
                {
                    if (used >= siblings.Length)
                    {
                        throw new ProofRejectedException("merkle-shape", "Merkle opening has too few sibling digests");
                    }
                    var s = siblings[used++];
                    (left, right) = (index & 1) == 0 ? (hashes[i], s) : (s, hashes[i]);
                }
                buf[0] = 0x01;
                left.WriteTo(buf[1..]);
                right.WriteTo(buf[(1 + Hash256.Length)..]);
                SHA256.HashData(buf, outDigest);
                nextIdx.Add(index >> 1);
                nextHash.Add(new Hash256(outDigest));
            }
            idx = [.. nextIdx];
            hashes = [.. nextHash];
        }
        if (used != siblings.Length && VerifierMutation.Live("merkle-shape/extra"))
        {
            throw new ProofRejectedException("merkle-shape", "Merkle opening has extra sibling digests");
        }
        return hashes.Length == 1 && idx[0] == 0 && hashes[0] == root;
    }

    private static void HashNodes(byte[] below, byte[] level, int begin, int end)
    {
        Span<byte> buf = stackalloc byte[1 + 2 * Hash256.Length];
        buf[0] = 0x01;
        for (int i = begin; i < end; i++)
        {
            below.AsSpan(2 * i * Hash256.Length, 2 * Hash256.Length).CopyTo(buf[1..]);
            SHA256.HashData(buf, level.AsSpan(i * Hash256.Length, Hash256.Length));
        }
    }
}
