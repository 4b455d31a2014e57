using Microsoft.Extensions.Options;
using Prova.Core.Content;
using Prova.Node.Hosting;
using Prova.Node.Store;

namespace Prova.Node.Api;

/// <summary>Upload of bundles (folder models): announce the bundle manifest, then each file as ordinary content (docs/node-api.md).</summary>
internal static class BundleEndpoints
{
    public sealed record BundleFileResponse(string Path, string Cid, long Size, bool Announced, int Missing, bool Complete);

    public sealed record BundleStatusResponse(string Cid, long Size, int FileCount, IReadOnlyList<BundleFileResponse> Files, bool Complete);

    public static void Map(IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/bundles").WithTags("upload");
        group.MapPost("/", Announce).WithSummary("Announce a bundle manifest; returns each file's upload state")
            .Accepts<byte[]>("application/octet-stream").Produces<BundleStatusResponse>(200).Produces<BundleStatusResponse>(201);
        group.MapGet("/{cid}", Status).WithSummary("Upload state of an announced bundle").Produces<BundleStatusResponse>();
    }

    internal static BundleStatusResponse ToResponse(BundleStatus s) => new(
        s.Cid.ToString(), s.Manifest.Size, s.Manifest.Files.Count,
        s.Files.Select(f => new BundleFileResponse(f.File.Path, f.File.Cid.ToString(), f.File.Size, f.Announced, f.Missing, f.Complete)).ToArray(),
        s.Complete);

    /// <summary>Decodes a bundle manifest and checks it against this node's limits (422 / 413 naming the limit).</summary>
    internal static BundleManifest Check(byte[] bytes, NodeOptions o, ContentStore store)
    {
        BundleManifest bundle;
        try
        {
            bundle = BundleManifest.Decode(bytes);
        }
        catch (ContentFormatException ex)
        {
            throw new ApiException(422, "invalid-manifest", ex.Message);
        }
        foreach (var f in bundle.Files)
        {
            if (f.Size > o.MaxBundleFileBytes)
            {
                throw ApiException.TooLarge("MaxBundleFileBytes", o.MaxBundleFileBytes, $"'{f.Path}' ({f.Size} bytes)");
            }
            if (store.Manifest(f.Cid) is { } known && known.Size != f.Size)
            {
                throw new ApiException(422, "invalid-manifest", $"'{f.Path}' is listed with {f.Size} bytes but its CID {f.Cid} names {known.Size} bytes");
            }
        }
        if (bundle.Size > o.MaxBundleBytes)
        {
            throw ApiException.TooLarge("MaxBundleBytes", o.MaxBundleBytes, $"the bundle ({bundle.Size} bytes in {bundle.Files.Count} files)");
        }
        return bundle;
    }

    private static async Task<IResult> Announce(HttpContext context, ContentStore store, IOptions<NodeOptions> options)
    {
        var o = options.Value;
        byte[] body = await Body.ReadAsync(context, o.MaxRequestBytes, "MaxRequestBytes", "the bundle manifest");
        var bundle = Check(body, o, store);
        var status = store.AnnounceBundle(bundle, BlobEndpoints.ClientOf(context), out bool created);
        var response = ToResponse(status);
        return created ? Results.Created($"/v1/bundles/{response.Cid}", response) : Results.Ok(response);
    }

    private static IResult Status(string cid, ContentStore store)
    {
        var parsed = BlobEndpoints.ParseCid(cid);
        var status = store.BundleStatusOf(parsed) ?? throw UnknownBundle(parsed);
        return Results.Ok(ToResponse(status));
    }

    internal static ApiException UnknownBundle(Cid cid) =>
        new(404, "unknown-blob", $"bundle {cid} was never announced on this node; POST its manifest to /v1/bundles first");
}
