using System.Diagnostics;

namespace Prova.Compare;

/// <summary>
/// How long one engine runs one row: warm-up until both <see cref="WarmupIters"/> and
/// <see cref="WarmupSeconds"/> are reached (capped by <see cref="WarmupMaxSeconds"/>), then timed
/// iterations until both <see cref="MinIters"/> and <see cref="MinSeconds"/> are reached (capped by
/// <see cref="MaxSeconds"/>, at least 3 samples).
/// </summary>
public sealed record TimeBox(int WarmupIters, double WarmupSeconds, double WarmupMaxSeconds, int MinIters, double MinSeconds, double MaxSeconds)
{
    /// <summary>The full run: enough warm-up for .NET tiered compilation to settle (it needs ~30 calls), ≥ 20 samples or ≥ 1.5 s.</summary>
    public static TimeBox Full { get; } = new(WarmupIters: 40, WarmupSeconds: 0.5, WarmupMaxSeconds: 3, MinIters: 20, MinSeconds: 1.5, MaxSeconds: 4);

    public static TimeBox Quick { get; } = new(WarmupIters: 3, WarmupSeconds: 0, WarmupMaxSeconds: 0.5, MinIters: 5, MinSeconds: 0.1, MaxSeconds: 0.5);

    /// <summary>Per-op profiling: many small runs, so a tighter box.</summary>
    public static TimeBox Profile { get; } = new(WarmupIters: 30, WarmupSeconds: 0.1, WarmupMaxSeconds: 1, MinIters: 15, MinSeconds: 0.3, MaxSeconds: 1);
}

/// <summary>Latency statistics of one engine on one row.</summary>
public sealed record Measurement(int Iterations, double MedianMs, double P99Ms, double MinMs)
{
    public static Measurement Run(Action body, TimeBox box)
    {
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; ; i++)
        {
            double elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
            bool done = i >= box.WarmupIters && elapsed >= box.WarmupSeconds;
            if (done || (i >= 1 && elapsed >= box.WarmupMaxSeconds))
            {
                break;
            }
            body();
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
