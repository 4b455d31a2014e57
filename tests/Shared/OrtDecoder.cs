using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Prova.Testing;

/// <summary>
/// The reference KV-cache loop on ONNX Runtime for decoder-with-past models, shared by tests and benchmarks:
/// a prefill of the prompt, then one token per step feeding each <c>present.*</c> output back as the matching
/// <c>past_key_values.*</c> input. attention_mask (all ones, [1, total]) grows every step; position_ids
/// ([1, new], past..total−1) is fed only when the model has that input (Optimum GPT-2 does, GenAI Llama does not).
/// The cache starts empty ([1, kv_heads, 0, head]), i.e. past and present are separate buffers
/// (GenAI's past_present_share_buffer = false).
/// </summary>
internal sealed class OrtDecoder : IDisposable
{
    private readonly InferenceSession _session;
    private readonly RunOptions _run = new();
    private readonly string[] _pastNames;
    private readonly string[] _presentNames;
    private readonly long[][] _pastShapes;
    private readonly bool _positionIds;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private OrtValue[] _past;
    private readonly bool _useCacheBranch;
    private readonly List<long> _tokens = [];

    public OrtDecoder(string modelPath, int threads = 1)
    {
        using var options = new SessionOptions
        {
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        _session = new InferenceSession(modelPath, options);
        var pastNames = new List<string>();
        var shapes = new List<long[]>();
        foreach (var (name, meta) in _session.InputMetadata)
        {
            if (name.StartsWith("past_key_values.", StringComparison.Ordinal) || name.StartsWith("past.", StringComparison.Ordinal))
            {
                pastNames.Add(name);
                int[] dims = meta.Dimensions;
                if (dims.Length != 4 || dims[1] <= 0 || dims[3] <= 0)
                {
                    throw new InvalidOperationException($"{modelPath}: past input '{name}' should be [batch, heads, past, head] with fixed heads and head size, got [{string.Join(", ", dims)}]");
                }
                shapes.Add([1, dims[1], 0, dims[3]]);
            }
        }
        _pastNames = [.. pastNames];
        _pastShapes = [.. shapes];
        _presentNames = new string[_pastNames.Length];
        for (int i = 0; i < _pastNames.Length; i++)
        {
            string rest = _pastNames[i].StartsWith("past_key_values.", StringComparison.Ordinal)
                ? _pastNames[i]["past_key_values.".Length..]
                : _pastNames[i]["past.".Length..];
            _presentNames[i] = "present." + rest;
            if (!_session.OutputMetadata.ContainsKey(_presentNames[i]))
            {
                throw new InvalidOperationException($"{modelPath}: no output '{_presentNames[i]}' for input '{_pastNames[i]}'");
            }
        }
        _positionIds = _session.InputMetadata.ContainsKey("position_ids");
        var inputs = new List<string> { "input_ids", "attention_mask" };
        if (_positionIds)
        {
            inputs.Add("position_ids");
        }
        inputs.AddRange(_pastNames);
        // An Optimum merged decoder: use_cache_branch is false on the first step (empty past), true after.
        _useCacheBranch = _session.InputMetadata.ContainsKey("use_cache_branch");
        if (_useCacheBranch)
        {
            inputs.Add("use_cache_branch");
        }
        _inputNames = [.. inputs];
        _outputNames = ["logits", .. _presentNames];
        VocabSize = _session.OutputMetadata["logits"].Dimensions[^1];
        _past = EmptyCache();
    }

    public int VocabSize { get; }

    /// <summary>Tokens in the cache.</summary>
    public int Length => _tokens.Count;

    /// <summary>Clears the cache and runs the prompt; returns the next-token logits after its last token.</summary>
    public float[] Prefill(ReadOnlySpan<int> promptIds)
    {
        if (promptIds.IsEmpty)
        {
            throw new ArgumentException("the prompt is empty", nameof(promptIds));
        }
        Reset();
        return Step(promptIds);
    }

    /// <summary>One decode step: appends a token and returns the logits after it.</summary>
    public float[] Append(int tokenId) => Step([tokenId]);

    /// <summary>Runs the whole sequence from an empty cache (no reuse) and returns the logits after its last token.</summary>
    public float[] Recompute(ReadOnlySpan<int> ids) => Prefill(ids);

    /// <summary>Greedy generation: prefill, then <paramref name="newTokens"/> argmax steps. Returns the tokens and the logits that chose each.</summary>
    public (int[] Tokens, List<float[]> Logits) Greedy(ReadOnlySpan<int> prompt, int newTokens)
    {
        var tokens = new int[newTokens];
        var logits = new List<float[]>(newTokens);
        float[] current = Prefill(prompt);
        for (int i = 0; i < newTokens; i++)
        {
            logits.Add(current);
            tokens[i] = ArgMax(current);
            if (i + 1 < newTokens)
            {
                current = Append(tokens[i]);
            }
        }
        return (tokens, logits);
    }

    public static int ArgMax(ReadOnlySpan<float> logits)
    {
        int best = 0;
        for (int i = 1; i < logits.Length; i++)
        {
            if (logits[i] > logits[best])
            {
                best = i;
            }
        }
        return best;
    }

    /// <summary>Largest minus second-largest logit: how far greedy decoding is from a tie.</summary>
    public static float TopMargin(ReadOnlySpan<float> logits)
    {
        float first = float.NegativeInfinity, second = float.NegativeInfinity;
        foreach (float v in logits)
        {
            if (v > first)
            {
                second = first;
                first = v;
            }
            else if (v > second)
            {
                second = v;
            }
        }
        return first - second;
    }

    private float[] Step(ReadOnlySpan<int> ids)
    {
        int past = _tokens.Count, n = ids.Length, total = past + n;
        var inputIds = new long[n];
        var positions = new long[n];
        for (int i = 0; i < n; i++)
        {
            inputIds[i] = ids[i];
            positions[i] = past + i;
            _tokens.Add(ids[i]);
        }
        var mask = new long[total];
        Array.Fill(mask, 1L);

        var values = new List<OrtValue>(_inputNames.Length);
        using var idsValue = OrtValue.CreateTensorValueFromMemory(inputIds, [1, n]);
        using var maskValue = OrtValue.CreateTensorValueFromMemory(mask, [1, total]);
        using var positionValue = OrtValue.CreateTensorValueFromMemory(positions, [1, n]);
        values.Add(idsValue);
        values.Add(maskValue);
        if (_positionIds)
        {
            values.Add(positionValue);
        }
        values.AddRange(_past);
        using var branchValue = OrtValue.CreateTensorValueFromMemory(new[] { past > 0 }, [1]);
        if (_useCacheBranch)
        {
            values.Add(branchValue);
        }

        var outputs = _session.Run(_run, _inputNames, values, _outputNames);
        float[] logits;
        try
        {
            var shape = outputs[0].GetTensorTypeAndShape().Shape;
            int vocab = (int)shape[^1];
            logits = outputs[0].GetTensorDataAsSpan<float>().Slice((n - 1) * vocab, vocab).ToArray();
        }
        catch
        {
            outputs.Dispose();
            throw;
        }
        foreach (var old in _past)
        {
            old.Dispose();
        }
        var next = new OrtValue[_presentNames.Length];
        for (int i = 0; i < next.Length; i++)
        {
            next[i] = outputs[i + 1];
        }
        outputs[0].Dispose();
        _past = next;
        return logits;
    }

    private void Reset()
    {
        foreach (var v in _past)
        {
            v.Dispose();
        }
        _past = EmptyCache();
        _tokens.Clear();
    }

    private OrtValue[] EmptyCache()
    {
        var cache = new OrtValue[_pastNames.Length];
        for (int i = 0; i < cache.Length; i++)
        {
            cache[i] = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, TensorElementType.Float, _pastShapes[i]);
        }
        return cache;
    }

    public void Dispose()
    {
        foreach (var v in _past)
        {
            v.Dispose();
        }
        _run.Dispose();
        _session.Dispose();
    }
}
