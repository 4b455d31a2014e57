using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Numerics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Prova.Core;
using Prova.Core.Content;
using Prova.Core.Crypto;
using Prova.Core.Keys;
using Prova.Core.Network;
using Prova.Core.Receipts;

namespace Prova.Sdk;

/// <summary>
/// A client of one Prova node (docs/node-api.md): push, pull, list and describe models, run
/// inferences. Everything received is checked: pulled chunks against the manifest (and the
/// manifest against the CID) before they are written, inference receipts against the inputs sent
/// and the outputs received. Errors are <see cref="ProvaClientException"/>s with one clear line.
/// </summary>
public sealed partial class ProvaClient : IDisposable
{
    private static readonly MediaTypeHeaderValue s_octets = new("application/octet-stream");
    private static readonly MediaTypeHeaderValue s_json = new("application/json");

    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly ProvaClientOptions _options;
    private NodeInfo? _node;

    /// <summary>A client of the node at <paramref name="baseUrl"/> with its own connection pool.</summary>
    public ProvaClient(Uri baseUrl, ProvaClientOptions? options = null)
        : this(baseUrl, null, options)
    {
    }

    /// <summary>A client using <paramref name="handler"/> (for tests and custom transports); <paramref name="handler"/> is disposed with the client.</summary>
    public ProvaClient(Uri baseUrl, HttpMessageHandler? handler, ProvaClientOptions? options = null)
    {
        _options = options ?? new ProvaClientOptions();
        if (_options.Parallelism < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "Parallelism must be at least 1");
        }
        BaseUrl = baseUrl.AbsoluteUri.EndsWith('/') ? baseUrl : new Uri(baseUrl.AbsoluteUri + "/");
        handler ??= new SocketsHttpHandler
        {
            ConnectTimeout = _options.ConnectTimeout,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            AutomaticDecompression = DecompressionMethods.None,
            MaxConnectionsPerServer = 64,
        };
        _http = new HttpClient(handler, disposeHandler: true) { BaseAddress = BaseUrl, Timeout = Timeout.InfiniteTimeSpan };
        _ownsHttp = true;
    }

    /// <summary>Parses a URL given by a user (e.g. <c>--node</c>): http(s) only; one clear error otherwise.</summary>
    public static Uri ParseNodeUrl(string text)
    {
        if (!text.Contains("://", StringComparison.Ordinal))
        {
            text = "http://" + text;
        }
        if (!HttpUrl.TryParse(text, out var uri))
        {
            throw new ProvaClientException($"'{text}' is not a node URL (expected http://HOST:PORT)", "bad-url");
        }
        return uri;
    }

    public Uri BaseUrl { get; }

    public void Dispose()
    {
        if (_ownsHttp)
        {
            _http.Dispose();
        }
    }

    // ---------------------------------------------------------------- node

    /// <summary><c>GET /v1/node</c> (cached after the first call).</summary>
    public async Task<NodeInfo> GetNodeInfoAsync(CancellationToken cancellationToken = default)
    {
        if (_node is { } cached)
        {
            return cached;
        }
        using var doc = await GetJsonAsync("v1/node", cancellationToken);
        var e = doc.RootElement;
        var limits = e.TryGetProperty("limits", out var l) ? l : default;
        var info = new NodeInfo(
            Address.Parse(Json.String(e, "address")),
            BigInteger.Parse(Json.String(e, "chainId"), System.Globalization.CultureInfo.InvariantCulture),
            Json.OptionalString(e, "verifyingContract") is { } vc ? Address.Parse(vc) : Address.Zero,
            Json.OptionalString(e, "version") ?? "",
            limits.ValueKind == JsonValueKind.Object
                ? new NodeLimits(Json.OptionalInt64(limits, "maxModelBytes"), Json.OptionalInt64(limits, "maxChunkBytes"),
                    Json.OptionalInt64(limits, "maxRequestBytes"), (int)Json.OptionalInt64(limits, "defaultChunkSize"))
                : new NodeLimits(0, 0, 0, ModelManifest.DefaultChunkSize));
        _node = info;
        return info;
    }

    /// <summary><c>GET /healthz</c>: true when the node answers ok.</summary>
    public async Task<bool> IsHealthyAsync(CancellationToken cancellationToken = default)
    {
        using var doc = await GetJsonAsync("healthz", cancellationToken);
        return Json.OptionalString(doc.RootElement, "status") == "ok";
    }

    // ---------------------------------------------------------------- models

    public async Task<IReadOnlyList<ModelInfo>> ListModelsAsync(string? name = null, CancellationToken cancellationToken = default)
    {
        string path = name is null ? "v1/models" : "v1/models?name=" + Uri.EscapeDataString(name);
        using var doc = await GetJsonAsync(path, cancellationToken);
        // The OpenAI list object {"object": "list", "data": [...]} (nodes before it answered {"models": [...]}).
        if (!(doc.RootElement.TryGetProperty("data", out var models) || doc.RootElement.TryGetProperty("models", out models)) || models.ValueKind != JsonValueKind.Array)
        {
            throw BadResponse("the model list has no \"data\" array");
        }
        return Wrap(() => models.EnumerateArray().Select(Json.ReadModel).ToList());
    }

    public async Task<ModelInfo> GetModelAsync(Cid cid, CancellationToken cancellationToken = default)
    {
        using var doc = await GetJsonAsync($"v1/models/{cid}", cancellationToken);
        return Wrap(() => Json.ReadModel(doc.RootElement));
    }

    // ---------------------------------------------------------------- push

    /// <summary>
    /// Uploads the model file and publishes it as <paramref name="options"/>.Name/Version signed by
    /// <paramref name="owner"/>. Resumable: the node says which chunks it already has (from an
    /// interrupted earlier push or another model sharing chunks) and only the others are sent.
    /// </summary>
    public async Task<PushResult> PushAsync(string path, PushOptions options, PrivateKey owner,
        IProgress<TransferProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ModelName.Require(options.Name);
        var start = Stopwatch.GetTimestamp();
        var node = await GetNodeInfoAsync(cancellationToken);
        int chunkSize = options.ChunkSize ?? (node.Limits.DefaultChunkSize > 0 ? node.Limits.DefaultChunkSize : ModelManifest.DefaultChunkSize);
        using var file = OpenRead(path);
        var manifest = await Task.Run(() => ModelManifest.Build(file, chunkSize), cancellationToken);
        var status = await AnnounceAsync(manifest, cancellationToken);
        var (uploaded, bytesUploaded) = await UploadChunksAsync(file.SafeFileHandle, manifest, status.Missing, progress, start, cancellationToken);
        var model = await PublishAsync(manifest.Cid, options, owner, cancellationToken);
        return new PushResult(manifest.Cid, model.Name, model.Version, manifest.Size, manifest.ChunkCount, uploaded, bytesUploaded,
            Stopwatch.GetElapsedTime(start), model);
    }

    /// <summary><c>POST /v1/blobs</c>: announces content; the answer lists the chunks still missing.</summary>
    public async Task<BlobStatus> AnnounceAsync(ModelManifest manifest, CancellationToken cancellationToken = default)
    {
        using var content = new ByteArrayContent(manifest.Encode());
        content.Headers.ContentType = s_octets;
        using var doc = await SendJsonAsync(HttpMethod.Post, "v1/blobs", content, cancellationToken);
        return ReadBlobStatus(doc.RootElement);
    }

    /// <summary><c>GET /v1/blobs/{cid}</c>.</summary>
    public async Task<BlobStatus> GetBlobStatusAsync(Cid cid, CancellationToken cancellationToken = default)
    {
        using var doc = await GetJsonAsync($"v1/blobs/{cid}", cancellationToken);
        return ReadBlobStatus(doc.RootElement);
    }

    private static BlobStatus ReadBlobStatus(JsonElement e) => Wrap(() => new BlobStatus(
        Cid.Parse(Json.String(e, "cid")),
        Json.Int64(e, "size"),
        (int)Json.Int64(e, "chunkSize"),
        (int)Json.Int64(e, "chunkCount"),
        e.TryGetProperty("missing", out var m) && m.ValueKind == JsonValueKind.Array ? m.EnumerateArray().Select(x => x.GetInt32()).ToList() : [],
        e.TryGetProperty("complete", out var c) && c.ValueKind == JsonValueKind.True));

    private async Task<(int Uploaded, long Bytes)> UploadChunksAsync(Microsoft.Win32.SafeHandles.SafeFileHandle file, ModelManifest manifest,
        IReadOnlyList<int> missing, IProgress<TransferProgress>? progress, long start, CancellationToken cancellationToken)
    {
        var missingSet = new HashSet<int>(missing);
        long bytesDone = manifest.Size - missing.Sum(i => (long)manifest.ChunkLength(i));
        int chunksDone = manifest.ChunkCount - missingSet.Count;
        long transferred = 0;
        int uploaded = 0;
        var gate = new object();
        progress?.Report(new TransferProgress(bytesDone, manifest.Size, 0, chunksDone, manifest.ChunkCount, 0));
        var cid = manifest.Cid;
        await Parallel.ForEachAsync(missing, new ParallelOptions { MaxDegreeOfParallelism = _options.Parallelism, CancellationToken = cancellationToken },
            async (index, ct) =>
            {
                int length = manifest.ChunkLength(index);
                byte[] buffer = ArrayPool<byte>.Shared.Rent(length);
                try
                {
                    int read = 0;
                    while (read < length)
                    {
                        int n = await RandomAccess.ReadAsync(file, buffer.AsMemory(read, length - read), manifest.ChunkOffset(index) + read, ct);
                        if (n == 0)
                        {
                            throw new ProvaClientException("the model file changed while it was being pushed (it is shorter now)", "file-changed");
                        }
                        read += n;
                    }
                    if (!manifest.Verify(index, buffer.AsSpan(0, length)))
                    {
                        throw new ProvaClientException($"the model file changed while it was being pushed (chunk {index} differs)", "file-changed");
                    }
                    using var content = new ByteArrayContent(buffer, 0, length);
                    content.Headers.ContentType = s_octets;
                    using var doc = await SendJsonAsync(HttpMethod.Put, $"v1/blobs/{cid}/chunks/{index}", content, ct);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
                TransferProgress report;
                lock (gate)
                {
                    bytesDone += length;
                    transferred += length;
                    chunksDone++;
                    uploaded++;
                    report = new TransferProgress(bytesDone, manifest.Size, transferred, chunksDone, manifest.ChunkCount, Rate(transferred, start));
                }
                progress?.Report(report);
            });
        return (uploaded, transferred);
    }

    /// <summary><c>POST /v1/models</c>: publishes complete content as a signed version.</summary>
    public async Task<ModelInfo> PublishAsync(Cid cid, PushOptions options, PrivateKey owner, CancellationToken cancellationToken = default)
    {
        ModelName.Require(options.Name);
        var node = await GetNodeInfoAsync(cancellationToken);
        ulong timestamp = (ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var publication = new ModelPublication(options.Name, options.Version, cid, owner.Address, timestamp);
        var signature = publication.Sign(owner, node.ChainId, node.VerifyingContract);
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("cid", cid.ToString());
            writer.WriteString("name", options.Name);
            writer.WriteString("version", options.Version);
            if (options.Description is not null)
            {
                writer.WriteString("description", options.Description);
            }
            if (options.License is not null)
            {
                writer.WriteString("license", options.License);
            }
            writer.WriteString("owner", owner.Address.ToString());
            writer.WriteNumber("timestamp", timestamp);
            writer.WriteString("signature", signature.ToString());
            writer.WriteEndObject();
        }
        using var content = new ByteArrayContent(buffer.WrittenSpan.ToArray());
        content.Headers.ContentType = s_json;
        using var doc = await SendJsonAsync(HttpMethod.Post, "v1/models", content, cancellationToken);
        return Wrap(() => Json.ReadModel(doc.RootElement));
    }

    // ---------------------------------------------------------------- pull

    /// <summary>
    /// Downloads the model <paramref name="cid"/> to <paramref name="destination"/>. The manifest is
    /// checked against the CID and every chunk against the manifest before it is written; the file
    /// is assembled in a temporary file beside the destination, fsynced and renamed into place, so
    /// the destination is either the verified model or untouched.
    /// </summary>
    public async Task<PullResult> PullAsync(Cid cid, string destination, IProgress<TransferProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var start = Stopwatch.GetTimestamp();
        var manifest = await GetManifestAsync(cid, cancellationToken);
        if (manifest.Size > _options.MaxModelBytes)
        {
            throw new ProvaClientException($"model {cid} is {manifest.Size} bytes, above this client's limit of {_options.MaxModelBytes}", "too-large");
        }
        string full = Path.GetFullPath(destination);
        string directory = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(directory);
        string temp = Path.Combine(directory, $".{Path.GetFileName(full)}.{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}.partial");
        try
        {
            using (var handle = File.OpenHandle(temp, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, FileOptions.Asynchronous, manifest.Size))
            {
                long done = 0;
                int chunks = 0;
                var gate = new object();
                progress?.Report(new TransferProgress(0, manifest.Size, 0, 0, manifest.ChunkCount, 0));
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
                            report = new TransferProgress(done, manifest.Size, done, chunks, manifest.ChunkCount, Rate(done, start));
                        }
                        progress?.Report(report);
                    });
                RandomAccess.FlushToDisk(handle);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
        return new PullResult(cid, full, manifest.Size, manifest.ChunkCount, Stopwatch.GetElapsedTime(start));
    }

    /// <summary><c>GET /v1/models/{cid}/manifest</c>, checked against the CID.</summary>
    public async Task<ModelManifest> GetManifestAsync(Cid cid, CancellationToken cancellationToken = default)
    {
        byte[] bytes = await GetBytesAsync($"v1/models/{cid}/manifest", 64L << 20, cancellationToken);
        if (Cid.ForBytes(bytes) != cid)
        {
            throw new ContentVerificationException($"the node sent a manifest that does not match {cid}", "manifest-mismatch", null);
        }
        try
        {
            return ModelManifest.Decode(bytes);
        }
        catch (ContentFormatException ex)
        {
            throw new ContentVerificationException($"the manifest of {cid} is malformed: {ex.Message}", "manifest-mismatch", null);
        }
    }

    private async Task<byte[]> GetChunkAsync(ModelManifest manifest, int index, CancellationToken cancellationToken)
    {
        int length = manifest.ChunkLength(index);
        byte[] bytes = await GetBytesAsync($"v1/models/{manifest.Cid}/chunks/{index}", length, cancellationToken);
        if (bytes.Length != length || !manifest.Verify(index, bytes))
        {
            throw new ContentVerificationException(
                $"chunk {index} of {manifest.Cid} from {BaseUrl} does not match the manifest ({bytes.Length} bytes, expected {length} with hash {manifest.ChunkHashes[index]}); nothing was written",
                "chunk-mismatch", index);
        }
        return bytes;
    }

    // ---------------------------------------------------------------- infer

    /// <summary>
    /// <c>POST /v1/infer</c>. The result's <see cref="InferenceResult.Verification"/> says whether the
    /// receipt is signed by this node and matches the model, mode, request id, the inputs sent and the outputs received.
    /// </summary>
    public async Task<InferenceResult> InferAsync(Cid model, IReadOnlyDictionary<string, Tensor> inputs, string mode = Receipt.AttestedMode,
        Hash256? requestId = null, CancellationToken cancellationToken = default)
    {
        var node = await GetNodeInfoAsync(cancellationToken);
        var id = requestId ?? new Hash256(RandomNumberGenerator.GetBytes(32));
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("model", model.ToString());
            writer.WritePropertyName("inputs");
            TensorJson.WriteTensorMap(writer, inputs);
            writer.WriteString("requestId", id.ToString());
            writer.WriteString("mode", mode);
            writer.WriteEndObject();
        }
        using var content = new ByteArrayContent(buffer.WrittenSpan.ToArray());
        content.Headers.ContentType = s_json;
        byte[] body = await SendAsync(HttpMethod.Post, "v1/infer", content, _options.MaxResponseBytes, cancellationToken);
        Dictionary<string, Tensor> outputs;
        Receipt receipt;
        double latency;
        try
        {
            outputs = TensorJson.ReadNamedTensors(body, "outputs");
            using var doc = JsonDocument.Parse(body, Json.DocumentOptions);
            if (!doc.RootElement.TryGetProperty("receipt", out var r))
            {
                throw BadResponse("the inference answer has no receipt");
            }
            receipt = Receipt.FromJson(r);
            latency = doc.RootElement.TryGetProperty("latencyMs", out var l) && l.ValueKind == JsonValueKind.Number ? l.GetDouble() : 0;
        }
        catch (Exception ex) when (ex is JsonException or ProvaException and not ProvaClientException)
        {
            throw BadResponse($"the inference answer is malformed: {ex.Message}", ex);
        }
        var verification = receipt.Verify(inputs, outputs, model, node.Address, node.ChainId, id, mode);
        var result = new InferenceResult
        {
            Model = model,
            Mode = mode,
            RequestId = id,
            Inputs = inputs,
            Outputs = outputs,
            Receipt = receipt,
            Verification = verification,
            LatencyMs = latency,
            Node = BaseUrl,
        };
        if (mode == ProofEvidence.Mode)
        {
            // Mode proof: the proof is checked against the model's verifying key (ProvaClient.Proofs.cs).
            var (proof, check) = await CheckProofAsync(body, result, cancellationToken);
            result = result with { Proof = proof, ProofCheck = check };
        }
        return result;
    }

    // ---------------------------------------------------------------- HTTP plumbing

    private async Task<JsonDocument> GetJsonAsync(string path, CancellationToken cancellationToken)
    {
        byte[] body = await SendAsync(HttpMethod.Get, path, null, _options.MaxResponseBytes, cancellationToken);
        return ParseJson(body);
    }

    private async Task<JsonDocument> SendJsonAsync(HttpMethod method, string path, HttpContent content, CancellationToken cancellationToken)
    {
        byte[] body = await SendAsync(method, path, content, _options.MaxResponseBytes, cancellationToken);
        return ParseJson(body);
    }

    private Task<byte[]> GetBytesAsync(string path, long maxBytes, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Get, path, null, maxBytes, cancellationToken);

    private static JsonDocument ParseJson(byte[] body)
    {
        try
        {
            return JsonDocument.Parse(body, Json.DocumentOptions);
        }
        catch (JsonException ex)
        {
            throw BadResponse($"the node's answer is not JSON: {ex.Message}", ex);
        }
    }

    /// <summary>Sends one request with the request timeout; reads at most <paramref name="maxBytes"/> of the answer; maps failures to <see cref="ProvaClientException"/>.</summary>
    private async Task<byte[]> SendAsync(HttpMethod method, string path, HttpContent? content, long maxBytes, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.RequestTimeout);
        try
        {
            using var request = new HttpRequestMessage(method, path) { Content = content };
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            if (!response.IsSuccessStatusCode)
            {
                byte[] problem = await ReadLimitedAsync(response, 64 << 10, timeout.Token, truncate: true);
                throw Problem(response, problem, method, path);
            }
            return await ReadLimitedAsync(response, maxBytes, timeout.Token, truncate: false);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ProvaClientException($"node at {BaseUrl} did not answer {method} /{TrimQuery(path)} within {_options.RequestTimeout.TotalSeconds:0.#} s", "timeout", inner: ex);
        }
        catch (HttpRequestException ex)
        {
            throw new ProvaClientException($"cannot reach node at {BaseUrl}: {Innermost(ex)}", "unreachable", inner: ex);
        }
        catch (IOException ex)
        {
            throw new ProvaClientException($"connection to node at {BaseUrl} failed: {Innermost(ex)}", "unreachable", inner: ex);
        }
    }

    /// <summary>A response body of at most <paramref name="maxBytes"/> bytes: cut there when <paramref name="truncate"/>, else a too-large error.</summary>
    internal static async Task<byte[]> ReadLimitedAsync(HttpResponseMessage response, long maxBytes, CancellationToken cancellationToken, bool truncate = false)
    {
        if (!truncate && response.Content.Headers.ContentLength is long declared && declared > maxBytes)
        {
            throw new ProvaClientException($"the node's answer is {declared} bytes, above the limit of {maxBytes}", "too-large");
        }
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        var result = new MemoryStream(response.Content.Headers.ContentLength is long n && n <= maxBytes ? (int)n : 0);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(81920);
        try
        {
            int read;
            while ((read = await stream.ReadAsync(buffer, cancellationToken)) > 0)
            {
                if (result.Length + read > maxBytes)
                {
                    if (truncate)
                    {
                        result.Write(buffer, 0, (int)(maxBytes - result.Length));
                        break;
                    }
                    throw new ProvaClientException($"the node's answer is larger than the limit of {maxBytes} bytes", "too-large");
                }
                result.Write(buffer, 0, read);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        return result.Length == result.Capacity ? result.GetBuffer() : result.ToArray();
    }

    private ProvaClientException Problem(HttpResponseMessage response, byte[] body, HttpMethod method, string path)
    {
        int status = (int)response.StatusCode;
        string code = "http-" + status;
        string? detail = null;
        try
        {
            using var doc = JsonDocument.Parse(body);
            var e = doc.RootElement;
            if (e.ValueKind == JsonValueKind.Object)
            {
                code = Json.OptionalString(e, "code") ?? code;
                detail = Json.OptionalString(e, "detail") ?? Json.OptionalString(e, "title");
            }
        }
        catch (JsonException)
        {
        }
        detail ??= body.Length > 0 && body.Length < 300 ? Encoding.UTF8.GetString(body).Trim() : response.ReasonPhrase ?? "no detail";
        return new ProvaClientException($"node refused {method} /{TrimQuery(path)}: {detail} ({status} {code})", code, status, detail);
    }

    private static string TrimQuery(string path) => path.Split('?')[0];

    private static string Innermost(Exception ex)
    {
        while (ex.InnerException is not null)
        {
            ex = ex.InnerException;
        }
        return ex.Message;
    }

    private static ProvaClientException BadResponse(string message, Exception? inner = null) => new(message, "bad-response", inner: inner);

    private static T Wrap<T>(Func<T> read)
    {
        try
        {
            return read();
        }
        catch (Exception ex) when (ex is ProvaException and not ProvaClientException or InvalidOperationException or FormatException)
        {
            throw BadResponse($"the node's answer is malformed: {ex.Message}", ex);
        }
    }

    private static double Rate(long bytes, long start)
    {
        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        return seconds > 0 ? bytes / seconds : 0;
    }

    private static FileStream OpenRead(string path)
    {
        try
        {
            return new FileStream(path, new FileStreamOptions { Mode = FileMode.Open, Access = FileAccess.Read, Share = FileShare.Read, Options = FileOptions.Asynchronous, BufferSize = 1 << 20 });
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ProvaClientException($"cannot read '{path}': {ex.Message}", "bad-file", inner: ex);
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
