using Microsoft.Extensions.Options;
using Prova.Core.Content;
using Prova.Node.Hosting;
using Prova.Node.Store;

namespace Prova.Node.Api;

/// <summary>Upload: announce a manifest, send chunks, ask what is missing (docs/node-api.md).</summary>
internal static class BlobEndpoints
{
    public sealed record BlobStatusResponse(string Cid, long Size, int ChunkSize, int ChunkCount, int[] Missing, bool Complete);

    public sealed record ChunkResponse(int Index, int Missing, bool Complete);

    public static void Map(IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/blobs").WithTags("upload");
        group.MapPost("/", Announce).WithSummary("Announce a manifest; returns the chunks still missing")
            .Accepts<byte[]>("application/octet-stream").Produces<BlobStatusResponse>(200).Produces<BlobStatusResponse>(201);
        group.MapGet("/{cid}", Status).WithSummary("Upload status of announced content").Produces<BlobStatusResponse>();
        group.MapPut("/{cid}/chunks/{index}", PutChunk).WithSummary("Upload one chunk (verified before it is stored)")
            .Accepts<byte[]>("application/octet-stream").Produces<ChunkResponse>();
    }

    internal static Cid ParseCid(string text) =>
        Cid.TryParse(text, out var cid, out string? problem)
            ? cid
            : throw new ApiException(400, "invalid-cid", $"'{(text.Length > 80 ? text[..77] + "..." : text)}' is not a CID: {problem}");

    internal static int ParseIndex(string text, ModelManifest manifest)
    {
        if (!int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int index)
            || index >= manifest.ChunkCount)
        {
            throw new ApiException(422, "chunk-index", $"chunk index '{(text.Length > 20 ? text[..20] : text)}' is outside 0..{manifest.ChunkCount - 1} for {manifest.Cid}");
        }
        return index;
    }

    private static BlobStatusResponse ToResponse(BlobStatus s) =>
        new(s.Cid.ToString(), s.Manifest.Size, s.Manifest.ChunkSize, s.Manifest.ChunkCount, s.Missing, s.Complete);

    private static async Task<IResult> Announce(HttpContext context, ContentStore store, IOptions<NodeOptions> options)
    {
        var o = options.Value;
        byte[] body = await Body.ReadAsync(context, o.MaxRequestBytes, "MaxRequestBytes", "the manifest");
        var manifest = DecodeManifest(body, o);
        if (store.IsBundleFile(manifest.Cid, manifest.Size))
        {
            // A file of an announced bundle: bundle files have their own limit (ONNX external data can exceed 2 GiB).
            if (manifest.Size > o.MaxBundleFileBytes)
            {
                throw ApiException.TooLarge("MaxBundleFileBytes", o.MaxBundleFileBytes, $"the bundle file ({manifest.Size} bytes)");
            }
        }
        else if (manifest.Size > o.MaxModelBytes)
        {
            throw ApiException.TooLarge("MaxModelBytes", o.MaxModelBytes, $"the model ({manifest.Size} bytes)");
        }
        if (manifest.ChunkSize > o.MaxChunkBytes)
        {
            throw ApiException.TooLarge("MaxChunkBytes", o.MaxChunkBytes, $"the manifest's chunk size ({manifest.ChunkSize} bytes)");
        }
        var status = store.Announce(manifest, ClientOf(context), out bool created);
        var response = ToResponse(status);
        return created ? Results.Created($"/v1/blobs/{response.Cid}", response) : Results.Ok(response);
    }

    private static IResult Status(string cid, ContentStore store)
    {
        var parsed = ParseCid(cid);
        var status = store.Status(parsed) ?? throw UnknownBlob(parsed);
        return Results.Ok(ToResponse(status));
    }

    private static async Task<IResult> PutChunk(string cid, string index, HttpContext context, ContentStore store, NodeMetrics metrics, IOptions<NodeOptions> options)
    {
        var parsed = ParseCid(cid);
        var manifest = store.Manifest(parsed) ?? throw UnknownBlob(parsed);
        int i = ParseIndex(index, manifest);
        byte[] bytes = await Body.ReadAsync(context, options.Value.MaxChunkBytes, "MaxChunkBytes", $"chunk {i}");
        BlobStatus status;
        try
        {
            status = store.PutChunk(manifest, i, bytes);
        }
        catch (ApiException ex) when (ex.Code == "chunk-mismatch")
        {
            metrics.ChunkRejected();
            throw;
        }
        metrics.ChunkStored();
        return Results.Ok(new ChunkResponse(i, status.Missing.Length, status.Complete));
    }

    /// <summary>
    /// Decodes a chunk manifest, refusing from its header alone one of more than <c>MaxManifestChunks</c> chunks or,
    /// beyond one chunk, chunks smaller than <c>MinChunkBytes</c> (422 invalid-manifest naming the setting).
    /// </summary>
    internal static ModelManifest DecodeManifest(byte[] body, NodeOptions o)
    {
        try
        {
            return ModelManifest.Decode(body, o.MaxManifestChunks, o.MinChunkBytes);
        }
        catch (ContentFormatException ex)
        {
            string? limit = ex.Message.Contains("chunks, more than", StringComparison.Ordinal) ? "MaxManifestChunks"
                : ex.Message.Contains("smaller than the", StringComparison.Ordinal) ? "MinChunkBytes"
                : null;
            throw limit is null
                ? new ApiException(422, "invalid-manifest", ex.Message)
                : new ApiException(422, "invalid-manifest", $"{ex.Message} (this node's {limit})", new Dictionary<string, object?> { ["limit"] = limit });
        }
    }

    /// <summary>Whom an upload is charged to: the remote IP address (uploads are not signed).</summary>
    internal static string ClientOf(HttpContext context) =>
        context.Connection.RemoteIpAddress is { } ip
            ? (ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip).ToString()
            : "unknown";

    internal static ApiException UnknownBlob(Cid cid) =>
        new(404, "unknown-blob", $"content {cid} was never announced on this node; POST its manifest to /v1/blobs first");
}
