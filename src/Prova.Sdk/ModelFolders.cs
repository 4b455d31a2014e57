using Prova.Core.Content;

namespace Prova.Sdk;

/// <summary>
/// "CID → local folder with model.onnx and tokenizer files" for any consumer (<c>prova generate</c>, tools): a bundle's
/// files under their paths, a single-file model as <c>model.onnx</c> (<see cref="ModelFolder"/>). Sources, in order: a
/// complete folder already in the cache; a node's store directory read-only (every chunk verified; the node keeps
/// running); a node over HTTP (every chunk verified). The node itself uses <c>ContentStore.MaterializeAsync</c>.
/// </summary>
public static class ModelFolders
{
    /// <summary>The default cache: <c>~/.prova/cache</c>.</summary>
    public static string DefaultCacheDirectory =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".prova", "cache");

    /// <summary>
    /// The folder of <paramref name="cid"/> at <c>&lt;cacheDirectory&gt;/&lt;cid&gt;</c>, written from <paramref name="storeDirectory"/>
    /// or pulled with <paramref name="client"/> when it is not there yet. Throws <see cref="ProvaClientException"/>
    /// ("unknown-model") when no source has it, <see cref="ContentVerificationException"/> when a source's bytes do not match.
    /// </summary>
    public static async Task<string> ResolveAsync(Cid cid, string? cacheDirectory = null, string? storeDirectory = null, ProvaClient? client = null,
        IProgress<TransferProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        string cache = cacheDirectory ?? DefaultCacheDirectory;
        string directory = Path.Combine(cache, cid.ToString());
        if (ModelFolder.IsComplete(directory, cid))
        {
            return directory;
        }
        Directory.CreateDirectory(cache);
        ModelFolder.CleanPartials(cache);
        if (storeDirectory is not null && await FromStoreAsync(storeDirectory, cid, directory, cancellationToken) is { } fromStore)
        {
            return fromStore;
        }
        if (client is not null)
        {
            return (await client.PullDirectoryAsync(cid, directory, force: true, progress, cancellationToken)).Path;
        }
        throw new ProvaClientException(
            $"model {cid} is not in the cache{(storeDirectory is null ? "" : $" nor in the store '{storeDirectory}'")} and no node was given to pull it from",
            "unknown-model");
    }

    /// <summary>
    /// Writes the folder of <paramref name="cid"/> at <paramref name="destination"/> from a node's store directory
    /// (docs/node-api.md, "Store layout"), read-only, verifying every chunk. Null when the store does not hold all of it.
    /// </summary>
    public static async Task<string?> FromStoreAsync(string storeDirectory, Cid cid, string destination, CancellationToken cancellationToken = default)
    {
        var manifests = new Dictionary<string, ModelManifest>(StringComparer.Ordinal);
        IReadOnlyList<BundleFile> files;
        string bundlePath = Path.Combine(storeDirectory, "bundles", cid.ToString());
        if (File.Exists(bundlePath))
        {
            byte[] bytes = File.ReadAllBytes(bundlePath);
            if (Cid.ForBytes(bytes) != cid)
            {
                throw new ContentVerificationException($"the store's bundle manifest of {cid} is corrupted", "manifest-mismatch", null);
            }
            var bundle = BundleManifest.Decode(bytes);
            files = bundle.Files;
            foreach (var f in files)
            {
                if (ReadManifest(storeDirectory, f.Cid) is not { } m || m.Size != f.Size)
                {
                    return null;
                }
                manifests[f.Path] = m;
            }
        }
        else if (ReadManifest(storeDirectory, cid) is { } single)
        {
            files = ModelFolder.SingleFile(single);
            manifests[ModelFolder.SingleModelName] = single;
        }
        else
        {
            return null;
        }
        foreach (var m in manifests.Values)
        {
            for (int i = 0; i < m.ChunkCount; i++)
            {
                if (!File.Exists(ChunkPath(storeDirectory, m, i)))
                {
                    return null;
                }
            }
        }
        return await ModelFolder.WriteAsync(destination, cid, files, async (f, path, ct) =>
        {
            var m = manifests[f.Path];
            using var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, FileOptions.Asynchronous, m.Size);
            for (int i = 0; i < m.ChunkCount; i++)
            {
                byte[] chunk = await File.ReadAllBytesAsync(ChunkPath(storeDirectory, m, i), ct);
                if (!m.Verify(i, chunk))
                {
                    throw new ContentVerificationException($"chunk {i} of '{f.Path}' ({m.Cid}) in the store is corrupted", "chunk-mismatch", i);
                }
                await RandomAccess.WriteAsync(handle, chunk, m.ChunkOffset(i), ct);
            }
            RandomAccess.FlushToDisk(handle);
        }, replace: true, cancellationToken);
    }

    private static ModelManifest? ReadManifest(string storeDirectory, Cid cid)
    {
        string path = Path.Combine(storeDirectory, "manifests", cid.ToString());
        if (!File.Exists(path))
        {
            return null;
        }
        byte[] bytes = File.ReadAllBytes(path);
        if (Cid.ForBytes(bytes) != cid)
        {
            throw new ContentVerificationException($"the store's manifest of {cid} is corrupted", "manifest-mismatch", null);
        }
        return ModelManifest.Decode(bytes);
    }

    private static string ChunkPath(string storeDirectory, ModelManifest manifest, int index) =>
        Path.Combine(storeDirectory, "chunks", Convert.ToHexStringLower(manifest.ChunkHashes[index].ToArray()));
}
