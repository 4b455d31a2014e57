using System.Collections.Concurrent;
using Prova.Core.Content;
using Prova.Node.Api;

namespace Prova.Node.Store;

/// <summary>Where one file of a bundle stands on this node.</summary>
/// <param name="Announced">Its chunk manifest is recorded.</param>
/// <param name="Missing">Chunks still missing (all of them, unknown, when not announced: -1).</param>
public sealed record BundleFileStatus(BundleFile File, bool Announced, int Missing)
{
    public bool Complete => Announced && Missing == 0;
}

/// <summary>Upload state of a bundle: its manifest and each file's state.</summary>
public sealed record BundleStatus(BundleManifest Manifest, IReadOnlyList<BundleFileStatus> Files)
{
    public Cid Cid => Manifest.Cid;

    public bool Complete => Files.All(f => f.Complete);
}

/// <summary>
/// Bundles (docs/formats.md, "Bundle manifest"): the manifest bytes in <c>bundles/&lt;cid&gt;</c>, its files in
/// the <c>bundle_files</c> index; each file is ordinary content (a chunk manifest plus chunks). Folders
/// materialised for consumers (<see cref="MaterializeAsync"/>) live in <c>folders/&lt;cid&gt;</c>.
/// </summary>
public sealed partial class ContentStore
{
    private readonly string _bundles;
    private readonly string _folders;
    private readonly ConcurrentDictionary<Cid, BundleManifest> _bundleCache = new();
    private readonly ConcurrentDictionary<Cid, SemaphoreSlim> _folderLocks = new();

    /// <summary>Records a bundle manifest (idempotent) for this node's own use (replication): no upload quota applies.</summary>
    public BundleStatus AnnounceBundle(BundleManifest bundle, out bool created) => AnnounceBundle(bundle, client: null, out created);

    /// <summary>
    /// Records a bundle manifest (idempotent) and returns each file's state; a new one announced by a
    /// <paramref name="client"/> is charged its manifest's length against the upload quota.
    /// </summary>
    public BundleStatus AnnounceBundle(BundleManifest bundle, string? client, out bool created)
    {
        string cid = bundle.Cid.ToString();
        _collecting.EnterReadLock();
        try
        {
            using var connection = _db.Open();
            using var tx = connection.BeginTransaction();
            created = StoreDatabase.Scalar(connection, "SELECT 1 FROM bundles WHERE cid = $cid", ("$cid", cid)) is null;
            long now = _time.GetUtcNow().ToUnixTimeMilliseconds();
            if (created)
            {
                byte[] encoded = bundle.Encode();
                if (client is not null)
                {
                    CheckQuota(connection, client, encoded.Length);
                }
                AtomicFile.Write(Path.Combine(_bundles, cid), _temp, encoded);
                StoreDatabase.Execute(connection,
                    "INSERT OR IGNORE INTO bundles (cid, size, file_count, created) VALUES ($cid, $size, $n, $t)",
                    ("$cid", cid), ("$size", bundle.Size), ("$n", bundle.Files.Count), ("$t", _time.GetUtcNow().ToString("O")));
                using var insert = StoreDatabase.Command(connection,
                    "INSERT OR IGNORE INTO bundle_files (cid, path, file_cid, size) VALUES ($cid, $p, $f, $s)", ("$cid", cid), ("$p", ""), ("$f", ""), ("$s", 0L));
                foreach (var f in bundle.Files)
                {
                    insert.Parameters["$p"].Value = f.Path;
                    insert.Parameters["$f"].Value = f.Cid.ToString();
                    insert.Parameters["$s"].Value = f.Size;
                    insert.ExecuteNonQuery();
                }
                StoreDatabase.Execute(connection, "INSERT OR REPLACE INTO uploads (cid, client, charged, touched) VALUES ($cid, $c, $charged, $t)",
                    ("$cid", cid), ("$c", client ?? ""), ("$charged", (long)encoded.Length), ("$t", now));
            }
            else
            {
                Touch(connection, cid, now);
            }
            tx.Commit();
            _bundleCache[bundle.Cid] = bundle;
        }
        finally
        {
            _collecting.ExitReadLock();
        }
        return BundleStatusOf(bundle);
    }

    /// <summary>The manifest of an announced bundle (re-verified against its CID when first read from disk), or null.</summary>
    public BundleManifest? Bundle(Cid cid)
    {
        if (_bundleCache.TryGetValue(cid, out var cached))
        {
            return cached;
        }
        using (var connection = _db.Open())
        {
            if (StoreDatabase.Scalar(connection, "SELECT 1 FROM bundles WHERE cid = $cid", ("$cid", cid.ToString())) is null)
            {
                return null;
            }
        }
        string path = Path.Combine(_bundles, cid.ToString());
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
        var bundle = BundleManifest.Decode(bytes);
        _bundleCache[cid] = bundle;
        return bundle;
    }

    /// <summary>The state of an announced bundle, or null when it was never announced.</summary>
    public BundleStatus? BundleStatusOf(Cid cid) => Bundle(cid) is { } bundle ? BundleStatusOf(bundle) : null;

    private BundleStatus BundleStatusOf(BundleManifest bundle)
    {
        var files = new List<BundleFileStatus>(bundle.Files.Count);
        foreach (var f in bundle.Files)
        {
            var status = Status(f.Cid);
            files.Add(status is null ? new BundleFileStatus(f, false, -1) : new BundleFileStatus(f, true, status.Missing.Length));
        }
        return new BundleStatus(bundle, files);
    }

    /// <summary>True when some announced bundle lists <paramref name="fileCid"/> with <paramref name="size"/> bytes.</summary>
    public bool IsBundleFile(Cid fileCid, long size)
    {
        using var connection = _db.Open();
        return StoreDatabase.Scalar(connection, "SELECT 1 FROM bundle_files WHERE file_cid = $f AND size = $s LIMIT 1",
            ("$f", fileCid.ToString()), ("$s", size)) is not null;
    }

    /// <summary>The CIDs of the bundles that list <paramref name="fileCid"/>.</summary>
    public IReadOnlyList<Cid> BundlesContaining(Cid fileCid)
    {
        using var connection = _db.Open();
        using var command = StoreDatabase.Command(connection, "SELECT DISTINCT cid FROM bundle_files WHERE file_cid = $f", ("$f", fileCid.ToString()));
        using var reader = command.ExecuteReader();
        var list = new List<Cid>();
        while (reader.Read())
        {
            list.Add(Cid.Parse(reader.GetString(0)));
        }
        return list;
    }

    /// <summary>
    /// The model <paramref name="cid"/> as a local folder (<see cref="ModelFolder"/>): a bundle's files under their
    /// paths, single-file content as <c>model.onnx</c>. Built once in <c>&lt;DataDir&gt;/folders/&lt;cid&gt;</c> from
    /// chunks each verified as it is read (a corrupted chunk fails with <c>corrupted-content</c> and is dropped);
    /// later calls return the same folder. Null when the content is unknown here; throws <see cref="ApiException"/>
    /// (<c>incomplete-content</c>) when chunks are missing.
    /// </summary>
    public async Task<string?> MaterializeAsync(Cid cid, CancellationToken cancellationToken = default)
    {
        IReadOnlyList<BundleFile> files;
        if (Bundle(cid) is { } bundle)
        {
            files = bundle.Files;
        }
        else if (Manifest(cid) is { } single)
        {
            files = ModelFolder.SingleFile(single);
        }
        else
        {
            return null;
        }
        string directory = Path.Combine(_folders, cid.ToString());
        if (ModelFolder.IsComplete(directory, cid, files))
        {
            return directory;
        }
        var gate = _folderLocks.GetOrAdd(cid, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        try
        {
            if (ModelFolder.IsComplete(directory, cid, files))
            {
                return directory;
            }
            foreach (var f in files)
            {
                var status = Status(f.Cid);
                if (status is null || !status.Complete || status.Manifest.Size != f.Size)
                {
                    throw new ApiException(409, "incomplete-content", $"'{f.Path}' ({f.Cid}) of {cid} is not complete on this node");
                }
            }
            return await ModelFolder.WriteAsync(directory, cid, files, WriteFileAsync, replace: true, cancellationToken);
        }
        finally
        {
            gate.Release();
        }
    }

    private async Task WriteFileAsync(BundleFile file, string path, CancellationToken cancellationToken)
    {
        var manifest = Manifest(file.Cid) ?? throw new ApiException(409, "incomplete-content", $"'{file.Path}' ({file.Cid}) is not stored on this node");
        using var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, FileOptions.Asynchronous, manifest.Size);
        for (int i = 0; i < manifest.ChunkCount; i++)
        {
            byte[] chunk = ReadChunk(manifest, i);
            await RandomAccess.WriteAsync(handle, chunk, manifest.ChunkOffset(i), cancellationToken);
        }
        RandomAccess.FlushToDisk(handle);
    }

    /// <summary>Drops bundle rows whose manifest file is gone or does not hash to the CID; removes half-built folders.</summary>
    private void RecoverBundles()
    {
        using var connection = _db.Open();
        var rows = new List<string>();
        using (var command = StoreDatabase.Command(connection, "SELECT cid FROM bundles"))
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                rows.Add(reader.GetString(0));
            }
        }
        foreach (var cid in rows)
        {
            string path = Path.Combine(_bundles, cid);
            if (!File.Exists(path) || !Cid.TryParse(cid, out var parsed) || Cid.ForBytes(File.ReadAllBytes(path)) != parsed)
            {
                StoreDatabase.Execute(connection, "DELETE FROM bundle_files WHERE cid = $c; DELETE FROM bundles WHERE cid = $c", ("$c", cid));
                File.Delete(path);
            }
        }
        var known = new HashSet<string>(rows, StringComparer.Ordinal);
        foreach (var file in Directory.EnumerateFiles(_bundles))
        {
            if (!known.Contains(Path.GetFileName(file)))
            {
                File.Delete(file);
            }
        }
        ModelFolder.CleanPartials(_folders);
    }
}
