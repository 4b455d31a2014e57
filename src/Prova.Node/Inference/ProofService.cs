using System.Diagnostics;
using Microsoft.Extensions.Options;
using Prova.Core;
using Prova.Core.Content;
using Prova.Core.Crypto;
using Prova.Node.Api;
using Prova.Node.Hosting;
using Prova.Node.Store;
using Prova.Proofs.Inference;

namespace Prova.Node.Inference;

/// <summary>The outcome of a proven inference: the signed result plus the PRVP proof and the verifying-key digest.</summary>
public sealed record ProofResult(InferenceResult Inference, byte[] Proof, byte[] KeyDigest, double ProveMs);

/// <summary>
/// Mode <c>proof</c> of <c>POST /v1/infer</c> (docs/proofs.md "Product"): runs the quantized model on the
/// integer path with witness capture, proves the run with <see cref="InferenceProver"/> and signs a receipt
/// with mode "proof". The prover's key (<see cref="ProofCircuit"/>) is derived once per model and cached;
/// the cache holds at most <see cref="MaxCachedModelBytes"/> of model files (least recently used evicted).
/// Proofs run on the thread pool, at most <see cref="NodeOptions.MaxConcurrentInferences"/> at a time
/// (a proof whose request timed out still holds its slot until it finishes), one at a time per model.
/// </summary>
public sealed class ProofService : IDisposable
{
    /// <summary>Total size of the model files whose proving keys are kept in memory.</summary>
    public const long MaxCachedModelBytes = 256L << 20;

    private readonly ContentStore _store;
    private readonly ModelCatalog _catalog;
    private readonly ReceiptSigner _signer;
    private readonly NodeMetrics _metrics;
    private readonly IServingSeam _seam;
    private readonly NodeOptions _options;
    private readonly SemaphoreSlim _slots;
    private readonly Lock _gate = new();
    private readonly Dictionary<Cid, Entry> _cache = [];
    private long _cachedBytes;
    private long _clock;

    public ProofService(ContentStore store, ModelCatalog catalog, ReceiptSigner signer, NodeMetrics metrics, IServingSeam seam, IOptions<NodeOptions> options)
    {
        _store = store;
        _catalog = catalog;
        _signer = signer;
        _metrics = metrics;
        _seam = seam;
        _options = options.Value;
        _slots = new SemaphoreSlim(Math.Max(1, _options.MaxConcurrentInferences));
    }

    /// <summary>Models whose proving key is cached (for tests and metrics).</summary>
    public int CachedModels
    {
        get
        {
            lock (_gate)
            {
                return _cache.Count;
            }
        }
    }

    /// <summary>Proves one inference; cancelled (504 by the request-timeout middleware) when <paramref name="cancellationToken"/> fires.</summary>
    public async Task<ProofResult> ProveAsync(Cid model, Dictionary<string, Tensor> inputs, Hash256 requestId, CancellationToken cancellationToken)
    {
        var published = _catalog.Find(model) ?? throw ApiException.UnknownModel(model.ToString());
        if (published.Kind == ModelInfo.BundleKind)
        {
            throw new ApiException(422, "unsupported-model", $"{model} is a bundle (a folder model); /v1/infer runs single-file ONNX models");
        }
        await _slots.WaitAsync(cancellationToken);
        Task<ProofResult> work;
        try
        {
            work = Task.Run(() =>
            {
                try
                {
                    return Prove(model, inputs, requestId);
                }
                finally
                {
                    _slots.Release();
                }
            }, CancellationToken.None);
        }
        catch
        {
            _slots.Release();
            throw;
        }
        return await work.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// The <c>"proof"</c> member of the answer: <c>{"format": "PRVP", "version": 4, "keyDigest": "0x…",
    /// "size": bytes, "proveMs": ms, "data": "&lt;base64&gt;"}</c> (docs/node-api.md).
    /// </summary>
    public static void WriteProof(System.Text.Json.Utf8JsonWriter writer, ProofResult result)
    {
        writer.WriteStartObject("proof");
        writer.WriteString("format", "PRVP");
        writer.WriteNumber("version", ProofFormat.Version);
        writer.WriteString("keyDigest", "0x" + Convert.ToHexStringLower(result.KeyDigest));
        writer.WriteNumber("size", result.Proof.Length);
        writer.WriteNumber("proveMs", Math.Round(result.ProveMs, 3));
        writer.WriteBase64String("data", result.Proof);
        writer.WriteEndObject();
    }

    private ProofResult Prove(Cid model, Dictionary<string, Tensor> inputs, Hash256 requestId)
    {
        var entry = Acquire(model);
        long start = Stopwatch.GetTimestamp();
        Dictionary<string, Tensor> outputs;
        byte[] proof;
        try
        {
            InferenceProof made;
            lock (entry.Busy)
            {
                // Bound to this request and this node (docs/proofs.md "Binding"): the receipt names both,
                // and the verifier checks the proof against the receipt's.
                (outputs, made) = InferenceProver.Prove(entry.Circuit, inputs, new ProofBinding(requestId, _signer.Address));
            }
            proof = ProofFormat.Write(made);
        }
        catch (ProofException ex)
        {
            _metrics.InferenceFailed();
            throw ex.Code == ProofErrorCode.BadInput
                ? new ApiException(422, "invalid-input", ex.Message)
                : new ApiException(422, ex.StableCode, $"model {model} cannot be proven: {ex.Message}");
        }
        finally
        {
            Release(entry);
        }
        var elapsed = Stopwatch.GetElapsedTime(start);
        _seam.OutputsComputed(outputs);
        _metrics.InferenceSucceeded(elapsed.TotalSeconds);
        var receipt = _signer.Sign(model, inputs, outputs, requestId, InferModes.ProofMode);
        return new ProofResult(new InferenceResult(outputs, receipt, elapsed.TotalMilliseconds), proof, entry.Circuit.KeyDigest, elapsed.TotalMilliseconds);
    }

    private Entry Acquire(Cid model)
    {
        Entry? entry;
        lock (_gate)
        {
            if (_cache.TryGetValue(model, out entry))
            {
                entry.Users++;
                entry.LastUse = ++_clock;
                return entry;
            }
        }
        // Derive the key outside the lock (it reads and plans the whole model).
        var manifest = _store.Manifest(model) ?? throw ApiException.UnknownModel(model.ToString());
        ProofCircuit circuit;
        try
        {
            circuit = ProofCircuit.FromModelBytes(_store.ReadAll(manifest), Math.Max(1, _options.InferenceThreads), manifest.ChunkSize);
        }
        catch (ProofException ex)
        {
            _metrics.InferenceFailed();
            throw new ApiException(422, "proof-unsupported", $"model {model} cannot be proven: {ex.Message}");
        }
        catch (ProvaException ex)
        {
            _metrics.InferenceFailed();
            throw new ApiException(422, "proof-unsupported", $"model {model} cannot be proven: {ex.Message}");
        }
        if (circuit.ModelCid != model)
        {
            circuit.Dispose();
            throw new ApiException(500, "store-corrupted", $"the stored content of {model} hashes to {circuit.ModelCid}");
        }
        lock (_gate)
        {
            if (_cache.TryGetValue(model, out var raced))
            {
                circuit.Dispose();
                raced.Users++;
                raced.LastUse = ++_clock;
                return raced;
            }
            entry = new Entry(circuit, manifest.Size) { Users = 1, LastUse = ++_clock };
            if (manifest.Size > MaxCachedModelBytes)
            {
                // Too large to keep: proven this once and dropped after.
                entry.Evicted = true;
                return entry;
            }
            _cache[model] = entry;
            _cachedBytes += manifest.Size;
            while (_cachedBytes > MaxCachedModelBytes)
            {
                var victim = _cache.Where(e => e.Value != entry).OrderBy(e => e.Value.LastUse).First();
                _cache.Remove(victim.Key);
                _cachedBytes -= victim.Value.Bytes;
                victim.Value.Evicted = true;
                if (victim.Value.Users == 0)
                {
                    victim.Value.Circuit.Dispose();
                }
            }
            return entry;
        }
    }

    private void Release(Entry entry)
    {
        lock (_gate)
        {
            entry.Users--;
            if (entry.Evicted && entry.Users == 0)
            {
                entry.Circuit.Dispose();
            }
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var entry in _cache.Values)
            {
                entry.Evicted = true;
                if (entry.Users == 0)
                {
                    entry.Circuit.Dispose();
                }
            }
            _cache.Clear();
            _cachedBytes = 0;
        }
    }

    private sealed class Entry(ProofCircuit circuit, long bytes)
    {
        public ProofCircuit Circuit { get; } = circuit;

        public long Bytes { get; } = bytes;

        /// <summary>One proof at a time per circuit (its sessions run one inference at a time).</summary>
        public object Busy { get; } = new();

        public int Users { get; set; }

        public long LastUse { get; set; }

        public bool Evicted { get; set; }
    }
}
