using System.Globalization;
using Microsoft.Extensions.Options;
using Prova.Core.Content;
using Prova.Node.Hosting;
using Prova.Node.Store;

namespace Prova.Node.Api;

/// <summary>Health, metrics and the node's identity.</summary>
internal static class NodeEndpoints
{
    public const string Version = "0.1.0";

    public sealed record Health(string Status, string Node, long Models);

    public sealed record Limits(long MaxModelBytes, int MaxChunkBytes, long MaxRequestBytes, int DefaultChunkSize, long MaxBundleFileBytes, long MaxBundleBytes);

    public sealed record NodeInfo(string Address, string ChainId, string VerifyingContract, string Version, Limits Limits);

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/healthz", (NodeIdentity id, ModelCatalog catalog) => new Health("ok", id.Address.ToString(), catalog.CountDistinctModels()))
            .WithTags("node").WithSummary("Liveness");
        app.MapGet("/metrics", (NodeMetrics metrics, ModelCatalog catalog) =>
                Results.Text(metrics.Render(catalog.CountDistinctModels()), "text/plain; version=0.0.4; charset=utf-8"))
            .WithTags("node").WithSummary("Prometheus metrics").ExcludeFromDescription();
        app.MapGet("/v1/node", (NodeIdentity id, IOptions<NodeOptions> options) =>
            {
                var o = options.Value;
                return new NodeInfo(id.Address.ToString(), id.ChainId.ToString(CultureInfo.InvariantCulture), id.VerifyingContract.ToString(), Version,
                    new Limits(o.MaxModelBytes, o.MaxChunkBytes, o.MaxRequestBytes, ModelManifest.DefaultChunkSize, o.MaxBundleFileBytes, o.MaxBundleBytes));
            })
            .WithTags("node").WithSummary("Identity, chain and limits of this node");
    }
}
