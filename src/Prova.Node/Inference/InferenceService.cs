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
using Prova.Node.Network;
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
    private readonly FaultInjector _faults;
    private readonly ConcurrentDictionary<Cid, Lazy<LoadedModel>> _pools = new();
    private readonly MemoryBudget _memory;

    public InferenceService(ContentStore store, ModelCatalog catalog, ReceiptSigner signer, GenerationService generations, NodeMetrics metrics,
        IOptions<NodeOptions> options, ILogger<InferenceService> logger, FaultInjector faults)
    {
        _faults = faults;
        _store = store;
        _catalog = catalog;
        _signer = signer;
        _generations = generations;
        _metrics = metrics;
        _options = options.Value;
        _logger = logger;
        _memory = new MemoryBudget(_options.InferenceMemoryBytes);
    }

    /// <summary>Bytes of <see cref="NodeOptions.InferenceMemoryBytes"/> held by running inferences (tests observe it).</summary>
    internal long MemoryInUse => _memory.Used;

    /// <summary>
    /// Runs any hosted model on canonical tensors: a single ONNX file through the engine, a language-model bundle as
    /// a generation whose inputs are a <see cref="GenerationRequest"/>'s tensors (what challenges, quorum peers and on-chain
    /// requests carry). A single-file run holds its share of <see cref="NodeOptions.InferenceMemoryBytes"/> until it returns,
    /// or, with <paramref name="holdMemory"/>, until the caller disposes what it is handed (after writing the answer).
    /// </summary>
    public async Task<InferenceResult> ExecuteAsync(Cid model, Dictionary<string, Tensor> inputs, Hash256 requestId, string mode, CancellationToken cancellationToken,
        Action<IDisposable>? holdMemory = null)
    {
        if (!_generations.IsBundle(model))
        {
            return await RunAsync(model, inputs, requestId, mode, holdMemory, cancellationToken);
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

    /// <summary>
    /// The inputs a hosted single-file model declares (loading it if needed), so a request's tensors can be checked
    /// by <see cref="CheckInput"/> before their data is read; null for a language-model bundle.
    /// </summary>
    public IReadOnlyList<ValueInfo>? DeclaredInputs(Cid model) => _generations.IsBundle(model) ? null : Pool(model).Model.Graph.Inputs;

    /// <summary>
    /// Refuses an input, before its data is read, that the model does not take: an unknown name or a wrong element type
    /// (422), or more bytes than the model's declared shape holds (413 naming the input; a symbolic dimension is bounded
    /// by <see cref="NodeOptions.InferenceMemoryBytes"/>).
    /// </summary>
    public void CheckInput(IReadOnlyList<ValueInfo>? declared, string name, DataType type, int[] shape)
    {
        long bytes = Tensor.ElementCount(shape) * DataTypes.SizeOf(type);
        ValueInfo? info = null;
        if (declared is not null)
        {
            foreach (var candidate in declared)
            {
                if (candidate.Name == name)
                {
                    info = candidate;
                }
            }
            if (info is null)
            {
                throw new ApiException(422, "invalid-input", $"the model has no input '{name}' (its inputs: {string.Join(", ", declared.Select(i => i.ToString()))})");
            }
            if (info.ElementType != type)
            {
                throw new ApiException(422, "invalid-input", $"input '{name}' should be {DataTypes.Name(info.ElementType)} but is {DataTypes.Name(type)}");
            }
        }
        long maxBytes = _options.InferenceMemoryBytes;
        string limit = nameof(NodeOptions.InferenceMemoryBytes);
        if (info?.Shape is { } dims && Array.TrueForAll(dims, d => d.Value is not null))
        {
            long declaredElements = 1;
            foreach (var d in dims)
            {
                declaredElements = Math.Min(declaredElements * d.Value!.Value, Tensor.MaxElements);
            }
            maxBytes = declaredElements * DataTypes.SizeOf(type);
            limit = $"input '{name}' {info}";
        }
        if (bytes > maxBytes)
        {
            throw new ApiException(StatusCodes.Status413PayloadTooLarge, "payload-too-large",
                $"input '{name}' ({DataTypes.Name(type)}[{string.Join(", ", shape)}], {bytes} bytes) is larger than {limit} allows ({maxBytes} bytes)",
                new Dictionary<string, object?> { ["limit"] = limit, ["maxBytes"] = maxBytes, ["input"] = name });
        }
    }

    private async Task<InferenceResult> RunAsync(Cid model, Dictionary<string, Tensor> inputs, Hash256 requestId, string mode, Action<IDisposable>? holdMemory,
        CancellationToken cancellationToken)
    {
        InferModes.Check(mode);
        if (mode == InferModes.ProofMode)
        {
            throw new InvalidOperationException("mode \"proof\" is served by ProofService");
        }
        var pool = Pool(model).Sessions;
        // Building a session plans the whole graph: seconds for a large one, so it stops with the request.
        var session = Engine(() => pool.Rent(cancellationToken));
        IDisposable? lease = null;
        long start;
        Dictionary<string, Tensor> outputs;
        try
        {
            var plan = Engine(() => session.Prepare(inputs, cancellationToken));
            lease = await AcquireMemoryAsync(plan, inputs, cancellationToken);
            start = Stopwatch.GetTimestamp();
            outputs = Engine(() => session.Run(inputs, cancellationToken));
        }
        catch
        {
            lease?.Dispose();
            throw;
        }
        finally
        {
            pool.Return(session);
        }
        if (_faults.Faults.CorruptOutput)
        {
            FaultInjector.FlipOneBit(outputs);
        }
        var elapsed = Stopwatch.GetElapsedTime(start);
        _metrics.InferenceSucceeded(elapsed.TotalSeconds);
        if (holdMemory is not null)
        {
            holdMemory(lease);
        }
        else
        {
            lease.Dispose();
        }
        return new InferenceResult(outputs, _signer.Sign(model, inputs, outputs, requestId, mode), elapsed.TotalMilliseconds);
    }

    /// <summary>
    /// Takes this run's share of <see cref="NodeOptions.InferenceMemoryBytes"/>: the plan's arena and constants, the inputs,
    /// and the outputs five times over (the tensors and their JSON text, which takes up to four bytes per byte of a float).
    /// </summary>
    private async Task<IDisposable> AcquireMemoryAsync(PlanInfo plan, Dictionary<string, Tensor> inputs, CancellationToken cancellationToken)
    {
        long inputBytes = 0;
        foreach (var tensor in inputs.Values)
        {
            inputBytes += tensor.Bytes().Length;
        }
        long need = plan.ArenaBytes + plan.ConstantBytes + inputBytes + (5 * plan.OutputBytes);
        if (need > _memory.Capacity)
        {
            _metrics.InferenceFailed();
            throw new ApiException(StatusCodes.Status413PayloadTooLarge, "payload-too-large",
                $"these inputs need {need} bytes to run (working memory {plan.ArenaBytes + plan.ConstantBytes}, inputs {inputBytes}, outputs {plan.OutputBytes}), more than InferenceMemoryBytes ({_memory.Capacity})",
                new Dictionary<string, object?> { ["limit"] = nameof(NodeOptions.InferenceMemoryBytes), ["maxBytes"] = _memory.Capacity });
        }
        // Wait for running inferences to give memory back, but answer well within the request timeout.
        var wait = TimeSpan.FromSeconds(Math.Max(1, _options.RequestTimeoutSeconds / 2));
        var lease = await _memory.AcquireAsync(need, wait, cancellationToken);
        if (lease is null)
        {
            _metrics.InferenceRejected();
            throw new ApiException(StatusCodes.Status503ServiceUnavailable, "saturated",
                $"running inferences hold the node's memory budget (InferenceMemoryBytes, {_memory.Capacity} bytes) and this one needs {need} bytes; retry after 1 s",
                new Dictionary<string, object?> { ["limit"] = nameof(NodeOptions.InferenceMemoryBytes), ["retryAfterSeconds"] = 1 });
        }
        return lease;
    }

    /// <summary>Runs engine work, turning its typed errors into 4xx problems.</summary>
    private T Engine<T>(Func<T> work)
    {
        try
        {
            return work();
        }
        catch (ResourceLimitException ex)
        {
            _metrics.InferenceFailed();
            // MaxSpecializedConstantBytes is set to MaxOutputBytes: values a client sizes with a few bytes count like outputs.
            string limit = ex.Limit == nameof(SessionOptions.MaxPlanBytes) ? nameof(NodeOptions.InferenceMemoryBytes) : nameof(NodeOptions.MaxOutputBytes);
            string detail = ex.Message.Replace(nameof(SessionOptions.MaxPlanBytes), limit, StringComparison.Ordinal)
                .Replace(nameof(SessionOptions.MaxSpecializedConstantBytes), limit, StringComparison.Ordinal);
            throw new ApiException(StatusCodes.Status413PayloadTooLarge, "payload-too-large", detail,
                new Dictionary<string, object?> { ["limit"] = limit, ["maxBytes"] = ex.MaxBytes });
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
    }

    private LoadedModel Pool(Cid model)
    {
        var published = _catalog.Find(model) ?? throw ApiException.UnknownModel(model.ToString());
        if (published.Kind == ModelInfo.BundleKind)
        {
            throw new ApiException(422, "unsupported-model", $"{model} is a bundle (a folder model); /v1/infer runs single-file ONNX models");
        }
        var lazy = _pools.GetOrAdd(model, cid => new Lazy<LoadedModel>(() => Load(cid), LazyThreadSafetyMode.ExecutionAndPublication));
        try
        {
            return lazy.Value;
        }
        catch
        {
            _pools.TryRemove(new KeyValuePair<Cid, Lazy<LoadedModel>>(model, lazy));
            throw;
        }
    }

    private LoadedModel Load(Cid cid)
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
        var options = new SessionOptions
        {
            Threads = _options.InferenceThreads,
            MaxOutputBytes = _options.MaxOutputBytes,
            MaxPlanBytes = _options.InferenceMemoryBytes,
            // Plans of other input shapes beyond this are dropped (the latest is always kept), so a stream of new
            // shapes cannot pin memory outside the budget.
            MaxCachedPlanBytes = _options.MaxOutputBytes,
            MaxSpecializedConstantBytes = _options.MaxOutputBytes,
        };
        return new LoadedModel(model, new IdlePool<InferenceSession>(token => new InferenceSession(model, options, token), _options.SessionsPerModel));
    }

    private sealed record LoadedModel(OnnxModel Model, IdlePool<InferenceSession> Sessions);

    public void Dispose()
    {
        foreach (var lazy in _pools.Values)
        {
            if (lazy.IsValueCreated)
            {
                lazy.Value.Sessions.Dispose();
            }
        }
    }
}
