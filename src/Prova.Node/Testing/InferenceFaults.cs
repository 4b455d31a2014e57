using Microsoft.AspNetCore.Hosting.Server;
using Prova.Node.Network;

namespace Prova.Node.Testing;

/// <summary>
/// The slow and crash-after faults of <c>POST /v1/infer</c>, as middleware in front of the node's own pipeline
/// (an <see cref="IStartupFilter"/>, so the node's request paths hold no fault checks). Crash-after serves n
/// inference requests, then dies on the next one without answering: the whole process (a power cut), or with
/// crash-in-process only this host (it stops listening and gossiping; <see cref="Crashed"/> is then cancelled).
/// </summary>
internal sealed partial class InferenceFaults(NodeFaults faults, bool crashInProcess) : IStartupFilter
{
    private readonly CancellationTokenSource _crashed = new();
    private long _inferences;

    public CancellationToken Crashed => _crashed.Token;

    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        var services = app.ApplicationServices;
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("Prova.Node.Faults");
        FaultsOn(logger, faults.ToString());
        app.Use(async (context, nextMiddleware) =>
        {
            if (HttpMethods.IsPost(context.Request.Method) && context.Request.Path.Equals("/v1/infer", StringComparison.Ordinal))
            {
                if (faults.CrashAfter is int n && Interlocked.Increment(ref _inferences) > n)
                {
                    Crash(context, logger, n + 1);
                    return;
                }
                if (faults.SlowMs > 0)
                {
                    await Task.Delay(faults.SlowMs, context.RequestAborted);
                }
            }
            await nextMiddleware(context);
        });
        next(app);
    };

    private void Crash(HttpContext context, ILogger logger, long count)
    {
        FaultCrash(logger, count);
        if (!crashInProcess)
        {
            // A hard stop, like a power cut: no graceful shutdown, no answer.
            System.Diagnostics.Process.GetCurrentProcess().Kill();
        }
        // In-process: stop gossiping at once, drop this request, stop listening (new connections are refused).
        var services = context.RequestServices;
        var gossip = services.GetRequiredService<PeerService>().StopAsync(CancellationToken.None);
        var server = services.GetRequiredService<IServer>();
        context.Abort();
        _ = Task.Run(async () =>
        {
            try
            {
                await gossip;
                await server.StopAsync(CancellationToken.None);
            }
            finally
            {
                _crashed.Cancel();
            }
        });
    }

    [LoggerMessage(27, LogLevel.Warning, "FAULT INJECTION IS ON ({Faults}): this node misbehaves on purpose, for tests only")]
    private static partial void FaultsOn(ILogger logger, string faults);

    [LoggerMessage(28, LogLevel.Critical, "Fault crash-after: crashing on inference request {Count}")]
    private static partial void FaultCrash(ILogger logger, long count);
}
