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
using Prova.Runtime.Generation;

namespace Prova.Node.Inference;

/// <summary>A finished generation with its signed receipt (docs/verified-chat.md).</summary>
public sealed record GenerationOutcome(
    GenerationRequest Request,
    Dictionary<string, Tensor> Inputs,
    int PromptTokens,
    TextGeneration Generation,
    Dictionary<string, Tensor> Outputs,
    Receipt Receipt,
    double LatencyMs,
    double FirstTokenMs)
{
    public int CompletionTokens => Generation.Ids.Length;
}

/// <summary>
/// Runs language-model bundles: loads each bundle once into a pool of <see cref="LanguageModel"/>s, admits at most
/// <see cref="NodeOptions.MaxConcurrentGenerations"/> generations at a time with a bounded queue
/// (<see cref="NodeOptions.GenerationQueueLimit"/>; beyond it 429, after the request timeout in the queue 503),
/// enforces the token limits, and signs a receipt whose input hash covers the resolved request
/// (<see cref="GenerationRequest"/>) and whose output hash covers the ids and text (<see cref="GenerationOutput"/>).
/// A cancelled generation (the client went away) frees its slot at the next token and gets no receipt.
/// </summary>
public sealed class GenerationService : IDisposable
{
    private readonly ContentStore _store;
    private readonly ModelCatalog _catalog;
    private readonly ReceiptSigner _signer;
    private readonly NodeMetrics _metrics;
    private readonly NodeOptions _options;
    private readonly IServingSeam _seam;
    private readonly ILogger<GenerationService> _logger;
    private readonly SemaphoreSlim _slots;
    private readonly ConcurrentDictionary<Cid, Lazy<Task<IdlePool<LanguageModel>>>> _pools = new();
    private int _waiting;
    private int _running;

    public GenerationService(ContentStore store, ModelCatalog catalog, ReceiptSigner signer, NodeMetrics metrics,
        IOptions<NodeOptions> options, IServingSeam seam, ILogger<GenerationService> logger)
    {
        _store = store;
        _catalog = catalog;
        _signer = signer;
        _metrics = metrics;
        _options = options.Value;
        _seam = seam;
        _logger = logger;
        _slots = new SemaphoreSlim(_options.MaxConcurrentGenerations, _options.MaxConcurrentGenerations);
    }

    /// <summary>Generations running now.</summary>
    public int Running => Volatile.Read(ref _running);

    /// <summary>Generations waiting for a slot.</summary>
    public int Waiting => Volatile.Read(ref _waiting);

    /// <summary>True when <paramref name="model"/> is published here as a bundle (a language model or another folder model).</summary>
    public bool IsBundle(Cid model) => _catalog.Find(model)?.Kind == ModelInfo.BundleKind;

    /// <summary>
    /// What a client needs before it builds a request: the model's context length, its default sampling and whether it has a
    /// tokenizer and chat template. Loads the model when it is not loaded yet.
    /// </summary>
    public async Task<T> WithModelAsync<T>(Cid model, Func<LanguageModel, T> use, CancellationToken cancellationToken)
    {
        var pool = await PoolAsync(model, cancellationToken);
        var lm = pool.Rent();
        try
        {
            return use(lm);
        }
        catch (Exception ex) when (ex is LmException or InputException)
        {
            throw new ApiException(400, "invalid-request", ex.Message);
        }
        finally
        {
            pool.Return(lm);
        }
    }

    /// <summary>
    /// Generates for the request <paramref name="prepare"/> builds from the loaded model (tokenizing a chat, filling
    /// defaults from the bundle), streaming text to <paramref name="onText"/> as it forms, and signs the receipt.
    /// </summary>
    public async Task<GenerationOutcome> GenerateAsync(Cid model, Func<LanguageModel, GenerationRequest> prepare, Hash256 requestId, string mode,
        Action<string>? onText, CancellationToken cancellationToken)
    {
        InferModes.Check(mode);
        if (mode == InferModes.ProofMode)
        {
            throw new ApiException(422, "unsupported-mode", "mode \"proof\" does not cover generations yet; use \"attested\" or \"quorum:K\"");
        }
        var pool = await PoolAsync(model, cancellationToken);
        await EnterAsync(cancellationToken);
        long start = Stopwatch.GetTimestamp();
        try
        {
            var lm = pool.Rent();
            try
            {
                // A generation holds its thread for its whole length: a dedicated thread, so that running generations do not
                // starve the thread pool that writes their streamed text to the clients (with pool threads, text arrived in one burst at the end).
                return await Task.Factory.StartNew(() => Generate(model, lm, prepare, requestId, mode, onText, start, cancellationToken),
                    cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            }
            finally
            {
                pool.Return(lm);
            }
        }
        finally
        {
            Interlocked.Decrement(ref _running);
            _slots.Release();
        }
    }

    private GenerationOutcome Generate(Cid model, LanguageModel lm, Func<LanguageModel, GenerationRequest> prepare, Hash256 requestId, string mode,
        Action<string>? onText, long start, CancellationToken cancellationToken)
    {
        GenerationRequest request;
        int[] promptIds;
        Dictionary<string, Tensor> inputs;
        try
        {
            request = prepare(lm);
            inputs = request.ToTensors();
            promptIds = lm.PromptIds(request);
        }
        catch (Exception ex) when (ex is LmException or InputException)
        {
            _metrics.InferenceFailed();
            throw new ApiException(400, "invalid-request", ex.Message);
        }
        CheckLimits(lm, request, promptIds.Length);
        double firstToken = 0;
        TextGeneration generation;
        try
        {
            generation = lm.Generate(promptIds, request.Options, request.Stop,
                onText, onToken: _ =>
                {
                    if (firstToken == 0)
                    {
                        firstToken = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                    }
                    _seam.TokenGenerated(cancellationToken);
                }, cancellationToken);
        }
        catch (Exception ex) when (ex is LmException or InputException)
        {
            _metrics.InferenceFailed();
            throw new ApiException(400, "invalid-request", ex.Message);
        }
        catch (ModelException ex)
        {
            _metrics.InferenceFailed();
            throw new ApiException(422, "unsupported-model", ex.Message);
        }
        if (generation.Result.Reason == StopReason.Cancelled)
        {
            throw new OperationCanceledException(cancellationToken);
        }
        var ids = _seam.GenerationFinished(generation.Ids);
        var outputs = GenerationOutput.ToTensors(ids, generation.Text);
        var receipt = _signer.Sign(model, inputs, outputs, requestId, mode);
        var elapsed = Stopwatch.GetElapsedTime(start);
        _metrics.InferenceSucceeded(elapsed.TotalSeconds);
        return new GenerationOutcome(request, inputs, promptIds.Length, generation, outputs, receipt, elapsed.TotalMilliseconds, firstToken);
    }

    private void CheckLimits(LanguageModel lm, GenerationRequest request, int promptTokens)
    {
        if (request.MaxTokens > _options.MaxGenerationTokens)
        {
            _metrics.InferenceFailed();
            throw new ApiException(400, "max-tokens-exceeded", $"max_tokens {request.MaxTokens} is above this node's limit of {_options.MaxGenerationTokens} (Node:MaxGenerationTokens)",
                new Dictionary<string, object?> { ["limit"] = _options.MaxGenerationTokens });
        }
        int context = ContextLength(lm);
        if (promptTokens >= context)
        {
            _metrics.InferenceFailed();
            throw new ApiException(400, "context-length-exceeded", $"the prompt has {promptTokens} tokens; this model's context on this node is {context} tokens, which must also hold at least one generated token",
                new Dictionary<string, object?> { ["limit"] = context, ["promptTokens"] = promptTokens });
        }
    }

    /// <summary>The context a generation may use: the model's, capped by <see cref="NodeOptions.MaxContextTokens"/>.</summary>
    public int ContextLength(LanguageModel lm) => Math.Min(lm.Decoder.MaxContext, _options.MaxContextTokens);

    private async Task EnterAsync(CancellationToken cancellationToken)
    {
        if (_slots.Wait(0))
        {
            Interlocked.Increment(ref _running);
            return;
        }
        if (Interlocked.Increment(ref _waiting) > _options.GenerationQueueLimit)
        {
            Interlocked.Decrement(ref _waiting);
            _metrics.InferenceRejected();
            throw new ApiException(429, "too-many-generations",
                $"{_options.MaxConcurrentGenerations} generations are running and {_options.GenerationQueueLimit} are waiting (Node:MaxConcurrentGenerations, Node:GenerationQueueLimit); retry after 1 s",
                new Dictionary<string, object?> { ["retryAfterSeconds"] = 1 });
        }
        try
        {
            if (!await _slots.WaitAsync(TimeSpan.FromSeconds(_options.RequestTimeoutSeconds), cancellationToken))
            {
                _metrics.InferenceRejected();
                throw new ApiException(503, "generation-queue-timeout",
                    $"no generation slot freed within {_options.RequestTimeoutSeconds} s (Node:RequestTimeoutSeconds); retry later",
                    new Dictionary<string, object?> { ["retryAfterSeconds"] = 5 });
            }
            Interlocked.Increment(ref _running);
        }
        finally
        {
            Interlocked.Decrement(ref _waiting);
        }
    }

    private async Task<IdlePool<LanguageModel>> PoolAsync(Cid model, CancellationToken cancellationToken)
    {
        var published = _catalog.Find(model) ?? throw ApiException.UnknownModel(model.ToString());
        if (published.Kind != ModelInfo.BundleKind)
        {
            throw new ApiException(422, "not-a-language-model", $"{model} is a single ONNX file; generations need a language-model bundle (a folder with model.onnx, config.json and a tokenizer; docs/language-models.md)");
        }
        var lazy = _pools.GetOrAdd(model, cid => new Lazy<Task<IdlePool<LanguageModel>>>(() => LoadAsync(cid), LazyThreadSafetyMode.ExecutionAndPublication));
        try
        {
            return await lazy.Value.WaitAsync(cancellationToken);
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            _pools.TryRemove(new KeyValuePair<Cid, Lazy<Task<IdlePool<LanguageModel>>>>(model, lazy));
            throw;
        }
    }

    private async Task<IdlePool<LanguageModel>> LoadAsync(Cid cid)
    {
        string directory = await _store.MaterializeAsync(cid) ?? throw ApiException.UnknownModel(cid.ToString());
        int threads = _options.InferenceThreads;
        // Each generation needs its own decoder state, so concurrent generations each rent a loaded copy.
        var pool = new IdlePool<LanguageModel>(() => LoadModel(directory, threads), _options.MaxConcurrentGenerations);
        pool.Return(pool.Rent());
        Log.ModelLoaded(_logger, cid.ToString());
        return pool;
    }

    private static LanguageModel LoadModel(string directory, int threads)
    {
        try
        {
            return LanguageModel.Load(directory, threads);
        }
        catch (ProvaException ex)
        {
            throw new ApiException(422, "not-a-language-model", $"the bundle does not load as a language model: {ex.Message}");
        }
    }

    public void Dispose()
    {
        foreach (var lazy in _pools.Values)
        {
            if (lazy.IsValueCreated && lazy.Value.IsCompletedSuccessfully)
            {
                lazy.Value.Result.Dispose();
            }
        }
        _slots.Dispose();
    }
}
