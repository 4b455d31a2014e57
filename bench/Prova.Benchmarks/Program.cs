using System.Diagnostics;
using BenchmarkDotNet.Running;
using Prova.Benchmarks;
using Prova.Runtime;

// `dotnet run -c Release -- quick` prints Stopwatch medians; anything else goes to BenchmarkDotNet.
if (args.Length > 0 && args[0] == "quick")
{
    Console.WriteLine($"{"kernel",-24} {"threads",7} {"median µs",10} {"GFLOP/s",8}");
    foreach (var name in Catalog.Names)
    {
        foreach (int threads in new[] { 1, 2 })
        {
            var (model, feeds, flops) = Catalog.Build(name);
            using var session = new InferenceSession(model, new SessionOptions { Threads = threads });
            for (int i = 0; i < 20; i++)
            {
                session.Run(feeds);
            }
            int reps = Math.Clamp((int)(2e10 / Math.Max(flops, 1)), 50, 2000);
            var times = new double[reps];
            for (int i = 0; i < reps; i++)
            {
                long t0 = Stopwatch.GetTimestamp();
                session.Run(feeds);
                times[i] = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
            }
            Array.Sort(times);
            double median = times[reps / 2];
            Console.WriteLine($"{name,-24} {threads,7} {median,10:F1} {flops / median / 1e3,8:F1}");
        }
    }
    return;
}
BenchmarkSwitcher.FromAssembly(typeof(KernelBenchmarks).Assembly).Run(args);
