using System.Diagnostics;
using Prova.Core;
using Prova.Onnx;
using Prova.Runtime;

namespace Prova.Cli;

/// <summary>Timing statistics of repeated runs.</summary>
internal sealed record BenchResult(int Iterations, double MedianMs, double P99Ms, double MinMs);

/// <summary>Loading, running and timing models for the commands.</summary>
internal static class ModelRunner
{
    public static OnnxModel LoadModel(string path)
    {
        if (Directory.Exists(path))
        {
            throw new CliException($"model '{path}' is a directory, not an ONNX file");
        }
        if (!File.Exists(path))
        {
            throw new CliException($"model file '{path}' does not exist");
        }
        try
        {
            return OnnxLoader.Load(path);
        }
        catch (Exception ex) when (ex is not ProvaException and not OutOfMemoryException and not NotImplementedException)
        {
            // Whatever the loader trips over in a file (I/O, protobuf), the file is the problem.
            throw new CliException($"cannot load model '{path}': {ex.Message}", ex);
        }
    }

    public static Dictionary<string, Tensor> ReadInputs(string path)
    {
        if (Directory.Exists(path))
        {
            throw new CliException($"input file '{path}' is a directory, not a JSON file");
        }
        if (!File.Exists(path))
        {
            throw new CliException($"input file '{path}' does not exist");
        }
        try
        {
            return TensorJson.ReadRequestFile(path);
        }
        catch (TensorFormatException ex)
        {
            throw new CliException($"{path}: {ex.Message}", ex);
        }
    }

    /// <summary>Runs once, then again while that took under 100 ms in all (at most 5 runs), so the next run is warm.</summary>
    public static void WarmUp(InferenceSession session, IReadOnlyDictionary<string, Tensor> inputs)
    {
        long start = Stopwatch.GetTimestamp();
        session.Run(inputs);
        for (int i = 1; i < 5 && Stopwatch.GetElapsedTime(start).TotalMilliseconds < 100; i++)
        {
            session.Run(inputs);
        }
    }

    /// <summary>One run, timed.</summary>
    public static (Dictionary<string, Tensor> Outputs, double Ms) TimedRun(InferenceSession session, IReadOnlyDictionary<string, Tensor> inputs)
    {
        long start = Stopwatch.GetTimestamp();
        var outputs = session.Run(inputs);
        return (outputs, Stopwatch.GetElapsedTime(start).TotalMilliseconds);
    }

    /// <summary>
    /// Times <paramref name="iterations"/> runs after a few warm-up runs; <paramref name="progress"/>
    /// is told after each timed run. <paramref name="timeBudget"/>, if given, stops early (at least
    /// 10 runs are always timed).
    /// </summary>
    public static BenchResult Bench(InferenceSession session, IReadOnlyDictionary<string, Tensor> inputs, int iterations,
        Action<int>? progress = null, TimeSpan? timeBudget = null)
    {
        int warmup = Math.Clamp(iterations / 10, 2, 20);
        for (int i = 0; i < warmup; i++)
        {
            session.Run(inputs);
        }
        var times = new List<double>(iterations);
        long begin = Stopwatch.GetTimestamp();
        for (int i = 0; i < iterations; i++)
        {
            times.Add(TimedRun(session, inputs).Ms);
            progress?.Invoke(i + 1);
            if (timeBudget is { } budget && i >= 9 && Stopwatch.GetElapsedTime(begin) > budget)
            {
                break;
            }
        }
        return Stats(times);
    }

    public static BenchResult Stats(List<double> times)
    {
        var sorted = times.ToArray();
        Array.Sort(sorted);
        int n = sorted.Length;
        double median = n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
        // Nearest-rank percentile.
        double p99 = sorted[Math.Clamp((int)Math.Ceiling(0.99 * n) - 1, 0, n - 1)];
        return new BenchResult(n, median, p99, sorted[0]);
    }
}
