using System.Globalization;
using System.Text.Json;
using Prova.Core.Crypto;
using Prova.Node.Api;
using Prova.Node.Hosting;

namespace Prova.Node.Settlement;

/// <summary>
/// Chain mode's HTTP API (docs/settlement-node.md): <c>GET /v1/settlement</c> (status),
/// <c>GET /v1/settlement/receipts/{requestId}</c> (a batched receipt's inclusion proof, what a challenger needs)
/// and <c>POST /v1/settlement/vouchers</c> (a client's payment voucher). 404 <c>chain-mode-off</c> without a chain.
/// </summary>
internal static class SettlementEndpoints
{
    public const int MaxVoucherBytes = 4096;

    public static void Map(IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/settlement").WithTags("settlement");
        group.MapGet("", Status).WithSummary("Chain mode: registration, batches, fees, votes").Produces<JsonElement>(200, "application/json");
        group.MapGet("/receipts/{requestId}", Inclusion).WithSummary("A batched receipt with its Merkle inclusion proof").Produces<JsonElement>(200, "application/json");
        group.MapPost("/vouchers", OfferVoucher).WithSummary("A client's cumulative payment voucher for this node")
            .Accepts<JsonElement>("application/json").Produces<JsonElement>(200, "application/json");
    }

    private static SettlementService Service(HttpContext context)
    {
        var mode = context.RequestServices.GetRequiredService<SettlementMode>();
        return mode.Enabled
            ? context.RequestServices.GetRequiredService<SettlementService>()
            : throw new ApiException(404, "chain-mode-off", "this node runs without a chain (start it with --chain URL --deployment FILE)");
    }

    private static IResult Status(HttpContext context, NodeIdentity identity)
    {
        var service = Service(context);
        var s = service.Status();
        return Results.Json(new Dictionary<string, object?>
        {
            ["node"] = identity.Address.ToString(),
            ["chainId"] = service.Deployment.ChainId.ToString(CultureInfo.InvariantCulture),
            ["settlement"] = service.Deployment.Settlement.ToString(),
            ["registered"] = s.Registered,
            ["pendingReceipts"] = s.Pending,
            ["batchesPosted"] = s.BatchesPosted,
            ["batchesCollected"] = s.BatchesCollected,
            ["feesCollected"] = s.FeesCollected.ToString(CultureInfo.InvariantCulture),
            ["votes"] = s.Votes,
            ["fulfilled"] = s.Fulfilled,
            ["lastError"] = s.LastError,
        });
    }

    private static IResult Inclusion(HttpContext context, string requestId)
    {
        var log = Service(context).Receipts;
        if (!Hash256.TryParse(requestId, out var id))
        {
            throw ApiException.BadRequest("requestId must be 0x + 64 hex digits");
        }
        var inclusion = log.Inclusion(id)
            ?? throw new ApiException(404, "not-batched", $"no batched receipt answers request {id} here (unknown, or not batched yet)");
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("batchId", inclusion.Batch.ChainBatchId);
            writer.WriteString("root", inclusion.Batch.Root.ToString());
            writer.WriteNumber("count", inclusion.Batch.Count);
            writer.WriteNumber("index", inclusion.Index);
            writer.WriteStartArray("proof");
            foreach (var sibling in inclusion.Proof)
            {
                writer.WriteStringValue(sibling.ToString());
            }
            writer.WriteEndArray();
            writer.WritePropertyName("receipt");
            inclusion.Receipt.WriteJson(writer);
            writer.WriteEndObject();
        }
        return Results.Bytes(buffer.ToArray(), "application/json");
    }

    private static async Task<IResult> OfferVoucher(HttpContext context, NodeIdentity identity)
    {
        var service = Service(context);
        var log = service.Receipts;
        byte[] body = await Body.ReadAsync(context, MaxVoucherBytes, "MaxVoucherBytes", "the voucher");
        Voucher voucher;
        try
        {
            using var document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 4 });
            voucher = Voucher.FromJson(document.RootElement);
        }
        catch (JsonException ex)
        {
            throw ApiException.BadRequest($"the body is not valid JSON: {ex.Message}");
        }
        catch (FormatException ex)
        {
            throw new ApiException(400, "invalid-voucher", ex.Message);
        }
        if (voucher.Node != identity.Address)
        {
            throw new ApiException(400, "invalid-voucher", $"the voucher is for node {voucher.Node}, this node is {identity.Address}");
        }
        if (!voucher.IsSignedByClient(service.Deployment.ChainId, service.Deployment.Settlement))
        {
            throw new ApiException(400, "invalid-voucher", "the voucher's signature does not recover to its client (EIP-712 Voucher in the Settlement contract's domain)");
        }
        bool accepted = log.OfferVoucher(voucher);
        return Results.Json(new Dictionary<string, object?> { ["accepted"] = accepted, ["cumulative"] = voucher.Cumulative.ToString(CultureInfo.InvariantCulture) });
    }
}
