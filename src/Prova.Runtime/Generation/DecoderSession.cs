using Prova.Core;
using Prova.Onnx;

namespace Prova.Runtime.Generation;

/// <summary>Options of a <see cref="DecoderSession"/>.</summary>
public sealed record DecoderOptions
{
    /// <summary>Worker threads, including the caller's. Generated tokens never depend on this number.</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>
    /// The model's context length in tokens (prompt + generated), from its config (n_positions,
    /// max_position_embeddings); <see cref="DecoderSession.DefaultMaxContext"/> when null. It is part of the
    /// model: the KV-cache capacities, and so the exact bits, follow from it (docs/generation.md).
    /// </summary>
    public int? MaxContext { get; init; }
}

/// <summary>
/// A decoder-only language model exported with its KV cache (<see cref="DecoderLayout"/>), ready to run
/// prefill and decode steps on Prova's engine. The prompt is prefilled with an exact-shape plan; decode steps
/// run on plans bound once per KV-cache capacity (64, 128, 256, … slots, see docs/generation.md), whose
/// buffers point at each state's preallocated cache, so a decode step allocates nothing.
/// One session serves one step at a time; states may interleave.
/// </summary>
public sealed unsafe class DecoderSession : IDisposable
{
    /// <summary>Context length used when neither the options nor the model's config give one.</summary>
    public const int DefaultMaxContext = 2048;

    /// <summary>Smallest KV-cache capacity (slots) a state starts with.</summary>
    public const int MinSlots = 64;

    private readonly InferenceSession _session;
    private readonly Dictionary<int, PlanBinding> _steps = [];
    private readonly Lock _gate = new();
    private bool _disposed;

    public DecoderSession(OnnxModel model, DecoderOptions? options = null)
    {
        options ??= new DecoderOptions();
        Layout = DecoderLayout.Detect(model);
        MaxContext = options.MaxContext ?? DefaultMaxContext;
        if (MaxContext < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(options), MaxContext, "DecoderOptions.MaxContext must be at least 2 tokens");
        }
        _session = new InferenceSession(model, new SessionOptions { Threads = options.Threads, MaxCachedPlans = 4 });
        try
        {
            // Plan the first decode step now: a model that does not run as a decoder fails at load, and the
            // vocabulary size is known before the first prompt.
            var first = Step(Math.Min(MinSlots, SlotLimit));
            var logits = first.OutputShape(Layout.Logits);
            if (logits.Length < 2 || logits[^1] < 1 || Tensor.ElementCount(logits) != logits[^1])
            {
                throw new ModelException($"output '{Layout.Logits}' of a one-token step has shape [{string.Join(", ", logits)}]; expected [1, 1, vocabulary]");
            }
            VocabSize = logits[^1];
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Loads a decoder model file (with its external data).</summary>
    public static DecoderSession Load(string modelPath, DecoderOptions? options = null) => new(OnnxLoader.Load(modelPath), options);

    public DecoderLayout Layout { get; }

    public int VocabSize { get; }

    /// <summary>Most tokens (prompt + generated) a state can hold.</summary>
    public int MaxContext { get; }

    public int Threads => _session.Threads;

    /// <summary>Most KV-cache slots a step plan may have: an appending cache passes one more position (the new token) than it has slots.</summary>
    internal int SlotLimit => Layout.CacheKind == KvCacheKind.Append ? MaxContext - 1 : MaxContext;

    /// <summary>The capacity (slots) a state needs to run a step after <paramref name="cached"/> tokens: a power of two from 64, at most <see cref="SlotLimit"/>.</summary>
    internal int SlotsFor(int cached)
    {
        long slots = MinSlots;
        while (slots < cached + 1)
        {
            slots *= 2;
        }
        return (int)Math.Min(slots, SlotLimit);
    }

    /// <summary>Runs the prompt (prefill) and returns a state holding its KV cache and the next-token logits.</summary>
    public DecoderState Start(ReadOnlySpan<int> promptIds)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (promptIds.Length == 0)
        {
            throw new InputException("the prompt is empty: a generation needs at least one token");
        }
        if (promptIds.Length > MaxContext)
        {
            throw new InputException($"the prompt has {promptIds.Length} tokens, more than the model's context of {MaxContext}");
        }
        CheckTokens(promptIds);
        return new DecoderState(this, promptIds);
    }

    internal void CheckTokens(ReadOnlySpan<int> ids)
    {
        foreach (int id in ids)
        {
            if ((uint)id >= (uint)VocabSize)
            {
                throw new InputException($"token id {id} is not in the model's vocabulary (0 to {VocabSize - 1})");
            }
        }
    }

    /// <summary>Runs the prompt with exact shapes (empty past) and returns logits and present tensors.</summary>
    internal Dictionary<string, Tensor> Prefill(ReadOnlySpan<int> prompt)
    {
        int s = prompt.Length;
        var inputs = new Dictionary<string, Tensor>(StringComparer.Ordinal)
        {
            [Layout.InputIds] = Ids(Layout.IdType, prompt),
        };
        if (Layout.AttentionMask is { } mask)
        {
            var ones = new int[s];
            Array.Fill(ones, 1);
            inputs[mask] = Ids(Layout.MaskType, ones);
        }
        if (Layout.PositionIds is { } positions)
        {
            var range = new int[s];
            for (int i = 0; i < s; i++)
            {
                range[i] = i;
            }
            inputs[positions] = Ids(Layout.PositionType, range);
        }
        if (Layout.UseCacheBranch is { } branch)
        {
            inputs[branch] = Tensor.Create([1], [false]); // a merged decoder's first step: the branch without past
        }
        var empty = Tensor.Zeros(DataType.Float32, [1, Layout.KvHeads, 0, Layout.HeadDim]);
        foreach (var layer in Layout.Layers)
        {
            inputs[layer.PastKey] = empty;
            inputs[layer.PastValue] = empty;
        }
        return _session.Run(inputs);
    }

    /// <summary>A decode step with exact shapes: past = the previous step's present tensors, mask all ones.</summary>
    internal Dictionary<string, Tensor> ExactStep(int token, int cached, Dictionary<string, Tensor> previous)
    {
        var inputs = new Dictionary<string, Tensor>(StringComparer.Ordinal)
        {
            [Layout.InputIds] = Ids(Layout.IdType, [token]),
        };
        if (Layout.AttentionMask is { } mask)
        {
            var ones = new int[cached + 1];
            Array.Fill(ones, 1);
            inputs[mask] = Ids(Layout.MaskType, ones);
        }
        if (Layout.PositionIds is { } positions)
        {
            inputs[positions] = Ids(Layout.PositionType, [cached]);
        }
        if (Layout.UseCacheBranch is { } branch)
        {
            inputs[branch] = Tensor.Create([1], [true]);
        }
        foreach (var layer in Layout.Layers)
        {
            inputs[layer.PastKey] = previous[layer.PresentKey];
            inputs[layer.PastValue] = previous[layer.PresentValue];
        }
        return _session.Run(inputs);
    }

    private static Tensor Ids(DataType type, ReadOnlySpan<int> values)
    {
        if (type == DataType.Int32)
        {
            return Tensor.Create([1, values.Length], values.ToArray());
        }
        var longs = new long[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            longs[i] = values[i];
        }
        return Tensor.Create([1, values.Length], longs);
    }

    /// <summary>The decode-step plan for a cache of this many slots, bound once and reused by every state.</summary>
    internal PlanBinding Step(int slots)
    {
        if (_steps.TryGetValue(slots, out var binding))
        {
            return binding;
        }
        int maskLength = Layout.CacheKind == KvCacheKind.Append ? slots + 1 : slots;
        var shapes = new Dictionary<string, (DataType, int[])>(StringComparer.Ordinal)
        {
            [Layout.InputIds] = (Layout.IdType, [1, 1]),
        };
        if (Layout.AttentionMask is { } mask)
        {
            shapes[mask] = (Layout.MaskType, [1, maskLength]);
        }
        if (Layout.PositionIds is { } positions)
        {
            shapes[positions] = (Layout.PositionType, [1, 1]);
        }
        foreach (var layer in Layout.Layers)
        {
            shapes[layer.PastKey] = (DataType.Float32, [1, Layout.KvHeads, slots, Layout.HeadDim]);
            shapes[layer.PastValue] = (DataType.Float32, [1, Layout.KvHeads, slots, Layout.HeadDim]);
        }
        Dictionary<string, Tensor>? values = null;
        if (Layout.UseCacheBranch is { } branch)
        {
            // A merged decoder's steps after the first take the branch with past: the plan is specialised on it.
            shapes[branch] = (DataType.Bool, [1]);
            values = new Dictionary<string, Tensor>(StringComparer.Ordinal) { [branch] = Tensor.Create([1], [true]) };
        }
        binding = _session.Bind(shapes, values);
        int presentLength = Layout.CacheKind == KvCacheKind.Append ? slots + 1 : slots;
        foreach (var layer in Layout.Layers)
        {
            foreach (var name in (ReadOnlySpan<string>)[layer.PresentKey, layer.PresentValue])
            {
                var shape = binding.OutputShape(name);
                if (shape is not [1, var h, var t, var d] || h != Layout.KvHeads || t != presentLength || d != Layout.HeadDim)
                {
                    binding.Dispose();
                    throw new ModelException($"with a {slots}-slot cache, output '{name}' has shape [{string.Join(", ", shape)}] but a {Layout.CacheKind} cache needs [1, {Layout.KvHeads}, {presentLength}, {Layout.HeadDim}]");
                }
            }
        }
        _steps[slots] = binding;
        return binding;
    }

    /// <summary>Serialises steps: the bound plans (and the engine's threads) are shared by every state.</summary>
    internal Lock Gate => _gate;

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            foreach (var binding in _steps.Values)
            {
                binding.Dispose();
            }
            _steps.Clear();
        }
        _session.Dispose();
    }

    internal void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);
}
