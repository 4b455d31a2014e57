using System.Buffers;
using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Prova.Core.Receipts;
using Prova.Sdk;

namespace Prova.Cli;

/// <summary>
/// <c>prova chat &lt;cid|name&gt; [--mode attested|quorum:K] [--node URL] [--prompt TEXT] [-o result.json]</c>: a chat with a
/// language model served by a node's OpenAI-compatible API, through Prova.Sdk's <see cref="ProvaChatClient"/>. Without
/// <c>--prompt</c> it is a conversation in the terminal (history kept, tokens streamed, <c>/exit</c> or Ctrl-D ends it);
/// with it, one answer. Every answer's result is checked before the summary line (node, mode, output hash, verdict) goes
/// to stderr; <c>-o</c> writes the last answer's result file for <c>prova verify</c>. A quorum that disagreed exits 1 and
/// writes the evidence.
/// </summary>
internal static class ChatCommand
{
    private const string ExitCommand = "/exit";

    public static Command Create(CliContext context)
    {
        var model = new Argument<string>("model") { Description = "The language model: a bundle CID or a published name (the node resolves it)." };
        var mode = new Option<string>("--mode")
        {
            Description = "'attested' (one node signs) or 'quorum:K' (K distinct nodes generate with the same seed and must agree on every token).",
            DefaultValueFactory = _ => Receipt.AttestedMode,
            HelpName = "mode",
        };
        var node = new Option<string[]>("--node")
        {
            Description = "The node's URL (default: $PROVA_NODE or http://127.0.0.1:7420); several (repeated or comma-separated) are asked in turn, the next one when a node is unreachable, busy or lacks the model.",
            HelpName = "URL",
        };
        var prompt = new Option<string?>("--prompt", "-p") { Description = "Ask this one question and exit (without it: a conversation in the terminal).", HelpName = "TEXT" };
        var output = new Option<string?>("--output", "-o") { Description = "Write the (last) answer's result file, for 'prova verify'.", HelpName = "file" };
        var evidence = new Option<string?>("--evidence") { Description = "Where to write the evidence if the quorum disagrees (default: prova-evidence-<request>.json beside the result).", HelpName = "file" };
        var system = new Option<string?>("--system") { Description = "A system message opening the conversation.", HelpName = "TEXT" };
        var maxTokens = new Option<int?>("--max-tokens", "-n") { Description = "Most tokens per answer (default: the node's).", HelpName = "N" };
        var temperature = new Option<float?>("--temperature") { Description = "0 is greedy; above 0 samples (default: the model's generation_config.json).", HelpName = "T" };
        var topP = new Option<float?>("--top-p") { Description = "Sample only from the smallest set of tokens holding probability P.", HelpName = "P" };
        var seed = new Option<long?>("--seed") { Description = "The sampler's seed: same seed, same tokens, on every node.", HelpName = "S" };
        var timeout = new Option<double>("--timeout") { Description = "Seconds to wait for the node (for a stream: between two events).", DefaultValueFactory = _ => 300, HelpName = "s" };
        var json = new Option<bool>("--json") { Description = "With --prompt: print {text, finishReason, usage, result} as JSON instead of streaming." };
        var command = new Command("chat", "Chat with a language model on the network; every answer carries a signed receipt that 'prova verify' re-executes token by token.")
        {
            model, mode, node, prompt, output, evidence, system, maxTokens, temperature, topP, seed, timeout, json,
        };
        command.SetAction(parse => NetworkOptions.Run(async ct =>
        {
            double seconds = parse.GetValue(timeout);
            if (seconds is <= 0 or > 3600)
            {
                throw new CliException($"--timeout {seconds} must be within (0, 3600] seconds");
            }
            if (parse.GetValue(maxTokens) is < 1)
            {
                throw new CliException($"--max-tokens must be at least 1 (got {parse.GetValue(maxTokens)})");
            }
            var settings = new Settings(parse.GetValue(output), parse.GetValue(evidence), parse.GetValue(json));
            if (settings.Json && parse.GetValue(prompt) is null)
            {
                throw new CliException("--json needs --prompt (a conversation is printed as it streams)");
            }
            using var client = new ProvaChatClient(InferCommand.Seeds(parse.GetValue(node)), new ProvaChatClientOptions
            {
                DefaultModel = parse.GetValue(model)!,
                Mode = ProvaChat.NormalizeMode(parse.GetValue(mode)!),
                RequestTimeout = TimeSpan.FromSeconds(seconds),
            });
            var options = new ChatOptions
            {
                MaxOutputTokens = parse.GetValue(maxTokens),
                Temperature = parse.GetValue(temperature),
                TopP = parse.GetValue(topP),
                Seed = parse.GetValue(seed),
            };
            var history = new List<ChatMessage>();
            if (parse.GetValue(system) is { Length: > 0 } text)
            {
                history.Add(new ChatMessage(ChatRole.System, text));
            }
            if (parse.GetValue(prompt) is { } question)
            {
                history.Add(new ChatMessage(ChatRole.User, question));
                return settings.Json
                    ? await AnswerJsonAsync(context, client, history, options, settings, ct)
                    : (await AnswerAsync(context, client, history, options, settings, ct)).Code;
            }
            return await ConverseAsync(context, client, history, options, settings, ct);
        }, context.Interrupts));
        return command;
    }

    private sealed record Settings(string? Output, string? Evidence, bool Json);

    /// <summary>The conversation: one line per turn from stdin; the history grows with each answer.</summary>
    private static async Task<int> ConverseAsync(CliContext context, ProvaChatClient client, List<ChatMessage> history, ChatOptions options,
        Settings settings, CancellationToken ct)
    {
        context.Error.WriteLine($"chat with {client.GetService<ChatClientMetadata>()?.DefaultModelId} at {string.Join(", ", client.Nodes)} — '{ExitCommand}' or Ctrl-D ends it, Ctrl+C stops an answer");
        int code = ExitCodes.Success;
        while (true)
        {
            context.Error.Write("> ");
            context.Error.Flush();
            string? line = await context.In.ReadLineAsync(ct);
            if (line is null || line.Trim() == ExitCommand)
            {
                if (line is null)
                {
                    context.Error.WriteLine();
                }
                return code;
            }
            if (line.Trim().Length == 0)
            {
                continue;
            }
            history.Add(new ChatMessage(ChatRole.User, line));
            Answer answer;
            // Ctrl+C while an answer streams stops that answer (the turn is dropped), not the conversation.
            using var turn = CancellationTokenSource.CreateLinkedTokenSource(ct);
            using var interrupt = context.Interrupts.Take(() =>
            {
                turn.Cancel();
                return true;
            });
            try
            {
                answer = await AnswerAsync(context, client, history, options, settings, turn.Token);
            }
            catch (OperationCanceledException) when (turn.IsCancellationRequested && !ct.IsCancellationRequested)
            {
                context.Out.WriteLine();
                context.Error.WriteLine("(stopped: that answer is not kept; Ctrl+C at the prompt or Ctrl-D ends the chat)");
                history.RemoveAt(history.Count - 1);
                continue;
            }
            catch (ProvaClientException ex)
            {
                // The node refused this turn (busy, too long, …): say so and let the user go on.
                context.Error.WriteLine($"error: {ProvaCli.OneLine(ex.Message)}");
                history.RemoveAt(history.Count - 1);
                continue;
            }
            if (answer.Text is null)
            {
                history.RemoveAt(history.Count - 1);
                code = answer.Code;
                continue;
            }
            history.Add(new ChatMessage(ChatRole.Assistant, answer.Text));
        }
    }

    private sealed record Answer(int Code, string? Text);

    /// <summary>One streamed answer to <paramref name="history"/>: text to stdout as it comes, the receipt summary to stderr.</summary>
    private static async Task<Answer> AnswerAsync(CliContext context, ProvaChatClient client, List<ChatMessage> history, ChatOptions options,
        Settings settings, CancellationToken ct)
    {
        var text = new StringBuilder();
        ResultFile? result = null;
        UsageDetails? usage = null;
        try
        {
            await foreach (var update in client.GetStreamingResponseAsync(history, options, ct))
            {
                // Stop at once on Ctrl+C, even when the rest of the stream is already buffered.
                ct.ThrowIfCancellationRequested();
                if (update.Text is { Length: > 0 } piece)
                {
                    text.Append(piece);
                    context.Out.Write(piece);
                    context.Out.Flush();
                }
                foreach (var c in update.Contents)
                {
                    if (c is UsageContent u)
                    {
                        usage = u.Details;
                    }
                }
                result = update.GetProvaResult() ?? result;
            }
        }
        catch (ChatQuorumDisagreementException ex)
        {
            context.Out.WriteLine();
            return new Answer(Disagreement(context, ex, settings), null);
        }
        catch (ProvaClientException ex) when (ex.Code == "bad-receipt")
        {
            context.Out.WriteLine();
            context.Error.WriteLine($"verification failed: receipt: {ProvaCli.OneLine(ex.Message)}");
            return new Answer(ExitCodes.VerificationFailed, null);
        }
        context.Out.WriteLine();
        if (result is null)
        {
            throw new CliException("the node's answer ended without a result");
        }
        context.Error.WriteLine(Summary(result, usage));
        if (settings.Output is { } path)
        {
            result.Save(path);
            context.Error.WriteLine($"result written to {path} (check it with 'prova verify {path}')");
        }
        return new Answer(ExitCodes.Success, text.ToString());
    }

    private static async Task<int> AnswerJsonAsync(CliContext context, ProvaChatClient client, List<ChatMessage> history, ChatOptions options,
        Settings settings, CancellationToken ct)
    {
        ChatResponse response;
        try
        {
            response = await client.GetResponseAsync(history, options, ct);
        }
        catch (ChatQuorumDisagreementException ex)
        {
            return Disagreement(context, ex, settings);
        }
        catch (ProvaClientException ex) when (ex.Code == "bad-receipt")
        {
            context.Error.WriteLine($"verification failed: receipt: {ProvaCli.OneLine(ex.Message)}");
            return ExitCodes.VerificationFailed;
        }
        var result = response.GetProvaResult()!;
        if (settings.Output is { } path)
        {
            result.Save(path);
        }
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("text", response.Text);
            w.WriteString("model", result.Model.ToString());
            w.WriteString("mode", result.Mode);
            w.WriteString("finishReason", response.FinishReason?.Value);
            w.WriteStartObject("usage");
            w.WriteNumber("promptTokens", response.Usage?.InputTokenCount ?? 0);
            w.WriteNumber("completionTokens", response.Usage?.OutputTokenCount ?? 0);
            w.WriteEndObject();
            w.WritePropertyName("result");
            using (var doc = JsonDocument.Parse(result.ToJsonBytes()))
            {
                doc.RootElement.WriteTo(w);
            }
            w.WriteEndObject();
        }
        context.Out.WriteLine(Encoding.UTF8.GetString(buffer.WrittenSpan));
        return ExitCodes.Success;
    }

    private static int Disagreement(CliContext context, ChatQuorumDisagreementException ex, Settings settings)
    {
        context.Error.WriteLine($"verification failed: quorum: {ProvaCli.OneLine(ex.Message)}");
        if (ex.Evidence is { } evidence)
        {
            string path = settings.Evidence ?? Path.Combine(
                Path.GetDirectoryName(Path.GetFullPath(settings.Output ?? "x")) ?? ".",
                $"prova-evidence-{(ex.Result.RequestId?.ToString() ?? "0x00000000")[2..10]}.json");
            evidence.Save(path);
            context.Error.WriteLine($"evidence written to {path} (check it: prova verify {path} --node URL names the lying node)");
        }
        return ExitCodes.VerificationFailed;
    }

    /// <summary>"receipt verified — node 0x… (url), mode attested, output hash 0x…, 12 tokens (prompt 30)" and for a quorum its verdict.</summary>
    internal static string Summary(ResultFile result, UsageDetails? usage)
    {
        var s = new StringBuilder();
        var nodes = result.Receipts.Select(r => r.Node.ToString()).Distinct().ToList();
        s.Append(result.Receipts.Count == 1 ? "receipt verified — node " : $"{result.Receipts.Count} receipts verified — nodes ");
        s.Append(string.Join(", ", nodes));
        if (result.Node is { } url)
        {
            s.Append(" via ").Append(url.TrimEnd('/'));
        }
        s.Append(", mode ").Append(result.Mode);
        s.Append(", output hash ").Append(result.Receipts[0].OutputHash);
        if (usage?.OutputTokenCount is { } completion)
        {
            s.Append(CultureInfo.InvariantCulture, $", {completion} tokens");
            if (usage.InputTokenCount is { } promptTokens)
            {
                s.Append(CultureInfo.InvariantCulture, $" (prompt {promptTokens})");
            }
        }
        if (result.Verdict is { } verdict)
        {
            s.Append(verdict.Agreed
                ? $"; quorum agreed: {verdict.Nodes.Count} nodes signed {verdict.OutputHash?.ToString() ?? "the same output hash"}"
                : "; quorum DISAGREED");
        }
        return s.ToString();
    }
}
