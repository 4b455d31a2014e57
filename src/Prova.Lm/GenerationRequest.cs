using System.Text;
using Prova.Core;
using Prova.Runtime;
using Prova.Runtime.Generation;

namespace Prova.Lm;

/// <summary>
/// A generation as the network signs and re-executes it (docs/verified-chat.md): the prompt, every sampling
/// parameter and the seed, resolved, as a canonical named tensor set. A receipt's <c>inputHash</c> is the hash of
/// <see cref="ToTensors"/>, so the same request re-run anywhere must give the same tokens.
/// <list type="bullet">
/// <item>exactly one of <c>input_ids</c> int64 [n] (the prompt's token ids, chat template applied, used as given) or
/// <c>prompt</c> uint8 [b] (UTF-8 text, tokenized with the bundle's tokenizer, its special tokens added);</item>
/// <item><c>max_tokens</c> int64 [], <c>temperature</c> float32 [], <c>top_k</c> int64 [], <c>top_p</c> float32 [],
/// <c>repetition_penalty</c> float32 [], <c>seed</c> uint64 [];</item>
/// <item><c>stop</c> uint8 [b]: each stop string's UTF-8 followed by one 0 byte (empty: none).</item>
/// </list>
/// </summary>
public sealed record GenerationRequest
{
    /// <summary>At most this many stop strings (as the OpenAI API allows).</summary>
    public const int MaxStopStrings = 4;

    /// <summary>A stop string has at most this many UTF-8 bytes.</summary>
    public const int MaxStopBytes = 256;

    /// <summary>A prompt has at most this many token ids or UTF-8 bytes.</summary>
    public const int MaxPromptLength = 1 << 20;

    private static readonly string[] s_names = ["input_ids", "max_tokens", "prompt", "repetition_penalty", "seed", "stop", "temperature", "top_k", "top_p"];

    /// <summary>The prompt's token ids; null when the prompt is <see cref="PromptText"/>.</summary>
    public int[]? PromptIds { get; init; }

    /// <summary>The prompt as text, tokenized by the model; null when the prompt is <see cref="PromptIds"/>.</summary>
    public string? PromptText { get; init; }

    public required int MaxTokens { get; init; }

    public required SamplingOptions Sampling { get; init; }

    public IReadOnlyList<string> Stop { get; init; } = [];

    /// <summary>The engine's options for this request (the model's stop tokens are added by <see cref="LanguageModel"/>).</summary>
    public GenerationOptions Options => new() { MaxNewTokens = MaxTokens, Sampling = Sampling };

    /// <summary>Throws an <see cref="InputException"/> naming the first field out of range.</summary>
    public void Validate()
    {
        if ((PromptIds is null) == (PromptText is null))
        {
            throw new InputException("a generation request has exactly one prompt: token ids or text");
        }
        if (PromptIds is { Length: 0 } || PromptText is { Length: 0 })
        {
            throw new InputException("the prompt is empty");
        }
        if (PromptIds is { Length: > MaxPromptLength } || PromptText is not null && Encoding.UTF8.GetByteCount(PromptText) > MaxPromptLength)
        {
            throw new InputException($"the prompt is longer than {MaxPromptLength} tokens or bytes");
        }
        if (PromptIds is not null)
        {
            foreach (int id in PromptIds)
            {
                if (id < 0)
                {
                    throw new InputException($"token id {id} is negative");
                }
            }
        }
        if (MaxTokens < 1)
        {
            throw new InputException($"max_tokens must be at least 1; got {MaxTokens}");
        }
        Sampling.Validate();
        if (Stop.Count > MaxStopStrings)
        {
            throw new InputException($"at most {MaxStopStrings} stop strings; got {Stop.Count}");
        }
        foreach (var s in Stop)
        {
            if (s.Length == 0 || s.Contains('\0', StringComparison.Ordinal) || Encoding.UTF8.GetByteCount(s) > MaxStopBytes)
            {
                throw new InputException($"a stop string must be 1..{MaxStopBytes} UTF-8 bytes without NUL characters");
            }
        }
    }

    /// <summary>The canonical tensors of the request (validated first).</summary>
    public Dictionary<string, Tensor> ToTensors()
    {
        Validate();
        var stop = new List<byte>();
        foreach (var s in Stop)
        {
            stop.AddRange(Encoding.UTF8.GetBytes(s));
            stop.Add(0);
        }
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal)
        {
            ["max_tokens"] = Scalar((long)MaxTokens),
            ["temperature"] = Scalar(Sampling.Temperature),
            ["top_k"] = Scalar((long)Sampling.TopK),
            ["top_p"] = Scalar(Sampling.TopP),
            ["repetition_penalty"] = Scalar(Sampling.RepetitionPenalty),
            ["seed"] = Scalar(Sampling.Seed),
            ["stop"] = Tensor.Create([stop.Count], stop.ToArray()),
        };
        if (PromptIds is not null)
        {
            var ids = new long[PromptIds.Length];
            for (int i = 0; i < ids.Length; i++)
            {
                ids[i] = PromptIds[i];
            }
            tensors["input_ids"] = Tensor.Create([ids.Length], ids);
        }
        else
        {
            byte[] text = Encoding.UTF8.GetBytes(PromptText!);
            tensors["prompt"] = Tensor.Create([text.Length], text);
        }
        return tensors;
    }

    /// <summary>The input hash a node's receipt carries for this request: 0x + SHA-256 of <see cref="ToTensors"/>.</summary>
    public string Hash() => "0x" + TensorEncoding.Hash(ToTensors());

    /// <summary>True when <paramref name="tensors"/> is shaped like a generation request (has its parameter tensors).</summary>
    public static bool IsGenerationRequest(IReadOnlyDictionary<string, Tensor> tensors) =>
        tensors.ContainsKey("max_tokens") && tensors.ContainsKey("seed") && (tensors.ContainsKey("input_ids") || tensors.ContainsKey("prompt"));

    /// <summary>Reads a request from its canonical tensors; an <see cref="InputException"/> names the first problem.</summary>
    public static GenerationRequest FromTensors(IReadOnlyDictionary<string, Tensor> tensors)
    {
        foreach (var name in tensors.Keys)
        {
            if (Array.IndexOf(s_names, name) < 0)
            {
                throw new InputException($"a generation request has no tensor '{Shown(name)}' (expected: {string.Join(", ", s_names)})");
            }
        }
        bool hasIds = tensors.ContainsKey("input_ids");
        bool hasText = tensors.ContainsKey("prompt");
        if (hasIds == hasText)
        {
            throw new InputException("a generation request has exactly one of 'input_ids' (int64 [n]) and 'prompt' (uint8 [b], UTF-8)");
        }
        int[]? ids = null;
        string? text = null;
        if (hasIds)
        {
            var t = Vector(tensors, "input_ids", DataType.Int64);
            var longs = t.Span<long>();
            ids = new int[longs.Length];
            for (int i = 0; i < ids.Length; i++)
            {
                ids[i] = longs[i] is >= 0 and <= int.MaxValue ? (int)longs[i] : throw new InputException($"input_ids[{i}] = {longs[i]} is not a token id");
            }
        }
        else
        {
            text = Utf8(Vector(tensors, "prompt", DataType.UInt8).Bytes(), "prompt");
        }
        long maxTokens = ScalarOf<long>(tensors, "max_tokens", DataType.Int64);
        long topK = ScalarOf<long>(tensors, "top_k", DataType.Int64);
        var request = new GenerationRequest
        {
            PromptIds = ids,
            PromptText = text,
            MaxTokens = maxTokens is >= 1 and <= int.MaxValue ? (int)maxTokens : throw new InputException($"max_tokens must be 1..{int.MaxValue}; got {maxTokens}"),
            Sampling = new SamplingOptions
            {
                Temperature = ScalarOf<float>(tensors, "temperature", DataType.Float32),
                TopK = topK is >= 0 and <= int.MaxValue ? (int)topK : throw new InputException($"top_k must be 0..{int.MaxValue}; got {topK}"),
                TopP = ScalarOf<float>(tensors, "top_p", DataType.Float32),
                RepetitionPenalty = ScalarOf<float>(tensors, "repetition_penalty", DataType.Float32),
                Seed = ScalarOf<ulong>(tensors, "seed", DataType.UInt64),
            },
            Stop = SplitStops(Vector(tensors, "stop", DataType.UInt8).Bytes()),
        };
        request.Validate();
        return request;
    }

    private static List<string> SplitStops(ReadOnlySpan<byte> bytes)
    {
        var stops = new List<string>();
        while (!bytes.IsEmpty)
        {
            int end = bytes.IndexOf((byte)0);
            if (end < 0)
            {
                throw new InputException("'stop' must end every stop string with a 0 byte");
            }
            if (stops.Count == MaxStopStrings)
            {
                throw new InputException($"at most {MaxStopStrings} stop strings");
            }
            stops.Add(Utf8(bytes[..end], "stop"));
            bytes = bytes[(end + 1)..];
        }
        return stops;
    }

    private static string Utf8(ReadOnlySpan<byte> bytes, string name)
    {
        try
        {
            return new UTF8Encoding(false, true).GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new InputException($"'{name}' is not valid UTF-8");
        }
    }

    private static Tensor Vector(IReadOnlyDictionary<string, Tensor> tensors, string name, DataType type)
    {
        var t = Required(tensors, name, type);
        return t.Rank == 1 ? t : throw new InputException($"'{name}' must be a vector {DataTypes.Name(type)} [n]; got {t}");
    }

    private static T ScalarOf<T>(IReadOnlyDictionary<string, Tensor> tensors, string name, DataType type) where T : unmanaged
    {
        var t = Required(tensors, name, type);
        return t.Rank == 0 ? t.Span<T>()[0] : throw new InputException($"'{name}' must be a scalar {DataTypes.Name(type)} []; got {t}");
    }

    private static Tensor Required(IReadOnlyDictionary<string, Tensor> tensors, string name, DataType type)
    {
        if (!tensors.TryGetValue(name, out var t))
        {
            throw new InputException($"a generation request needs '{name}'");
        }
        return t.Type == type ? t : throw new InputException($"'{name}' must be {DataTypes.Name(type)}; got {t}");
    }

    private static Tensor Scalar<T>(T value) where T : unmanaged => Tensor.Create<T>([], [value]);

    private static string Shown(string name) => name.Length > 40 ? name[..40] + "..." : name;
}

/// <summary>
/// The outputs of a generation as a canonical tensor set (what a receipt's <c>outputHash</c> covers):
/// <c>output_ids</c> int64 [m], the generated ids (a stop token that ended it is the last id), and <c>text</c>
/// uint8 [b], the UTF-8 text they decode to with any stop string cut off (empty for a model without tokenizer).
/// </summary>
public static class GenerationOutput
{
    public static Dictionary<string, Tensor> ToTensors(ReadOnlySpan<int> ids, string? text)
    {
        var longs = new long[ids.Length];
        for (int i = 0; i < ids.Length; i++)
        {
            longs[i] = ids[i];
        }
        byte[] utf8 = Encoding.UTF8.GetBytes(text ?? "");
        return new Dictionary<string, Tensor>(StringComparer.Ordinal)
        {
            ["output_ids"] = Tensor.Create([longs.Length], longs),
            ["text"] = Tensor.Create([utf8.Length], utf8),
        };
    }

    /// <summary>The ids and text of generation outputs; an <see cref="InputException"/> when they are not shaped so.</summary>
    public static (int[] Ids, string Text) Read(IReadOnlyDictionary<string, Tensor> outputs)
    {
        if (!outputs.TryGetValue("output_ids", out var ids) || ids.Type != DataType.Int64 || ids.Rank != 1
            || !outputs.TryGetValue("text", out var text) || text.Type != DataType.UInt8 || text.Rank != 1 || outputs.Count != 2)
        {
            throw new InputException("generation outputs are 'output_ids' int64 [m] and 'text' uint8 [b]");
        }
        var longs = ids.Span<long>();
        var result = new int[longs.Length];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = (int)Math.Clamp(longs[i], int.MinValue, int.MaxValue);
        }
        try
        {
            return (result, new UTF8Encoding(false, true).GetString(text.Bytes()));
        }
        catch (DecoderFallbackException)
        {
            throw new InputException("generation output 'text' is not valid UTF-8");
        }
    }
}
