using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;
using Prova.Core;

namespace Prova.Node.Api;

/// <summary>Writes ProblemDetails responses; the catch-all that turns errors into them.</summary>
internal static class Problems
{
    private static readonly Dictionary<string, string> s_titles = new(StringComparer.Ordinal)
    {
        ["bad-request"] = "Bad request",
        ["invalid-cid"] = "Invalid CID",
        ["invalid-manifest"] = "Invalid manifest",
        ["payload-too-large"] = "Payload too large",
        ["unknown-blob"] = "Unknown content",
        ["chunk-index"] = "Chunk index out of range",
        ["chunk-mismatch"] = "Chunk does not match the manifest",
        ["incomplete-content"] = "Content incomplete",
        ["invalid-onnx"] = "Invalid ONNX model",
        ["invalid-publication"] = "Invalid publication",
        ["bad-signature"] = "Bad signature",
        ["name-owned"] = "Name owned by another address",
        ["version-exists"] = "Version exists",
        ["unknown-model"] = "Unknown model",
        ["invalid-input"] = "Invalid input",
        ["unsupported-model"] = "Model not supported by the engine",
        ["not-found"] = "Not found",
        ["range-not-satisfiable"] = "Range not satisfiable",
        ["corrupted-content"] = "Stored content is corrupted",
        ["saturated"] = "Node saturated",
        ["timeout"] = "Request timed out",
        ["internal"] = "Internal error",
        ["invalid-peer-record"] = "Invalid peer record",
        ["unsupported-mode"] = "Mode not served by this node",
    };

    public static ProblemDetails Create(HttpContext context, int status, string code, string detail, IReadOnlyDictionary<string, object?>? extensions = null)
    {
        var problem = new ProblemDetails
        {
            Type = "https://prova.dev/problems/" + code,
            Title = s_titles.TryGetValue(code, out var title) ? title : code,
            Status = status,
            // The last guard on what leaves the node: no detail longer than a readable line (issue #14).
            Detail = ErrorText.Bound(detail),
            Instance = context.Request.Path,
        };
        problem.Extensions["code"] = code;
        if (extensions is not null)
        {
            foreach (var (key, value) in extensions)
            {
                problem.Extensions[key] = value;
            }
        }
        return problem;
    }

    public static Task WriteAsync(HttpContext context, int status, string code, string detail, IReadOnlyDictionary<string, object?>? extensions = null)
        => WriteAsync(context, status, code, detail, extensions, context.RequestAborted);

    /// <summary>
    /// As above, with the token the write observes: the request-timeout answer is written after the request's token
    /// has been cancelled, and must not be cut by it.
    /// </summary>
    public static Task WriteAsync(HttpContext context, int status, string code, string detail, IReadOnlyDictionary<string, object?>? extensions,
        CancellationToken cancellationToken)
    {
        var problem = Create(context, status, code, detail, extensions);
        context.Response.StatusCode = status;
        return context.Response.WriteAsJsonAsync(problem, (JsonSerializerOptions?)null, "application/problem+json", cancellationToken);
    }

    /// <summary>Middleware: <see cref="ApiException"/> → its ProblemDetails; anything else → 500 "internal" (logged, no user data in the body).</summary>
    public static async Task Handle(HttpContext context, RequestDelegate next)
    {
        try
        {
            await next(context);
        }
        catch (ApiException ex) when (!context.Response.HasStarted)
        {
            if (ex.Extensions.TryGetValue("retryAfterSeconds", out var retry) && retry is int seconds)
            {
                context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
            await WriteAsync(context, ex.Status, ex.Code, ex.Message, ex.Extensions);
        }
        catch (BadHttpRequestException ex) when (!context.Response.HasStarted)
        {
            if (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
            {
                await WriteAsync(context, 413, "payload-too-large", "the request body is larger than the server allows");
            }
            else
            {
                await WriteAsync(context, ex.StatusCode, "bad-request", ex.Message);
            }
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away, or the request-timeout middleware cancelled us and answers 504 itself.
            throw;
        }
        catch (Exception ex) when (!context.Response.HasStarted)
        {
            var logger = context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Prova.Node");
            Log.Unhandled(logger, ex, context.Request.Method, context.Request.Path);
            await WriteAsync(context, 500, "internal", "an internal error occurred; see the node log");
        }
        catch (Exception) when (context.Response.HasStarted)
        {
            // Headers are out: the only honest thing left is to abort the connection.
            context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
            context.Abort();
        }
    }
}
