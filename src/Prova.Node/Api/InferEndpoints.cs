using System.Buffers;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Prova.Core;
using Prova.Core.Crypto;
using Prova.Core.Receipts;
using Prova.Node.Hosting;
using Prova.Node.Inference;
using Prova.Node.Network;

namespace Prova.Node.Api;

/// <summary><c>POST /v1/infer</c>: run a model, return outputs and a signed receipt (docs/node-api.md).</summary>
internal static class InferEndpoints
{
    public const string RateLimitPolicy = "infer";

    private static readonly JsonReaderOptions s_reader = new() { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip, MaxDepth = 128 };

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/infer", Infer).WithTags("inference").WithSummary("Run a model on named input tensors; returns outputs and a signed receipt")
            .Accepts<JsonElement>("application/json").Produces<JsonElement>(200, "application/json")
            .RequireRateLimiting(RateLimitPolicy);
    }

    private static async Task<IResult> Infer(HttpContext context, InferenceService inference, NodeMetrics metrics, IOptions<NodeOptions> options,
        FaultInjector faults, Microsoft.AspNetCore.Hosting.Server.IServer server, ILoggerFactory loggers, ProofService proofs)
    {
        if (faults.CountInferenceAndShouldCrash())
        {
            return Crash(context, faults, server, loggers);
        }
        byte[] body = await Body.ReadAsync(context, options.Value.MaxRequestBytes, "MaxRequestBytes", "the request body");
        var (modelText, requestId, mode) = ReadHeader(body);
        var model = BlobEndpoints.ParseCid(modelText);
        // The model's declared inputs bound each tensor before its data is read: a body within MaxRequestBytes
        // cannot make the node materialise more than the model takes.
        var declared = inference.DeclaredInputs(model);
        Dictionary<string, Tensor> inputs;
        try
        {
            inputs = TensorJson.ReadNamedTensors(body, "inputs", (name, type, shape) => inference.CheckInput(declared, name, type, shape));
        }
        catch (TensorFormatException ex)
        {
            throw ApiException.BadRequest(ex.Message);
        }
        body = []; // the body's bytes can be collected while the model runs
        InferModes.Check(mode);
        if (faults.Faults.SlowMs > 0)
        {
            await Task.Delay(faults.Faults.SlowMs, context.RequestAborted);
        }
        if (mode == InferModes.ProofMode)
        {
            var proven = await proofs.ProveAsync(model, inputs, requestId, context.RequestAborted);
            Settlement.SettlementSetup.RecordServed(context.RequestServices, proven.Inference.Receipt);
            return Results.Bytes(Write(proven.Inference, w => ProofService.WriteProof(w, proven)), "application/json");
        }
        InferenceResult result;
        try
        {
            // The run's memory stays counted until its answer is written.
            result = await inference.ExecuteAsync(model, inputs, requestId, mode, context.RequestAborted, context.Response.RegisterForDispose);
        }
        catch (ApiException ex) when (ex.Code is not ("invalid-input" or "unsupported-model"))
        {
            metrics.InferenceFailed();
            throw;
        }
        Settlement.SettlementSetup.RecordServed(context.RequestServices, result.Receipt);
        // Straight into the response pipe: no growing buffer and final copy of a large answer.
        context.Response.ContentType = "application/json";
        using (var writer = new Utf8JsonWriter(context.Response.BodyWriter))
        {
            WriteBody(writer, result, null);
        }
        await context.Response.BodyWriter.FlushAsync(context.RequestAborted);
        return Results.Empty;
    }

    /// <summary>
    /// The body's "model", "requestId" and "mode", read with one pass of a reader that skips "inputs" (no document
    /// object model of the body, whose size is that of the tensors).
    /// </summary>
    private static (string Model, Hash256 RequestId, string Mode) ReadHeader(byte[] body)
    {
        string? model = null;
        string? requestId = null;
        string? mode = null;
        try
        {
            var reader = new Utf8JsonReader(body, s_reader);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                throw ApiException.BadRequest($"the body should be a JSON object {{\"model\", \"inputs\"}}, not {(reader.TokenType == JsonTokenType.None ? "empty" : reader.TokenType.ToString())}");
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                string key = reader.GetString()!;
                reader.Read();
                switch (key)
                {
                    case "model":
                        model = reader.TokenType == JsonTokenType.String ? reader.GetString()! : throw ApiException.BadRequest("\"model\" must be a string");
                        break;
                    case "requestId":
                        requestId = reader.TokenType switch
                        {
                            JsonTokenType.Null => null,
                            JsonTokenType.String => reader.GetString()!,
                            _ => throw ApiException.BadRequest("\"requestId\" must be 0x + 64 hex digits"),
                        };
                        break;
                    case "mode":
                        mode = reader.TokenType switch
                        {
                            JsonTokenType.Null => null,
                            JsonTokenType.String => reader.GetString()!,
                            _ => throw ApiException.BadRequest("\"mode\" must be a string"),
                        };
                        break;
                    default:
                        reader.Skip();
                        break;
                }
            }
            if (reader.Read())
            {
                throw ApiException.BadRequest("the body has content after its JSON object");
            }
        }
        catch (JsonException ex)
        {
            throw ApiException.BadRequest($"the body is not valid JSON: {ex.Message}");
        }
        catch (InvalidOperationException)
        {
            // Utf8JsonReader.GetString on a string that is not valid UTF-8.
            throw ApiException.BadRequest("the body contains a string that is not valid UTF-8");
        }
        var id = requestId is null
            ? new Hash256(RandomNumberGenerator.GetBytes(32))
            : Hash256.TryParse(requestId, out var parsed) ? parsed : throw ApiException.BadRequest("\"requestId\" must be 0x + 64 hex digits");
        return (model ?? throw ApiException.BadRequest("\"model\" must be a string"), id, mode ?? Receipt.AttestedMode);
    }

    /// <summary>The crash-after fault: die without answering (the whole process, or this host in in-process tests).</summary>
    private static IResult Crash(HttpContext context, FaultInjector faults, Microsoft.AspNetCore.Hosting.Server.IServer server, ILoggerFactory loggers)
    {
        Log.FaultCrash(loggers.CreateLogger("Prova.Node.Faults"), faults.Faults.CrashAfter!.Value + 1);
        if (!faults.CrashInProcess)
        {
            // A hard stop, like a power cut: no graceful shutdown, no answer.
            System.Diagnostics.Process.GetCurrentProcess().Kill();
        }
        // In-process: stop listening (new connections are refused), drop this request, stop gossiping.
        faults.MarkCrashing();
        context.Abort();
        _ = Task.Run(async () =>
        {
            try
            {
                await server.StopAsync(CancellationToken.None);
            }
            finally
            {
                faults.MarkCrashed();
            }
        });
        return Results.Empty;
    }

    private static byte[] Write(InferenceResult result, Action<Utf8JsonWriter>? extra = null)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            WriteBody(writer, result, extra);
        }
        return buffer.WrittenSpan.ToArray();
    }

    private static void WriteBody(Utf8JsonWriter writer, InferenceResult result, Action<Utf8JsonWriter>? extra)
    {
        var r = result.Receipt;
        writer.WriteStartObject();
        writer.WriteString("model", r.Model.ToString());
        writer.WriteString("mode", r.Mode);
        writer.WriteString("requestId", r.RequestId.ToString());
        writer.WritePropertyName("outputs");
        TensorJson.WriteTensorMap(writer, result.Outputs);
        writer.WriteString("inputHash", r.InputHash.ToString());
        writer.WriteString("outputHash", r.OutputHash.ToString());
        writer.WritePropertyName("receipt");
        r.WriteJson(writer);
        writer.WriteNumber("latencyMs", Math.Round(result.LatencyMs, 3));
        extra?.Invoke(writer);
        writer.WriteEndObject();
    }
}
