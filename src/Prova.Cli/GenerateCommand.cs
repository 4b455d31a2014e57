using System.Buffers;
using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Prova.Lm;
using Prova.Runtime;
using Prova.Runtime.Generation;
using Spectre.Console;

namespace Prova.Cli;

/// <summary>
/// <c>prova generate &lt;model&gt; --prompt TEXT</c>: generates text on Prova's engine, streaming tokens as they come.
/// The generated ids are a pure function of (model, prompt ids, sampling parameters, seed): docs/generation.md.
/// </summary>
internal static class GenerateCommand
{
    public static Command Create(CliContext context)
    {
        var model = new Argument<string>("model") { Description = "A model bundle folder (model.onnx, tokenizer.json, configs), a decoder model.onnx, or a published bundle's CID (fetched from --node, each chunk verified)." };
        var node = NetworkOptions.Node();
        var prompt = new Option<string?>("--prompt", "-p") { Description = "The prompt text (needs the bundle's tokenizer).", HelpName = "TEXT" };
        var promptIds = new Option<string?>("--prompt-ids") { Description = "The prompt as token ids, comma-separated (works on a bare model.onnx).", HelpName = "1,2,3" };
        var maxNew = new Option<int>("--max-new-tokens", "-n") { Description = "Most tokens to generate.", DefaultValueFactory = _ => 64, HelpName = "N" };
        var temperature = new Option<float?>("--temperature") { Description = "0 is greedy; above 0 samples (default: the bundle's generation_config.json, else greedy).", HelpName = "T" };
        var topK = new Option<int?>("--top-k") { Description = "Sample only among the K most likely tokens (0 = all).", HelpName = "K" };
        var topP = new Option<float?>("--top-p") { Description = "Sample only from the smallest set of tokens holding probability P (1 = all).", HelpName = "P" };
        var penalty = new Option<float?>("--repetition-penalty") { Description = "Penalise tokens already in the sequence (1 = off).", HelpName = "R" };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the sampler's random draws: same seed, same tokens.", DefaultValueFactory = _ => 0UL, HelpName = "S" };
        var stop = new Option<string[]>("--stop") { Description = "Stop when the text contains this string (repeatable).", HelpName = "TEXT", AllowMultipleArgumentsPerToken = false };
        var threads = new Option<int>("--threads", "-t") { Description = "Worker threads (tokens never depend on this).", DefaultValueFactory = _ => Environment.ProcessorCount, HelpName = "N" };
        var chat = new Option<bool>("--chat") { Description = "Send --prompt as a user message through the bundle's chat template (tokenizer_config.json)." };
        var json = new Option<bool>("--json") { Description = "Print {ids, text, outputHash, prefillMs, tokensPerSecond, ...} as JSON instead of streaming." };

        var command = new Command("generate", "Generate text with a language model on Prova's deterministic engine.")
        {
            model, prompt, promptIds, maxNew, temperature, topK, topP, penalty, seed, stop, threads, chat, json, node,
        };
        command.SetAction(parse => Execute(context, new Settings(
            parse.GetValue(model)!, parse.GetValue(prompt), parse.GetValue(promptIds), parse.GetValue(maxNew),
            parse.GetValue(temperature), parse.GetValue(topK), parse.GetValue(topP), parse.GetValue(penalty), parse.GetValue(seed),
            parse.GetValue(stop) ?? [], parse.GetValue(threads), parse.GetValue(chat), parse.GetValue(json), parse.GetValue(node)!)));
        return command;
    }

    private sealed record Settings(string Model, string? Prompt, string? PromptIds, int MaxNewTokens, float? Temperature, int? TopK,
        float? TopP, float? Penalty, ulong Seed, string[] Stop, int Threads, bool Chat, bool Json, string Node);

    private static int Execute(CliContext context, Settings s)
    {
        if (s.Prompt is null == (s.PromptIds is null))
        {
            throw new CliException("give exactly one of --prompt TEXT or --prompt-ids 1,2,3");
        }
        if (s.Threads < 1 || s.Threads > SessionOptions.MaxThreads)
        {
            throw new CliException($"--threads must be between 1 and {SessionOptions.MaxThreads} (got {s.Threads})");
        }
        if (s.MaxNewTokens < 1 || s.MaxNewTokens > 1 << 20)
        {
            throw new CliException($"--max-new-tokens must be between 1 and {1 << 20} (got {s.MaxNewTokens})");
        }
        using var lm = LanguageModel.Load(Resolve(s.Model, s.Node), s.Threads);
        if (s.Chat && s.Prompt is null)
        {
            throw new CliException("--chat formats a text --prompt as a user message; it does not take --prompt-ids");
        }
        int[] ids = s.PromptIds is { } list ? ParseIds(list)
            : s.Chat ? lm.EncodeChat([new Prova.Lm.Text.ChatMessage("user", s.Prompt!)])
            : lm.Encode(s.Prompt!);
        var sampling = lm.Sampling(s.Temperature, s.TopK, s.TopP, s.Penalty, s.Seed);
        // The request as the network signs it: its hash is the inputHash a node's receipt would carry.
        var request = new GenerationRequest { PromptIds = ids, MaxTokens = s.MaxNewTokens, Sampling = sampling, Stop = s.Stop ?? [] };
        request.Validate();
        var options = request.Options;

        if (s.Json)
        {
            var quiet = lm.Generate(ids, options, request.Stop);
            context.Out.WriteLine(ResultJson(request, quiet));
            return ExitCodes.Success;
        }

        var console = context.Console;
        console.MarkupLine($"[grey]{Markup.Escape(Path.GetFileName(Path.GetFullPath(s.Model)))} · {ids.Length} prompt tokens · {Describe(sampling)} · {lm.Decoder.Threads} threads[/]");
        if (s.Prompt is not null)
        {
            console.Markup($"[bold]{Markup.Escape(s.Prompt)}[/]");
        }
        var result = lm.Generate(ids, options, request.Stop,
            onText: piece => console.Markup(Markup.Escape(piece)),
            onToken: lm.Tokenizer is null ? id => console.Markup($"{id} ") : null);
        console.WriteLine();
        var r = result.Result;
        console.MarkupLine($"[grey]{r.Ids.Length} tokens ({Reason(result)}) · prefill {TensorView.Ms(r.PrefillMs)} · {r.TokensPerSecond.ToString("F1", CultureInfo.InvariantCulture)} tokens/s[/]");
        console.MarkupLine($"[grey]output hash:[/] [bold]{r.OutputHash}[/]  [grey](the generated ids)[/]");
        console.MarkupLine($"[grey]receipt hashes (as a node signs this generation): input {request.Hash()}, output {result.ReceiptOutputHash}[/]");
        return ExitCodes.Success;
    }

    /// <summary>A path as given, or a CID resolved to a local folder (cache, else pulled from the node and verified).</summary>
    private static string Resolve(string model, string node)
    {
        if (Directory.Exists(model) || File.Exists(model) || !Prova.Core.Content.Cid.TryParse(model, out var cid))
        {
            return model;
        }
        string folder = "";
        NetworkOptions.Run(async ct =>
        {
            using var client = NetworkOptions.Client(node);
            folder = await Prova.Sdk.ModelFolders.ResolveAsync(cid, client: client, cancellationToken: ct);
            return 0;
        });
        return folder;
    }

    private static string Reason(TextGeneration g) => g.Result.Reason switch
    {
        StopReason.StopToken => "end of sequence",
        StopReason.MaxTokens => "token limit",
        StopReason.ContextFull => "context full",
        StopReason.Caller => $"stop string {JsonSerializer.Serialize(g.StopString)}",
        _ => "cancelled",
    };

    private static string Describe(SamplingOptions o) => o.IsGreedy
        ? "greedy"
        : string.Create(CultureInfo.InvariantCulture, $"temperature {o.Temperature}, top-k {o.TopK}, top-p {o.TopP}, seed {o.Seed}");

    internal static int[] ParseIds(string list)
    {
        var parts = list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0)
        {
            throw new CliException("--prompt-ids is empty: give token ids like 1,2,3");
        }
        var ids = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out ids[i]))
            {
                throw new CliException($"--prompt-ids: '{parts[i]}' is not a token id (a non-negative integer)");
            }
        }
        return ids;
    }

    /// <summary>{"ids": [...], "text": "...", "outputHash", "receipt": {"inputHash", "outputHash"}, "prefillMs", "tokensPerSecond", ...}</summary>
    private static string ResultJson(GenerationRequest request, TextGeneration g)
    {
        int[] promptIds = request.PromptIds!;
        var sampling = request.Sampling;
        var r = g.Result;
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteStartArray("ids");
            foreach (int id in r.Ids)
            {
                w.WriteNumberValue(id);
            }
            w.WriteEndArray();
            if (g.Text is { } text)
            {
                w.WriteString("text", text);
            }
            else
            {
                w.WriteNull("text");
            }
            w.WriteString("outputHash", r.OutputHash);
            // The hashes a node's receipt carries for the same generation (request tensors; ids + text).
            w.WriteStartObject("receipt");
            w.WriteString("inputHash", request.Hash());
            w.WriteString("outputHash", g.ReceiptOutputHash);
            w.WriteEndObject();
            w.WriteNumber("prefillMs", Math.Round(r.PrefillMs, 3));
            w.WriteNumber("tokensPerSecond", Math.Round(r.TokensPerSecond, 2));
            w.WriteNumber("decodeMs", Math.Round(r.DecodeMs, 3));
            w.WriteString("finishReason", r.Reason switch
            {
                StopReason.StopToken or StopReason.Caller => "stop",
                StopReason.MaxTokens or StopReason.ContextFull => "length",
                _ => "cancelled",
            });
            w.WriteNumber("promptTokens", promptIds.Length);
            w.WriteStartObject("parameters");
            w.WriteNumber("temperature", sampling.Temperature);
            w.WriteNumber("topK", sampling.TopK);
            w.WriteNumber("topP", sampling.TopP);
            w.WriteNumber("repetitionPenalty", sampling.RepetitionPenalty);
            w.WriteNumber("seed", sampling.Seed);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
