using System.Text.RegularExpressions;
using Prova.Core;
using Prova.Onnx;

namespace Prova.Runtime.Generation;

/// <summary>How the model keeps its KV cache between steps (docs/generation.md).</summary>
public enum KvCacheKind
{
    /// <summary>
    /// <c>present = Concat(past, new)</c> along the sequence axis, as Hugging Face Optimum exports write it:
    /// the new step's keys come last, after every past slot.
    /// </summary>
    Append,

    /// <summary>
    /// <c>com.microsoft:GroupQueryAttention</c> (ONNX Runtime GenAI builder exports): the present buffer is as
    /// long as the past buffer (or the attention mask), valid keys come first and the new step's keys are
    /// written right after them; the attention mask is right-padded.
    /// </summary>
    InPlace,
}

/// <summary>One layer's cache tensors: graph inputs (past) and outputs (present).</summary>
public sealed record KvLayer(string PastKey, string PastValue, string PresentKey, string PresentValue);

/// <summary>
/// The inputs and outputs of a decoder-only transformer exported with its KV cache, found by the names
/// the exporters use: <c>input_ids</c>, optional <c>attention_mask</c> and <c>position_ids</c>,
/// <c>past_key_values.{i}.key|value</c> → <c>present.{i}.key|value</c>, and <c>logits</c>.
/// </summary>
public sealed partial class DecoderLayout
{
    private DecoderLayout(string inputIds, DataType idType, string? attentionMask, DataType maskType, string? positionIds,
        DataType positionType, string logits, KvLayer[] layers, int kvHeads, int headDim, KvCacheKind kind, int? vocabSize, string? useCacheBranch)
    {
        UseCacheBranch = useCacheBranch;
        InputIds = inputIds;
        IdType = idType;
        AttentionMask = attentionMask;
        MaskType = maskType;
        PositionIds = positionIds;
        PositionType = positionType;
        Logits = logits;
        Layers = layers;
        KvHeads = kvHeads;
        HeadDim = headDim;
        CacheKind = kind;
        VocabSize = vocabSize;
    }

    public string InputIds { get; }

    /// <summary>Element type of the token ids (int64 or int32).</summary>
    public DataType IdType { get; }

    public string? AttentionMask { get; }

    public DataType MaskType { get; }

    public string? PositionIds { get; }

    public DataType PositionType { get; }

    public string Logits { get; }

    /// <summary>
    /// The bool [1] input of an Optimum merged decoder (<c>decoder_model_merged.onnx</c>) that picks its branch:
    /// false for the first step (the past is empty), true for every step after; null for other exports.
    /// </summary>
    public string? UseCacheBranch { get; }

    public IReadOnlyList<KvLayer> Layers { get; }

    /// <summary>Key/value heads per layer (dimension 1 of the cache tensors).</summary>
    public int KvHeads { get; }

    /// <summary>Size of one head (dimension 3 of the cache tensors).</summary>
    public int HeadDim { get; }

    public KvCacheKind CacheKind { get; }

    /// <summary>
    /// True when decode steps may run on a padded, fixed-capacity cache: the model takes explicit positions,
    /// or its attention reads the valid length from the mask (GroupQueryAttention). A model that derives
    /// positions from the cache's length (old exports without position_ids) runs with exact shapes instead.
    /// </summary>
    public bool PadsSafely => CacheKind == KvCacheKind.InPlace || PositionIds is not null;

    /// <summary>Vocabulary size when the logits output declares it, else null (known after the first step).</summary>
    public int? VocabSize { get; }

    [GeneratedRegex(@"^past_key_values\.(\d+)\.(key|value)$")]
    private static partial Regex PastName();

    /// <summary>Finds the decoder layout of a model; throws a <see cref="ModelException"/> saying what is missing when it is not a decoder with a KV cache.</summary>
    public static DecoderLayout Detect(OnnxModel model)
    {
        var graph = model.Graph;
        var inputs = graph.Inputs.ToDictionary(i => i.Name, StringComparer.Ordinal);
        var outputs = graph.Outputs.ToDictionary(o => o.Name, StringComparer.Ordinal);
        if (!inputs.TryGetValue("input_ids", out var ids) || !outputs.TryGetValue("logits", out var logits))
        {
            throw NotADecoder(graph, "it has no 'input_ids' input and 'logits' output");
        }
        var past = new SortedDictionary<int, (string? Key, string? Value)>();
        foreach (var input in graph.Inputs)
        {
            var m = PastName().Match(input.Name);
            if (!m.Success)
            {
                continue;
            }
            int layer = int.Parse(m.Groups[1].ValueSpan, System.Globalization.CultureInfo.InvariantCulture);
            var entry = past.GetValueOrDefault(layer);
            past[layer] = m.Groups[2].Value == "key" ? (input.Name, entry.Value) : (entry.Key, input.Name);
        }
        if (past.Count == 0)
        {
            throw NotADecoder(graph, "it has no KV-cache inputs 'past_key_values.N.key' / 'past_key_values.N.value' (export it with its cache, e.g. Optimum's text-generation-with-past)");
        }
        var known = new HashSet<string>(StringComparer.Ordinal) { "input_ids", "attention_mask", "position_ids" };
        string? useCacheBranch = null;
        if (inputs.TryGetValue("use_cache_branch", out var branch))
        {
            if (branch.ElementType != DataType.Bool || (branch.Shape is { } bs && (bs.Length > 1 || (bs.Length == 1 && bs[0].Value is { } n && n != 1))))
            {
                throw new ModelException($"decoder input 'use_cache_branch' should be bool [1] (Optimum's merged decoder) but is declared {branch}");
            }
            useCacheBranch = branch.Name;
            known.Add(branch.Name);
        }
        var layers = new KvLayer[past.Count];
        int expected = 0;
        int kvHeads = 0;
        int headDim = 0;
        foreach (var (index, (key, value)) in past)
        {
            if (index != expected)
            {
                throw new ModelException($"the KV-cache inputs skip layer {expected} (found past_key_values.{index})");
            }
            if (key is null || value is null)
            {
                throw new ModelException($"layer {index} has only one of past_key_values.{index}.key / .value");
            }
            string presentKey = PresentName(outputs, index, "key");
            string presentValue = PresentName(outputs, index, "value");
            foreach (var name in (ReadOnlySpan<string>)[key, value])
            {
                var info = inputs[name];
                if (info.ElementType != DataType.Float32)
                {
                    throw new ModelException($"cache input '{name}' is {DataTypes.Name(info.ElementType)}; Prova runs float32 KV caches", unsupported: true);
                }
                if (info.Shape is not { Length: 4 } dims || dims[1].Value is not { } h || dims[3].Value is not { } d || h < 1 || d < 1)
                {
                    throw new ModelException($"cache input '{name}' must be declared as [batch, heads, past_length, head_dim] with fixed heads and head_dim (it is {info})");
                }
                if (kvHeads != 0 && (kvHeads != h || headDim != d))
                {
                    throw new ModelException($"cache input '{name}' has {h} heads of size {d}; other layers have {kvHeads} of size {headDim}", unsupported: true);
                }
                (kvHeads, headDim) = ((int)h, (int)d);
            }
            known.Add(key);
            known.Add(value);
            layers[index] = new KvLayer(key, value, presentKey, presentValue);
            expected++;
        }
        foreach (var input in graph.Inputs)
        {
            if (!known.Contains(input.Name))
            {
                throw new ModelException($"decoder input '{input.Name}' is not one Prova knows how to fill; expected input_ids, attention_mask, position_ids, past_key_values.N.key/value and (merged decoders) use_cache_branch", unsupported: true);
            }
        }
        CheckIds(ids);
        inputs.TryGetValue("attention_mask", out var mask);
        inputs.TryGetValue("position_ids", out var positions);
        if (mask is not null)
        {
            CheckIds(mask);
        }
        if (positions is not null)
        {
            CheckIds(positions);
        }
        int? vocab = logits.Shape is { Length: >= 2 } ls && ls[^1].Value is { } v && v > 0 ? (int)v : null;
        bool gqa = graph.Nodes.Any(n => n.OpType == "GroupQueryAttention" && n.Domain == "com.microsoft");
        return new DecoderLayout(ids.Name, ids.ElementType, mask?.Name, mask?.ElementType ?? DataType.Int64, positions?.Name,
            positions?.ElementType ?? DataType.Int64, logits.Name, layers, kvHeads, headDim, gqa ? KvCacheKind.InPlace : KvCacheKind.Append, vocab, useCacheBranch);
    }

    private static string PresentName(Dictionary<string, ValueInfo> outputs, int layer, string part)
    {
        foreach (var name in (ReadOnlySpan<string>)[$"present.{layer}.{part}", $"present_key_values.{layer}.{part}"])
        {
            if (outputs.ContainsKey(name))
            {
                return name;
            }
        }
        throw new ModelException($"the model takes past_key_values.{layer}.{part} but has no output 'present.{layer}.{part}' to return the updated cache");
    }

    private static void CheckIds(ValueInfo info)
    {
        if (info.ElementType is not (DataType.Int64 or DataType.Int32))
        {
            throw new ModelException($"decoder input '{info.Name}' is {DataTypes.Name(info.ElementType)}; expected int64 or int32", unsupported: true);
        }
        if (info.Shape is { } dims && dims.Length != 2)
        {
            throw new ModelException($"decoder input '{info.Name}' should be [batch, length] but is declared {info}");
        }
    }

    private static ModelException NotADecoder(OnnxGraph graph, string why)
        => new($"not a decoder-only language model with a KV cache: {why}; its inputs: {string.Join(", ", graph.Inputs.Select(i => i.Name).Take(8))}");
}
