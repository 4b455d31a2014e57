using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;
using Prova.Core.Content;
using Prova.Node.Api;

namespace Prova.Node.Store;

/// <summary>
/// Unpublished uploads and damaged content (docs/network.md, "Uploads, quotas and garbage collection" and
/// "Self-healing"). Content is <em>published</em> when a published model names it, or a published bundle lists it;
/// everything else is unpublished. Every announced manifest has an <c>uploads</c> row: who announced it (remote
/// address; empty for the node's own pulls), the bytes charged to that client and when it was last touched
/// (announced or sent a chunk). Unpublished content counts against <see cref="Hosting.NodeOptions.UnpublishedBytesPerClient"/>
/// and <see cref="Hosting.NodeOptions.UnpublishedBytes"/>; untouched for <see cref="Hosting.NodeOptions.UnpublishedMaxAgeSeconds"/>
/// it is deleted by <see cref="CollectGarbage"/>, with every chunk no manifest references any more.
/// </summary>
public sealed partial class ContentStore
{
    /// <summary>A chunk is charged at least this many bytes, so tiny chunks cannot cost index rows for free.</summary>
    public const long ChargePerChunk = 64 << 10;

    /// <summary>SQL true when the content named by <c>{0}</c> is referenced by no published model or bundle.</summary>
    private const string UnpublishedSql = """
        NOT EXISTS (SELECT 1 FROM models m WHERE m.cid = {0})
        AND NOT EXISTS (SELECT 1 FROM bundle_files bf JOIN models m ON m.cid = bf.cid WHERE bf.file_cid = {0})
        """;

    // Announce and PutChunk hold it for reading, garbage collection for writing: a collection never deletes
    // a file that an upload is writing or has just found present.
    private readonly ReaderWriterLockSlim _collecting = new();
    private readonly ConcurrentDictionary<Cid, int> _pins = new();
    private readonly ConcurrentDictionary<Cid, byte> _damaged = new();

    /// <summary>What announcing <paramref name="manifest"/> costs against the quota: its size, at least <see cref="ChargePerChunk"/> a chunk.</summary>
    public static long Charge(ModelManifest manifest) => Math.Max(manifest.Size, manifest.ChunkCount * ChargePerChunk);

    /// <summary>
    /// Keeps <paramref name="cids"/> (and, for a bundle, its files) from garbage collection until disposed: a pull or
    /// publication in progress.
    /// </summary>
    public IDisposable Pin(params Cid[] cids)
    {
        foreach (var cid in cids)
        {
            _pins.AddOrUpdate(cid, 1, (_, n) => n + 1);
        }
        return new Unpin(this, cids);
    }

    /// <summary>Unpublished bytes charged to <paramref name="client"/> (a remote address) now.</summary>
    public long UnpublishedBytes(string client)
    {
        using var connection = _db.Open();
        return Usage(connection, client);
    }

    /// <summary>True when a chunk of <paramref name="cid"/> (a model, a bundle or one of its files) was found missing or corrupted and is not repaired yet.</summary>
    public bool IsDamaged(Cid cid) => _damaged.ContainsKey(cid);

    /// <summary>Content with a missing or corrupted chunk, not repaired yet (models, bundles and bundle files).</summary>
    public IReadOnlyCollection<Cid> Damaged => [.. _damaged.Keys];

    /// <summary>
    /// Deletes unpublished content untouched for <see cref="Hosting.NodeOptions.UnpublishedMaxAgeSeconds"/> (never
    /// pinned content), then every chunk no manifest references. The index is updated in one transaction before any
    /// file is deleted, so a crash leaves only files that start-up recovery removes. Returns the manifests deleted.
    /// </summary>
    public int CollectGarbage()
    {
        long cutoff = _time.GetUtcNow().ToUnixTimeMilliseconds() - _options.UnpublishedMaxAgeSeconds * 1000L;
        var victims = new List<(string Cid, bool Bundle)>();
        var chunks = new List<(string Hash, long Size)>();
        _collecting.EnterWriteLock();
        try
        {
            using var connection = _db.Open();
            using var tx = connection.BeginTransaction();
            var pinned = new HashSet<string>(StringComparer.Ordinal);
            foreach (var cid in _pins.Keys)
            {
                pinned.Add(cid.ToString());
                foreach (string file in Strings(connection, "SELECT file_cid FROM bundle_files WHERE cid = $c", ("$c", cid.ToString())))
                {
                    pinned.Add(file);
                }
            }
            using (var command = StoreDatabase.Command(connection,
                $"""
                SELECT u.cid, EXISTS (SELECT 1 FROM bundles b WHERE b.cid = u.cid) FROM uploads u
                WHERE u.touched < $cutoff AND {string.Format(UnpublishedSql, "u.cid")}
                AND NOT EXISTS (SELECT 1 FROM bundle_files bf JOIN uploads ub ON ub.cid = bf.cid WHERE bf.file_cid = u.cid AND ub.touched >= $cutoff)
                """,
                ("$cutoff", cutoff)))
            using (var reader = command.ExecuteReader())
            {
                while (reader.Read())
                {
                    if (!pinned.Contains(reader.GetString(0)))
                    {
                        victims.Add((reader.GetString(0), reader.GetBoolean(1)));
                    }
                }
            }
            foreach (var (cid, bundle) in victims)
            {
                StoreDatabase.Execute(connection, bundle
                    ? "DELETE FROM bundle_files WHERE cid = $c; DELETE FROM bundles WHERE cid = $c; DELETE FROM uploads WHERE cid = $c"
                    : "DELETE FROM blob_chunks WHERE cid = $c; DELETE FROM blobs WHERE cid = $c; DELETE FROM uploads WHERE cid = $c", ("$c", cid));
            }
            using (var command = StoreDatabase.Command(connection,
                "SELECT hash, size FROM chunks WHERE NOT EXISTS (SELECT 1 FROM blob_chunks bc WHERE bc.hash = chunks.hash)"))
            using (var reader = command.ExecuteReader())
            {
                while (reader.Read())
                {
                    chunks.Add((reader.GetString(0), reader.GetInt64(1)));
                }
            }
            foreach (var (hash, _) in chunks)
            {
                StoreDatabase.Execute(connection, "DELETE FROM chunks WHERE hash = $h", ("$h", hash));
            }
            tx.Commit();
            long bytes = 0;
            foreach (var (cid, bundle) in victims)
            {
                File.Delete(Path.Combine(bundle ? _bundles : _manifests, cid));
                if (Cid.TryParse(cid, out var parsed))
                {
                    _manifestCache.TryRemove(parsed, out _);
                    _bundleCache.TryRemove(parsed, out _);
                    _damaged.TryRemove(parsed, out _);
                }
            }
            foreach (var (hash, size) in chunks)
            {
                File.Delete(Path.Combine(_chunks, hash));
                bytes += size;
            }
            if (victims.Count > 0 || chunks.Count > 0)
            {
                Log.GarbageCollected(_logger, victims.Count, chunks.Count, bytes, _options.UnpublishedMaxAgeSeconds);
            }
        }
        finally
        {
            _collecting.ExitWriteLock();
        }
        return victims.Count;
    }

    /// <summary>Refuses new content of <paramref name="charged"/> bytes that would take the client or the node over its quota.</summary>
    private void CheckQuota(SqliteConnection connection, string client, long charged)
    {
        long mine = Usage(connection, client);
        if (mine + charged > _options.UnpublishedBytesPerClient)
        {
            throw QuotaExceeded(429, "UnpublishedBytesPerClient", _options.UnpublishedBytesPerClient, mine, charged,
                $"your unpublished uploads ({mine} bytes) plus this one ({charged} bytes) exceed UnpublishedBytesPerClient ({_options.UnpublishedBytesPerClient} bytes); publish or abandon them first (unpublished content is deleted after {_options.UnpublishedMaxAgeSeconds} s)");
        }
        long all = Usage(connection, null);
        if (all + charged > _options.UnpublishedBytes)
        {
            throw QuotaExceeded(507, "UnpublishedBytes", _options.UnpublishedBytes, all, charged,
                $"this node holds {all} bytes of unpublished uploads; this one ({charged} bytes) would exceed UnpublishedBytes ({_options.UnpublishedBytes} bytes); retry later (unpublished content is deleted after {_options.UnpublishedMaxAgeSeconds} s)");
        }
    }

    private static ApiException QuotaExceeded(int status, string limit, long maxBytes, long used, long charged, string detail) =>
        new(status, "upload-quota", detail, new Dictionary<string, object?>
        {
            ["limit"] = limit,
            ["maxBytes"] = maxBytes,
            ["usedBytes"] = used,
            ["requestedBytes"] = charged,
        });

    /// <summary>Unpublished bytes charged to <paramref name="client"/>, or to every client when null (the node's own pulls excluded).</summary>
    private static long Usage(SqliteConnection connection, string? client) =>
        (long)StoreDatabase.Scalar(connection,
            $"SELECT COALESCE(SUM(u.charged), 0) FROM uploads u WHERE {(client is null ? "u.client <> ''" : "u.client = $c")} AND {string.Format(UnpublishedSql, "u.cid")}",
            ("$c", client ?? ""))!;

    /// <summary>Marks <paramref name="cid"/> and every bundle listing it as active: a bundle upload lives while any of its files receives chunks.</summary>
    private static void Touch(SqliteConnection connection, string cid, long now) =>
        StoreDatabase.Execute(connection,
            "UPDATE uploads SET touched = $t WHERE touched < $t AND (cid = $c OR cid IN (SELECT cid FROM bundle_files WHERE file_cid = $c))",
            ("$c", cid), ("$t", now));

    private static List<string> Strings(SqliteConnection connection, string sql, params (string, object?)[] parameters)
    {
        using var command = StoreDatabase.Command(connection, sql, parameters);
        using var reader = command.ExecuteReader();
        var list = new List<string>();
        while (reader.Read())
        {
            list.Add(reader.GetString(0));
        }
        return list;
    }

    /// <summary>Withdraws all content whose manifest lists the dropped chunk <paramref name="hash"/> (it may be shared).</summary>
    private void MarkDamaged(string hash, Cid found)
    {
        MarkDamaged(found);
        using var connection = _db.Open();
        foreach (string cid in Strings(connection, "SELECT DISTINCT cid FROM blob_chunks WHERE hash = $h", ("$h", hash)))
        {
            if (Cid.TryParse(cid, out var other) && other != found)
            {
                MarkDamaged(other);
            }
        }
    }

    /// <summary>Withdraws <paramref name="fileCid"/> and every bundle listing it until its chunks are stored again.</summary>
    private void MarkDamaged(Cid fileCid)
    {
        if (_damaged.TryAdd(fileCid, 0))
        {
            Log.Withdrawn(_logger, fileCid.ToString());
        }
        foreach (var bundle in BundlesContaining(fileCid))
        {
            if (_damaged.TryAdd(bundle, 0))
            {
                Log.Withdrawn(_logger, bundle.ToString());
            }
        }
    }

    /// <summary>Re-advertises content found complete (a repair, or a chunk it shares with content repaired before).</summary>
    private void HealIfComplete(BlobStatus status)
    {
        if (status.Complete && !_damaged.IsEmpty)
        {
            Healed(status.Cid);
        }
    }

    /// <summary><paramref name="fileCid"/> is complete again: re-advertise it, and each bundle listing it once all its files are.</summary>
    private void Healed(Cid fileCid)
    {
        if (_damaged.TryRemove(fileCid, out _))
        {
            Log.Repaired(_logger, fileCid.ToString());
        }
        foreach (var bundle in BundlesContaining(fileCid))
        {
            if (_damaged.ContainsKey(bundle) && BundleStatusOf(bundle) is { Complete: true } && _damaged.TryRemove(bundle, out _))
            {
                Log.Repaired(_logger, bundle.ToString());
            }
        }
    }

    /// <summary>
    /// After <see cref="Recover"/>: gives content announced before uploads were tracked a full age from now, and
    /// withdraws published content that lost a chunk while the node was down.
    /// </summary>
    private void RecoverUploads()
    {
        using var connection = _db.Open();
        long now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        StoreDatabase.Execute(connection, """
            INSERT OR IGNORE INTO uploads (cid, client, charged, touched) SELECT cid, '', 0, $t FROM blobs;
            INSERT OR IGNORE INTO uploads (cid, client, charged, touched) SELECT cid, '', 0, $t FROM bundles;
            """, ("$t", now));
        foreach (string cid in Strings(connection, $"""
            SELECT DISTINCT bc.cid FROM blob_chunks bc LEFT JOIN chunks c ON c.hash = bc.hash
            WHERE c.hash IS NULL AND NOT ({string.Format(UnpublishedSql, "bc.cid")})
            """))
        {
            MarkDamaged(Cid.Parse(cid));
        }
    }

    private sealed class Unpin(ContentStore store, Cid[] cids) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
            {
                return;
            }
            foreach (var cid in cids)
            {
                if (store._pins.AddOrUpdate(cid, 0, (_, n) => n - 1) <= 0)
                {
                    store._pins.TryRemove(new KeyValuePair<Cid, int>(cid, 0));
                }
            }
        }
    }
}
