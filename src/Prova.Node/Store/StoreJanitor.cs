using Microsoft.Extensions.Options;
using Prova.Node.Hosting;

namespace Prova.Node.Store;

/// <summary>
/// Runs <see cref="ContentStore.CollectGarbage"/> (which also runs when the store opens) every quarter of
/// <see cref="NodeOptions.UnpublishedMaxAgeSeconds"/> (at least every second, at most every 10 minutes), so
/// unpublished content never outlives that age by much more than a quarter of it.
/// </summary>
public sealed class StoreJanitor(ContentStore store, IOptions<NodeOptions> options, TimeProvider time, ILogger<StoreJanitor> logger) : BackgroundService
{
    /// <summary>Time between two collections.</summary>
    public TimeSpan Interval { get; } = TimeSpan.FromSeconds(Math.Clamp(options.Value.UnpublishedMaxAgeSeconds / 4.0, 1, 600));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await Task.Delay(Interval, time, stoppingToken);
                try
                {
                    store.CollectGarbage();
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or Microsoft.Data.Sqlite.SqliteException)
                {
                    Log.GarbageCollectionFailed(logger, ex);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
