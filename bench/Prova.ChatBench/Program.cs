using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Prova.Cli;
using Prova.Core.Content;
using Prova.Core.Keys;
using Prova.Lm;
using Prova.Lm.Export;
using Prova.Lm.Text;
using Prova.Runtime.Generation;
using Prova.Sdk;

// Verified chat through the node's OpenAI-compatible API (docs/benchmarks.md, "Verified chat"): time to first token
// and decode tokens/s, streamed, for 1, 4 and 16 concurrent clients against one `prova node start` process; the
// same generation in-process (LanguageModel, what `prova generate` runs) for the overhead of HTTP, SSE and receipts;
// and quorum:3 end to end on a 4-node devnet.
//   dotnet run -c Release --project bench/Prova.ChatBench -- [--models default,llama-int4] [--clients 1,4,16] [--tokens 32] [--requests 3]
var culture = CultureInfo.InvariantCulture;
string[] models = Arg("--models", "default,llama-int4").Split(',');
int[] clientCounts = [.. Arg("--clients", "1,4,16").Split(',').Select(int.Parse)];
int tokens = int.Parse(Arg("--tokens", "32"), culture);
int requests = int.Parse(Arg("--requests", "3"), culture);
string root = FindRepository();
const string Question = "What did the jury say about the election?";
Console.WriteLine($"# Prova.ChatBench {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores; {tokens} new tokens per request, {requests} requests per client, seeds fixed");
var owner = PrivateKey.Generate();
var report = new StringBuilder();
report.AppendLine("| model | clients | TTFT median | TTFT p90 | decode tok/s per stream (median) | aggregate tok/s | in-process TTFT | in-process tok/s |");
report.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
var overhead = new StringBuilder();
foreach (string name in models)
{
    string bundle = PrepareBundle(name, root);
    var local = InProcess(bundle);
    Console.WriteLine($"{name}: in-process TTFT {local.TtftMs:F1} ms, decode {local.TokensPerSecond:F0} tok/s, whole generation {local.TotalMs:F1} ms ({local.Tokens} tokens)");
    await using var devnet = await Devnet.StartAsync(new DevnetOptions { Nodes = 1 });
    Cid cid;
    using (var client = new ProvaClient(devnet.Nodes[0].Url))
    {
        cid = (await client.PushDirectoryAsync(bundle, new PushOptions { Name = "bench/" + name }, owner)).Cid;
    }
    using var http = new HttpClient { BaseAddress = devnet.Nodes[0].Url, Timeout = TimeSpan.FromMinutes(10) };
    await StreamAsync(http, cid.ToString(), seed: 0, "attested"); // load the model
    // Overhead: the same request, one client, whole generation through the API vs in-process.
    var single = new List<double>();
    for (int i = 0; i < Math.Max(5, requests); i++)
    {
        single.Add((await StreamAsync(http, cid.ToString(), seed: 1, "attested")).TotalMs);
    }
    overhead.AppendLine(string.Create(culture, $"| {name} | {local.TotalMs:F1} ms | {Median(single):F1} ms | {(Median(single) / local.TotalMs - 1) * 100:+0.0;-0.0} % |"));
    foreach (int clients in clientCounts)
    {
        var results = new List<StreamResult>();
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(async c =>
        {
            for (int r = 0; r < requests; r++)
            {
                var result = await StreamAsync(http, cid.ToString(), seed: (ulong)(c * 1000 + r), "attested");
                lock (results)
                {
                    results.Add(result);
                }
            }
        }));
        double wall = clock.Elapsed.TotalSeconds;
        var ttft = results.Select(r => r.TtftMs).ToList();
        string row = string.Create(culture, $"| {name} | {clients} | {Median(ttft):F1} ms | {Percentile(ttft, 0.9):F1} ms | {Median(results.Select(r => r.DecodeTokensPerSecond).ToList()):F0} | {results.Sum(r => r.Tokens) / wall:F0} | {local.TtftMs:F1} ms | {local.TokensPerSecond:F0} |");
        Console.WriteLine(row);
        report.AppendLine(row);
    }
}
Console.WriteLine();
Console.WriteLine(report);
Console.WriteLine("| model | in-process generation | through the API, streamed, with receipt | overhead |");
Console.WriteLine("|---|---:|---:|---:|");
Console.WriteLine(overhead);

// quorum:3 on a 4-node devnet: the node a client talks to generates and gathers two more nodes' receipts.
{
    string bundle = PrepareBundle("default", root);
    await using var devnet = await Devnet.StartAsync(new DevnetOptions { Nodes = 4, Replicas = 3 });
    Cid cid;
    using (var client = new ProvaClient(devnet.Nodes[0].Url))
    {
        cid = (await client.PushDirectoryAsync(bundle, new PushOptions { Name = "bench/default" }, owner)).Cid;
    }
    await devnet.WaitForReplicasAsync(cid, 4, TimeSpan.FromSeconds(60));
    using var http = new HttpClient { BaseAddress = devnet.Nodes[0].Url, Timeout = TimeSpan.FromMinutes(10) };
    var rows = new List<string>();
    foreach (string mode in new[] { "attested", "quorum:3" })
    {
        for (int i = 0; i < 2; i++)
        {
            await StreamAsync(http, cid.ToString(), seed: 99, mode); // every node loads the model
        }
        var latencies = new List<double>();
        var firsts = new List<double>();
        for (int i = 0; i < Math.Max(7, requests); i++)
        {
            var r = await StreamAsync(http, cid.ToString(), seed: (ulong)i, mode);
            latencies.Add(r.TotalMs);
            firsts.Add(r.TtftMs);
        }
        rows.Add(string.Create(culture, $"| default | {mode} | {Median(firsts):F1} ms | {Median(latencies):F1} ms |"));
    }
    Console.WriteLine("| model | mode (4-node devnet) | TTFT median | end-to-end median (incl. verdict) |");
    Console.WriteLine("|---|---|---:|---:|");
    rows.ForEach(Console.WriteLine);
}

// One streamed chat completion: time to the first content delta, then to the end of the stream (after the Prova
// evidence chunk); tokens from the usage chunk.
async Task<StreamResult> StreamAsync(HttpClient http, string model, ulong seed, string mode)
{
    var body = JsonSerializer.Serialize(new
    {
        model,
        messages = new[] { new { role = "user", content = Question } },
        max_tokens = tokens,
        seed,
        stream = true,
        stream_options = new { include_usage = true },
        prova = new { mode },
    });
    using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
    request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
    long start = Stopwatch.GetTimestamp();
    using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
    if (!response.IsSuccessStatusCode)
    {
        throw new InvalidOperationException($"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }
    using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
    double first = 0, lastToken = 0;
    int completion = 0;
    bool evidence = false;
    while (await reader.ReadLineAsync() is { } line)
    {
        if (!line.StartsWith("data: ", StringComparison.Ordinal))
        {
            continue;
        }
        string data = line[6..];
        if (data == "[DONE]")
        {
            break;
        }
        using var chunk = JsonDocument.Parse(data);
        var root = chunk.RootElement;
        if (root.TryGetProperty("choices", out var choices) && choices.GetArrayLength() > 0
            && choices[0].TryGetProperty("delta", out var delta) && delta.TryGetProperty("content", out var content) && content.GetString() is { Length: > 0 })
        {
            lastToken = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            if (first == 0)
            {
                first = lastToken;
            }
        }
        if (root.TryGetProperty("choices", out var finished) && finished.GetArrayLength() > 0
            && finished[0].TryGetProperty("finish_reason", out var reason) && reason.ValueKind == JsonValueKind.String)
        {
            // The chunk that ends the choice follows the last token (text can be held back, or empty for ids past the tokenizer).
            lastToken = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        if (root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
        {
            completion = usage.GetProperty("completion_tokens").GetInt32();
        }
        evidence |= root.TryGetProperty("prova", out _);
    }
    if (!evidence)
    {
        throw new InvalidOperationException("the stream ended without the Prova evidence chunk");
    }
    double total = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    return new StreamResult(first, total, completion, completion > 1 && lastToken > first ? (completion - 1) / ((lastToken - first) / 1000) : 0);
}

LocalRun InProcess(string bundle)
{
    using var lm = LanguageModel.Load(bundle, threads: 1);
    var request = new GenerationRequest
    {
        PromptIds = lm.EncodeChat([new ChatMessage("user", Question)]),
        MaxTokens = tokens,
        Sampling = lm.DefaultSampling() with { Seed = 1 },
    };
    var ttft = new List<double>();
    var rates = new List<double>();
    var totals = new List<double>();
    int n = 0;
    for (int i = 0; i < 7; i++)
    {
        long start = Stopwatch.GetTimestamp();
        double first = 0;
        var result = lm.Generate(request.PromptIds!, request.Options, request.Stop, onText: null, onToken: _ =>
        {
            if (first == 0)
            {
                first = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }
        });
        totals.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        ttft.Add(first);
        rates.Add(result.Result.TokensPerSecond);
        n = result.Ids.Length;
    }
    return new LocalRun(Median(ttft), Median(rates), Median(totals), n);
}

static string PrepareBundle(string name, string root)
{
    string lm = Path.Combine(root, "models", "lm");
    if (name == "default")
    {
        return lm;
    }
    if (name != "llama-int4")
    {
        throw new ArgumentException($"unknown model '{name}' (default, llama-int4)");
    }
    // A ~100M Llama in the GenAI builder's int4 layout (random weights), with the default model's tokenizer and chat template:
    // its vocabulary is the tokenizer's 4,096 ids (so every generated id is text) and 15 layers of 768 make the 100M.
    string dir = Path.Combine(root, "artifacts", "chatbench", "llama-100m-int4");
    var config = LlamaConfig.Small100M with { VocabSize = 4096, NumLayers = 15 };
    string stamp = Path.Combine(dir, "prova-export.txt");
    if (!File.Exists(stamp) || File.ReadAllText(stamp) != config.ToString())
    {
        LlamaGenAiExport.Save(dir, config, LlamaPrecision.Int4, seed: 1);
        foreach (string file in new[] { "tokenizer.json", "tokenizer_config.json", "generation_config.json" })
        {
            File.Copy(Path.Combine(lm, file), Path.Combine(dir, file), overwrite: true);
        }
        File.WriteAllText(Path.Combine(dir, "config.json"), string.Create(CultureInfo.InvariantCulture,
            $"{{\"model_type\": \"llama\", \"vocab_size\": {config.VocabSize}, \"max_position_embeddings\": {config.ContextLength}, \"eos_token_id\": {config.EosTokenId}}}"));
        File.WriteAllText(stamp, config.ToString());
    }
    return dir;
}

static double Median(List<double> values) => Percentile(values, 0.5);

static double Percentile(List<double> values, double p)
{
    var sorted = values.Order().ToList();
    return sorted.Count == 0 ? 0 : sorted[(int)Math.Min(sorted.Count - 1, Math.Floor(p * sorted.Count))];
}

static string Arg(string name, string fallback)
{
    var args = Environment.GetCommandLineArgs();
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
}

static string FindRepository()
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

internal sealed record StreamResult(double TtftMs, double TotalMs, int Tokens, double DecodeTokensPerSecond);

internal sealed record LocalRun(double TtftMs, double TokensPerSecond, double TotalMs, int Tokens);
