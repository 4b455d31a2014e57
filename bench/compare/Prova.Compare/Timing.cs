using System.Diagnostics;
using System.Runtime;

namespace Prova.Compare;

/// <summary>
/// How long one engine runs one row. Warm-up lasts until at least <see cref="WarmupIters"/> runs and
/// <see cref="WarmupSeconds"/> have passed and the JIT has been quiet (no method compiled, e.g. no
/// tier-1 re-compilation) for the last <see cref="QuietIters"/> runs and <see cref="QuietSeconds"/>,
/// capped by <see cref="WarmupMaxSeconds"/>. Timed runs follow until both <see cref="MinIters"/> and
/// <see cref="MinSeconds"/> are reached (capped by <see cref="MaxSeconds"/>, at least 3 samples).
/// </summary>
public sealed record TimeBox(int WarmupIters, double WarmupSeconds, double WarmupMaxSeconds, int MinIters, double MinSeconds, double MaxSeconds,
    int QuietIters = 10, double QuietSeconds = 0.3)
{
    /// <summary>
    /// The full run: warm until .NET tiered compilation has settled (no compilation for 35 runs, more than
    /// its 30-call promotion threshold), then ≥ 20 samples and ≥ 1.5 s.
    /// </summary>
    public static TimeBox Full { get; } = new(WarmupIters: 20, WarmupSeconds: 0.5, WarmupMaxSeconds: 12, MinIters: 20, MinSeconds: 1.5, MaxSeconds: 4, QuietIters: 35, QuietSeconds: 0.5);

    public static TimeBox Quick { get; } = new(WarmupIters: 3, WarmupSeconds: 0, WarmupMaxSeconds: 0.5, MinIters: 5, MinSeconds: 0.1, MaxSeconds: 0.5, QuietIters: 0, QuietSeconds: 0);

    /// <summary>Per-op profiling: many small runs, so a tighter box.</summary>
    public static TimeBox Profile { get; } = new(WarmupIters: 20, WarmupSeconds: 0.1, WarmupMaxSeconds: 3, MinIters: 15, MinSeconds: 0.3, MaxSeconds: 1, QuietIters: 10, QuietSeconds: 0.2);
}

/// <summary>Latency statistics of one engine on one row.</summary>
public sealed record Measurement(int Iterations, double MedianMs, double P99Ms, double MinMs)
{
    public static Measurement Run(Action body, TimeBox box)
    {
        long start = Stopwatch.GetTimestamp();
        long jitCount = JitInfo.GetCompiledMethodCount();
        long quietSince = start;
        int quietIters = 0;
        for (int i = 0; ; i++)
        {
            long now = Stopwatch.GetTimestamp();
            double elapsed = Stopwatch.GetElapsedTime(start, now).TotalSeconds;
            bool quiet = quietIters >= box.QuietIters && Stopwatch.GetElapsedTime(quietSince, now).TotalSeconds >= box.QuietSeconds;
            bool done = i >= box.WarmupIters && elapsed >= box.WarmupSeconds && quiet;
            if (done || (i >= 1 && elapsed >= box.WarmupMaxSeconds))
            {
                break;
            }
            body();
            long count = JitInfo.GetCompiledMethodCount();
            if (count != jitCount)
            {
                jitCount = count;
                quietSince = Stopwatch.GetTimestamp();
                quietIters = 0;
            }
            else
            {
                quietIters++;
            }
        }
        var samples = new List<double>();
        start = Stopwatch.GetTimestamp();
        while (true)
        {
            long a = Stopwatch.GetTimestamp();
            body();
            long b = Stopwatch.GetTimestamp();
            samples.Add(Stopwatch.GetElapsedTime(a, b).TotalMilliseconds);
            double elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
            if ((samples.Count >= box.MinIters && elapsed >= box.MinSeconds) || (samples.Count >= 3 && elapsed >= box.MaxSeconds))
            {
                break;
            }
        }
        return FromSamples(samples);
    }

    public static Measurement FromSamples(List<double> samples)
    {
        var sorted = samples.ToArray();
        Array.Sort(sorted);
        int n = sorted.Length;
        double median = n % 2 == 1 ? sorted[n / 2] : (sorted[(n / 2) - 1] + sorted[n / 2]) / 2;
        // Nearest-rank percentile, the same rule as bench/ort/bench.js.
        int rank = (int)Math.Ceiling(0.99 * n);
        double p99 = sorted[Math.Clamp(rank - 1, 0, n - 1)];
        return new Measurement(n, median, p99, sorted[0]);
    }
}
