using System.Text.Json;
using Prova.Lm;
using Prova.Lm.Text;

namespace Prova.Node.Api;

/// <summary>
/// The body of <c>POST /v1/chat/completions</c> or <c>POST /v1/completions</c> as the OpenAI API reference defines
/// the fields Prova serves (docs/node-api.md, "OpenAI-compatible API"). Fields it does not know are ignored, as
/// OpenAI does; a field it knows with a wrong type or value is a 400 naming the field (<see cref="OpenAiErrors.Invalid"/>).
/// Unset values stay null here: they are resolved against the model when the generation starts.
/// </summary>
internal sealed record OpenAiRequest
{
    private static readonly JsonDocumentOptions s_json = new() { MaxDepth = 64 };

    public required string Model { get; init; }

    /// <summary>Chat: the conversation (roles system/developer/user/assistant); null for a completion.</summary>
    public IReadOnlyList<ChatMessage>? Messages { get; init; }

    /// <summary>Completion: the prompt text; null for a chat or a prompt given as token ids.</summary>
    public string? Prompt { get; init; }

    /// <summary>Completion: the prompt as token ids (<c>"prompt": [1, 2, 3]</c> or <c>[[1, 2, 3]]</c>); null otherwise.</summary>
    public int[]? PromptIds { get; init; }

    public int? MaxTokens { get; init; }

    public float? Temperature { get; init; }

    public float? TopP { get; init; }

    /// <summary><c>top_k</c>, an extension many OpenAI-compatible servers accept (0 = off).</summary>
    public int? TopK { get; init; }

    /// <summary><c>repetition_penalty</c>, an extension many OpenAI-compatible servers accept (1 = off).</summary>
    public float? RepetitionPenalty { get; init; }

    public ulong? Seed { get; init; }

    public IReadOnlyList<string> Stop { get; init; } = [];

    public bool Stream { get; init; }

    public bool IncludeUsage { get; init; }

    /// <summary>Prova's extension <c>"prova": {"mode": "quorum:3"}</c>; null when absent.</summary>
    public string? Mode { get; init; }

    /// <summary>Parses a body; <paramref name="chat"/> picks which of <c>messages</c> and <c>prompt</c> is required.</summary>
    public static OpenAiRequest Parse(ReadOnlyMemory<byte> body, bool chat)
    {
        try
        {
            using var document = JsonDocument.Parse(body, s_json);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw OpenAiErrors.Invalid(null, $"the body must be a JSON object, not {Kind(root.ValueKind)}");
            }
            var model = Get(root, "model") is { } m && m.ValueKind == JsonValueKind.String && m.GetString()!.Length > 0
                ? m.GetString()!
                : throw OpenAiErrors.Invalid("model", "'model' is required: a model CID or a published name (name or name:version)");
            int? n = Integer(root, "n", 1, int.MaxValue);
            if (n is > 1)
            {
                throw OpenAiErrors.Invalid("n", $"'n' must be 1 on a Prova node (one generation per request, each with its own receipt); got {n}");
            }
            int? maxTokens = Integer(root, "max_completion_tokens", 1, int.MaxValue) ?? Integer(root, "max_tokens", 1, int.MaxValue);
            double? temperature = Number(root, "temperature", 0, 2);
            double? topP = Number(root, "top_p", 0, 1);
            if (topP == 0)
            {
                throw OpenAiErrors.Invalid("top_p", "'top_p' must be above 0 and at most 1");
            }
            int? topK = Integer(root, "top_k", 0, int.MaxValue);
            double? repetitionPenalty = Number(root, "repetition_penalty", 0, 100);
            if (repetitionPenalty == 0)
            {
                throw OpenAiErrors.Invalid("repetition_penalty", "'repetition_penalty' must be above 0 and at most 100 (1 is off)");
            }
            var (prompt, promptIds) = chat ? (null, null) : ParsePrompt(root);
            bool stream = Bool(root, "stream") ?? false;
            bool includeUsage = false;
            if (Get(root, "stream_options") is { } so)
            {
                if (so.ValueKind != JsonValueKind.Object)
                {
                    throw OpenAiErrors.Invalid("stream_options", "'stream_options' must be an object");
                }
                if (!stream)
                {
                    throw OpenAiErrors.Invalid("stream_options", "'stream_options' is only allowed when 'stream' is true");
                }
                includeUsage = Bool(so, "include_usage", "stream_options.include_usage") ?? false;
            }
            string? mode = null;
            if (Get(root, "prova") is { } prova)
            {
                if (prova.ValueKind != JsonValueKind.Object)
                {
                    throw OpenAiErrors.Invalid("prova", "'prova' must be an object such as {\"mode\": \"quorum:3\"}");
                }
                mode = Get(prova, "mode") is { } pm
                    ? pm.ValueKind == JsonValueKind.String ? pm.GetString() : throw OpenAiErrors.Invalid("prova.mode", "'prova.mode' must be a string: \"attested\" or \"quorum:K\"")
                    : null;
            }
            return new OpenAiRequest
            {
                Model = model,
                Messages = chat ? ParseMessages(root) : null,
                Prompt = prompt,
                PromptIds = promptIds,
                MaxTokens = maxTokens,
                Temperature = temperature is { } t ? (float)t : null,
                TopP = topP is { } p ? (float)p : null,
                TopK = topK,
                RepetitionPenalty = repetitionPenalty is { } rp ? (float)rp : null,
                Seed = ParseSeed(root),
                Stop = ParseStops(root),
                Stream = stream,
                IncludeUsage = includeUsage,
                Mode = mode,
            };
        }
        catch (JsonException ex)
        {
            throw OpenAiErrors.Invalid(null, $"the body is not valid JSON: {ex.Message}");
        }
        catch (InvalidOperationException)
        {
            // JsonElement.GetString on a string that is not valid UTF-8.
            throw OpenAiErrors.Invalid(null, "the body contains a string that is not valid UTF-8");
        }
    }

    private static List<ChatMessage> ParseMessages(JsonElement root)
    {
        if (Get(root, "messages") is not { ValueKind: JsonValueKind.Array } array || array.GetArrayLength() == 0)
        {
            throw OpenAiErrors.Invalid("messages", "'messages' is required: a non-empty array of {\"role\", \"content\"}");
        }
        var messages = new List<ChatMessage>();
        foreach (var m in array.EnumerateArray())
        {
            string where = $"messages[{messages.Count}]";
            if (m.ValueKind != JsonValueKind.Object)
            {
                throw OpenAiErrors.Invalid(where, $"'{where}' must be an object {{\"role\", \"content\"}}");
            }
            string role = Get(m, "role") is { ValueKind: JsonValueKind.String } r ? r.GetString()! : throw OpenAiErrors.Invalid(where + ".role", $"'{where}.role' must be a string");
            role = role switch
            {
                "system" or "user" or "assistant" => role,
                // The developer role replaced system for newer OpenAI models; chat templates know only system.
                "developer" => "system",
                _ => throw OpenAiErrors.Invalid(where + ".role", $"'{where}.role' is '{Shown(role)}'; a Prova node serves the roles system, developer, user and assistant (no tools)"),
            };
            messages.Add(new ChatMessage(role, Content(Get(m, "content"), where + ".content", nullable: role == "assistant")));
        }
        return messages;
    }

    /// <summary>A message's content: a string, or an array of text parts joined (other part types are refused).</summary>
    private static string Content(JsonElement? content, string where, bool nullable)
    {
        if (content is not { } c)
        {
            return nullable ? "" : throw OpenAiErrors.Invalid(where, $"'{where}' is required");
        }
        if (c.ValueKind == JsonValueKind.String)
        {
            return c.GetString()!;
        }
        if (c.ValueKind != JsonValueKind.Array)
        {
            throw OpenAiErrors.Invalid(where, $"'{where}' must be a string or an array of text parts");
        }
        var text = new System.Text.StringBuilder();
        int i = 0;
        foreach (var part in c.EnumerateArray())
        {
            if (part.ValueKind != JsonValueKind.Object || Get(part, "type") is not { ValueKind: JsonValueKind.String } type)
            {
                throw OpenAiErrors.Invalid($"{where}[{i}]", $"'{where}[{i}]' must be an object {{\"type\": \"text\", \"text\"}}");
            }
            if (type.GetString() != "text")
            {
                throw OpenAiErrors.Invalid($"{where}[{i}].type", $"'{where}[{i}].type' is '{Shown(type.GetString()!)}'; this node serves text parts only");
            }
            text.Append(Get(part, "text") is { ValueKind: JsonValueKind.String } t ? t.GetString() : throw OpenAiErrors.Invalid($"{where}[{i}].text", $"'{where}[{i}].text' must be a string"));
            i++;
        }
        return text.ToString();
    }

    /// <summary>
    /// A completion's prompt: a non-empty string, or token ids (an array of integers), or an array holding exactly one
    /// of those (OpenAI's batch form; one prompt per request here).
    /// </summary>
    private static (string? Text, int[]? Ids) ParsePrompt(JsonElement root)
    {
        const string Required = "'prompt' is required: a non-empty string or array of token ids (or an array of exactly one of those)";
        var p = Get(root, "prompt");
        if (p is { ValueKind: JsonValueKind.Array } outer && outer.GetArrayLength() == 1 && outer[0].ValueKind is JsonValueKind.String or JsonValueKind.Array)
        {
            p = outer[0];
        }
        if (p is { ValueKind: JsonValueKind.String } s && s.GetString()!.Length > 0)
        {
            return (s.GetString()!, null);
        }
        if (p is not { ValueKind: JsonValueKind.Array } a || a.GetArrayLength() == 0)
        {
            throw OpenAiErrors.Invalid("prompt", Required);
        }
        if (a.GetArrayLength() > GenerationRequest.MaxPromptLength)
        {
            throw OpenAiErrors.Invalid("prompt", $"'prompt' has {a.GetArrayLength()} token ids; at most {GenerationRequest.MaxPromptLength}");
        }
        var ids = new int[a.GetArrayLength()];
        int i = 0;
        foreach (var e in a.EnumerateArray())
        {
            ids[i] = e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int id) && id >= 0
                ? id
                : throw OpenAiErrors.Invalid("prompt", e.ValueKind == JsonValueKind.String ? Required : $"'prompt[{i}]' must be a token id (an integer from 0), not {Shown(e.GetRawText())}");
            i++;
        }
        return (null, ids);
    }

    private static ulong? ParseSeed(JsonElement root)
    {
        if (Get(root, "seed") is not { } s)
        {
            return null;
        }
        return s.ValueKind == JsonValueKind.Number && s.TryGetUInt64(out ulong seed)
            ? seed
            : throw OpenAiErrors.Invalid("seed", "'seed' must be an integer from 0 to 18446744073709551615");
    }

    private static List<string> ParseStops(JsonElement root)
    {
        var stops = new List<string>();
        switch (Get(root, "stop"))
        {
            case null:
                break;
            case { ValueKind: JsonValueKind.String } s:
                stops.Add(s.GetString()!);
                break;
            case { ValueKind: JsonValueKind.Array } a:
                foreach (var e in a.EnumerateArray())
                {
                    stops.Add(e.ValueKind == JsonValueKind.String ? e.GetString()! : throw OpenAiErrors.Invalid("stop", "'stop' must be a string or an array of strings"));
                }
                break;
            default:
                throw OpenAiErrors.Invalid("stop", "'stop' must be a string or an array of strings");
        }
        if (stops.Count > GenerationRequest.MaxStopStrings)
        {
            throw OpenAiErrors.Invalid("stop", $"'stop' has {stops.Count} strings; at most {GenerationRequest.MaxStopStrings}");
        }
        foreach (var s in stops)
        {
            if (s.Length == 0 || s.Contains('\0', StringComparison.Ordinal) || System.Text.Encoding.UTF8.GetByteCount(s) > GenerationRequest.MaxStopBytes)
            {
                throw OpenAiErrors.Invalid("stop", $"each stop string must be 1..{GenerationRequest.MaxStopBytes} UTF-8 bytes without NUL characters");
            }
        }
        return stops;
    }

    /// <summary>A member that is present and not null.</summary>
    private static JsonElement? Get(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

    private static int? Integer(JsonElement root, string name, int min, int max)
    {
        if (Get(root, name) is not { } v)
        {
            return null;
        }
        return v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out long x) && x >= min && x <= max
            ? (int)x
            : throw OpenAiErrors.Invalid(name, $"'{name}' must be an integer from {min} to {max}");
    }

    private static double? Number(JsonElement root, string name, double min, double max)
    {
        if (Get(root, name) is not { } v)
        {
            return null;
        }
        return v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out double x) && x >= min && x <= max
            ? x
            : throw OpenAiErrors.Invalid(name, $"'{name}' must be a number from {min} to {max}");
    }

    private static bool? Bool(JsonElement obj, string name, string? shown = null)
    {
        if (Get(obj, name) is not { } v)
        {
            return null;
        }
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw OpenAiErrors.Invalid(shown ?? name, $"'{shown ?? name}' must be true or false"),
        };
    }

    private static string Kind(JsonValueKind kind) => kind.ToString().ToLowerInvariant();

    private static string Shown(string s) => s.Length > 40 ? s[..40] + "..." : s;
}
