using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;
using Prova.Node.Inference;
using Prova.Runtime.Generation;

namespace Prova.Node.Api;

/// <summary>
/// Writes the OpenAI response objects of one request (the OpenAI API reference: <c>chat.completion</c>,
/// <c>chat.completion.chunk</c>, <c>text_completion</c>): the fields every object of the request shares, then
/// the choices, <c>usage</c> and Prova's <c>prova</c> member.
/// </summary>
internal sealed class OpenAiResponses(bool chat, string id, long created, string model, string fingerprint, bool includeUsage)
{
    public bool IsChat => chat;

    public bool IncludeUsage => includeUsage;

    public string ChunkObject => chat ? "chat.completion.chunk" : "text_completion";

    /// <summary>OpenAI's finish reasons: "stop" for an end-of-sequence token or a stop string, "length" for max_tokens or the context.</summary>
    public static string FinishReason(StopReason reason) => reason is StopReason.MaxTokens or StopReason.ContextFull ? "length" : "stop";

    /// <summary>The non-streamed response.</summary>
    public byte[] Completion(GenerationOutcome outcome, JsonObject prova) => Write(w =>
    {
        Head(w, chat ? "chat.completion" : "text_completion");
        w.WriteStartArray("choices");
        w.WriteStartObject();
        w.WriteNumber("index", 0);
        string text = outcome.Generation.Text ?? "";
        if (chat)
        {
            w.WriteStartObject("message");
            w.WriteString("role", "assistant");
            w.WriteString("content", text);
            w.WriteNull("refusal");
            w.WriteEndObject();
        }
        else
        {
            w.WriteString("text", text);
        }
        w.WriteNull("logprobs");
        w.WriteString("finish_reason", FinishReason(outcome.Generation.Result.Reason));
        w.WriteEndObject();
        w.WriteEndArray();
        Usage(w, outcome);
        w.WritePropertyName("prova");
        prova.WriteTo(w);
    });

    /// <summary>A streamed chunk with one choice: the assistant role (chat's first chunk), a piece of text, or the finish reason.</summary>
    public byte[] Chunk(string? text, bool role = false, string? finishReason = null) => Write(w =>
    {
        Head(w, ChunkObject);
        w.WriteStartArray("choices");
        w.WriteStartObject();
        w.WriteNumber("index", 0);
        if (chat)
        {
            w.WriteStartObject("delta");
            if (role)
            {
                w.WriteString("role", "assistant");
            }
            if (text is not null)
            {
                w.WriteString("content", text);
            }
            w.WriteEndObject();
        }
        else
        {
            w.WriteString("text", text ?? "");
        }
        w.WriteNull("logprobs");
        if (finishReason is null)
        {
            w.WriteNull("finish_reason");
        }
        else
        {
            w.WriteString("finish_reason", finishReason);
        }
        w.WriteEndObject();
        w.WriteEndArray();
        if (includeUsage)
        {
            w.WriteNull("usage");
        }
    });

    /// <summary>The usage chunk of <c>stream_options.include_usage</c>: no choices, the token counts.</summary>
    public byte[] UsageChunk(GenerationOutcome outcome) => Write(w =>
    {
        Head(w, ChunkObject);
        w.WriteStartArray("choices");
        w.WriteEndArray();
        Usage(w, outcome);
    });

    /// <summary>The last chunk before [DONE]: no choices, the <c>prova</c> evidence.</summary>
    public byte[] ProvaChunk(JsonObject prova) => Write(w =>
    {
        Head(w, ChunkObject);
        w.WriteStartArray("choices");
        w.WriteEndArray();
        if (includeUsage)
        {
            w.WriteNull("usage");
        }
        w.WritePropertyName("prova");
        prova.WriteTo(w);
    });

    private void Head(Utf8JsonWriter w, string type)
    {
        w.WriteString("id", id);
        w.WriteString("object", type);
        w.WriteNumber("created", created);
        w.WriteString("model", model);
        w.WriteString("system_fingerprint", fingerprint);
    }

    /// <summary>Usage in tokens: the prompt's tokens (chat template applied) and the generated ids (an end-of-sequence id that ended the generation included).</summary>
    private static void Usage(Utf8JsonWriter w, GenerationOutcome outcome)
    {
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", outcome.PromptTokens);
        w.WriteNumber("completion_tokens", outcome.CompletionTokens);
        w.WriteNumber("total_tokens", outcome.PromptTokens + outcome.CompletionTokens);
        w.WriteEndObject();
    }

    private static byte[] Write(Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }
}
