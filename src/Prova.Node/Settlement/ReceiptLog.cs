using System.Globalization;
using System.Numerics;
using Microsoft.Data.Sqlite;
using Prova.Core.Crypto;
using Prova.Core.Receipts;
using Prova.Node.Store;

namespace Prova.Node.Settlement;

/// <summary>Where a batch is in its life (docs/settlement-node.md).</summary>
public enum BatchState
{
    /// <summary>Built locally; its root is not on chain yet (a post failed or is in flight).</summary>
    Built,

    /// <summary>Root posted; the challenge window runs.</summary>
    Posted,

    /// <summary>Fees collected after the window.</summary>
    Collected,
}

/// <summary>A batch as the log keeps it.</summary>
public sealed record BatchRecord(long Id, Hash256 Root, int Count, BatchState State, string? ChainBatchId, string? TxHash,
    long? PostedAt, string? Fees);

/// <summary>Where a served receipt sits: its batch, its index and its inclusion proof.</summary>
public sealed record ReceiptInclusion(Receipt Receipt, BatchRecord Batch, int Index, IReadOnlyList<Hash256> Proof);

/// <summary>
/// The node's log of served receipts and of the batches their Merkle roots went into
/// (SQLite, &lt;data-dir&gt;/settlement.db, WAL). Every receipt the node signs for its Settlement
/// contract is recorded here before the response leaves, so it is batched exactly once.
/// </summary>
public sealed class ReceiptLog
{
    private const string Schema = """
        PRAGMA journal_mode = WAL;
        CREATE TABLE IF NOT EXISTS receipts (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            request_id TEXT NOT NULL, leaf TEXT NOT NULL UNIQUE, receipt TEXT NOT NULL,
            served_at INTEGER NOT NULL, batch INTEGER NULL, leaf_index INTEGER NULL);
        CREATE INDEX IF NOT EXISTS receipts_request ON receipts (request_id);
        CREATE INDEX IF NOT EXISTS receipts_unbatched ON receipts (batch, seq);
        CREATE TABLE IF NOT EXISTS batches (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            root TEXT NOT NULL, count INTEGER NOT NULL, state TEXT NOT NULL,
            chain_batch TEXT NULL, tx TEXT NULL, posted_at INTEGER NULL, fees TEXT NULL, created INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS vouchers (
            client TEXT PRIMARY KEY, cumulative TEXT NOT NULL, signature TEXT NOT NULL, posted TEXT NOT NULL);
        """;

    private readonly StoreDatabase _db;

    public ReceiptLog(string path)
    {
        _db = new StoreDatabase(path);
        using var connection = _db.Open();
        StoreDatabase.Execute(connection, Schema);
    }

    /// <summary>Records a served, signed receipt. Recording the same receipt twice is a no-op; returns false then.</summary>
    public bool Record(Receipt receipt)
    {
        ArgumentNullException.ThrowIfNull(receipt);
        using var connection = _db.Open();
        return StoreDatabase.Execute(connection,
            "INSERT OR IGNORE INTO receipts (request_id, leaf, receipt, served_at) VALUES ($r, $l, $j, $t)",
            ("$r", receipt.RequestId.ToString()), ("$l", ReceiptBatch.Leaf(receipt).ToString()),
            ("$j", receipt.ToJson()), ("$t", (long)receipt.Timestamp)) == 1;
    }

    /// <summary>How many receipts wait for a batch.</summary>
    public long PendingCount()
    {
        using var connection = _db.Open();
        return (long)StoreDatabase.Scalar(connection, "SELECT COUNT(*) FROM receipts WHERE batch IS NULL")!;
    }

    /// <summary>
    /// Puts up to <paramref name="maxReceipts"/> unbatched receipts (oldest first) into a new batch and returns it,
    /// or null when none wait. The receipts' batch and index are written in the same transaction.
    /// </summary>
    public BatchRecord? CreateBatch(int maxReceipts, long now)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxReceipts, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxReceipts, ReceiptBatch.MaxLeaves);
        using var connection = _db.Open();
        using var transaction = connection.BeginTransaction(deferred: false);
        var seqs = new List<long>();
        var leaves = new List<Hash256>();
        using (var command = StoreDatabase.Command(connection, "SELECT seq, leaf FROM receipts WHERE batch IS NULL ORDER BY seq LIMIT $n", ("$n", maxReceipts)))
        {
            command.Transaction = transaction;
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                seqs.Add(reader.GetInt64(0));
                leaves.Add(Hash256.Parse(reader.GetString(1)));
            }
        }
        if (seqs.Count == 0)
        {
            return null;
        }
        var tree = new ReceiptBatch(leaves);
        long id = (long)Scalar(connection, transaction,
            "INSERT INTO batches (root, count, state, created) VALUES ($root, $n, $s, $t) RETURNING id",
            ("$root", tree.Root.ToString()), ("$n", seqs.Count), ("$s", nameof(BatchState.Built)), ("$t", now))!;
        using (var update = StoreDatabase.Command(connection, "UPDATE receipts SET batch = $b, leaf_index = $i WHERE seq = $seq",
            ("$b", id), ("$i", 0), ("$seq", 0L)))
        {
            update.Transaction = transaction;
            update.Prepare();
            for (int i = 0; i < seqs.Count; i++)
            {
                update.Parameters["$i"].Value = i;
                update.Parameters["$seq"].Value = seqs[i];
                update.ExecuteNonQuery();
            }
        }
        transaction.Commit();
        return new BatchRecord(id, tree.Root, seqs.Count, BatchState.Built, null, null, null, null);
    }

    public void MarkPosted(long id, string chainBatchId, string txHash, long postedAt)
    {
        using var connection = _db.Open();
        StoreDatabase.Execute(connection, "UPDATE batches SET state = $s, chain_batch = $c, tx = $tx, posted_at = $p WHERE id = $id",
            ("$s", nameof(BatchState.Posted)), ("$c", chainBatchId), ("$tx", txHash), ("$p", postedAt), ("$id", id));
    }

    public void MarkCollected(long id, string fees)
    {
        using var connection = _db.Open();
        StoreDatabase.Execute(connection, "UPDATE batches SET state = $s, fees = $f WHERE id = $id",
            ("$s", nameof(BatchState.Collected)), ("$f", fees), ("$id", id));
    }

    public IReadOnlyList<BatchRecord> Batches(BatchState? state = null)
    {
        using var connection = _db.Open();
        using var command = state is { } s
            ? StoreDatabase.Command(connection, "SELECT id, root, count, state, chain_batch, tx, posted_at, fees FROM batches WHERE state = $s ORDER BY id", ("$s", s.ToString()))
            : StoreDatabase.Command(connection, "SELECT id, root, count, state, chain_batch, tx, posted_at, fees FROM batches ORDER BY id");
        using var reader = command.ExecuteReader();
        var list = new List<BatchRecord>();
        while (reader.Read())
        {
            list.Add(ReadBatch(reader));
        }
        return list;
    }

    public BatchRecord? Batch(long id) => Batches().FirstOrDefault(b => b.Id == id);

    /// <summary>The receipts of a batch, in leaf order.</summary>
    public IReadOnlyList<Receipt> BatchReceipts(long id)
    {
        using var connection = _db.Open();
        using var command = StoreDatabase.Command(connection, "SELECT receipt FROM receipts WHERE batch = $b ORDER BY leaf_index", ("$b", id));
        using var reader = command.ExecuteReader();
        var list = new List<Receipt>();
        while (reader.Read())
        {
            list.Add(Receipt.FromJson(reader.GetString(0)));
        }
        return list;
    }

    /// <summary>The batched receipt answering <paramref name="requestId"/> with its inclusion proof; null when it is unknown or not batched yet.</summary>
    public ReceiptInclusion? Inclusion(Hash256 requestId)
    {
        long batch;
        int index;
        Receipt receipt;
        using (var connection = _db.Open())
        {
            using var command = StoreDatabase.Command(connection,
                "SELECT receipt, batch, leaf_index FROM receipts WHERE request_id = $r AND batch IS NOT NULL ORDER BY seq LIMIT 1",
                ("$r", requestId.ToString()));
            using var reader = command.ExecuteReader();
            if (!reader.Read())
            {
                return null;
            }
            receipt = Receipt.FromJson(reader.GetString(0));
            batch = reader.GetInt64(1);
            index = reader.GetInt32(2);
        }
        var record = Batch(batch)!;
        var tree = ReceiptBatch.FromReceipts(BatchReceipts(batch));
        return new ReceiptInclusion(receipt, record, index, tree.Proof(index));
    }

    /// <summary>
    /// Keeps a client's voucher when it authorises more than the one already kept (vouchers are cumulative).
    /// The caller checked its signature. Returns false for a voucher that adds nothing.
    /// </summary>
    public bool OfferVoucher(Voucher voucher)
    {
        ArgumentNullException.ThrowIfNull(voucher);
        using var connection = _db.Open();
        using var transaction = connection.BeginTransaction(deferred: false);
        var current = Scalar(connection, transaction, "SELECT cumulative FROM vouchers WHERE client = $c", ("$c", voucher.Client.ToString())) as string;
        if (current is not null && BigInteger.Parse(current, CultureInfo.InvariantCulture) >= voucher.Cumulative)
        {
            return false;
        }
        using (var command = StoreDatabase.Command(connection,
            "INSERT INTO vouchers (client, cumulative, signature, posted) VALUES ($c, $n, $s, '0') " +
            "ON CONFLICT (client) DO UPDATE SET cumulative = $n, signature = $s",
            ("$c", voucher.Client.ToString()), ("$n", voucher.Cumulative.ToString(CultureInfo.InvariantCulture)), ("$s", voucher.Signature.ToString())))
        {
            command.Transaction = transaction;
            command.ExecuteNonQuery();
        }
        transaction.Commit();
        return true;
    }

    /// <summary>The kept voucher authorising the most not yet posted, or null when none authorises anything new.</summary>
    public Voucher? NextVoucher(Address node)
    {
        using var connection = _db.Open();
        using var command = StoreDatabase.Command(connection, "SELECT client, cumulative, signature, posted FROM vouchers");
        using var reader = command.ExecuteReader();
        Voucher? best = null;
        var bestGain = BigInteger.Zero;
        while (reader.Read())
        {
            var cumulative = BigInteger.Parse(reader.GetString(1), CultureInfo.InvariantCulture);
            var gain = cumulative - BigInteger.Parse(reader.GetString(3), CultureInfo.InvariantCulture);
            if (gain > bestGain)
            {
                bestGain = gain;
                best = new Voucher { Client = Address.Parse(reader.GetString(0)), Node = node, Cumulative = cumulative, Signature = Signature.Parse(reader.GetString(2)) };
            }
        }
        return best;
    }

    /// <summary>Records that a batch carried the client's voucher up to <paramref name="cumulative"/>.</summary>
    public void MarkVoucherPosted(Address client, BigInteger cumulative)
    {
        using var connection = _db.Open();
        StoreDatabase.Execute(connection, "UPDATE vouchers SET posted = $n WHERE client = $c",
            ("$n", cumulative.ToString(CultureInfo.InvariantCulture)), ("$c", client.ToString()));
    }

    private static BatchRecord ReadBatch(SqliteDataReader reader) => new(
        reader.GetInt64(0),
        Hash256.Parse(reader.GetString(1)),
        reader.GetInt32(2),
        Enum.Parse<BatchState>(reader.GetString(3)),
        reader.IsDBNull(4) ? null : reader.GetString(4),
        reader.IsDBNull(5) ? null : reader.GetString(5),
        reader.IsDBNull(6) ? null : reader.GetInt64(6),
        reader.IsDBNull(7) ? null : reader.GetString(7));

    private static object? Scalar(SqliteConnection connection, SqliteTransaction transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = StoreDatabase.Command(connection, sql, parameters);
        command.Transaction = transaction;
        return command.ExecuteScalar();
    }
}
