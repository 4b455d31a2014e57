using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Prova.Lm.Export;
using Prova.LmBench;
using Prova.Onnx;

// Language-model generation benchmark: prefill latency and decode tokens/s of Prova, ONNX Runtime (the same KV loop
// as the tests) and ONNX Runtime GenAI on the same model files, with the memory-bandwidth bound per model.
//   dotnet bench/Prova.LmBench/bin/Release/net10.0/Prova.LmBench.dll [--runs 3] [--threads 1,2] [--prompt 48]
//       [--new-tokens 128] [--models llama-fp32,llama-int4,...] [--quick] [--out artifacts/lm]
var culture = CultureInfo.InvariantCulture;
var opts = Options.Parse(args);
string root = FindRepoRoot();
string artifacts = Path.GetFullPath(Path.Combine(root, opts.Out));
Directory.CreateDirectory(artifacts);

var total = Stopwatch.StartNew();
Console.WriteLine($"# Prova.LmBench {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
Console.WriteLine($"machine: {RuntimeInformation.OSDescription}, {Environment.ProcessorCount} logical CPUs, {RuntimeInformation.FrameworkDescription}");
Console.WriteLine($"runs {opts.Runs} (median), prompt {opts.Prompt} tokens, {opts.NewTokens} new tokens, threads {string.Join(",", opts.Threads)}");

double bandwidth = Bandwidth.MeasureCopyBytesPerSecond(256 << 20, opts.Quick ? 3 : 7);
Console.WriteLine($"memory copy bandwidth (memcpy of 256 MiB, read + write counted, median): {bandwidth / 1e9:F1} GB/s");

var models = new List<BenchModel>();
foreach (var name in opts.Models)
{
    var model = BenchModel.Prepare(name, root, artifacts, opts.Quick);
    if (model is null)
    {
        Console.WriteLine($"{name}: not available, skipped");
        continue;
    }
    models.Add(model);
}

var rows = new List<Row>();
var rng = new Random(20261207);
foreach (var model in models)
{
    int[] prompt = new int[opts.Prompt];
    for (int i = 0; i < prompt.Length; i++)
    {
        prompt[i] = rng.Next(3, Math.Min(model.VocabSize, 30000));
    }
    double boundTokS = bandwidth / model.BytesPerToken;
    // A model with a short context (models/lm: 128 positions) decodes only what fits after the prompt.
    var runOpts = model.Context is int context && context < opts.Prompt + opts.NewTokens
        ? opts with { NewTokens = Math.Max(2, context - opts.Prompt) }
        : opts;
    if (runOpts.NewTokens != opts.NewTokens)
    {
        Console.WriteLine($"{model.Name}: context {model.Context} → {runOpts.NewTokens} new tokens");
    }
    foreach (int threads in opts.Threads)
    {
        var row = new Row(model, threads, boundTokS);
        foreach (var engineName in new[] { "Prova", "ORT", "GenAI" })
        {
            ILmEngine? engine = null;
            try
            {
                engine = engineName switch
                {
                    "Prova" => new ProvaEngine(model.Path, threads),
                    "ORT" => new OrtEngine(model.Path, threads),
                    _ => model.GenAiDirectory is null ? throw new NotSupportedException("no genai_config.json") : new GenAiEngine(model.GenAiDirectory, threads),
                };
                var result = Measure(engine, prompt, runOpts);
                row.Results[engineName] = result;
                Console.WriteLine(string.Create(culture,
                    $"{model.Name,-14} t{threads} {engineName,-5} prefill {result.PrefillMs,8:F1} ms   decode {result.TokensPerSecond,7:F2} tok/s   first tokens {string.Join(' ', result.Tokens.Take(8))}"));
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                row.Failures[engineName] = ex.GetType().Name + ": " + FirstLine(ex.Message);
                Console.WriteLine($"{model.Name,-14} t{threads} {engineName,-5} not measured: {row.Failures[engineName]}");
            }
            finally
            {
                engine?.Dispose();
            }
        }
        rows.Add(row);
    }
}

Console.WriteLine();
Console.WriteLine(Report.Markdown(rows, bandwidth, opts));
Console.WriteLine($"total run time {total.Elapsed.TotalMinutes:F1} min");
return 0;

static RunResult Measure(ILmEngine engine, int[] prompt, Options opts)
{
    engine.Run(prompt, 2); // warm-up: plans, packed weights, first-touch of the cache
    var runs = new List<RunResult>();
    for (int r = 0; r < opts.Runs; r++)
    {
        runs.Add(engine.Run(prompt, opts.NewTokens));
    }
    var prefill = runs.Select(x => x.PrefillMs).Order().ToArray();
    var decode = runs.Select(x => x.DecodeMs).Order().ToArray();
    var tokens = runs[0].Tokens;
    return new RunResult(prefill[prefill.Length / 2], decode[decode.Length / 2], runs[0].DecodeSteps, tokens);
}

static string FirstLine(string s)
{
    int i = s.IndexOf('\n');
    return i < 0 ? s : s[..i];
}

static string FindRepoRoot()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        if (File.Exists(Path.Combine(dir.FullName, "Prova.slnx")))
        {
            return dir.FullName;
        }
    }
    return Directory.GetCurrentDirectory();
}

namespace Prova.LmBench
{
    internal sealed record Options(int Runs, int[] Threads, int Prompt, int NewTokens, string[] Models, bool Quick, string Out)
    {
        public static Options Parse(string[] args)
        {
            var o = new Options(3, [1, 2], 48, 128, ["default", "gpt2-fp32", "llama-int4", "llama-fp32"], false, "artifacts/lm");
            for (int i = 0; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
                o = args[i] switch
                {
                    "--runs" => o with { Runs = int.Parse(Next(), CultureInfo.InvariantCulture) },
                    "--threads" => o with { Threads = Next().Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray() },
                    "--prompt" => o with { Prompt = int.Parse(Next(), CultureInfo.InvariantCulture) },
                    "--new-tokens" => o with { NewTokens = int.Parse(Next(), CultureInfo.InvariantCulture) },
                    "--models" => o with { Models = Next().Split(',') },
                    "--out" => o with { Out = Next() },
                    "--quick" => o with { Quick = true, Runs = 1, NewTokens = 16, Prompt = 16 },
                    _ => throw new ArgumentException($"unknown option {args[i]}"),
                };
            }
            if (o.Runs < 1 || o.Prompt < 1 || o.NewTokens < 2 || o.Threads.Length == 0)
            {
                throw new ArgumentException("--runs and --prompt must be ≥ 1, --new-tokens ≥ 2, --threads non-empty");
            }
            return o;
        }
    }

    /// <summary>A model file to benchmark and what bounds its decode speed.</summary>
    internal sealed record BenchModel(string Name, string Path, string? GenAiDirectory, int VocabSize, long Parameters, long WeightBytes, long BytesPerToken, int? Context)
    {
        /// <summary>
        /// Finds or generates the model: "default" is models/lm/model.onnx if present; "llama-fp32"/"llama-int4" are
        /// ~100M random Llamas generated into artifacts (git-ignored) on first use; "gpt2-fp32" is
        /// artifacts/lm/gpt2-100m/model.onnx when present.
        /// </summary>
        public static BenchModel? Prepare(string name, string root, string artifacts, bool quick)
        {
            var llama = quick ? LlamaConfig.Tiny with { VocabSize = 4096, HiddenSize = 256, NumLayers = 4, IntermediateSize = 512 } : LlamaConfig.Small100M;
            string? dir = name switch
            {
                "default" => System.IO.Path.Combine(root, "models", "lm"),
                "gpt2-fp32" => System.IO.Path.Combine(artifacts, quick ? "gpt2-quick" : "gpt2-100m"),
                "llama-fp32" => System.IO.Path.Combine(artifacts, quick ? "llama-quick-fp32" : "llama-100m-fp32"),
                "llama-int4" => System.IO.Path.Combine(artifacts, quick ? "llama-quick-int4" : "llama-100m-int4"),
                _ => throw new ArgumentException($"unknown model '{name}' (default, gpt2-fp32, llama-fp32, llama-int4)"),
            };
            string path = System.IO.Path.Combine(dir, "model.onnx");
            if (name.StartsWith("llama", StringComparison.Ordinal))
            {
                var precision = name.EndsWith("int4", StringComparison.Ordinal) ? LlamaPrecision.Int4 : LlamaPrecision.Fp32;
                string stamp = System.IO.Path.Combine(dir, "prova-export.txt");
                string expected = $"{llama} {precision} seed 1";
                if (!File.Exists(path) || !File.Exists(stamp) || File.ReadAllText(stamp) != expected)
                {
                    var sw = Stopwatch.StartNew();
                    LlamaGenAiExport.Save(dir, llama, precision, seed: 1);
                    File.WriteAllText(stamp, expected);
                    Console.WriteLine($"{name}: generated {dir} in {sw.Elapsed.TotalSeconds:F1} s");
                }
            }
            if (name == "gpt2-fp32")
            {
                // GPT-2 small's shape (124M parameters with the tied embedding counted once), random GPT-2 init.
                var gpt2 = quick ? new Gpt2Config(Layers: 4, Heads: 4, Embd: 256, Vocab: 4096, Positions: 512) : new Gpt2Config(Layers: 12, Heads: 12, Embd: 768, Vocab: 50257, Positions: 1024);
                string stamp = System.IO.Path.Combine(dir, "prova-export.txt");
                string expected = $"{gpt2} seed 1";
                if (!File.Exists(path) || !File.Exists(stamp) || File.ReadAllText(stamp) != expected)
                {
                    var sw = Stopwatch.StartNew();
                    Gpt2OnnxExport.Save(gpt2, Gpt2Weights.Random(gpt2, 1), path);
                    File.WriteAllText(System.IO.Path.Combine(dir, "genai_config.json"), Gpt2GenAiConfig(gpt2));
                    File.WriteAllText(stamp, expected);
                    Console.WriteLine($"{name}: generated {dir} in {sw.Elapsed.TotalSeconds:F1} s");
                }
            }
            if (!File.Exists(path))
            {
                return null;
            }
            var model = OnnxLoader.Load(path);
            long weights = 0, gathered = 0, parameters = 0;
            var gatherOnly = GatherOnlyInitializers(model);
            foreach (var (initName, t) in model.Graph.Initializers)
            {
                long bytes = (long)t.Length * Prova.Core.DataTypes.SizeOf(t.Type);
                weights += bytes;
                parameters += t.Type == Prova.Core.DataType.UInt8 ? 2L * t.Length : t.Length;
                if (gatherOnly.Contains(initName))
                {
                    gathered += bytes;
                }
            }
            int vocab = 0;
            foreach (var output in model.Graph.Outputs)
            {
                if (output.Name == "logits" && output.Shape is { Length: > 0 } shape && shape[^1].Value is long v)
                {
                    vocab = (int)v;
                }
            }
            string? genai = File.Exists(System.IO.Path.Combine(dir, "genai_config.json")) ? dir : null;
            // A decode step reads every weight once except the tables only Gather reads (one row each).
            return new BenchModel(name, path, genai, vocab, parameters, weights, weights - gathered, ReadContext(dir));
        }

        /// <summary>A genai_config.json for an Optimum GPT-2 export (generic model type "decoder" (GenAI's "gpt2" type expects the combined past_%d cache): position_ids input, separate past and present buffers).</summary>
        private static string Gpt2GenAiConfig(Gpt2Config c) => string.Create(CultureInfo.InvariantCulture, $$"""
            {
              "model": {
                "bos_token_id": {{c.Vocab - 1}}, "eos_token_id": {{c.Vocab - 1}}, "pad_token_id": {{c.Vocab - 1}}, "context_length": {{c.Positions}},
                "type": "decoder", "vocab_size": {{c.Vocab}},
                "decoder": {
                  "session_options": { "log_id": "onnxruntime-genai", "provider_options": [] },
                  "filename": "model.onnx", "head_size": {{c.HeadDim}}, "hidden_size": {{c.Embd}},
                  "num_attention_heads": {{c.Heads}}, "num_hidden_layers": {{c.Layers}}, "num_key_value_heads": {{c.Heads}},
                  "inputs": { "input_ids": "input_ids", "attention_mask": "attention_mask", "position_ids": "position_ids",
                              "past_key_names": "past_key_values.%d.key", "past_value_names": "past_key_values.%d.value" },
                  "outputs": { "logits": "logits", "present_key_names": "present.%d.key", "present_value_names": "present.%d.value" }
                }
              },
              "search": { "do_sample": false, "max_length": {{c.Positions}}, "min_length": 0, "num_beams": 1, "past_present_share_buffer": false, "top_k": 1 }
            }
            """);

        /// <summary>n_positions / max_position_embeddings from a Hugging Face config.json beside the model, if any.</summary>
        private static int? ReadContext(string dir)
        {
            string path = System.IO.Path.Combine(dir, "config.json");
            if (!File.Exists(path))
            {
                return null;
            }
            using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(path));
            foreach (var key in new[] { "n_positions", "max_position_embeddings" })
            {
                if (json.RootElement.TryGetProperty(key, out var value) && value.TryGetInt32(out int n))
                {
                    return n;
                }
            }
            return null;
        }

        private static HashSet<string> GatherOnlyInitializers(OnnxModel model)
        {
            var gather = new HashSet<string>(StringComparer.Ordinal);
            var other = new HashSet<string>(StringComparer.Ordinal);
            foreach (var node in model.Graph.Nodes)
            {
                for (int i = 0; i < node.Inputs.Length; i++)
                {
                    (node.OpType == "Gather" && i == 0 ? gather : other).Add(node.Inputs[i]);
                }
            }
            gather.ExceptWith(other);
            return gather;
        }
    }

    internal sealed class Row(BenchModel model, int threads, double boundTokensPerSecond)
    {
        public BenchModel Model { get; } = model;

        public int Threads { get; } = threads;

        public double BoundTokensPerSecond { get; } = boundTokensPerSecond;

        public Dictionary<string, RunResult> Results { get; } = [];

        public Dictionary<string, string> Failures { get; } = [];
    }

    internal static class Bandwidth
    {
        /// <summary>Median memcpy rate over <paramref name="repeats"/> copies of a large buffer, counting bytes read plus bytes written (STREAM's "Copy" convention).</summary>
        public static double MeasureCopyBytesPerSecond(int bytes, int repeats)
        {
            var a = GC.AllocateUninitializedArray<byte>(bytes, pinned: true);
            var b = GC.AllocateUninitializedArray<byte>(bytes, pinned: true);
            a.AsSpan().Fill(1);
            b.AsSpan().Fill(2);
            var rates = new double[repeats];
            for (int r = 0; r < repeats; r++)
            {
                long t0 = Stopwatch.GetTimestamp();
                a.AsSpan().CopyTo(b);
                double s = Stopwatch.GetElapsedTime(t0).TotalSeconds;
                rates[r] = 2.0 * bytes / s;
            }
            Array.Sort(rates);
            return rates[repeats / 2];
        }
    }

    internal static class Report
    {
        public static string Markdown(List<Row> rows, double bandwidth, Options opts)
        {
            var c = CultureInfo.InvariantCulture;
            var sb = new StringBuilder();
            sb.AppendLine(c, $"Prompt {opts.Prompt} tokens, {opts.NewTokens} new tokens (greedy), median of {opts.Runs} runs after a warm-up; memcpy bandwidth {bandwidth / 1e9:F1} GB/s; bound = bandwidth ÷ bytes of weights read per token.");
            sb.AppendLine();
            sb.AppendLine("| model | params | weights MB | threads | prefill ms Prova | prefill ms ORT | prefill ms GenAI | Prova/ORT | decode tok/s Prova | decode tok/s ORT | decode tok/s GenAI | Prova/ORT (time) | bound tok/s | tokens agree |");
            sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|");
            foreach (var row in rows)
            {
                row.Results.TryGetValue("Prova", out var prova);
                row.Results.TryGetValue("ORT", out var ort);
                row.Results.TryGetValue("GenAI", out var genai);
                string Ms(RunResult? r) => r is null ? "–" : r.PrefillMs.ToString("F1", c);
                string Tps(RunResult? r) => r is null ? "–" : r.TokensPerSecond.ToString("F2", c);
                string prefillRatio = prova is not null && ort is not null ? (prova.PrefillMs / ort.PrefillMs).ToString("F2", c) + "×" : "–";
                string decodeRatio = prova is not null && ort is not null ? (ort.TokensPerSecond / prova.TokensPerSecond).ToString("F2", c) + "×" : "–";
                string agree = Agreement(prova, ort, genai);
                sb.AppendLine(c, $"| {row.Model.Name} | {row.Model.Parameters / 1e6:F0}M | {row.Model.WeightBytes / 1e6:F0} | {row.Threads} | {Ms(prova)} | {Ms(ort)} | {Ms(genai)} | {prefillRatio} | {Tps(prova)} | {Tps(ort)} | {Tps(genai)} | {decodeRatio} | {row.BoundTokensPerSecond:F1} | {agree} |");
            }
            foreach (var row in rows)
            {
                foreach (var (engine, why) in row.Failures)
                {
                    sb.AppendLine(c, $"- {row.Model.Name}, {row.Threads} thread(s), {engine}: not measured ({why})");
                }
            }
            return sb.ToString();
        }

        private static string Agreement(RunResult? prova, RunResult? ort, RunResult? genai)
        {
            var parts = new List<string>();
            if (ort is not null && prova is not null)
            {
                parts.Add(prova.Tokens.AsSpan().SequenceEqual(ort.Tokens) ? "Prova=ORT" : "Prova≠ORT");
            }
            if (ort is not null && genai is not null)
            {
                parts.Add(genai.Tokens.AsSpan().SequenceEqual(ort.Tokens) ? "GenAI=ORT" : "GenAI≠ORT");
            }
            return parts.Count == 0 ? "–" : string.Join(", ", parts);
        }
    }
}
