using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.ML.Tokenizers;

namespace Prova.Lm.Text;

public sealed partial class LmTokenizer
{
    public const string TokenizerJsonFile = "tokenizer.json";
    public const string SentencePieceModelFile = "tokenizer.model";

    private const string Supported =
        "supported: tokenizer.json with a byte-level BPE model (GPT-2, Qwen2, SmolLM, Llama 3), a BPE model with byte_fallback " +
        "(Llama 2, TinyLlama, Mistral), a Unigram model or a BERT-style WordPiece model; or a SentencePiece tokenizer.model";

    /// <summary>
    /// Loads the tokenizer of the bundle in <paramref name="bundleDir"/>: <c>tokenizer.json</c> when present, else
    /// <c>tokenizer.model</c>; added tokens, BOS/EOS from <c>tokenizer_config.json</c>, <c>special_tokens_map.json</c>
    /// and <c>generation_config.json</c>.
    /// </summary>
    public static LmTokenizer Load(string bundleDir) => Load(BundleConfig.Load(bundleDir));

    /// <summary>Loads the tokenizer of a bundle whose configuration files are already read.</summary>
    public static LmTokenizer Load(BundleConfig config)
    {
        var dir = config.Directory;
        var jsonPath = Path.Combine(dir, TokenizerJsonFile);
        var modelPath = Path.Combine(dir, SentencePieceModelFile);
        if (File.Exists(jsonPath))
        {
            return FromTokenizerJson(JsonFile.ReadObject(jsonPath), config, File.Exists(modelPath) ? modelPath : null);
        }
        if (File.Exists(modelPath))
        {
            return FromSentencePieceModel(File.ReadAllBytes(modelPath), config, [], SentencePieceModelFile);
        }
        throw new LmException($"bundle folder '{dir}' has neither {TokenizerJsonFile} nor {SentencePieceModelFile}; {Supported}");
    }

    private static LmTokenizer FromTokenizerJson(JsonElement root, BundleConfig config, string? modelPath)
    {
        const string F = TokenizerJsonFile;
        if (JsonFile.Get(root, "model") is not { ValueKind: JsonValueKind.Object } model)
        {
            throw new LmException($"{F}: has no 'model' object; {Supported}");
        }
        var added = ReadAddedTokens(root);
        var type = JsonFile.String(model, "type", F);
        switch (type)
        {
            case "BPE" when JsonFile.Bool(model, "byte_fallback", F) == true || IsMetaspace(root):
                if (modelPath is not null)
                {
                    return FromSentencePieceModel(File.ReadAllBytes(modelPath), config, added, SentencePieceModelFile);
                }
                return FromSentencePieceModel(SentencePieceModelWriter.FromBpeJson(root), config, added, F);
            case "BPE":
                return FromByteLevelBpe(root, model, config, added);
            case "Unigram":
                return FromUnigramJson(root, config, added);
            case "WordPiece":
                return FromWordPieceJson(root, model, config, added);
            case null:
                throw new LmException($"{F}: 'model' has no 'type'; {Supported}");
            default:
                throw new LmException($"{F}: model type '{type}' is not supported; {Supported}");
        }
    }

    private static bool IsMetaspace(JsonElement root)
    {
        var text = root.GetRawText();
        return text.Contains("\"Metaspace\"", StringComparison.Ordinal) && !text.Contains("\"ByteLevel\"", StringComparison.Ordinal);
    }

    private static List<AddedToken> ReadAddedTokens(JsonElement root)
    {
        const string F = TokenizerJsonFile;
        var list = new List<AddedToken>();
        if (JsonFile.Get(root, "added_tokens") is not { } tokens)
        {
            return list;
        }
        if (tokens.ValueKind != JsonValueKind.Array)
        {
            throw new LmException($"{F}: 'added_tokens' must be a list");
        }
        foreach (var t in tokens.EnumerateArray())
        {
            var id = JsonFile.Int(t, "id", F) ?? throw new LmException($"{F}: an entry of 'added_tokens' has no integer 'id'");
            var content = JsonFile.String(t, "content", F) ?? throw new LmException($"{F}: added token {id} has no string 'content'");
            if (id < 0)
            {
                throw new LmException($"{F}: added token '{content}' has a negative id {id}");
            }
            list.Add(new AddedToken(id, content, JsonFile.Bool(t, "special", F) ?? false));
        }
        return list;
    }

    private static LmTokenizer FromByteLevelBpe(JsonElement root, JsonElement model, BundleConfig config, List<AddedToken> added)
    {
        const string F = TokenizerJsonFile;
        var (vocab, maxId) = ReadVocab(model, "BPE");
        var merges = new List<string>();
        if (JsonFile.Get(model, "merges") is { } mergesJson)
        {
            if (mergesJson.ValueKind != JsonValueKind.Array)
            {
                throw new LmException($"{F}: the BPE 'merges' must be a list");
            }
            foreach (var m in mergesJson.EnumerateArray())
            {
                if (m.ValueKind == JsonValueKind.String && m.GetString() is { Length: > 2 } s && s.IndexOf(' ', 1) > 0)
                {
                    merges.Add(s);
                }
                else if (m.ValueKind == JsonValueKind.Array && m.GetArrayLength() == 2
                    && m[0].ValueKind == JsonValueKind.String && m[1].ValueKind == JsonValueKind.String
                    && m[0].GetString() is { Length: > 0 } a && m[1].GetString() is { Length: > 0 } b
                    && !a.Contains(' ') && !b.Contains(' '))
                {
                    merges.Add(a + " " + b);
                }
                else
                {
                    throw new LmException($"{F}: merge {merges.Count} must be \"a b\" or [\"a\", \"b\"] without spaces in a or b, not {m.GetRawText()}");
                }
            }
        }

        var (chain, byteLevel) = ReadPreTokenizer(JsonFile.Get(root, "pre_tokenizer"));
        var decoderIsByteLevel = JsonFile.Get(root, "decoder") is { } dec && dec.GetRawText().Contains("\"ByteLevel\"", StringComparison.Ordinal);
        if (!byteLevel && !decoderIsByteLevel)
        {
            throw new LmException($"{F}: a BPE model without ByteLevel pre-tokenizer or decoder and without byte_fallback is not supported; {Supported}");
        }
        var normalization = ReadNormalizer(JsonFile.Get(root, "normalizer"));

        Tokenizer inner;
        try
        {
            inner = BpeTokenizer.Create(new BpeOptions(vocab)
            {
                Merges = merges,
                ByteLevel = true,
                UnknownToken = JsonFile.String(model, "unk_token", F),
                FuseUnknownTokens = JsonFile.Bool(model, "fuse_unk", F) ?? false,
            });
        }
        catch (Exception ex) when (ex is not (OutOfMemoryException or LmException))
        {
            // The library parses untrusted files; whatever it throws on them is a bad bundle, reported as such.
            throw new LmException($"{F}: Microsoft.ML.Tokenizers rejects the BPE model ({ex.Message})", ex);
        }

        foreach (var t in added)
        {
            maxId = Math.Max(maxId, t.Id);
        }
        var tokenBytes = new byte[maxId + 1][];
        foreach (var (token, id) in vocab)
        {
            tokenBytes[id] = ByteLevel.TryBytes(token) ?? Encoding.UTF8.GetBytes(token);
        }
        foreach (var t in added)
        {
            tokenBytes[t.Id] = Encoding.UTF8.GetBytes(t.Content);
        }
        FillGaps(tokenBytes);

        var ignoreMerges = JsonFile.Bool(model, "ignore_merges", F) == true ? vocab : null;
        var allAdded = MergeAdded(added, config.Tokenizer);
        var (prefix, suffix) = ReadPostProcessor(JsonFile.Get(root, "post_processor"), allAdded, config.Tokenizer);
        return Build(inner, TokenizerKind.ByteLevelBpe, allAdded, chain, normalization, ignoreMerges, tokenBytes, prefix, suffix, config);
    }

    /// <summary>A BPE or WordPiece model's <c>vocab</c> object (token → non-negative id) and its largest id.</summary>
    private static (Dictionary<string, int> Vocab, int MaxId) ReadVocab(JsonElement model, string modelType)
    {
        const string F = TokenizerJsonFile;
        if (JsonFile.Get(model, "vocab") is not { ValueKind: JsonValueKind.Object } vocabJson)
        {
            throw new LmException($"{F}: the {modelType} model has no 'vocab' object");
        }
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        var maxId = -1;
        foreach (var p in vocabJson.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetInt32(out var id) || id < 0)
            {
                throw new LmException($"{F}: vocab entry '{p.Name}' must have a non-negative integer id");
            }
            vocab[p.Name] = id;
            maxId = Math.Max(maxId, id);
        }
        return (vocab, maxId);
    }

    private static LmTokenizer FromUnigramJson(JsonElement root, BundleConfig config, List<AddedToken> added)
    {
        const string F = TokenizerJsonFile;
        SentencePieceTokenizer inner;
        try
        {
            using var stream = new MemoryStream(Encoding.UTF8.GetBytes(root.GetRawText()));
            inner = SentencePieceTokenizer.CreateFromTokenizerJson(stream, addBeginningOfSentence: false, addEndOfSentence: false);
        }
        catch (Exception ex) when (ex is not (OutOfMemoryException or LmException))
        {
            throw new LmException($"{F}: Microsoft.ML.Tokenizers rejects the Unigram model ({ex.Message})", ex);
        }
        return FromSentencePiece(inner, TokenizerKind.Unigram, config, added, root);
    }

    private static LmTokenizer FromSentencePieceModel(byte[] model, BundleConfig config, List<AddedToken> added, string file)
    {
        SentencePieceTokenizer inner;
        try
        {
            using var stream = new MemoryStream(model);
            inner = LlamaTokenizer.Create(stream, addBeginOfSentence: false, addEndOfSentence: false);
        }
        catch (Exception ex) when (ex is not (OutOfMemoryException or LmException))
        {
            throw new LmException($"{file}: Microsoft.ML.Tokenizers cannot read it as a SentencePiece BPE model ({ex.Message})", ex);
        }
        return FromSentencePiece(inner, TokenizerKind.SentencePiece, config, added, null);
    }

    private static LmTokenizer FromSentencePiece(SentencePieceTokenizer inner, TokenizerKind kind, BundleConfig config, List<AddedToken> added, JsonElement? root)
    {
        var maxId = -1;
        foreach (var (_, id) in inner.Vocabulary)
        {
            maxId = Math.Max(maxId, id);
        }
        var allAdded = MergeAdded(added, config.Tokenizer);
        foreach (var t in allAdded)
        {
            maxId = Math.Max(maxId, t.Id);
        }
        var tokenBytes = new byte[maxId + 1][];
        foreach (var (piece, id) in inner.Vocabulary)
        {
            tokenBytes[id] = PieceBytes(piece);
        }
        // Control pieces (<s>, </s>, <unk>) decode to nothing unless they are added tokens with content.
        var control = new List<AddedToken>();
        foreach (var (piece, id) in new[] { (inner.BeginningOfSentenceToken, inner.BeginningOfSentenceId), (inner.EndOfSentenceToken, inner.EndOfSentenceId), (inner.UnknownToken, inner.UnknownId) })
        {
            if (id >= 0 && id < tokenBytes.Length && piece is not null)
            {
                tokenBytes[id] = Encoding.UTF8.GetBytes(piece);
                control.Add(new AddedToken(id, piece, Special: true));
            }
        }
        foreach (var t in allAdded)
        {
            tokenBytes[t.Id] = Encoding.UTF8.GetBytes(t.Content);
        }
        FillGaps(tokenBytes);
        allAdded = MergeAdded([.. control, .. allAdded], config.Tokenizer);

        int[] prefix;
        int[] suffix;
        if (root is { } r)
        {
            (prefix, suffix) = ReadPostProcessor(JsonFile.Get(r, "post_processor"), allAdded, config.Tokenizer);
        }
        else
        {
            prefix = config.Tokenizer.AddBosToken != false && inner.BeginningOfSentenceId >= 0 ? [inner.BeginningOfSentenceId] : [];
            suffix = config.Tokenizer.AddEosToken == true && inner.EndOfSentenceId >= 0 ? [inner.EndOfSentenceId] : [];
        }
        return Build(inner, kind, allAdded, null, null, null, tokenBytes, prefix, suffix, config);
    }

    private static byte[] PieceBytes(string piece)
    {
        if (piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece[5] == '>'
            && byte.TryParse(piece.AsSpan(3, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var b))
        {
            return [b];
        }
        return Encoding.UTF8.GetBytes(piece.Replace('\u2581', ' '));
    }

    private static LmTokenizer Build(
        Tokenizer inner,
        TokenizerKind kind,
        List<AddedToken> added,
        PreTokenizerChain? chain,
        NormalizationForm? normalization,
        IReadOnlyDictionary<string, int>? ignoreMerges,
        byte[][] tokenBytes,
        int[] prefix,
        int[] suffix,
        BundleConfig config,
        BertText? bert = null)
    {
        var addedTokens = new AddedTokens(added);
        int? IdOf(string? token) => token is not null && addedTokens.Ids.TryGetValue(token, out var id) ? id : null;
        foreach (var t in (ReadOnlySpan<string?>)[config.Tokenizer.BosToken, config.Tokenizer.EosToken, config.Tokenizer.PadToken, config.Tokenizer.UnkToken])
        {
            if (IdOf(t) is { } id)
            {
                addedTokens.SpecialIds.Add(id);
            }
        }
        var bos = IdOf(config.Tokenizer.BosToken) ?? config.Generation.BosTokenId ?? config.Model.BosTokenId;
        var eos = new List<int>();
        if (IdOf(config.Tokenizer.EosToken) is { } e)
        {
            eos.Add(e);
        }
        foreach (var id in config.EosTokenIds)
        {
            if (!eos.Contains(id))
            {
                eos.Add(id);
            }
        }
        foreach (var id in eos)
        {
            if ((uint)id >= (uint)tokenBytes.Length)
            {
                throw new LmException($"eos token id {id} is outside the tokenizer's vocabulary of {tokenBytes.Length}");
            }
        }
        if (bos is { } b && (uint)b >= (uint)tokenBytes.Length)
        {
            throw new LmException($"bos token id {b} is outside the tokenizer's vocabulary of {tokenBytes.Length}");
        }
        return new LmTokenizer(inner, kind, addedTokens, chain, normalization, ignoreMerges, tokenBytes, prefix, suffix, bos, eos, bert);
    }

    /// <summary>tokenizer.json's added_tokens plus tokenizer_config.json's added_tokens_decoder (tokenizer.json wins on conflicts).</summary>
    private static List<AddedToken> MergeAdded(List<AddedToken> fromJson, TokenizerConfig config)
    {
        var byId = new Dictionary<int, AddedToken>();
        foreach (var t in config.AddedTokens)
        {
            byId[t.Id] = t;
        }
        foreach (var t in fromJson)
        {
            byId[t.Id] = t;
        }
        var list = new List<AddedToken>(byId.Values);
        list.Sort((a, b) => a.Id.CompareTo(b.Id));
        return list;
    }

    private static void FillGaps(byte[][] tokenBytes)
    {
        for (var i = 0; i < tokenBytes.Length; i++)
        {
            tokenBytes[i] ??= [];
        }
    }

    /// <summary>The special ids a TemplateProcessing post-processor puts around a single sequence.</summary>
    private static (int[] Prefix, int[] Suffix) ReadPostProcessor(JsonElement? post, List<AddedToken> added, TokenizerConfig config)
    {
        var prefix = new List<int>();
        var suffix = new List<int>();
        if (post is { } p)
        {
            foreach (var step in Steps(p, "processors"))
            {
                var stepType = JsonFile.Get(step, "type") is { ValueKind: JsonValueKind.String } t ? t.GetString() : null;
                if (stepType is "BertProcessing" or "RobertaProcessing")
                {
                    // {"cls": ["[CLS]", 101], "sep": ["[SEP]", 102]}: [CLS] text [SEP].
                    prefix.Add(ProcessingToken(step, "cls", added));
                    suffix.Add(ProcessingToken(step, "sep", added));
                    continue;
                }
                if (stepType != "TemplateProcessing" || JsonFile.Get(step, "single") is not { ValueKind: JsonValueKind.Array } single)
                {
                    continue;
                }
                var seen = false;
                foreach (var item in single.EnumerateArray())
                {
                    if (JsonFile.Get(item, "Sequence") is not null)
                    {
                        seen = true;
                    }
                    else if (JsonFile.Get(item, "SpecialToken") is { } special && JsonFile.String(special, "id", TokenizerJsonFile) is { } token)
                    {
                        var id = added.Find(a => a.Content == token)?.Id
                            ?? throw new LmException($"{TokenizerJsonFile}: the post_processor adds '{token}', which is not an added token");
                        (seen ? suffix : prefix).Add(id);
                    }
                }
            }
        }
        // tokenizer_config.json's add_bos_token / add_eos_token override the post-processor, as transformers does.
        var bos = config.BosToken is { } b ? added.Find(a => a.Content == b)?.Id : null;
        var eos = config.EosToken is { } e ? added.Find(a => a.Content == e)?.Id : null;
        if (config.AddBosToken is { } addBos && bos is { } bosId)
        {
            prefix.Remove(bosId);
            if (addBos)
            {
                prefix.Insert(0, bosId);
            }
        }
        if (config.AddEosToken is { } addEos && eos is { } eosId)
        {
            suffix.Remove(eosId);
            if (addEos)
            {
                suffix.Add(eosId);
            }
        }
        return ([.. prefix], [.. suffix]);
    }

    private static int ProcessingToken(JsonElement step, string key, List<AddedToken> added)
    {
        if (JsonFile.Get(step, key) is not { ValueKind: JsonValueKind.Array } pair || pair.GetArrayLength() != 2
            || pair[0].ValueKind != JsonValueKind.String || !pair[1].TryGetInt32(out var id))
        {
            throw new LmException($"{TokenizerJsonFile}: the post_processor's '{key}' must be [\"token\", id]");
        }
        var token = pair[0].GetString();
        return added.Find(a => a.Content == token)?.Id == id ? id
            : throw new LmException($"{TokenizerJsonFile}: the post_processor adds '{token}' ({id}), which is not an added token with that id");
    }

    private static IEnumerable<JsonElement> Steps(JsonElement step, string listKey)
    {
        if (JsonFile.Get(step, listKey) is { ValueKind: JsonValueKind.Array } list)
        {
            foreach (var s in list.EnumerateArray())
            {
                yield return s;
            }
        }
        else
        {
            yield return step;
        }
    }

    private static (PreTokenizerChain Chain, bool ByteLevel) ReadPreTokenizer(JsonElement? pre)
    {
        const string F = TokenizerJsonFile;
        var chain = new PreTokenizerChain();
        var byteLevel = false;
        if (pre is not { } p)
        {
            return (chain, false);
        }
        foreach (var step in Steps(p, "pretokenizers"))
        {
            var type = JsonFile.String(step, "type", F);
            switch (type)
            {
                case "Split":
                    var pattern = JsonFile.Get(step, "pattern") is { } pat
                        ? JsonFile.String(pat, "Regex", F) ?? (JsonFile.String(pat, "String", F) is { } literal ? System.Text.RegularExpressions.Regex.Escape(literal) : null)
                        : null;
                    var behavior = JsonFile.String(step, "behavior", F);
                    if (pattern is null || JsonFile.Bool(step, "invert", F) == true || behavior is not ("Isolated" or "Removed"))
                    {
                        throw new LmException($"{F}: Split pre-tokenizer needs a pattern and behavior Isolated or Removed without invert (has behavior '{behavior}')");
                    }
                    chain.AddRegexSplit(pattern, behavior == "Removed", F);
                    break;
                case "Digits":
                    chain.AddDigits(JsonFile.Bool(step, "individual_digits", F) ?? false);
                    break;
                case "ByteLevel":
                    byteLevel = true;
                    if (JsonFile.Bool(step, "add_prefix_space", F) == true)
                    {
                        throw new LmException($"{F}: ByteLevel pre-tokenizer with add_prefix_space is not supported");
                    }
                    if (JsonFile.Bool(step, "use_regex", F) ?? true)
                    {
                        chain.AddRegexSplit(PreTokenizerChain.Gpt2Pattern, removeMatches: false, F);
                    }
                    break;
                default:
                    throw new LmException($"{F}: pre-tokenizer '{type}' is not supported with byte-level BPE (supported: Split, Digits, ByteLevel, Sequence)");
            }
        }
        return (chain, byteLevel);
    }

    private static NormalizationForm? ReadNormalizer(JsonElement? normalizer)
    {
        const string F = TokenizerJsonFile;
        NormalizationForm? form = null;
        if (normalizer is not { } n)
        {
            return null;
        }
        foreach (var step in Steps(n, "normalizers"))
        {
            var type = JsonFile.String(step, "type", F);
            form = type switch
            {
                "NFC" => NormalizationForm.FormC,
                "NFKC" => NormalizationForm.FormKC,
                "NFD" => NormalizationForm.FormD,
                "NFKD" => NormalizationForm.FormKD,
                _ => throw new LmException($"{F}: normalizer '{type}' is not supported with byte-level BPE (supported: NFC, NFKC, NFD, NFKD)"),
            };
        }
        return form;
    }
}
