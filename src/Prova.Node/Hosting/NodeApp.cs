using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http.Timeouts;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using Prova.Node.Api;
using Prova.Node.Inference;
using Prova.Node.Network;
using Prova.Node.Settlement;
using Prova.Node.Store;

namespace Prova.Node.Hosting;

/// <summary>Composes the node: services, middleware and routes. Used by Program, <see cref="NodeHost"/> and tests.</summary>
public static class NodeApp
{
    private static readonly Dictionary<string, string> s_switches = new(StringComparer.Ordinal)
    {
        ["--data-dir"] = "Node:DataDir",
        ["--listen"] = "Node:Listen",
        ["--chain-id"] = "Node:ChainId",
        ["--replicas"] = "Node:Replicas",
        ["--public-url"] = "Node:PublicUrl",
        ["--gossip-interval"] = "Node:GossipIntervalMs",
        ["--fault"] = "Node:Faults",
        ["--chain"] = "Node:Chain",
        ["--deployment"] = "Node:Deployment",
        ["--stake"] = "Node:Stake",
    };

    public static WebApplicationBuilder CreateBuilder(string[] args, Action<NodeOptions>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Configuration.AddCommandLine(args, s_switches);
        var services = builder.Services;
        services.AddOptions<NodeOptions>().BindConfiguration(NodeOptions.Section).Configure(o => configure?.Invoke(o));
        services.AddSingleton<IValidateOptions<NodeOptions>, NodeOptionsValidator>();
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(sp => new StoreDatabase(Path.Combine(Directory.CreateDirectory(sp.GetRequiredService<IOptions<NodeOptions>>().Value.DataDir).FullName, "index.db")));
        services.AddSingleton<ContentStore>();
        services.AddHostedService<StoreJanitor>();
        services.AddSingleton<ModelCatalog>();
        services.AddSingleton<NodeIdentity>();
        services.AddSingleton<NodeMetrics>();
        services.AddSingleton<ReceiptSigner>();
        services.AddSingleton<GenerationService>();
        services.AddSingleton<InferenceService>();
        services.AddSingleton<PeerQuorum>();
        services.AddSingleton<ProofService>();
        services.AddSingleton<FaultInjector>();
        services.AddSingleton<PeerTable>();
        services.AddSingleton<PeerClient>();
        services.AddSingleton<Replicator>();
        services.AddSingleton<PeerService>();
        services.AddHostedService(sp => sp.GetRequiredService<PeerService>());
        SettlementSetup.AddSettlement(services);
        services.AddProblemDetails();
        services.AddOpenApi();
        services.AddOptions<KestrelServerOptions>().Configure<IOptions<NodeOptions>>((kestrel, node) =>
        {
            // Bodies are limited per route (Api/Body.cs), with a 413 that names the setting.
            kestrel.Limits.MaxRequestBodySize = null;
            kestrel.Limits.MaxConcurrentConnections = 4096;
            kestrel.AddServerHeader = false;
            if (NodeOptions.TryParseListen(node.Value.Listen, out var address, out int port))
            {
                kestrel.Listen(address!, port);
            }
        });
        services.AddOptions<RequestTimeoutOptions>().Configure<IOptions<NodeOptions>>((timeouts, node) =>
        {
            timeouts.DefaultPolicy = new RequestTimeoutPolicy
            {
                Timeout = TimeSpan.FromSeconds(node.Value.RequestTimeoutSeconds),
                WriteTimeoutResponse = context => Problems.WriteAsync(context, 504, "timeout",
                    $"the request took longer than RequestTimeoutSeconds ({node.Value.RequestTimeoutSeconds} s)", null, CancellationToken.None),
            };
        });
        services.AddRequestTimeouts();
        services.AddRateLimiter(limiter =>
        {
            limiter.AddPolicy(InferEndpoints.RateLimitPolicy, context =>
            {
                var o = context.RequestServices.GetRequiredService<IOptions<NodeOptions>>().Value;
                return RateLimitPartition.GetConcurrencyLimiter("infer", _ => new ConcurrencyLimiterOptions
                {
                    PermitLimit = o.MaxConcurrentInferences,
                    QueueLimit = o.InferenceQueueLimit,
                    QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
                });
            });
            limiter.OnRejected = (rejected, token) =>
            {
                var context = rejected.HttpContext;
                context.RequestServices.GetRequiredService<NodeMetrics>().InferenceRejected();
                context.Response.Headers.RetryAfter = "1";
                return new ValueTask(Problems.WriteAsync(context, 503, "saturated",
                    "too many inferences in flight (MaxConcurrentInferences + InferenceQueueLimit); retry after 1 s"));
            };
        });
        return builder;
    }

    /// <summary>Builds the app, validates the settings and opens the store and key (so start-up fails fast and clearly).</summary>
    public static WebApplication Build(WebApplicationBuilder builder)
    {
        WebApplication app;
        try
        {
            // Building already creates Kestrel, which reads the settings.
            app = builder.Build();
            _ = app.Services.GetRequiredService<IOptions<NodeOptions>>().Value;
        }
        catch (OptionsValidationException ex)
        {
            throw new NodeStartException("invalid node settings: " + string.Join("; ", ex.Failures));
        }
        _ = app.Services.GetRequiredService<NodeIdentity>();
        _ = app.Services.GetRequiredService<ContentStore>();
        var faults = app.Services.GetRequiredService<FaultInjector>().Faults;
        if (faults.Any)
        {
            Log.FaultsOn(app.Logger, faults.ToString());
        }

        var metrics = app.Services.GetRequiredService<NodeMetrics>();
        app.UseStatusCodePages();
        app.UseRouting();
        app.Use(metrics.Measure);
        app.Use(Problems.Handle);
        app.UseRequestTimeouts();
        app.UseRateLimiter();

        app.MapOpenApi();
        NodeEndpoints.Map(app);
        BlobEndpoints.Map(app);
        BundleEndpoints.Map(app);
        ModelEndpoints.Map(app);
        InferEndpoints.Map(app);
        OpenAiEndpoints.Map(app);
        PeerEndpoints.Map(app);
        SettlementEndpoints.Map(app);
        app.MapFallback((HttpContext context) =>
            throw new ApiException(404, "not-found", $"no route {context.Request.Method} {context.Request.Path}; see /openapi/v1.json"));
        return app;
    }

    /// <summary>The address the server actually listens on (port 0 resolved), once started.</summary>
    public static string? ListeningUrl(WebApplication app) => app.Urls.FirstOrDefault();
}
