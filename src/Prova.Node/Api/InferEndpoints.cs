using System.Buffers;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Prova.Core;
using Prova.Core.Crypto;
using Prova.Core.Receipts;
using Prova.Node.Hosting;
using Prova.Node.Inference;

namespace Prova.Node.Api;

/// <summary><c>POST /v1/infer</c>: run a model, return outputs and a signed receipt (docs/node-api.md).</summary>
internal static class InferEndpoints
{
    public const string RateLimitPolicy = "infer";

    private static readonly JsonDocumentOptions s_json = new() { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip, MaxDepth = 128 };

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/infer", Infer).WithTags("inference").WithSummary("Run a model on named input tensors; returns outputs and a signed receipt")
            .Accepts<JsonElement>("application/json").Produces<JsonElement>(200, "application/json")
            .RequireRateLimiting(RateLimitPolicy);
    }

    private static async Task<IResult> Infer(HttpContext context, InferenceService inference, NodeMetrics metrics, IOptions<NodeOptions> options, ProofService proofs)
    {
        byte[] body = await Body.ReadAsync(context, options.Value.MaxRequestBytes, "MaxRequestBytes", "the request body");
        string modelText;
        Hash256 requestId;
        string mode;
        try
        {
            using var document = JsonDocument.Parse(body, s_json);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw ApiException.BadRequest($"the body should be a JSON object {{\"model\", \"inputs\"}}, not {root.ValueKind}");
            }
            modelText = ModelEndpoints.RequiredString(root, "model");
            requestId = root.TryGetProperty("requestId", out var id) && id.ValueKind != JsonValueKind.Null
                ? id.ValueKind == JsonValueKind.String && Hash256.TryParse(id.GetString(), out var parsed)
                    ? parsed
                    : throw ApiException.BadRequest("\"requestId\" must be 0x + 64 hex digits")
                : new Hash256(RandomNumberGenerator.GetBytes(32));
            mode = root.TryGetProperty("mode", out var m) && m.ValueKind != JsonValueKind.Null
                ? m.ValueKind == JsonValueKind.String ? m.GetString()! : throw ApiException.BadRequest("\"mode\" must be a string")
                : Receipt.AttestedMode;
        }
        catch (JsonException ex)
        {
            throw ApiException.BadRequest($"the body is not valid JSON: {ex.Message}");
        }
        catch (InvalidOperationException)
        {
            // JsonElement.GetString on a string that is not valid UTF-8.
            throw ApiException.BadRequest("the body contains a string that is not valid UTF-8");
        }
        var model = BlobEndpoints.ParseCid(modelText);
        Dictionary<string, Tensor> inputs;
        try
        {
            inputs = TensorJson.ReadNamedTensors(body, "inputs");
        }
        catch (TensorFormatException ex)
        {
            throw ApiException.BadRequest(ex.Message);
        }
        InferModes.Check(mode);
        if (mode == InferModes.ProofMode)
        {
            var proven = await proofs.ProveAsync(model, inputs, requestId, context.RequestAborted);
            Settlement.SettlementSetup.RecordServed(context.RequestServices, proven.Inference.Receipt);
            return Results.Bytes(Write(proven.Inference, w => ProofService.WriteProof(w, proven)), "application/json");
        }
        InferenceResult result;
        try
        {
            result = await inference.ExecuteAsync(model, inputs, requestId, mode, context.RequestAborted);
        }
        catch (ApiException ex) when (ex.Code is not ("invalid-input" or "unsupported-model"))
        {
            metrics.InferenceFailed();
            throw;
        }
        Settlement.SettlementSetup.RecordServed(context.RequestServices, result.Receipt);
        return Results.Bytes(Write(result), "application/json");
    }

    private static byte[] Write(InferenceResult result, Action<Utf8JsonWriter>? extra = null)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
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
        return buffer.WrittenSpan.ToArray();
    }
}
