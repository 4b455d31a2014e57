using Prova.Core.Content;
using Prova.Core.Crypto;
using Prova.Core.Keys;
using Prova.Core.Receipts;
using Xunit.Abstractions;

namespace Prova.Core.Tests.Receipts;

public class ReceiptBatchTests(ITestOutputHelper output)
{
    private static readonly PrivateKey s_node = PrivateKey.FromHex("0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318");

    private static Hash256 H(int i) => Keccak256.Hash($"leaf {i}");

    private static Hash256[] Leaves(int n) => [.. Enumerable.Range(0, n).Select(H)];

    // The rule written out independently: sorted pair of 64 bytes, odd last node promoted.
    private static Hash256 Pair(Hash256 a, Hash256 b)
    {
        string sa = a.ToString(), sb = b.ToString();
        return string.CompareOrdinal(sa, sb) <= 0
            ? Keccak256.HashConcat(a.ToArray(), b.ToArray())
            : Keccak256.HashConcat(b.ToArray(), a.ToArray());
    }

    private static Hash256 ReferenceRoot(IReadOnlyList<Hash256> level)
    {
        if (level.Count == 1)
        {
            return level[0];
        }
        var next = new List<Hash256>();
        for (int i = 0; i < level.Count; i += 2)
        {
            next.Add(i + 1 < level.Count ? Pair(level[i], level[i + 1]) : level[i]);
        }
        return ReferenceRoot(next);
    }

    [Fact]
    public void One_leaf_is_its_own_root_with_an_empty_proof()
    {
        var batch = new ReceiptBatch([H(0)]);
        Assert.Equal(H(0), batch.Root);
        Assert.Empty(batch.Proof(0));
        Assert.True(ReceiptBatch.Verify(H(0), [], batch.Root));
    }

    [Fact]
    public void Small_trees_follow_the_rule_by_hand()
    {
        var l = Leaves(3);
        var two = new ReceiptBatch([l[0], l[1]]);
        Assert.Equal(Pair(l[0], l[1]), two.Root);
        // Sorted pair: the order of the two leaves does not matter.
        Assert.Equal(two.Root, new ReceiptBatch([l[1], l[0]]).Root);
        // Three leaves: the third is promoted unchanged, then paired with the first pair.
        var three = new ReceiptBatch(l);
        Assert.Equal(Pair(Pair(l[0], l[1]), l[2]), three.Root);
        Assert.Equal([Pair(l[0], l[1])], three.Proof(2));
        Assert.Equal([l[1], l[2]], three.Proof(0));
    }

    [Fact]
    public void Pair_hash_orders_bytes_unsigned()
    {
        // 0x80… sorts after 0x7f… (unsigned), so it goes second.
        var high = Hash256.Parse("0x80" + new string('0', 62));
        var low = Hash256.Parse("0x7f" + new string('f', 62));
        var expected = Keccak256.HashConcat(low.ToArray(), high.ToArray());
        Assert.Equal(expected, ReceiptBatch.HashPair(high, low));
        Assert.Equal(expected, ReceiptBatch.HashPair(low, high));
    }

    [Fact]
    public void Every_proof_of_every_size_up_to_70_verifies_and_matches_the_reference()
    {
        for (int n = 1; n <= 70; n++)
        {
            var leaves = Leaves(n);
            var batch = new ReceiptBatch(leaves);
            Assert.Equal(ReferenceRoot(leaves), batch.Root);
            int depth = (int)Math.Ceiling(Math.Log2(n));
            for (int i = 0; i < n; i++)
            {
                var proof = batch.Proof(i);
                Assert.True(proof.Count <= depth, $"n={n} i={i}: proof of {proof.Count} > depth {depth}");
                Assert.True(ReceiptBatch.Verify(leaves[i], proof, batch.Root), $"n={n} i={i}");
            }
        }
    }

    [Fact]
    public void A_wrong_leaf_sibling_or_root_does_not_verify()
    {
        var leaves = Leaves(9);
        var batch = new ReceiptBatch(leaves);
        var proof = batch.Proof(4);
        Assert.False(ReceiptBatch.Verify(H(100), proof, batch.Root));
        Assert.False(ReceiptBatch.Verify(leaves[4], proof, H(100)));
        for (int k = 0; k < proof.Count; k++)
        {
            var tampered = proof.ToArray();
            tampered[k] = H(200 + k);
            Assert.False(ReceiptBatch.Verify(leaves[4], tampered, batch.Root), $"sibling {k} replaced");
        }
        Assert.False(ReceiptBatch.Verify(leaves[4], proof.Take(proof.Count - 1), batch.Root));
        // A leaf's proof does not prove another leaf.
        Assert.False(ReceiptBatch.Verify(leaves[5], proof, batch.Root));
    }

    [Fact]
    public void Random_batches_prove_every_leaf_and_reject_foreign_ones()
    {
        int seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        for (int round = 0; round < 20; round++)
        {
            int n = random.Next(1, 600);
            var leaves = new Hash256[n];
            var bytes = new byte[32];
            for (int i = 0; i < n; i++)
            {
                random.NextBytes(bytes);
                leaves[i] = new Hash256(bytes);
            }
            var batch = new ReceiptBatch(leaves);
            Assert.Equal(ReferenceRoot(leaves), batch.Root);
            int index = random.Next(n);
            Assert.True(ReceiptBatch.Verify(leaves[index], batch.Proof(index), batch.Root), $"seed {seed} n={n} i={index}");
            random.NextBytes(bytes);
            Assert.False(ReceiptBatch.Verify(new Hash256(bytes), batch.Proof(index), batch.Root), $"seed {seed}");
        }
    }

    [Fact]
    public void A_receipt_leaf_is_keccak_of_its_signing_hash_and_changes_with_any_field()
    {
        var receipt = new Receipt
        {
            Model = Cid.ForBytes("model"u8),
            InputHash = H(1),
            OutputHash = H(2),
            RequestId = H(3),
            Timestamp = 1_700_000_000,
            ChainId = 31337,
            VerifyingContract = Address.Parse("0x5FbDB2315678afecb367f032d93F642f64180aa3"),
        }.SignWith(s_node);
        Assert.Equal(Keccak256.Hash(receipt.SigningHash().ToArray()), ReceiptBatch.Leaf(receipt));
        Assert.NotEqual(receipt.SigningHash(), ReceiptBatch.Leaf(receipt));
        var others = new[]
        {
            receipt with { OutputHash = H(4) },
            receipt with { ChainId = 1 },
            receipt with { VerifyingContract = Address.Zero },
            receipt with { Timestamp = 1_700_000_001 },
        };
        var batch = ReceiptBatch.FromReceipts([receipt, .. others]);
        Assert.Equal(5, batch.Count);
        Assert.Equal(5, batch.Leaves.Distinct().Count());
        Assert.True(ReceiptBatch.Verify(receipt, batch.Proof(0), batch.Root));
        Assert.False(ReceiptBatch.Verify(others[0], batch.Proof(0), batch.Root));
    }

    [Fact]
    public void Bad_arguments_are_typed_errors()
    {
        Assert.Throws<ArgumentException>(() => new ReceiptBatch([]));
        var batch = new ReceiptBatch(Leaves(3));
        Assert.Throws<ArgumentOutOfRangeException>(() => batch.Proof(3));
        Assert.Throws<ArgumentOutOfRangeException>(() => batch.Proof(-1));
    }
}
