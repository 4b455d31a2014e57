using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using Prova.Core.Content;
using Prova.Node.Api;
using Prova.Node.Hosting;

namespace Prova.Node.Store;

/// <summary>Upload state of one piece of content: its manifest and the chunk indexes still missing.</summary>
public sealed record BlobStatus(ModelManifest Manifest, int[] Missing)
{
    public Cid Cid => Manifest.Cid;

    public bool Complete => Missing.Length == 0;
}

/// <summary>
/// The content-addressed store (docs/node-api.md, "Store layout"): manifests and chunk files on disk,
/// indexed in SQLite. Every chunk is verified against its manifest before it is written and again
/// whenever it is read; files are written atomically; start-up recovery makes the index agree with
/// the disk after a crash.
/// </summary>
public sealed partial class ContentStore
{
    private readonly string _manifests;
    private readonly string _chunks;
    private readonly string _temp;
    private readonly StoreDatabase _db;
    private readonly NodeOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<ContentStore> _logger;
    private readonly ConcurrentDictionary<Cid, ModelManifest> _manifestCache = new();

    public ContentStore(IOptions<NodeOptions> options, StoreDatabase db, TimeProvider time, ILogger<ContentStore> logger)
    {
        _options = options.Value;
        _db = db;
        _time = time;
        _logger = logger;
        string root = _options.DataDir;
        _manifests = Directory.CreateDirectory(Path.Combine(root, "manifests")).FullName;
        _chunks = Directory.CreateDirectory(Path.Combine(root, "chunks")).FullName;
        _temp = Directory.CreateDirectory(Path.Combine(root, "tmp")).FullName;
        _bundles = Directory.CreateDirectory(Path.Combine(root, "bundles")).FullName;
        _folders = Directory.CreateDirectory(Path.Combine(root, "folders")).FullName;
        Recover();
        RecoverBundles();
        RecoverUploads();
        CollectGarbage();
    }

    public string ChunkDirectory => _chunks;

    /// <summary>Records a manifest (idempotent) for this node's own use (replication, repair): no upload quota applies.</summary>
    public BlobStatus Announce(ModelManifest manifest, out bool created) => Announce(manifest, client: null, out created);

    /// <summary>
    /// Records a manifest (idempotent) and returns what is still missing. New content announced by a
    /// <paramref name="client"/> (its remote address) is charged to its unpublished-bytes quota first
    /// (<see cref="ApiException"/> <c>upload-quota</c>, 429 or 507, when it does not fit); announcing known content
    /// again only marks it as touched.
    /// </summary>
    public BlobStatus Announce(ModelManifest manifest, string? client, out bool created)
    {
        string cid = manifest.Cid.ToString();
        _collecting.EnterReadLock();
        try
        {
            using var connection = _db.Open();
            using var tx = connection.BeginTransaction();
            created = StoreDatabase.Scalar(connection, "SELECT 1 FROM blobs WHERE cid = $cid", ("$cid", cid)) is null;
            long now = _time.GetUtcNow().ToUnixTimeMilliseconds();
            if (created)
            {
                long charged = Charge(manifest);
                if (client is not null)
                {
                    CheckQuota(connection, client, charged);
                }
                AtomicFile.Write(Path.Combine(_manifests, cid), _temp, manifest.Encode());
                StoreDatabase.Execute(connection,
                    "INSERT OR IGNORE INTO blobs (cid, size, chunk_size, chunk_count, created) VALUES ($cid, $size, $cs, $n, $t)",
                    ("$cid", cid), ("$size", manifest.Size), ("$cs", manifest.ChunkSize), ("$n", manifest.ChunkCount), ("$t", _time.GetUtcNow().ToString("O")));
                using var insert = StoreDatabase.Command(connection, "INSERT OR IGNORE INTO blob_chunks (cid, idx, hash) VALUES ($cid, $i, $h)", ("$cid", cid), ("$i", 0), ("$h", ""));
                for (int i = 0; i < manifest.ChunkCount; i++)
                {
                    insert.Parameters["$i"].Value = i;
                    insert.Parameters["$h"].Value = Hex(manifest.ChunkHashes[i]);
                    insert.ExecuteNonQuery();
                }
                StoreDatabase.Execute(connection, "INSERT OR REPLACE INTO uploads (cid, client, charged, touched) VALUES ($cid, $c, $charged, $t)",
                    ("$cid", cid), ("$c", client ?? ""), ("$charged", charged), ("$t", now));
            }
            else
            {
                Touch(connection, cid, now);
            }
            tx.Commit();
            _manifestCache[manifest.Cid] = manifest;
            var status = new BlobStatus(manifest, Missing(connection, cid));
            HealIfComplete(status);
            return status;
        }
        finally
        {
            _collecting.ExitReadLock();
        }
    }

    /// <summary>The upload state of <paramref name="cid"/>, or null when it was never announced.</summary>
    public BlobStatus? Status(Cid cid)
    {
        var manifest = Manifest(cid);
        if (manifest is null)
        {
            return null;
        }
        using var connection = _db.Open();
        return new BlobStatus(manifest, Missing(connection, cid.ToString()));
    }

    /// <summary>The manifest of announced content, re-verified against its CID when first read from disk.</summary>
    public ModelManifest? Manifest(Cid cid)
    {
        if (_manifestCache.TryGetValue(cid, out var cached))
        {
            return cached;
        }
        string path = Path.Combine(_manifests, cid.ToString());
        using (var connection = _db.Open())
        {
            if (StoreDatabase.Scalar(connection, "SELECT 1 FROM blobs WHERE cid = $cid", ("$cid", cid.ToString())) is null)
            {
                return null;
            }
        }
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (IOException)
        {
            throw Corrupted(cid, -1, path);
        }
        if (Cid.ForBytes(bytes) != cid)
        {
            throw Corrupted(cid, -1, path);
        }
        var manifest = ModelManifest.Decode(bytes);
        _manifestCache[cid] = manifest;
        return manifest;
    }

    /// <summary>Verifies and stores chunk <paramref name="index"/>; returns the updated status.</summary>
    public BlobStatus PutChunk(ModelManifest manifest, int index, ReadOnlySpan<byte> bytes)
    {
        if (!manifest.Verify(index, bytes))
        {
            Log.ChunkRejected(_logger, manifest.Cid.ToString(), index);
            throw new ApiException(StatusCodes.Status422UnprocessableEntity, "chunk-mismatch",
                $"chunk {index} ({bytes.Length} bytes) does not match its SHA-256 in the manifest of {manifest.Cid} (expected {manifest.ChunkLength(index)} bytes); nothing was stored");
        }
        string hash = Hex(manifest.ChunkHashes[index]);
        _collecting.EnterReadLock();
        try
        {
            using var connection = _db.Open();
            if (StoreDatabase.Scalar(connection, "SELECT 1 FROM chunks WHERE hash = $h", ("$h", hash)) is null)
            {
                AtomicFile.Write(Path.Combine(_chunks, hash), _temp, bytes);
                StoreDatabase.Execute(connection, "INSERT OR IGNORE INTO chunks (hash, size) VALUES ($h, $s)", ("$h", hash), ("$s", bytes.Length));
            }
            Touch(connection, manifest.Cid.ToString(), _time.GetUtcNow().ToUnixTimeMilliseconds());
            var status = new BlobStatus(manifest, Missing(connection, manifest.Cid.ToString()));
            HealIfComplete(status);
            return status;
        }
        finally
        {
            _collecting.ExitReadLock();
        }
    }

    /// <summary>Reads chunk <paramref name="index"/> and checks it; a corrupted file is dropped and reported (500), never served.</summary>
    public byte[] ReadChunk(ModelManifest manifest, int index)
    {
        string hash = Hex(manifest.ChunkHashes[index]);
        string path = Path.Combine(_chunks, hash);
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (FileNotFoundException)
        {
            throw Missing(manifest, index);
        }
        if (!manifest.Verify(index, bytes))
        {
            using (var connection = _db.Open())
            {
                StoreDatabase.Execute(connection, "DELETE FROM chunks WHERE hash = $h", ("$h", hash));
            }
            File.Delete(path);
            MarkDamaged(hash, manifest.Cid);
            throw Corrupted(manifest.Cid, index, path);
        }
        return bytes;
    }

    /// <summary>The whole content, every chunk verified (for loading a model).</summary>
    public byte[] ReadAll(ModelManifest manifest)
    {
        var content = new byte[manifest.Size];
        for (int i = 0; i < manifest.ChunkCount; i++)
        {
            ReadChunk(manifest, i).CopyTo(content, manifest.ChunkOffset(i));
        }
        return content;
    }

    private ApiException Missing(ModelManifest manifest, int index)
    {
        using (var connection = _db.Open())
        {
            StoreDatabase.Execute(connection, "DELETE FROM chunks WHERE hash = $h", ("$h", Hex(manifest.ChunkHashes[index])));
        }
        MarkDamaged(Hex(manifest.ChunkHashes[index]), manifest.Cid);
        return new ApiException(StatusCodes.Status409Conflict, "incomplete-content", $"chunk {index} of {manifest.Cid} is not stored on this node");
    }

    private ApiException Corrupted(Cid cid, int index, string path)
    {
        Log.CorruptChunk(_logger, cid.ToString(), index, path);
        return new ApiException(StatusCodes.Status500InternalServerError, "corrupted-content",
            index < 0
                ? $"the stored manifest of {cid} is corrupted"
                : $"stored chunk {index} of {cid} failed its integrity check and was dropped; this node re-fetches it from a peer that hosts the model (or push the model again)");
    }

    private static int[] Missing(SqliteConnection connection, string cid)
    {
        using var command = StoreDatabase.Command(connection,
            "SELECT bc.idx FROM blob_chunks bc LEFT JOIN chunks c ON c.hash = bc.hash WHERE bc.cid = $cid AND c.hash IS NULL ORDER BY bc.idx",
            ("$cid", cid));
        using var reader = command.ExecuteReader();
        var missing = new List<int>();
        while (reader.Read())
        {
            missing.Add(reader.GetInt32(0));
        }
        return [.. missing];
    }

    private static string Hex(Prova.Core.Crypto.Hash256 hash) => hash.ToString()[2..];

    /// <summary>Makes the index agree with the disk after any crash (docs/node-api.md, "Store layout").</summary>
    private void Recover()
    {
        int temp = 0, lost = 0, adopted = 0, bad = 0;
        foreach (var file in Directory.EnumerateFiles(_temp))
        {
            File.Delete(file);
            temp++;
        }
        using var connection = _db.Open();
        var known = new HashSet<string>(StringComparer.Ordinal);
        using (var command = StoreDatabase.Command(connection, "SELECT hash, size FROM chunks"))
        using (var reader = command.ExecuteReader())
        {
            var gone = new List<string>();
            while (reader.Read())
            {
                string hash = reader.GetString(0);
                var info = new FileInfo(Path.Combine(_chunks, hash));
                if (info.Exists && info.Length == reader.GetInt64(1))
                {
                    known.Add(hash);
                }
                else
                {
                    gone.Add(hash);
                }
            }
            reader.Close();
            foreach (var hash in gone)
            {
                StoreDatabase.Execute(connection, "DELETE FROM chunks WHERE hash = $h", ("$h", hash));
                lost++;
            }
        }
        foreach (var file in Directory.EnumerateFiles(_chunks))
        {
            string name = Path.GetFileName(file);
            if (known.Contains(name))
            {
                continue;
            }
            // Renamed into place but not recorded (killed between rename and commit): adopt it if whole.
            bool whole;
            long size;
            using (var stream = File.OpenRead(file))
            {
                size = stream.Length;
                whole = Convert.ToHexStringLower(SHA256.HashData(stream)) == name;
            }
            if (whole)
            {
                StoreDatabase.Execute(connection, "INSERT OR IGNORE INTO chunks (hash, size) VALUES ($h, $s)", ("$h", name), ("$s", size));
                adopted++;
            }
            else
            {
                File.Delete(file);
                bad++;
            }
        }
        var blobs = new List<string>();
        using (var command = StoreDatabase.Command(connection, "SELECT cid FROM blobs"))
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                blobs.Add(reader.GetString(0));
            }
        }
        foreach (var cid in blobs)
        {
            string path = Path.Combine(_manifests, cid);
            if (!File.Exists(path) || !Cid.TryParse(cid, out var parsed) || Cid.ForBytes(File.ReadAllBytes(path)) != parsed)
            {
                StoreDatabase.Execute(connection, "DELETE FROM blob_chunks WHERE cid = $c; DELETE FROM blobs WHERE cid = $c", ("$c", cid));
                File.Delete(path);
                bad++;
            }
        }
        var blobSet = new HashSet<string>(blobs, StringComparer.Ordinal);
        foreach (var file in Directory.EnumerateFiles(_manifests))
        {
            if (!blobSet.Contains(Path.GetFileName(file)))
            {
                File.Delete(file);
            }
        }
        long blobCount = (long)StoreDatabase.Scalar(connection, "SELECT COUNT(*) FROM blobs")!;
        long chunkCount = (long)StoreDatabase.Scalar(connection, "SELECT COUNT(*) FROM chunks")!;
        Log.StoreOpened(_logger, _options.DataDir, blobCount, chunkCount, temp, lost, adopted, bad);
    }
}
