using System.Text;
using Prova.Lm.Text;
using Xunit.Abstractions;

namespace Prova.Lm.Tests;

public sealed class BundleConfigTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("prova-lm-bundle-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private void Write(string file, string text) => File.WriteAllText(Path.Combine(_dir, file), text);

    // Shapes of real files: SmolLM2/Llama config.json, Llama 3 generation_config with an eos list, a tokenizer_config
    // with AddedToken objects, a list-form chat_template and transformers' huge model_max_length.
    private const string LlamaConfig = """
        {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 49152, "max_position_embeddings": 8192,
         "num_hidden_layers": 30, "num_attention_heads": 9, "num_key_value_heads": 3, "hidden_size": 576,
         "bos_token_id": 1, "eos_token_id": 2, "rope_theta": 100000, "torch_dtype": "bfloat16"}
        """;

    [Fact]
    public void ReadsTheModelShapeFromConfigJson()
    {
        Write("config.json", LlamaConfig);
        var c = BundleConfig.Load(_dir).Model;
        Assert.Equal("llama", c.ModelType);
        Assert.Equal(49152, c.VocabSize);
        Assert.Equal(8192, c.MaxPositionEmbeddings);
        Assert.Equal(30, c.NumHiddenLayers);
        Assert.Equal(9, c.NumAttentionHeads);
        Assert.Equal(3, c.NumKeyValueHeads);
        Assert.Equal(576, c.HiddenSize);
        Assert.Equal(64, c.HeadDim); // hidden_size / heads when head_dim is absent
        Assert.Equal(1, c.BosTokenId);
        Assert.Equal([2], c.EosTokenIds);
    }

    [Fact]
    public void ReadsGpt2StyleNames()
    {
        Write("config.json", """{"model_type": "gpt2", "n_positions": 1024, "n_layer": 12, "n_head": 12, "n_embd": 768, "vocab_size": 50257, "eos_token_id": 50256}""");
        var c = BundleConfig.Load(_dir).Model;
        Assert.Equal(1024, c.MaxPositionEmbeddings);
        Assert.Equal(12, c.NumHiddenLayers);
        Assert.Equal(12, c.NumKeyValueHeads);
        Assert.Equal(64, c.HeadDim);
    }

    [Fact]
    public void GenerationConfigEosListWinsOverConfigJson()
    {
        Write("config.json", LlamaConfig);
        Write("generation_config.json", """{"bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "do_sample": true, "temperature": 0.6, "top_p": 0.9, "top_k": 50, "repetition_penalty": 1.1, "max_length": 4096}""");
        var b = BundleConfig.Load(_dir);
        Assert.Equal([128001, 128008, 128009], b.EosTokenIds);
        Assert.True(b.Generation.DoSample);
        Assert.Equal(0.6, b.Generation.Temperature);
        Assert.Equal(0.9, b.Generation.TopP);
        Assert.Equal(50, b.Generation.TopK);
        Assert.Equal(1.1, b.Generation.RepetitionPenalty);
        Assert.Equal(4096, b.Generation.MaxLength);
    }

    [Fact]
    public void ReadsTokenizerConfigWithAddedTokenObjectsAndNamedTemplates()
    {
        Write("tokenizer_config.json", """
            {"add_bos_token": true, "add_eos_token": false,
             "bos_token": {"__type": "AddedToken", "content": "<s>", "lstrip": false, "normalized": false, "rstrip": false, "single_word": false},
             "eos_token": "</s>", "pad_token": null, "model_max_length": 1000000000000000019884624838656,
             "added_tokens_decoder": {"0": {"content": "<unk>", "special": true}, "32000": {"content": "<|im_start|>", "special": false}},
             "chat_template": [{"name": "default", "template": "{{ bos_token }}{{ messages[0]['content'] }}"}, {"name": "tool_use", "template": "tools"}]}
            """);
        Write("special_tokens_map.json", """{"unk_token": {"content": "<unk>"}, "pad_token": "</s>", "additional_special_tokens": ["<|im_start|>"]}""");
        var t = BundleConfig.Load(_dir).Tokenizer;
        Assert.Equal("<s>", t.BosToken);
        Assert.Equal("</s>", t.EosToken);
        Assert.Equal("</s>", t.PadToken); // tokenizer_config says null, special_tokens_map fills it
        Assert.Equal("<unk>", t.UnkToken);
        Assert.True(t.AddBosToken);
        Assert.Null(t.ModelMaxLength); // 1e30 means "no limit"
        Assert.Equal(["<|im_start|>"], t.AdditionalSpecialTokens);
        Assert.Contains(new AddedToken(32000, "<|im_start|>", false), t.AddedTokens);
        Assert.Equal("tools", t.NamedChatTemplates["tool_use"]);
        var rendered = ChatTemplate.FromConfig(t).Render([new ChatMessage("user", "hi")], true, ChatTemplateOptions.From(t));
        Assert.Equal("<s>hi", rendered);
        Assert.Throws<LmException>(() => ChatTemplate.FromConfig(t, "missing"));
    }

    [Fact]
    public void ChatTemplateJinjaFileWinsOverTheInlineTemplate()
    {
        Write("tokenizer_config.json", """{"chat_template": "inline"}""");
        Write("chat_template.jinja", "from file");
        Assert.Equal("from file", BundleConfig.Load(_dir).Tokenizer.ChatTemplate);
    }

    [Fact]
    public void AnEmptyFolderGivesEmptyConfigsAndAMissingFolderNamesIt()
    {
        var b = BundleConfig.Load(_dir);
        Assert.Null(b.Model.VocabSize);
        Assert.Empty(b.EosTokenIds);
        var ex = Assert.Throws<LmException>(() => BundleConfig.Load(Path.Combine(_dir, "nope")));
        Assert.Contains("does not exist", ex.Message);
        var tok = Assert.Throws<LmException>(() => LmTokenizer.Load(_dir));
        Assert.Contains("tokenizer.json", tok.Message);
    }

    [Theory]
    [InlineData("config.json", "{\"vocab_size\": \"big\"}", "'vocab_size' must be a 32-bit integer")]
    [InlineData("config.json", "{\"eos_token_id\": [1, \"x\"]}", "'eos_token_id' must hold integers")]
    [InlineData("config.json", "[1, 2]", "top level must be a JSON object")]
    [InlineData("generation_config.json", "{\"temperature\": true}", "'temperature' must be a number")]
    [InlineData("generation_config.json", "{\"do_sample\": 1", "not valid JSON")]
    [InlineData("tokenizer_config.json", "{\"chat_template\": 5}", "'chat_template' must be a string or a list")]
    [InlineData("tokenizer_config.json", "{\"bos_token\": [\"<s>\"]}", "'bos_token' must be a string or an object")]
    [InlineData("tokenizer_config.json", "{\"added_tokens_decoder\": {\"x\": {\"content\": \"a\"}}}", "is not a token id")]
    [InlineData("special_tokens_map.json", "{\"eos_token\": 3}", "special_tokens_map.json")]
    public void MalformedFilesThrowLmExceptionNamingTheFileAndKey(string file, string text, string expected)
    {
        Write(file, text);
        var ex = Assert.Throws<LmException>(() => BundleConfig.Load(_dir));
        Assert.StartsWith(file, ex.Message);
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void FuzzedConfigFilesOnlyThrowLmException()
    {
        var seed = Random.Shared.Next();
        output.WriteLine($"seed {seed}");
        var rng = new Random(seed);
        string[] seeds =
        [
            LlamaConfig,
            """{"eos_token_id": [128001, 128009], "temperature": 0.6, "top_p": 0.9, "max_length": 4096, "do_sample": true}""",
            File.ReadAllText(RepoFiles.Get("tests", "Prova.Lm.Tests", "Data", "qwen3-trimmed", "tokenizer_config.json")),
            """{"bos_token": {"content": "<s>"}, "additional_special_tokens": ["<a>", {"content": "<b>"}], "unk_token": "<unk>"}""",
        ];
        string[] files = ["config.json", "generation_config.json", "tokenizer_config.json", "special_tokens_map.json"];
        var accepted = 0;
        for (var i = 0; i < 2_000; i++)
        {
            foreach (var f in files)
            {
                File.Delete(Path.Combine(_dir, f));
            }
            var file = files[rng.Next(files.Length)];
            var text = new StringBuilder(seeds[rng.Next(seeds.Length)]);
            for (var e = rng.Next(1, 5); e > 0 && text.Length > 0; e--)
            {
                var at = rng.Next(text.Length);
                switch (rng.Next(3))
                {
                    case 0:
                        text.Remove(at, Math.Min(rng.Next(1, 8), text.Length - at));
                        break;
                    case 1:
                        const string Noise = "{}[]\":,0-9.e+ntfl\\u";
                        text.Insert(at, Noise[rng.Next(Noise.Length)]);
                        break;
                    default:
                        text[at] = (char)rng.Next(32, 127);
                        break;
                }
            }
            Write(file, text.ToString());
            try
            {
                BundleConfig.Load(_dir);
                accepted++;
            }
            catch (LmException)
            {
            }
            catch (Exception ex)
            {
                Assert.Fail($"seed {seed}, case {i}: {ex.GetType().Name} ({ex.Message}) for {file}: {text}");
            }
        }
        output.WriteLine($"{accepted} of 2,000 mutated files still loaded");
    }
}
