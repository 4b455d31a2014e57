using System.Text;
using Prova.Core;
using Prova.Lm.Text;
using Prova.Onnx;
using Prova.Runtime.Generation;

namespace Prova.Lm;

/// <summary>Text produced by a generation, with the token-level result it came from.</summary>
public sealed record TextGeneration(GenerationResult Result, string? Text, string? StopString)
{
    public int[] Ids => Result.Ids;

    /// <summary>The generation's canonical output tensors (<see cref="GenerationOutput"/>): what a receipt's output hash covers.</summary>
    public Dictionary<string, Tensor> ToTensors() => GenerationOutput.ToTensors(Ids, Text);

    /// <summary>The output hash a node's receipt carries for this generation: 0x + SHA-256 of <see cref="ToTensors"/>.</summary>
    public string ReceiptOutputHash => "0x" + TensorEncoding.Hash(ToTensors());
}

/// <summary>
/// A language-model bundle ready to generate: the decoder (<see cref="DecoderSession"/>), its tokenizer and
/// configuration. <see cref="Load"/> takes a bundle folder (docs/language-models.md) or a bare model file; a
/// bare model without tokenizer files beside it generates from token ids only.
/// </summary>
public sealed class LanguageModel : IDisposable
{
    /// <summary>File names tried, in order, for the decoder inside a bundle folder.</summary>
    public static readonly string[] ModelFileNames = ["model.onnx", "onnx/model.onnx", "decoder_model_merged.onnx", "onnx/decoder_model_merged.onnx", "decoder_with_past_model.onnx", "onnx/decoder_with_past_model.onnx"];

    private LanguageModel(string directory, string modelPath, BundleConfig config, LmTokenizer? tokenizer, DecoderSession decoder)
    {
        Directory = directory;
        ModelPath = modelPath;
        Config = config;
        Tokenizer = tokenizer;
        Decoder = decoder;
        var stops = new SortedSet<int>(config.EosTokenIds);
        if (tokenizer is not null)
        {
            stops.UnionWith(tokenizer.EosIds);
        }
        StopTokens = [.. stops];
    }

    private ChatTemplate? _chatTemplate;

    public string Directory { get; }

    public string ModelPath { get; }

    public BundleConfig Config { get; }

    /// <summary>The tokenizer, or null for a bare model file without tokenizer files.</summary>
    public LmTokenizer? Tokenizer { get; }

    public DecoderSession Decoder { get; }

    /// <summary>End-of-sequence ids from the configs and the tokenizer: generation stops on any of them.</summary>
    public IReadOnlyList<int> StopTokens { get; }

    /// <summary>Loads a bundle folder, or a model file (whose folder may hold the tokenizer and configs).</summary>
    public static LanguageModel Load(string path, int threads = 0)
    {
        string directory;
        string modelPath;
        if (System.IO.Directory.Exists(path))
        {
            directory = path;
            modelPath = FindModel(path);
        }
        else if (File.Exists(path))
        {
            modelPath = path;
            directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        }
        else
        {
            throw new LmException($"'{path}' is neither a model bundle folder nor a model file");
        }
        var config = BundleConfig.Load(directory);
        var tokenizer = HasTokenizer(directory) ? LmTokenizer.Load(config) : null;
        // transformers writes a huge model_max_length (1e30) when the tokenizer has no limit: ignore such values.
        int? tokenizerLimit = config.Tokenizer.ModelMaxLength is > 0 and <= 1 << 20 ? config.Tokenizer.ModelMaxLength : null;
        int context = config.Model.MaxPositionEmbeddings ?? tokenizerLimit ?? DecoderSession.DefaultMaxContext;
        var decoder = new DecoderSession(OnnxLoader.Load(modelPath), new DecoderOptions
        {
            Threads = threads > 0 ? threads : Environment.ProcessorCount,
            MaxContext = context,
        });
        if (tokenizer is not null && tokenizer.VocabSize > decoder.VocabSize)
        {
            decoder.Dispose();
            throw new LmException($"the tokenizer has {tokenizer.VocabSize} tokens but the model's logits cover only {decoder.VocabSize}: they do not belong together");
        }
        return new LanguageModel(directory, modelPath, config, tokenizer, decoder);
    }

    private static bool HasTokenizer(string dir) => File.Exists(Path.Combine(dir, "tokenizer.json")) || File.Exists(Path.Combine(dir, "tokenizer.model"));

    private static string FindModel(string dir)
    {
        foreach (var name in ModelFileNames)
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        var onnx = System.IO.Directory.GetFiles(dir, "*.onnx");
        if (onnx.Length == 1)
        {
            return onnx[0];
        }
        throw new LmException(onnx.Length == 0
            ? $"'{dir}' has no model.onnx"
            : $"'{dir}' has several .onnx files and no model.onnx: {string.Join(", ", onnx.Select(Path.GetFileName))}");
    }

    /// <summary>The sampling a request asks for, each value it leaves unset taken from <see cref="DefaultSampling"/>.</summary>
    public SamplingOptions Sampling(float? temperature, int? topK, float? topP, float? repetitionPenalty, ulong seed)
    {
        var defaults = DefaultSampling();
        return defaults with
        {
            Temperature = temperature ?? defaults.Temperature,
            TopK = topK ?? defaults.TopK,
            TopP = topP ?? defaults.TopP,
            RepetitionPenalty = repetitionPenalty ?? defaults.RepetitionPenalty,
            Seed = seed,
        };
    }

    /// <summary>The generation options the bundle's generation_config.json asks for (greedy unless it says do_sample).</summary>
    public SamplingOptions DefaultSampling()
    {
        var g = Config.Generation;
        if (g.DoSample != true)
        {
            return new SamplingOptions { RepetitionPenalty = (float)(g.RepetitionPenalty ?? 1) };
        }
        return new SamplingOptions
        {
            Temperature = (float)(g.Temperature ?? 1),
            TopK = g.TopK ?? 0,
            TopP = (float)(g.TopP ?? 1),
            RepetitionPenalty = (float)(g.RepetitionPenalty ?? 1),
        };
    }

    /// <summary>Token ids of a text prompt, with the special tokens the tokenizer adds (e.g. BOS).</summary>
    public int[] Encode(string text) => RequireTokenizer().Encode(text, addSpecial: true);

    /// <summary>
    /// Token ids of a conversation formatted by the bundle's chat template (tokenizer_config.json), ending with the
    /// assistant's turn opened. The template writes any special tokens itself, so none are added (as transformers'
    /// apply_chat_template does).
    /// </summary>
    public int[] EncodeChat(IReadOnlyList<ChatMessage> messages)
    {
        // Parsed once per loaded model: a node renders every chat request through it.
        _chatTemplate ??= ChatTemplate.FromConfig(Config.Tokenizer);
        string text = _chatTemplate.Render(messages, addGenerationPrompt: true, ChatTemplateOptions.From(Config.Tokenizer));
        return RequireTokenizer().Encode(text, addSpecial: false);
    }

    private LmTokenizer RequireTokenizer() => Tokenizer ?? throw new LmException($"'{Directory}' has no tokenizer (tokenizer.json or tokenizer.model): give token ids instead of text");

    /// <summary>
    /// Generates from <paramref name="promptIds"/>. With a tokenizer, <paramref name="onText"/> receives the text
    /// as it forms (complete UTF-8 only, held back while it could be the start of a stop string), and a stop
    /// string ends the generation; the model's end-of-sequence ids always do.
    /// </summary>
    public TextGeneration Generate(int[] promptIds, GenerationOptions options, IReadOnlyList<string>? stopStrings = null,
        Action<string>? onText = null, Action<int>? onToken = null, CancellationToken cancellationToken = default)
    {
        if (options.StopTokens.Count == 0 && StopTokens.Count > 0)
        {
            options = options with { StopTokens = StopTokens };
        }
        if (Tokenizer is null)
        {
            if (stopStrings is { Count: > 0 })
            {
                throw new LmException("stop strings need a tokenizer; this model has none");
            }
            var plain = Generator.Generate(Decoder, promptIds, options, onToken, cancellationToken);
            return new TextGeneration(plain, null, null);
        }
        var decoder = Tokenizer.NewDecoder();
        var matcher = new StopStringMatcher(stopStrings ?? []);
        var text = new StringBuilder();
        void Emit(string piece)
        {
            if (piece.Length > 0)
            {
                text.Append(piece);
                onText?.Invoke(piece);
            }
        }
        var result = Generator.Generate(Decoder, promptIds, options, id =>
        {
            onToken?.Invoke(id);
            Emit(matcher.Push(decoder.Add(id)));
            return !matcher.Stopped;
        }, cancellationToken);
        if (!matcher.Stopped)
        {
            Emit(matcher.Push(decoder.Flush()));
            Emit(matcher.Flush());
        }
        return new TextGeneration(result, text.ToString(), matcher.MatchedStop);
    }

    /// <summary>The prompt's token ids: as given, or the text tokenized with special tokens (as <see cref="Encode"/>).</summary>
    public int[] PromptIds(GenerationRequest request) => request.PromptIds ?? Encode(request.PromptText!);

    /// <summary>Runs a network generation request (what nodes sign and verifiers re-execute): same tokens everywhere.</summary>
    public TextGeneration Run(GenerationRequest request, Action<string>? onText = null, CancellationToken cancellationToken = default)
    {
        request.Validate();
        return Generate(PromptIds(request), request.Options, request.Stop, onText, null, cancellationToken);
    }

    public void Dispose() => Decoder.Dispose();
}
