using System.Text.Json;

namespace Prova.Lm;

/// <summary>
/// The configuration files of a language-model bundle: <c>config.json</c>, <c>generation_config.json</c>,
/// <c>tokenizer_config.json</c> and <c>special_tokens_map.json</c>. Each is optional; a present file that is not
/// valid JSON, or holds a value of the wrong type, throws <see cref="LmException"/> naming the file and key.
/// </summary>
public sealed record BundleConfig(string Directory, ModelConfig Model, GenerationConfig Generation, TokenizerConfig Tokenizer)
{
    public const string ConfigFile = "config.json";
    public const string GenerationConfigFile = "generation_config.json";
    public const string TokenizerConfigFile = "tokenizer_config.json";
    public const string SpecialTokensMapFile = "special_tokens_map.json";
    public const string ChatTemplateFile = "chat_template.jinja";

    /// <summary>Reads the configuration files of the bundle in <paramref name="dir"/>.</summary>
    public static BundleConfig Load(string dir)
    {
        if (!System.IO.Directory.Exists(dir))
        {
            throw new LmException($"bundle folder '{dir}' does not exist");
        }
        var model = ModelConfig.Read(JsonFile.TryReadObject(Path.Combine(dir, ConfigFile)));
        var generation = GenerationConfig.Read(JsonFile.TryReadObject(Path.Combine(dir, GenerationConfigFile)));
        var tokenizer = TokenizerConfig.Read(
            JsonFile.TryReadObject(Path.Combine(dir, TokenizerConfigFile)),
            JsonFile.TryReadObject(Path.Combine(dir, SpecialTokensMapFile)),
            File.Exists(Path.Combine(dir, ChatTemplateFile)) ? JsonFile.ReadText(Path.Combine(dir, ChatTemplateFile)) : null);
        return new BundleConfig(dir, model, generation, tokenizer);
    }

    /// <summary>Ids that end generation: generation_config's eos_token_id, else config.json's.</summary>
    public IReadOnlyList<int> EosTokenIds => Generation.EosTokenIds.Count > 0 ? Generation.EosTokenIds : Model.EosTokenIds;
}

/// <summary>What <c>config.json</c> says about the network; GPT-2 style names (n_positions, n_layer, n_head, n_embd) are read too.</summary>
public sealed record ModelConfig(
    string? ModelType,
    int? VocabSize,
    int? MaxPositionEmbeddings,
    int? NumHiddenLayers,
    int? NumAttentionHeads,
    int? NumKeyValueHeads,
    int? HiddenSize,
    int? HeadDim,
    int? BosTokenId,
    IReadOnlyList<int> EosTokenIds)
{
    internal static ModelConfig Read(JsonElement? root)
    {
        if (root is not { } o)
        {
            return new ModelConfig(null, null, null, null, null, null, null, null, null, []);
        }
        const string F = BundleConfig.ConfigFile;
        var heads = JsonFile.Int(o, "num_attention_heads", F) ?? JsonFile.Int(o, "n_head", F);
        var hidden = JsonFile.Int(o, "hidden_size", F) ?? JsonFile.Int(o, "n_embd", F);
        var headDim = JsonFile.Int(o, "head_dim", F) ?? (hidden is > 0 && heads is > 0 && hidden % heads == 0 ? hidden / heads : null);
        return new ModelConfig(
            JsonFile.String(o, "model_type", F),
            JsonFile.Int(o, "vocab_size", F),
            JsonFile.Int(o, "max_position_embeddings", F) ?? JsonFile.Int(o, "n_positions", F),
            JsonFile.Int(o, "num_hidden_layers", F) ?? JsonFile.Int(o, "n_layer", F),
            heads,
            JsonFile.Int(o, "num_key_value_heads", F) ?? heads,
            hidden,
            headDim,
            JsonFile.Int(o, "bos_token_id", F),
            JsonFile.IntOrList(o, "eos_token_id", F));
    }
}

/// <summary>Default sampling settings from <c>generation_config.json</c>.</summary>
public sealed record GenerationConfig(
    IReadOnlyList<int> EosTokenIds,
    int? BosTokenId,
    int? PadTokenId,
    bool? DoSample,
    double? Temperature,
    int? TopK,
    double? TopP,
    double? RepetitionPenalty,
    int? MaxLength,
    int? MaxNewTokens)
{
    internal static GenerationConfig Read(JsonElement? root)
    {
        if (root is not { } o)
        {
            return new GenerationConfig([], null, null, null, null, null, null, null, null, null);
        }
        const string F = BundleConfig.GenerationConfigFile;
        return new GenerationConfig(
            JsonFile.IntOrList(o, "eos_token_id", F),
            JsonFile.Int(o, "bos_token_id", F),
            JsonFile.IntOrList(o, "pad_token_id", F) is [var pad, ..] ? pad : null,
            JsonFile.Bool(o, "do_sample", F),
            JsonFile.Double(o, "temperature", F),
            JsonFile.Int(o, "top_k", F),
            JsonFile.Double(o, "top_p", F),
            JsonFile.Double(o, "repetition_penalty", F),
            JsonFile.BoundedInt(o, "max_length", F),
            JsonFile.BoundedInt(o, "max_new_tokens", F));
    }
}

/// <summary>An added token of the tokenizer: its id, text, and whether it is special (skipped when decoding).</summary>
public sealed record AddedToken(int Id, string Content, bool Special);

/// <summary>
/// <c>tokenizer_config.json</c> merged with <c>special_tokens_map.json</c> (which fills tokens tokenizer_config leaves out)
/// and <c>chat_template.jinja</c> (which wins over an inline chat_template, as in transformers).
/// </summary>
public sealed record TokenizerConfig(
    string? ChatTemplate,
    IReadOnlyDictionary<string, string> NamedChatTemplates,
    string? BosToken,
    string? EosToken,
    string? PadToken,
    string? UnkToken,
    bool? AddBosToken,
    bool? AddEosToken,
    int? ModelMaxLength,
    IReadOnlyList<string> AdditionalSpecialTokens,
    IReadOnlyList<AddedToken> AddedTokens)
{
    internal static TokenizerConfig Read(JsonElement? root, JsonElement? specialMap, string? templateFile)
    {
        const string F = BundleConfig.TokenizerConfigFile;
        const string M = BundleConfig.SpecialTokensMapFile;
        var o = root ?? JsonFile.ParseObject("{}", F);
        var map = specialMap ?? JsonFile.ParseObject("{}", M);

        string? template = null;
        var named = new Dictionary<string, string>(StringComparer.Ordinal);
        if (JsonFile.Get(o, "chat_template") is { } t)
        {
            if (t.ValueKind == JsonValueKind.String)
            {
                template = t.GetString();
            }
            else if (t.ValueKind == JsonValueKind.Array)
            {
                foreach (var item in t.EnumerateArray())
                {
                    var name = JsonFile.String(item, "name", F);
                    var text = JsonFile.String(item, "template", F);
                    if (item.ValueKind != JsonValueKind.Object || name is null || text is null)
                    {
                        throw new LmException($"{F}: each entry of the 'chat_template' list must be an object with string 'name' and 'template'");
                    }
                    named[name] = text;
                }
                template = named.GetValueOrDefault("default");
            }
            else
            {
                throw new LmException($"{F}: 'chat_template' must be a string or a list of {{name, template}} objects, not {JsonFile.Describe(t)}");
            }
        }
        if (templateFile is not null)
        {
            template = templateFile;
        }

        var added = new List<AddedToken>();
        if (JsonFile.Get(o, "added_tokens_decoder") is { } decoder)
        {
            if (decoder.ValueKind != JsonValueKind.Object)
            {
                throw new LmException($"{F}: 'added_tokens_decoder' must be an object mapping ids to tokens");
            }
            foreach (var p in decoder.EnumerateObject())
            {
                if (!int.TryParse(p.Name, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var id))
                {
                    throw new LmException($"{F}: 'added_tokens_decoder' key '{p.Name}' is not a token id");
                }
                var content = JsonFile.TokenValue(p.Value, $"added token {id}", F);
                added.Add(new AddedToken(id, content, p.Value.ValueKind == JsonValueKind.Object && (JsonFile.Bool(p.Value, "special", F) ?? false)));
            }
        }

        var additional = new List<string>();
        foreach (var source in new[] { (o, F), (map, M) })
        {
            if (JsonFile.Get(source.Item1, "additional_special_tokens") is { } list)
            {
                if (list.ValueKind != JsonValueKind.Array)
                {
                    throw new LmException($"{source.Item2}: 'additional_special_tokens' must be a list");
                }
                foreach (var item in list.EnumerateArray())
                {
                    var s = JsonFile.TokenValue(item, "an additional special token", source.Item2);
                    if (!additional.Contains(s))
                    {
                        additional.Add(s);
                    }
                }
            }
        }

        return new TokenizerConfig(
            template,
            named,
            JsonFile.Token(o, "bos_token", F) ?? JsonFile.Token(map, "bos_token", M),
            JsonFile.Token(o, "eos_token", F) ?? JsonFile.Token(map, "eos_token", M),
            JsonFile.Token(o, "pad_token", F) ?? JsonFile.Token(map, "pad_token", M),
            JsonFile.Token(o, "unk_token", F) ?? JsonFile.Token(map, "unk_token", M),
            JsonFile.Bool(o, "add_bos_token", F),
            JsonFile.Bool(o, "add_eos_token", F),
            JsonFile.BoundedInt(o, "model_max_length", F),
            additional,
            added);
    }
}
