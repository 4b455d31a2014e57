using System.Text.Json;
using Microsoft.ML.OnnxRuntime.Tensors;
using Microsoft.ML.Tokenizers;
using Prova.Lm.Export;
using Prova.Lm.Tests.Export;
using Xunit.Abstractions;

namespace Prova.Lm.Tests.Trainer;

/// <summary>The committed default language model bundle (models/lm), run in ONNX Runtime.</summary>
public sealed class DefaultModelTests
{
    private static readonly string[] s_bundleFiles = ["model.onnx", "tokenizer.json", "tokenizer_config.json", "config.json", "generation_config.json"];
    private readonly ITestOutputHelper _output;

    public DefaultModelTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public void TheBundleIsCompleteSmallAndItsConfigDescribesTheModel()
    {
        long total = 0;
        foreach (string file in s_bundleFiles)
        {
            total += new FileInfo(RepoFiles.Get("models", "lm", file)).Length;
        }
        Assert.True(total < 25L << 20, $"the bundle is {total} bytes");
        var config = Config();
        var model = Prova.Onnx.OnnxLoader.Load(File.ReadAllBytes(RepoFiles.Get("models", "lm", "model.onnx")));
        Assert.Equal(1 + 2 * config.Layers, model.Graph.Outputs.Count);
        Assert.Equal($"logits: float32[batch_size, sequence_length, {config.Vocab}]", model.Graph.Outputs[0].ToString());
        Assert.Equal($"past_key_values.0.key: float32[batch_size, {config.Heads}, past_sequence_length, {config.HeadDim}]", model.Graph.Inputs[3].ToString());
        using var tokenizerConfig = JsonDocument.Parse(File.ReadAllBytes(RepoFiles.Get("models", "lm", "tokenizer_config.json")));
        Assert.Equal("<|endoftext|>", tokenizerConfig.RootElement.GetProperty("eos_token").GetString());
        Assert.Contains("Assistant:", tokenizerConfig.RootElement.GetProperty("chat_template").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public void GreedyGenerationContinuesAPromptInEnglish()
    {
        var config = Config();
        var tokenizer = ByteLevelBpeTests.Load(RepoFiles.Get("models", "lm", "tokenizer.json"));
        using var ort = new OrtGpt2(config, File.ReadAllBytes(RepoFiles.Get("models", "lm", "model.onnx")));
        int known = 0, words = 0;
        foreach (string prompt in new[] { "The jury said", "In the morning", "The President of the United States" })
        {
            string text = Generate(ort, config, tokenizer, prompt, 30, useCache: true);
            _output.WriteLine($"{prompt}|{text}");
            Assert.Equal(text, Generate(ort, config, tokenizer, prompt, 30, useCache: false));
            foreach (string word in text.Split([' ', '\n', ',', '.', ';', ':', '"', '(', ')', '?', '!'], StringSplitOptions.RemoveEmptyEntries))
            {
                if (word.All(char.IsAsciiLetterLower))
                {
                    words++;
                    // A lower-case word that is one whole token was frequent enough in the corpus to earn a merge.
                    known += tokenizer.Vocabulary.ContainsKey("Ġ" + word) ? 1 : 0;
                }
            }
        }
        _output.WriteLine($"{known} of {words} lower-case words are whole vocabulary words");
        Assert.True(words >= 20, $"only {words} lower-case words generated");
        Assert.True(known >= 0.8 * words, $"{known} of {words} generated words are known words");
    }

    private static string Generate(OrtGpt2 ort, Gpt2Config config, BpeTokenizer tokenizer, string prompt, int count, bool useCache)
    {
        var ids = new List<long>();
        foreach (int id in tokenizer.EncodeToIds(prompt))
        {
            ids.Add(id);
        }
        int promptLength = ids.Count;
        DenseTensor<float>[] past = OrtGpt2.EmptyPast(config, 1);
        int done = 0;
        for (int step = 0; step < count; step++)
        {
            int from = useCache ? done : 0;
            long[] input = [.. ids.GetRange(from, ids.Count - from)];
            long[] positions = new long[input.Length];
            for (int i = 0; i < positions.Length; i++)
            {
                positions[i] = from + i;
            }
            long[] mask = new long[ids.Count];
            Array.Fill(mask, 1L);
            var (logits, presents) = ort.Run([input], [mask], [positions], useCache ? past : OrtGpt2.EmptyPast(config, 1));
            past = presents;
            done = ids.Count;
            var last = logits.AsSpan((input.Length - 1) * config.Vocab, config.Vocab);
            int best = 0;
            for (int k = 1; k < last.Length; k++)
            {
                if (last[k] > last[best])
                {
                    best = k;
                }
            }
            ids.Add(best);
        }
        var generated = new List<int>();
        for (int i = promptLength; i < ids.Count; i++)
        {
            generated.Add((int)ids[i]);
        }
        return tokenizer.Decode(generated);
    }

    private static Gpt2Config Config()
    {
        using var json = JsonDocument.Parse(File.ReadAllBytes(RepoFiles.Get("models", "lm", "config.json")));
        var r = json.RootElement;
        Assert.Equal("gpt2", r.GetProperty("model_type").GetString());
        return new Gpt2Config(
            r.GetProperty("n_layer").GetInt32(),
            r.GetProperty("n_head").GetInt32(),
            r.GetProperty("n_embd").GetInt32(),
            r.GetProperty("vocab_size").GetInt32(),
            r.GetProperty("n_positions").GetInt32(),
            r.GetProperty("layer_norm_epsilon").GetSingle());
    }
}
