using System.Text.Json;
using Prova.Core;
using Prova.Lm.Export;
using Xunit.Abstractions;

namespace Prova.Cli.Tests;

/// <summary><c>prova generate</c> on a random-weight GPT-2 in Optimum's layout, and on the committed default model.</summary>
public sealed class GenerateCommandTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string RandomGpt2()
    {
        var config = new Gpt2Config(Layers: 2, Heads: 4, Embd: 64, Vocab: 300, Positions: 96);
        string path = Path.Combine(_dir.Path, "model.onnx");
        Gpt2OnnxExport.Save(config, Gpt2Weights.Random(config, seed: 7), path);
        // The context length comes from the bundle's config, as Hugging Face writes it.
        File.WriteAllText(Path.Combine(_dir.Path, "config.json"), "{\"model_type\": \"gpt2\", \"n_positions\": 96, \"vocab_size\": 300}");
        return path;
    }

    private static JsonElement Json(CliResult result)
    {
        Assert.True(result.ExitCode == 0, result.ToString());
        return JsonDocument.Parse(result.Out).RootElement;
    }

    [Fact]
    public void JsonGivesTheGeneratedIdsTheirHashAndTheHashesAReceiptWouldCarry()
    {
        string model = RandomGpt2();
        var json = Json(CliHarness.Run("generate", model, "--prompt-ids", "5,17,42", "-n", "12", "--json", "--threads", "1"));
        var ids = json.GetProperty("ids").EnumerateArray().Select(e => e.GetInt64()).ToArray();
        Assert.Equal(12, ids.Length);
        Assert.All(ids, id => Assert.InRange(id, 0, 299));
        Assert.Equal(JsonValueKind.Null, json.GetProperty("text").ValueKind);
        Assert.Equal(TensorEncoding.Hash(Tensor.Create([ids.Length], ids)), json.GetProperty("outputHash").GetString());
        // And the hashes a node's receipt would carry: the request tensors, and the ids with their (here empty) text.
        var outputs = new Dictionary<string, Tensor> { ["output_ids"] = Tensor.Create([ids.Length], ids), ["text"] = Tensor.Create([0], Array.Empty<byte>()) };
        Assert.Equal("0x" + TensorEncoding.Hash(outputs), json.GetProperty("receipt").GetProperty("outputHash").GetString());
        Assert.Matches("^0x[0-9a-f]{64}$", json.GetProperty("receipt").GetProperty("inputHash").GetString());
        Assert.True(json.GetProperty("prefillMs").GetDouble() > 0);
        Assert.True(json.GetProperty("tokensPerSecond").GetDouble() > 0);
        Assert.Equal("length", json.GetProperty("finishReason").GetString());
    }

    [Fact]
    public void ASampledGenerationHasOneHashAcrossThreadsAndInstructionSets()
    {
        string model = RandomGpt2();
        string[] args = ["generate", model, "--prompt-ids", "1,2,3,4", "-n", "40", "--temperature", "1.2", "--top-p", "0.9", "--json"];
        var configs = new List<(string Label, string[] Extra, Dictionary<string, string?> Env)>
        {
            ("threads 1", ["--threads", "1"], []),
            ("threads 2", ["--threads", "2"], []),
            ("AVX-512 off", ["--threads", "2"], new() { ["DOTNET_EnableAVX512"] = "0" }),
            ("all SIMD off", ["--threads", "1"], new() { ["DOTNET_EnableHWIntrinsic"] = "0" }),
        };
        var hashes = new List<string>();
        foreach (var (label, extra, env) in configs)
        {
            var json = Json(CliHarness.RunProcess([.. args, "--seed", "99", .. extra], env));
            string hash = json.GetProperty("outputHash").GetString()!;
            output.WriteLine($"{label}: {hash} {json.GetProperty("ids")}");
            hashes.Add(hash);
        }
        Assert.All(hashes, h => Assert.Equal(hashes[0], h));
        var other = Json(CliHarness.Run([.. args, "--seed", "100"]));
        Assert.NotEqual(hashes[0], other.GetProperty("outputHash").GetString());
    }

    [Fact]
    public void ABundleWithTheMergedDecoderGeneratesWhatTheUnmergedModelGenerates()
    {
        // Optimum's default export: decoder_model_merged.onnx (an If on use_cache_branch), no model.onnx.
        var config = new Gpt2Config(Layers: 2, Heads: 4, Embd: 64, Vocab: 300, Positions: 96);
        var withPast = Gpt2OnnxExport.Build(config, Gpt2Weights.Random(config, seed: 7));
        string bundle = Path.Combine(_dir.Path, "merged");
        Directory.CreateDirectory(bundle);
        Prova.Onnx.OnnxWriter.Save(OptimumMerge.Merge(withPast, OptimumMerge.WithoutPast(withPast)), Path.Combine(bundle, "decoder_model_merged.onnx"));
        File.WriteAllText(Path.Combine(bundle, "config.json"), "{\"model_type\": \"gpt2\", \"n_positions\": 96, \"vocab_size\": 300}");
        string[] args = ["--prompt-ids", "5,17,42", "-n", "12", "--json", "--threads", "1"];
        var merged = Json(CliHarness.Run(["generate", bundle, .. args]));
        var plain = Json(CliHarness.Run(["generate", RandomGpt2(), .. args]));
        Assert.Equal(12, merged.GetProperty("ids").GetArrayLength());
        Assert.Equal(plain.GetProperty("outputHash").GetString(), merged.GetProperty("outputHash").GetString());
    }

    [Fact]
    public void TheDefaultModelContinuesATextPromptAndFormatsAChatTurnWithItsTemplate()
    {
        string bundle = RepoFiles.Get("models", "lm");
        var plain = Json(CliHarness.Run("generate", bundle, "--prompt", "The jury said", "-n", "12", "--json"));
        Assert.False(string.IsNullOrWhiteSpace(plain.GetProperty("text").GetString()));
        Assert.Equal(4, plain.GetProperty("promptTokens").GetInt32());
        // The bundle's template turns "Hello" into "User: Hello\nAssistant:" — more prompt tokens than the text alone.
        var chat = Json(CliHarness.Run("generate", bundle, "--prompt", "Hello", "--chat", "-n", "8", "--json"));
        Assert.True(chat.GetProperty("promptTokens").GetInt32() > 4, chat.ToString());
        Assert.Equal(2, CliHarness.Run("generate", bundle, "--prompt-ids", "1,2", "--chat").ExitCode);
    }

    [Fact]
    public void BadRequestsExitWithCodeTwoAndOneLine()
    {
        string model = RandomGpt2();
        string longPrompt = string.Join(",", Enumerable.Range(0, 97).Select(i => i % 300));
        var cases = new (string[] Args, string Expected)[]
        {
            (["generate", model, "--prompt-ids", longPrompt], "more than the model's context of 96"),
            (["generate", model, "--prompt-ids", "1,300"], "token id 300 is not in the model's vocabulary"),
            (["generate", model, "--prompt-ids", "1,x"], "'x' is not a token id"),
            (["generate", model, "--prompt", "hello"], "has no tokenizer"),
            (["generate", model], "exactly one of --prompt"),
            (["generate", model, "--prompt-ids", "1", "--temperature", "-1"], "temperature must be between 0 and 100"),
            (["generate", RepoFiles.Get("models", "fashion-mlp.onnx"), "--prompt-ids", "1"], "not a decoder-only language model"),
            (["generate", Path.Combine(_dir.Path, "missing"), "--prompt-ids", "1"], "neither a model bundle folder nor a model file"),
        };
        foreach (var (args, expected) in cases)
        {
            var result = CliHarness.Run(args);
            Assert.True(result.ExitCode == 2, $"{string.Join(' ', args[2..])}: {result}");
            Assert.Contains(expected, result.Err);
            Assert.Single(result.Err.TrimEnd().Split('\n'));
        }
    }
}
