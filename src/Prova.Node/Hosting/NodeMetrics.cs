using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Routing;

namespace Prova.Node.Hosting;

/// <summary>The node's Prometheus metrics (text exposition format 0.0.4), kept with lock-free counters.</summary>
public sealed class NodeMetrics
{
    private static readonly double[] s_buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly ConcurrentDictionary<(string Method, string Route, int Status), long> _requests = new();
    private readonly ConcurrentDictionary<string, Histogram> _latency = new(StringComparer.Ordinal);
    private readonly Histogram _inferenceLatency = new();
    private long _inferencesOk;
    private long _inferencesFailed;
    private long _inferencesRejected;
    private long _chunksStored;
    private long _chunksRejected;

    public void InferenceSucceeded(double seconds)
    {
        Interlocked.Increment(ref _inferencesOk);
        _inferenceLatency.Observe(seconds);
    }

    public void InferenceFailed() => Interlocked.Increment(ref _inferencesFailed);

    public void InferenceRejected() => Interlocked.Increment(ref _inferencesRejected);

    public void ChunkStored() => Interlocked.Increment(ref _chunksStored);

    public void ChunkRejected() => Interlocked.Increment(ref _chunksRejected);

    /// <summary>Middleware: counts every request by method, route template and status, and times it.</summary>
    public async Task Measure(HttpContext context, RequestDelegate next)
    {
        long start = Stopwatch.GetTimestamp();
        try
        {
            await next(context);
        }
        finally
        {
            string route = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? "unmatched";
            _requests.AddOrUpdate((context.Request.Method, route, context.Response.StatusCode), 1, (_, n) => n + 1);
            _latency.GetOrAdd(route, _ => new Histogram()).Observe(Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
    }

    public string Render(long modelsHosted)
    {
        var sb = new StringBuilder();
        sb.Append("# HELP prova_http_requests_total HTTP requests by method, route and status.\n# TYPE prova_http_requests_total counter\n");
        foreach (var ((method, route, status), count) in _requests.OrderBy(p => p.Key.Route, StringComparer.Ordinal).ThenBy(p => p.Key.Status))
        {
            sb.Append(CultureInfo.InvariantCulture, $"prova_http_requests_total{{method=\"{method}\",route=\"{Escape(route)}\",status=\"{status}\"}} {count}\n");
        }
        sb.Append("# HELP prova_http_request_duration_seconds HTTP request latency by route.\n# TYPE prova_http_request_duration_seconds histogram\n");
        foreach (var (route, histogram) in _latency.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            histogram.Render(sb, "prova_http_request_duration_seconds", $"route=\"{Escape(route)}\",");
        }
        sb.Append(CultureInfo.InvariantCulture, $"# HELP prova_models_hosted Distinct published models on this node.\n# TYPE prova_models_hosted gauge\nprova_models_hosted {modelsHosted}\n");
        sb.Append("# HELP prova_inferences_total Inferences by result.\n# TYPE prova_inferences_total counter\n");
        sb.Append(CultureInfo.InvariantCulture, $"prova_inferences_total{{result=\"ok\"}} {Interlocked.Read(ref _inferencesOk)}\n");
        sb.Append(CultureInfo.InvariantCulture, $"prova_inferences_total{{result=\"error\"}} {Interlocked.Read(ref _inferencesFailed)}\n");
        sb.Append(CultureInfo.InvariantCulture, $"# HELP prova_inference_rejected_total Inferences refused because the node was saturated.\n# TYPE prova_inference_rejected_total counter\nprova_inference_rejected_total {Interlocked.Read(ref _inferencesRejected)}\n");
        sb.Append("# HELP prova_inference_duration_seconds Engine time per successful inference.\n# TYPE prova_inference_duration_seconds histogram\n");
        _inferenceLatency.Render(sb, "prova_inference_duration_seconds", "");
        sb.Append(CultureInfo.InvariantCulture, $"# HELP prova_chunks_stored_total Chunks verified and stored.\n# TYPE prova_chunks_stored_total counter\nprova_chunks_stored_total {Interlocked.Read(ref _chunksStored)}\n");
        sb.Append(CultureInfo.InvariantCulture, $"# HELP prova_chunks_rejected_total Chunks refused because they did not match the manifest.\n# TYPE prova_chunks_rejected_total counter\nprova_chunks_rejected_total {Interlocked.Read(ref _chunksRejected)}\n");
        return sb.ToString();
    }

    private static string Escape(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal);

    private sealed class Histogram
    {
        private readonly long[] _counts = new long[s_buckets.Length + 1];
        private long _sumMicros;

        public void Observe(double seconds)
        {
            int i = 0;
            while (i < s_buckets.Length && seconds > s_buckets[i])
            {
                i++;
            }
            Interlocked.Increment(ref _counts[i]);
            Interlocked.Add(ref _sumMicros, (long)(seconds * 1e6));
        }

        public void Render(StringBuilder sb, string name, string labels)
        {
            long cumulative = 0;
            for (int i = 0; i < s_buckets.Length; i++)
            {
                cumulative += Interlocked.Read(ref _counts[i]);
                sb.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{{labels}le=\"{s_buckets[i]}\"}} {cumulative}\n");
            }
            cumulative += Interlocked.Read(ref _counts[^1]);
            sb.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{{labels}le=\"+Inf\"}} {cumulative}\n");
            string plain = labels.TrimEnd(',');
            string braces = plain.Length == 0 ? "" : "{" + plain + "}";
            sb.Append(CultureInfo.InvariantCulture, $"{name}_sum{braces} {Interlocked.Read(ref _sumMicros) / 1e6}\n");
            sb.Append(CultureInfo.InvariantCulture, $"{name}_count{braces} {cumulative}\n");
        }
    }
}
