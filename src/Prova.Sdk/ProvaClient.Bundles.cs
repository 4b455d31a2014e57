using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text.Json;
using Prova.Core.Content;
using Prova.Core.Keys;

namespace Prova.Sdk;

/// <summary>Bundles: a model that is a folder, pushed, published and pulled under one CID (docs/formats.md, "Bundle manifest").</summary>
public sealed partial class ProvaClient
{
    /// <summary>
    /// The files of <paramref name="directory"/> as a bundle: every file below it (recursively) under its relative path with
    /// '/' separators, except hidden ones (a name starting with '.', e.g. <c>.git</c>, <c>.gitattributes</c>). Each file's
    /// chunk manifest is built with <paramref name="chunkSize"/>. Throws <see cref="ProvaClientException"/> ("bad-file")
    /// naming a path the bundle rules refuse.
    /// </summary>
    public static (BundleManifest Bundle, IReadOnlyDictionary<string, ModelManifest> Manifests) BuildBundle(string directory, int chunkSize = ModelManifest.DefaultChunkSize)
    {
        string root = Path.GetFullPath(directory);
        if (!Directory.Exists(root))
        {
            throw new ProvaClientException($"'{directory}' is not a directory", "bad-file");
        }
        var manifests = new Dictionary<string, ModelManifest>(StringComparer.Ordinal);
        var files = new List<BundleFile>();
        var options = new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.Hidden | FileAttributes.System, IgnoreInaccessible = false };
        foreach (string file in Directory.EnumerateFiles(root, "*", options).Order(StringComparer.Ordinal))
        {
            string relative = Path.GetRelativePath(root, file).Replace(Path.DirectorySeparatorChar, '/');
            if (relative.Split('/').Any(s => s.StartsWith('.')))
            {
                continue;
            }
            if (BundleManifest.CheckPath(relative) is { } problem)
            {
                throw new ProvaClientException($"'{relative}' in '{directory}' cannot be part of a bundle: the path {problem}", "bad-file");
            }
            using var stream = OpenRead(file);
            var manifest = ModelManifest.Build(stream, chunkSize);
            manifests[relative] = manifest;
            files.Add(new BundleFile(relative, manifest.Size, manifest.Cid));
        }
        if (files.Count == 0)
        {
            throw new ProvaClientException($"'{directory}' has no files to push", "bad-file");
        }
        try
        {
            return (BundleManifest.Create(files), manifests);
        }
        catch (ContentFormatException ex)
        {
            throw new ProvaClientException($"'{directory}' cannot be pushed as a bundle: {ex.Message}", "bad-file", inner: ex);
        }
    }

    /// <summary>
    /// Pushes the folder <paramref name="directory"/> as one bundle and publishes it as <paramref name="options"/>.Name/Version
    /// signed by <paramref name="owner"/>: the bundle manifest is announced first (the node checks its limits before any byte
    /// is sent), then each file's chunks the node misses. Resumable like <see cref="PushAsync"/>; progress is over all files.
    /// </summary>
    public async Task<PushResult> PushDirectoryAsync(string directory, PushOptions options, PrivateKey owner,
        IProgress<TransferProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ModelName.Require(options.Name);
        var start = Stopwatch.GetTimestamp();
        var node = await GetNodeInfoAsync(cancellationToken);
        int chunkSize = options.ChunkSize ?? (node.Limits.DefaultChunkSize > 0 ? node.Limits.DefaultChunkSize : ModelManifest.DefaultChunkSize);
        var (bundle, manifests) = await Task.Run(() => BuildBundle(directory, chunkSize), cancellationToken);
        var status = await AnnounceBundleAsync(bundle, cancellationToken);
        int totalChunks = manifests.Values.Sum(m => m.ChunkCount);
        long baseDone = 0, baseTransferred = 0;
        int baseChunks = 0, uploaded = 0;
        foreach (var file in bundle.Files)
        {
            var manifest = manifests[file.Path];
            if (!status.Contains(file.Path))
            {
                var blob = await AnnounceAsync(manifest, cancellationToken);
                using var stream = OpenRead(Path.Combine(directory, file.Path));
                long done = baseDone, transferred = baseTransferred;
                int chunks = baseChunks;
                var fileProgress = progress is null ? null : new Relay(p => progress.Report(new TransferProgress(
                    done + p.BytesDone, bundle.Size, transferred + p.BytesTransferred, chunks + p.ChunksDone, totalChunks,
                    Rate(transferred + p.BytesTransferred, start))));
                var (n, bytes) = await UploadChunksAsync(stream.SafeFileHandle, manifest, blob.Missing, fileProgress, start, cancellationToken);
                uploaded += n;
                baseTransferred += bytes;
            }
            baseDone += manifest.Size;
            baseChunks += manifest.ChunkCount;
            progress?.Report(new TransferProgress(baseDone, bundle.Size, baseTransferred, baseChunks, totalChunks, Rate(baseTransferred, start)));
        }
        var model = await PublishAsync(bundle.Cid, options, owner, cancellationToken);
        return new PushResult(bundle.Cid, model.Name, model.Version, bundle.Size, totalChunks, uploaded, baseTransferred,
            Stopwatch.GetElapsedTime(start), model, bundle.Files);
    }

    /// <summary><c>POST /v1/bundles</c>: announces a bundle; returns the paths of the files the node already holds completely.</summary>
    public async Task<IReadOnlySet<string>> AnnounceBundleAsync(BundleManifest bundle, CancellationToken cancellationToken = default)
    {
        using var content = new ByteArrayContent(bundle.Encode());
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var doc = await SendJsonAsync(HttpMethod.Post, "v1/bundles", content, cancellationToken);
        return Wrap(() =>
        {
            var complete = new HashSet<string>(StringComparer.Ordinal);
            if (doc.RootElement.TryGetProperty("files", out var files) && files.ValueKind == JsonValueKind.Array)
            {
                foreach (var f in files.EnumerateArray())
                {
                    if (f.TryGetProperty("complete", out var c) && c.ValueKind == JsonValueKind.True)
                    {
                        complete.Add(Json.String(f, "path"));
                    }
                }
            }
            return (IReadOnlySet<string>)complete;
        });
    }

    /// <summary>
    /// <c>GET /v1/models/{cid}/manifest</c> checked against the CID: the bundle manifest when <paramref name="cid"/> names a
    /// bundle, null when it names single-file content.
    /// </summary>
    public async Task<BundleManifest?> GetBundleAsync(Cid cid, CancellationToken cancellationToken = default)
    {
        byte[] bytes = await GetBytesAsync($"v1/models/{cid}/manifest", BundleManifest.MaxEncodedBytes, cancellationToken);
        if (Cid.ForBytes(bytes) != cid)
        {
            throw new ContentVerificationException($"the node sent a manifest that does not match {cid}", "manifest-mismatch", null);
        }
        if (!BundleManifest.LooksLikeBundle(bytes))
        {
            return null;
        }
        try
        {
            return BundleManifest.Decode(bytes);
        }
        catch (ContentFormatException ex)
        {
            throw new ContentVerificationException($"the bundle manifest of {cid} is malformed: {ex.Message}", "manifest-mismatch", null);
        }
    }

    /// <summary>
    /// Downloads <paramref name="cid"/> as a folder at <paramref name="directory"/> (<see cref="ModelFolder"/>): a bundle's files
    /// under their paths, single-file content as <c>model.onnx</c>. Every file's manifest is checked against its CID and every
    /// chunk against its manifest before it is written; the folder is assembled beside the destination and renamed into place,
    /// so the destination is either the verified folder or unchanged. A non-empty destination is refused
    /// ("not-empty") unless <paramref name="force"/>.
    /// </summary>
    public async Task<PullResult> PullDirectoryAsync(Cid cid, string directory, bool force = false, IProgress<TransferProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        var start = Stopwatch.GetTimestamp();
        if (!force && !ModelFolder.IsEmptyOrMissing(directory))
        {
            throw new ProvaClientException($"'{directory}' is not empty; pass --force (force: true) to replace it", "not-empty");
        }
        if (File.Exists(directory))
        {
            throw new ProvaClientException($"'{directory}' is a file, not a directory", "not-empty");
        }
        var bundle = await GetBundleAsync(cid, cancellationToken);
        var manifests = new Dictionary<string, ModelManifest>(StringComparer.Ordinal);
        IReadOnlyList<BundleFile> files;
        if (bundle is null)
        {
            var single = await GetManifestAsync(cid, cancellationToken);
            files = ModelFolder.SingleFile(single);
            manifests[ModelFolder.SingleModelName] = single;
        }
        else
        {
            files = bundle.Files;
            foreach (var f in files)
            {
                var m = await GetManifestAsync(f.Cid, cancellationToken);
                if (m.Size != f.Size)
                {
                    throw new ContentVerificationException($"'{f.Path}' of {cid} is listed with {f.Size} bytes but its CID names {m.Size}", "manifest-mismatch", null);
                }
                manifests[f.Path] = m;
            }
        }
        long total = files.Sum(f => f.Size);
        if (total > _options.MaxModelBytes)
        {
            throw new ProvaClientException($"model {cid} is {total} bytes, above this client's limit of {_options.MaxModelBytes}", "too-large");
        }
        int totalChunks = manifests.Values.Sum(m => m.ChunkCount);
        long baseDone = 0;
        int baseChunks = 0;
        progress?.Report(new TransferProgress(0, total, 0, 0, totalChunks, 0));
        async Task WriteAsync(BundleFile file, string path, CancellationToken ct)
        {
            var manifest = manifests[file.Path];
            long done = baseDone;
            int chunks = baseChunks;
            await DownloadAsync(manifest, path, progress is null ? null : new Relay(p => progress.Report(new TransferProgress(
                done + p.BytesDone, total, done + p.BytesDone, chunks + p.ChunksDone, totalChunks, Rate(done + p.BytesDone, start)))), ct);
            baseDone += manifest.Size;
            baseChunks += manifest.ChunkCount;
        }
        string full;
        try
        {
            full = await ModelFolder.WriteAsync(directory, cid, files, WriteAsync, replace: force, cancellationToken);
        }
        catch (IOException ex)
        {
            throw new ProvaClientException($"cannot write '{directory}': {ex.Message}", "bad-file", inner: ex);
        }
        return new PullResult(cid, full, total, totalChunks, Stopwatch.GetElapsedTime(start), files);
    }

    /// <summary>Downloads every chunk of <paramref name="manifest"/> into a new file at <paramref name="path"/>, each verified, then fsyncs it.</summary>
    private async Task DownloadAsync(ModelManifest manifest, string path, IProgress<TransferProgress>? progress, CancellationToken cancellationToken)
    {
        using var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, FileOptions.Asynchronous, manifest.Size);
        long done = 0;
        int chunks = 0;
        var gate = new object();
        await Parallel.ForEachAsync(Enumerable.Range(0, manifest.ChunkCount),
            new ParallelOptions { MaxDegreeOfParallelism = _options.Parallelism, CancellationToken = cancellationToken },
            async (index, ct) =>
            {
                byte[] bytes = await GetChunkAsync(manifest, index, ct);
                await RandomAccess.WriteAsync(handle, bytes, manifest.ChunkOffset(index), ct);
                TransferProgress report;
                lock (gate)
                {
                    done += bytes.Length;
                    chunks++;
                    report = new TransferProgress(done, manifest.Size, done, chunks, manifest.ChunkCount, 0);
                }
                progress?.Report(report);
            });
        RandomAccess.FlushToDisk(handle);
    }

    private sealed class Relay(Action<TransferProgress> report) : IProgress<TransferProgress>
    {
        public void Report(TransferProgress value) => report(value);
    }
}
