using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Prova.Core;
using Prova.Core.Content;
using Prova.Lm;
using AiChatMessage = Microsoft.Extensions.AI.ChatMessage;

namespace Prova.Sdk;

/// <summary>
/// The wire format of <c>POST /v1/chat/completions</c> as <see cref="ProvaChatClient"/> speaks it (OpenAI's chat API,
/// docs/node-api.md): the request body, the answer (a <c>chat.completion</c> object, or server-sent
/// <c>chat.completion.chunk</c> events ending with <c>data: [DONE]</c>), Prova's <c>"prova"</c> member (a result file) and
/// the OpenAI error object. Kept apart from the HTTP plumbing so recorded bodies can be parsed in tests.
/// </summary>
internal static class ChatWire
{
    /// <summary>What the client asked for, resolved from the messages, <see cref="ChatOptions"/> and the client's defaults.</summary>
    internal sealed record Request(string Model, string Mode, IReadOnlyList<(string Role, string Content)> Messages,
        int? MaxTokens, float? Temperature, float? TopP, int? TopK, long? Seed, IReadOnlyList<string> Stop)
    {
        public static Request From(IEnumerable<AiChatMessage> messages, ChatOptions? options, ProvaChatClientOptions client)
        {
            ArgumentNullException.ThrowIfNull(messages);
            string model = options?.ModelId ?? client.DefaultModel
                ?? throw new ProvaClientException("no model: set ChatOptions.ModelId or ProvaChatClientOptions.DefaultModel (a bundle CID or a published name)", "bad-request");
            string mode = ProvaChat.NormalizeMode(options.GetProvaMode() ?? client.Mode);
            if (options?.Tools is { Count: > 0 })
            {
                throw new ProvaClientException("Prova's chat API does not call tools: remove ChatOptions.Tools", "bad-request");
            }
            var list = new List<(string, string)>();
            if (options?.Instructions is { Length: > 0 } instructions)
            {
                list.Add(("system", instructions));
            }
            foreach (var m in messages)
            {
                foreach (var c in m.Contents)
                {
                    if (c is not TextContent)
                    {
                        throw new ProvaClientException($"message {list.Count} holds {c.GetType().Name}: Prova's chat API takes text only", "bad-request");
                    }
                }
                list.Add((m.Role.Value, m.Text));
            }
            if (list.Count == 0)
            {
                throw new ProvaClientException("a chat request needs at least one message", "bad-request");
            }
            if (options?.Seed is < 0)
            {
                throw new ProvaClientException($"seed {options.Seed} is negative: Prova's seeds are 0..2^63-1", "bad-request");
            }
            return new Request(model, mode, list, options?.MaxOutputTokens, options?.Temperature, options?.TopP, options?.TopK, options?.Seed,
                options?.StopSequences?.ToList() ?? []);
        }

        public byte[] ToJson(bool stream)
        {
            var buffer = new ArrayBufferWriter<byte>();
            using (var w = new Utf8JsonWriter(buffer))
            {
                w.WriteStartObject();
                w.WriteString("model", Model);
                w.WriteStartArray("messages");
                foreach (var (role, content) in Messages)
                {
                    w.WriteStartObject();
                    w.WriteString("role", role);
                    w.WriteString("content", content);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                if (MaxTokens is { } max)
                {
                    w.WriteNumber("max_tokens", max);
                }
                if (Temperature is { } t)
                {
                    w.WriteNumber("temperature", t);
                }
                if (TopP is { } p)
                {
                    w.WriteNumber("top_p", p);
                }
                if (TopK is { } k)
                {
                    // Not in OpenAI's API; Prova nodes (and vLLM-style servers) take it, and the signed request must carry it.
                    w.WriteNumber("top_k", k);
                }
                if (Seed is { } seed)
                {
                    w.WriteNumber("seed", seed);
                }
                if (Stop.Count > 0)
                {
                    w.WriteStartArray("stop");
                    foreach (var s in Stop)
                    {
                        w.WriteStringValue(s);
                    }
                    w.WriteEndArray();
                }
                w.WriteBoolean("stream", stream);
                if (stream)
                {
                    w.WriteStartObject("stream_options");
                    w.WriteBoolean("include_usage", true);
                    w.WriteEndObject();
                }
                w.WriteStartObject("prova");
                w.WriteString("mode", Mode);
                w.WriteEndObject();
                w.WriteEndObject();
            }
            return buffer.WrittenSpan.ToArray();
        }
    }

    /// <summary>A non-streamed answer (<c>chat.completion</c>) as a checked <see cref="ChatResponse"/>.</summary>
    public static ChatResponse ParseCompletion(byte[] body, Request asked, Uri node, bool throwOnDisagreement)
    {
        using var doc = ParseJson(body, "answer");
        var root = doc.RootElement;
        if (root.TryGetProperty("error", out _))
        {
            throw Error(root, null, null);
        }
        if (!root.TryGetProperty("choices", out var choices) || choices.ValueKind != JsonValueKind.Array || choices.GetArrayLength() == 0
            || !choices[0].TryGetProperty("message", out var message) || message.ValueKind != JsonValueKind.Object)
        {
            throw BadResponse("the chat answer has no choices[0].message");
        }
        string text = Str(message, "content") ?? "";
        var result = CheckResult(ProvaMember(root) ?? throw NoReceipt(), text, asked, node, throwOnDisagreement);
        var response = new ChatResponse(new AiChatMessage(ChatRole.Assistant, text))
        {
            ResponseId = Str(root, "id"),
            ModelId = Str(root, "model"),
            CreatedAt = Created(root),
            FinishReason = FinishReasonOf(Str(choices[0], "finish_reason")),
            Usage = Usage(root),
            RawRepresentation = Encoding.UTF8.GetString(body),
            AdditionalProperties = new() { [ProvaChat.ResultKey] = result },
        };
        response.Messages[0].MessageId = response.ResponseId;
        return response;
    }

    /// <summary>The events of a streamed answer, in order: text as it comes, then at <c>[DONE]</c> one update with the finish reason, usage and result.</summary>
    internal sealed class StreamState(Request asked, Uri node, bool throwOnDisagreement)
    {
        private readonly StringBuilder _text = new();
        private string? _id;
        private string? _model;
        private DateTimeOffset? _created;
        private ChatFinishReason? _finish;
        private UsageDetails? _usage;
        private byte[]? _prova;

        public bool Done { get; private set; }

        /// <summary>The text received so far.</summary>
        public string Text => _text.ToString();

        /// <summary>One event's data; the update it makes (text), or null for events without text.</summary>
        public ChatResponseUpdate? Feed(string data)
        {
            if (data.AsSpan().Trim().SequenceEqual("[DONE]"))
            {
                Done = true;
                return null;
            }
            using var doc = ParseJson(Encoding.UTF8.GetBytes(data), "stream event");
            var root = doc.RootElement;
            if (root.TryGetProperty("error", out _))
            {
                throw Error(root, null, null);
            }
            _id ??= Str(root, "id");
            _model ??= Str(root, "model");
            _created ??= Created(root);
            if (Usage(root) is { } usage)
            {
                _usage = usage;
            }
            if (ProvaMember(root) is { } prova)
            {
                _prova = prova;
            }
            string? piece = null;
            if (root.TryGetProperty("choices", out var choices) && choices.ValueKind == JsonValueKind.Array)
            {
                foreach (var choice in choices.EnumerateArray())
                {
                    if (choice.ValueKind != JsonValueKind.Object || choice.TryGetProperty("index", out var i) && !(i.ValueKind == JsonValueKind.Number && i.TryGetInt32(out int index) && index == 0))
                    {
                        continue;
                    }
                    if (choice.TryGetProperty("delta", out var delta) && delta.ValueKind == JsonValueKind.Object && Str(delta, "content") is { Length: > 0 } content)
                    {
                        piece = piece is null ? content : piece + content;
                    }
                    if (FinishReasonOf(Str(choice, "finish_reason")) is { } finish)
                    {
                        _finish = finish;
                    }
                }
            }
            if (piece is null)
            {
                return null;
            }
            _text.Append(piece);
            return new ChatResponseUpdate(ChatRole.Assistant, piece) { ResponseId = _id, MessageId = _id, ModelId = _model, CreatedAt = _created };
        }

        /// <summary>The last update, after <c>[DONE]</c>: finish reason, usage and the checked result.</summary>
        public ChatResponseUpdate Finish()
        {
            if (!Done)
            {
                throw BadResponse("the chat stream ended before data: [DONE]");
            }
            var result = CheckResult(_prova ?? throw NoReceipt(), Text, asked, node, throwOnDisagreement);
            var contents = new List<AIContent>();
            if (_usage is not null)
            {
                contents.Add(new UsageContent(_usage));
            }
            return new ChatResponseUpdate(ChatRole.Assistant, contents)
            {
                ResponseId = _id,
                MessageId = _id,
                ModelId = _model,
                CreatedAt = _created,
                FinishReason = _finish,
                AdditionalProperties = new() { [ProvaChat.ResultKey] = result },
            };
        }
    }

    /// <summary>Server-sent events (the WHATWG event-stream format): each event's <c>data:</c> lines joined by '\n'; comments and other fields skipped.</summary>
    internal sealed class SseReader(Stream stream, long maxEventBytes) : IDisposable
    {
        private readonly byte[] _buffer = new byte[16 << 10];
        private readonly ArrayBufferWriter<byte> _line = new();
        private int _start;
        private int _end;
        private bool _eof;

        /// <summary>The next event's data, or null at the end of the stream.</summary>
        public async Task<string?> ReadEventAsync(CancellationToken cancellationToken)
        {
            StringBuilder? data = null;
            while (true)
            {
                string? line = await ReadLineAsync(cancellationToken);
                if (line is null)
                {
                    return data?.ToString();
                }
                if (line.Length == 0)
                {
                    if (data is not null)
                    {
                        return data.ToString();
                    }
                    continue;
                }
                if (line[0] == ':')
                {
                    continue;
                }
                int colon = line.IndexOf(':', StringComparison.Ordinal);
                string field = colon < 0 ? line : line[..colon];
                if (field != "data")
                {
                    continue;
                }
                string value = colon < 0 ? "" : line[(colon + 1)..];
                if (value.StartsWith(' '))
                {
                    value = value[1..];
                }
                if (data is null)
                {
                    data = new StringBuilder(value);
                }
                else
                {
                    data.Append('\n').Append(value);
                }
                if (data.Length > maxEventBytes)
                {
                    throw new ProvaClientException($"a chat stream event is larger than the limit of {maxEventBytes} bytes", "too-large");
                }
            }
        }

        private async Task<string?> ReadLineAsync(CancellationToken cancellationToken)
        {
            _line.ResetWrittenCount();
            while (true)
            {
                if (_start < _end)
                {
                    int newline = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
                    int stop = newline < 0 ? _end : newline;
                    if (_line.WrittenCount + (stop - _start) > maxEventBytes)
                    {
                        throw new ProvaClientException($"a chat stream line is longer than the limit of {maxEventBytes} bytes", "too-large");
                    }
                    _line.Write(_buffer.AsSpan(_start, stop - _start));
                    _start = newline < 0 ? _end : newline + 1;
                    if (newline >= 0)
                    {
                        return Decode();
                    }
                }
                if (_eof)
                {
                    return _line.WrittenCount > 0 ? Decode() : null;
                }
                _start = 0;
                _end = await stream.ReadAsync(_buffer, cancellationToken);
                _eof = _end == 0;
            }
        }

        private string Decode()
        {
            var span = _line.WrittenSpan;
            if (span.Length > 0 && span[^1] == (byte)'\r')
            {
                span = span[..^1];
            }
            return Encoding.UTF8.GetString(span);
        }

        public void Dispose() => stream.Dispose();
    }

    /// <summary>
    /// Checks the node's result against what was asked and received; returns it as a <see cref="ResultFile"/>. A quorum that
    /// disagreed is <see cref="ChatQuorumDisagreementException"/> (when <paramref name="throwOnDisagreement"/>); anything that
    /// does not hold is <see cref="ProvaClientException"/> <c>bad-receipt</c> naming it.
    /// </summary>
    public static ResultFile CheckResult(byte[] prova, string text, Request asked, Uri node, bool throwOnDisagreement)
    {
        ResultVerification v;
        try
        {
            v = ResultVerifier.Verify(prova);
        }
        catch (ResultFileException ex)
        {
            throw BadReceipt($"the node's result is malformed: {ex.Message}");
        }
        if (v.Result is null)
        {
            throw BadReceipt($"the node's result is malformed: {v.Failure?.Name}: {v.Failure?.Message}");
        }
        var result = v.Result with { Node = v.Result.Node ?? node.AbsoluteUri };
        if (!result.IsGeneration)
        {
            throw BadReceipt("the node's result is not a generation: its inputs are not a generation request");
        }
        if (result.Verdict is { Agreed: false } verdict)
        {
            if (throwOnDisagreement)
            {
                throw verdict.Evidence is not null
                    ? new ChatQuorumDisagreementException(
                        $"the {verdict.Nodes.Count} nodes of the {result.Mode} quorum disagreed on the generated tokens: the answer carries evidence, and 'prova verify' on it names the node that lied",
                        result, text)
                    : new ChatQuorumDisagreementException(
                        $"the {result.Mode} quorum was not reached: {verdict.Nodes.Count} node(s) answered"
                        + (verdict.Failures.Count > 0 ? $" ({string.Join("; ", verdict.Failures)})" : ""), result, text, "quorum-incomplete");
            }
            return result;
        }
        if (v.Failure is { } failure)
        {
            throw BadReceipt($"the node's receipt does not verify: {failure.Name}: {failure.Message}");
        }
        string signedText;
        GenerationRequest request;
        try
        {
            signedText = GenerationOutput.Read(result.Outputs).Text;
            request = GenerationRequest.FromTensors(result.Inputs);
        }
        catch (ProvaException ex)
        {
            throw BadReceipt($"the node's result is not a well-formed generation: {ex.Message}");
        }
        if (!string.Equals(signedText, text, StringComparison.Ordinal))
        {
            throw BadReceipt($"the text received ({text.Length} chars) is not the text the receipt signs ({signedText.Length} chars)");
        }
        if (result.Mode != asked.Mode)
        {
            throw BadReceipt($"the node answered in mode '{result.Mode}', not the '{asked.Mode}' asked for");
        }
        if (Cid.TryParse(asked.Model, out var cid) && result.Model != cid)
        {
            throw BadReceipt($"the node answered with model {result.Model}, not {cid}");
        }
        var s = request.Sampling;
        string? changed = asked.MaxTokens is { } max && request.MaxTokens > max ? $"max_tokens {request.MaxTokens} (asked {max})"
            : asked.Temperature is { } t && s.Temperature != t ? $"temperature {s.Temperature.ToString(CultureInfo.InvariantCulture)} (asked {t.ToString(CultureInfo.InvariantCulture)})"
            : asked.TopP is { } p && s.TopP != p ? $"top_p {s.TopP.ToString(CultureInfo.InvariantCulture)} (asked {p.ToString(CultureInfo.InvariantCulture)})"
            : asked.TopK is { } k && s.TopK != k ? $"top_k {s.TopK} (asked {k})"
            : asked.Seed is { } seed && s.Seed != (ulong)seed ? $"seed {s.Seed} (asked {seed})"
            : !request.Stop.SequenceEqual(asked.Stop) ? "the stop strings"
            : null;
        if (changed is not null)
        {
            throw BadReceipt($"the signed request differs from the one sent: {changed}");
        }
        return result;
    }

    /// <summary>The node's error: OpenAI's <c>{"error": {"message", "type", "code"}}</c> (or a ProblemDetails) as a <see cref="ProvaClientException"/>.</summary>
    public static ProvaClientException Error(byte[] body, int status, string? reason)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind == JsonValueKind.Object)
            {
                return Error(doc.RootElement, status, reason);
            }
        }
        catch (JsonException)
        {
        }
        string detail = body.Length is > 0 and < 300 ? Encoding.UTF8.GetString(body).Trim() : reason ?? "no detail";
        return new ProvaClientException($"node refused the chat request: {detail} ({status})", "http-" + status, status, detail);
    }

    private static ProvaClientException Error(JsonElement root, int? status, string? reason)
    {
        var e = root.TryGetProperty("error", out var inner) && inner.ValueKind == JsonValueKind.Object ? inner : root;
        string detail = Str(e, "message") ?? Str(e, "detail") ?? Str(e, "title")
            ?? (root.TryGetProperty("error", out var plain) && plain.ValueKind == JsonValueKind.String ? plain.GetString() : null)
            ?? reason ?? "no detail";
        string code = (e.TryGetProperty("code", out var c) ? c.ValueKind switch
        {
            JsonValueKind.String => c.GetString(),
            JsonValueKind.Number => c.GetRawText(),
            _ => null,
        } : null) ?? Str(e, "type") ?? (status is { } s ? "http-" + s : "stream-error");
        string where = status is { } st ? $" ({st} {code})" : $" ({code})";
        return new ProvaClientException((status is null ? "the node ended the chat stream with an error: " : "node refused the chat request: ") + detail + where,
            code, status, detail);
    }

    private static JsonDocument ParseJson(byte[] body, string what)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(body, Json.DocumentOptions);
        }
        catch (JsonException ex)
        {
            throw BadResponse($"the chat {what} is not JSON: {ex.Message}");
        }
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
        {
            doc.Dispose();
            throw BadResponse($"the chat {what} is not a JSON object");
        }
        return doc;
    }

    private static byte[]? ProvaMember(JsonElement root) =>
        root.TryGetProperty("prova", out var p) && p.ValueKind == JsonValueKind.Object ? Encoding.UTF8.GetBytes(p.GetRawText()) : null;

    private static UsageDetails? Usage(JsonElement root)
    {
        if (!root.TryGetProperty("usage", out var u) || u.ValueKind != JsonValueKind.Object)
        {
            return null;
        }
        return new UsageDetails
        {
            InputTokenCount = Long(u, "prompt_tokens"),
            OutputTokenCount = Long(u, "completion_tokens"),
            TotalTokenCount = Long(u, "total_tokens"),
        };
    }

    private static ChatFinishReason? FinishReasonOf(string? reason) => reason switch
    {
        null => null,
        "stop" => ChatFinishReason.Stop,
        "length" => ChatFinishReason.Length,
        "content_filter" => ChatFinishReason.ContentFilter,
        "tool_calls" => ChatFinishReason.ToolCalls,
        _ => new ChatFinishReason(reason),
    };

    private static DateTimeOffset? Created(JsonElement root) =>
        root.TryGetProperty("created", out var c) && c.ValueKind == JsonValueKind.Number && c.TryGetInt64(out long seconds) && seconds is > 0 and < 253402300799
            ? DateTimeOffset.FromUnixTimeSeconds(seconds)
            : null;

    private static long? Long(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out long n) ? n : null;

    private static string? Str(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static ProvaClientException BadResponse(string message) => new(message, "bad-response");

    private static ProvaClientException BadReceipt(string message) => new(message, "bad-receipt");

    private static ProvaClientException NoReceipt() =>
        new("the node's chat answer carries no \"prova\" result (is it a Prova node?): nothing proves what it generated", "no-receipt");
}
