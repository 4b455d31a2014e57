using System.Text.Json;

namespace Prova.Node.Api;

/// <summary>
/// Errors of the OpenAI-compatible routes in OpenAI's shape, <c>{"error": {"message", "type", "param", "code"}}</c>
/// (docs/node-api.md, "OpenAI-compatible API"): the node's <see cref="ApiException"/> codes mapped to OpenAI's
/// types and codes, the status kept except 422, which OpenAI clients know as 400.
/// </summary>
internal static class OpenAiErrors
{
    /// <summary>The extension member of an <see cref="ApiException"/> that names the request field at fault.</summary>
    public const string ParamKey = "param";

    /// <summary>A 400 naming the request field (<paramref name="param"/>, null for the body as a whole).</summary>
    public static ApiException Invalid(string? param, string message) =>
        new(400, "invalid-request", message, new Dictionary<string, object?> { [ParamKey] = param });

    /// <summary>The status, type and code OpenAI clients expect for a node error.</summary>
    public static (int Status, string Type, string? Code) Map(ApiException ex) => (ex.Status, ex.Code) switch
    {
        (_, "unknown-model") => (404, "invalid_request_error", "model_not_found"),
        (_, "too-many-generations") => (429, "rate_limit_error", "rate_limit_exceeded"),
        (_, "generation-queue-timeout") => (503, "service_unavailable_error", "server_is_overloaded"),
        (_, "quorum-unavailable") => (503, "service_unavailable_error", "quorum_unavailable"),
        (_, "invalid-request") => (400, "invalid_request_error", null),
        (_, "payload-too-large") => (413, "invalid_request_error", "request_too_large"),
        (422, var code) => (400, "invalid_request_error", Snake(code)),
        ( >= 500, var code) => (ex.Status, "server_error", Snake(code)),
        (429, var code) => (429, "rate_limit_error", Snake(code)),
        (_, var code) => (ex.Status, "invalid_request_error", Snake(code)),
    };

    public static Task WriteAsync(HttpContext context, ApiException ex, bool chat)
    {
        var (status, type, code) = Map(ex);
        if (ex.Extensions.TryGetValue("retryAfterSeconds", out var retry) && retry is int seconds)
        {
            context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        string? param = ex.Extensions.TryGetValue(ParamKey, out var p) ? p as string : ParamOf(ex.Code, chat);
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        return context.Response.Body.WriteAsync(Json(ex.Message, type, param, code), context.RequestAborted).AsTask();
    }

    /// <summary>The error object as JSON bytes (also sent as an SSE event when a stream fails after it started).</summary>
    public static byte[] Json(string message, string type, string? param, string? code)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteStartObject("error");
            writer.WriteString("message", Prova.Core.ErrorText.Bound(message));
            writer.WriteString("type", type);
            writer.WriteString("param", param);
            writer.WriteString("code", code);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    private static string? ParamOf(string code, bool chat) => code switch
    {
        "unknown-model" or "not-a-language-model" => "model",
        "max-tokens-exceeded" => "max_tokens",
        "context-length-exceeded" => chat ? "messages" : "prompt",
        "unsupported-mode" => "prova.mode",
        _ => null,
    };

    private static string Snake(string code) => code.Replace('-', '_');
}
