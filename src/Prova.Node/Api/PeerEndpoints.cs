using System.Text.Json;
using Prova.Node.Network;

namespace Prova.Node.Api;

/// <summary><c>GET /v1/peers</c> and <c>POST /v1/peers/announce</c> (docs/network.md).</summary>
internal static class PeerEndpoints
{
    public static void Map(IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/peers").WithTags("peers");
        group.MapGet("/", List).WithSummary("This node's signed record and the records of the peers it knows")
            .Produces<JsonElement>(200, "application/json");
        group.MapPost("/announce", Announce).WithSummary("A peer announces its signed record; answers like GET /v1/peers")
            .Accepts<JsonElement>("application/json").Produces<JsonElement>(200, "application/json");
    }

    private static IResult List(PeerService peers, PeerTable table) =>
        Results.Bytes(PeerList.Write(peers.Self(), table.Records()), "application/json");

    private static async Task<IResult> Announce(HttpContext context, PeerService peers, PeerTable table)
    {
        byte[] body = await Body.ReadAsync(context, PeerRecord.MaxRecordBytes, "MaxPeerRecordBytes", "the peer record");
        PeerRecord record;
        try
        {
            using var document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 8 });
            record = PeerRecord.FromJson(document.RootElement);
            peers.AcceptAnnounce(record);
        }
        catch (JsonException ex)
        {
            throw ApiException.BadRequest($"the body is not valid JSON: {ex.Message}");
        }
        catch (InvalidOperationException)
        {
            throw ApiException.BadRequest("the body contains a string that is not valid UTF-8");
        }
        catch (PeerRecordException ex)
        {
            throw new ApiException(400, "invalid-peer-record", ex.Message);
        }
        return Results.Bytes(PeerList.Write(peers.Self(), table.Records()), "application/json");
    }
}
