using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Options;
using Prova.Core;
using Prova.Core.Content;
using Prova.Core.Crypto;
using Prova.Core.Receipts;
using Prova.Lm;
using Prova.Node.Api;
using Prova.Node.Hosting;
using Prova.Node.Store;
using Prova.Onnx;
using Prova.Runtime;
using SessionOptions = Prova.Runtime.SessionOptions;

namespace Prova.Node.Inference;

/// <summary>The outcome of one inference: outputs, their hashes and the signed receipt.</summary>
public sealed record InferenceResult(Dictionary<string, Tensor> Outputs, Receipt Receipt, double LatencyMs);

/// <summary>
/// Runs published models on the deterministic engine and signs a receipt for every result. Each model
/// keeps a small pool of <see cref="InferenceSession"/>s (one Run at a time per session).
/// </summary>
public sealed class InferenceService : IDisposable
{
    private readonly ContentStore _store;
    private readonly ModelCatalog _catalog;
    private readonly ReceiptSigner _signer;
    private readonly GenerationService _generations;
    private readonly NodeMetrics _metrics;
    private readonly NodeOptions _options;
    private readonly ILogger<InferenceService> _logger;
    private readonly IServingSeam _seam;
    private readonly ConcurrentDictionary<Cid, Lazy<IdlePool<InferenceSession>>> _pools = new();

    public InferenceService(ContentStore store, ModelCatalog catalog, ReceiptSigner signer, GenerationService generations, NodeMetrics metrics,
        IOptions<NodeOptions> options, ILogger<InferenceService> logger, IServingSeam seam)
    {
        _seam = seam;
        _store = store;
        _catalog = catalog;
        _signer = signer;
        _generations = generations;
        _metrics = metrics;
        _options = options.Value;
        _logger = logger;
    }

    /// <summary>
    /// Runs any hosted model on canonical tensors: a single ONNX file through <see cref="Run"/>, a language-model bundle as
    /// a generation whose inputs are a <see cref="GenerationRequest"/>'s tensors (what challenges, quorum peers and on-chain
    /// requests carry).
    /// </summary>
    public async Task<InferenceResult> ExecuteAsync(Cid model, Dictionary<string, Tensor> inputs, Hash256 requestId, string mode, CancellationToken cancellationToken)
    {
        if (!_generations.IsBundle(model))
        {
            return Run(model, inputs, requestId, mode);
        }
        GenerationRequest request;
        try
        {
            request = GenerationRequest.FromTensors(inputs);
        }
        catch (InputException ex)
        {
            _metrics.InferenceFailed();
            throw new ApiException(422, "invalid-input", $"{model} is a language-model bundle, so the inputs must be a generation request (docs/verified-chat.md): {ex.Message}");
        }
        var outcome = await _generations.GenerateAsync(model, _ => request, requestId, mode, null, cancellationToken);
        return new InferenceResult(outcome.Outputs, outcome.Receipt, outcome.LatencyMs);
    }

    public InferenceResult Run(Cid model, Dictionary<string, Tensor> inputs, Hash256 requestId, string mode)
    {
        InferModes.Check(mode);
        if (mode == InferModes.ProofMode)
        {
            throw new InvalidOperationException("mode \"proof\" is served by ProofService");
        }
        var pool = Pool(model);
        InferenceSession session;
        try
        {
            session = pool.Rent();
        }
        catch (ModelException ex)
        {
            // Creating the session plans the graph: a model the engine refuses is the client's 422, not a 500.
            _metrics.InferenceFailed();
            throw new ApiException(422, "unsupported-model", ex.Message);
        }
        long start = Stopwatch.GetTimestamp();
        Dictionary<string, Tensor> outputs;
        try
        {
            outputs = session.Run(inputs);
        }
        catch (InputException ex)
        {
            _metrics.InferenceFailed();
            throw new ApiException(422, "invalid-input", ex.Message);
        }
        catch (ModelException ex)
        {
            _metrics.InferenceFailed();
            throw new ApiException(422, "unsupported-model", ex.Message);
        }
        catch (ProvaException ex)
        {
            _metrics.InferenceFailed();
            throw new ApiException(422, "invalid-input", ex.Message);
        }
        finally
        {
            pool.Return(session);
        }
        _seam.OutputsComputed(outputs);
        var elapsed = Stopwatch.GetElapsedTime(start);
        _metrics.InferenceSucceeded(elapsed.TotalSeconds);
        return new InferenceResult(outputs, _signer.Sign(model, inputs, outputs, requestId, mode), elapsed.TotalMilliseconds);
    }

    private IdlePool<InferenceSession> Pool(Cid model)
    {
        var published = _catalog.Find(model) ?? throw ApiException.UnknownModel(model.ToString());
        if (published.Kind == ModelInfo.BundleKind)
        {
            throw new ApiException(422, "unsupported-model", $"{model} is a bundle (a folder model); /v1/infer runs single-file ONNX models");
        }
        var lazy = _pools.GetOrAdd(model, cid => new Lazy<IdlePool<InferenceSession>>(() => Load(cid), LazyThreadSafetyMode.ExecutionAndPublication));
        try
        {
            return lazy.Value;
        }
        catch
        {
            _pools.TryRemove(new KeyValuePair<Cid, Lazy<IdlePool<InferenceSession>>>(model, lazy));
            throw;
        }
    }

    private IdlePool<InferenceSession> Load(Cid cid)
    {
        var manifest = _store.Manifest(cid) ?? throw ApiException.UnknownModel(cid.ToString());
        OnnxModel model;
        try
        {
            model = OnnxLoader.Load(_store.ReadAll(manifest));
        }
        catch (ProvaException ex)
        {
            throw new ApiException(422, "unsupported-model", ex.Message);
        }
        Log.ModelLoaded(_logger, cid.ToString());
        var options = new SessionOptions { Threads = _options.InferenceThreads };
        return new IdlePool<InferenceSession>(() => new InferenceSession(model, options), _options.SessionsPerModel);
    }

    public void Dispose()
    {
        foreach (var lazy in _pools.Values)
        {
            if (lazy.IsValueCreated)
            {
                lazy.Value.Dispose();
            }
        }
    }
}
