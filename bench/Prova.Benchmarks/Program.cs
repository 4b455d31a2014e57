using System.Diagnostics;
using BenchmarkDotNet.Running;
using Prova.Benchmarks;
using Prova.Runtime;

// `-- proofs [threads]`: the proof system's core (field, NTT, sumcheck, PCS); see ProofsQuick.cs.
if (args.Length > 0 && args[0] == "proofs")
{
    ProofsQuick.Run(args);
    return;
}

// `-- onnx PATH...` times whole .onnx files (inputs uniform in [0, 1], symbolic dims = env BATCH, default 1).
if (args.Length > 1 && args[0] == "onnx")
{
    int batch = int.Parse(Environment.GetEnvironmentVariable("BATCH") ?? "1");
    foreach (var path in args.Skip(1))
    {
        var model = Prova.Onnx.OnnxLoader.Load(path);
        var rng = new Random(5);
        var feeds = new Dictionary<string, Prova.Core.Tensor>();
        foreach (var input in model.Graph.Inputs)
        {
            var shape = input.Shape!.Select(d => (int)(d.Value ?? batch)).ToArray();
            var data = new float[shape.Aggregate(1, (a, b) => a * b)];
            for (int i = 0; i < data.Length; i++)
            {
                data[i] = (float)rng.NextDouble();
            }
            feeds[input.Name] = Prova.Core.Tensor.Create(shape, data);
        }
        foreach (int threads in new[] { 1, 2 })
        {
            using var session = new InferenceSession(model, new SessionOptions { Threads = threads });
            for (int i = 0; i < 300; i++)
            {
                session.Run(feeds); // past tiered compilation's promotion
            }
            var times = new double[300];
            for (int i = 0; i < times.Length; i++)
            {
                long t0 = Stopwatch.GetTimestamp();
                session.Run(feeds);
                times[i] = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
            }
            Array.Sort(times);
            Console.WriteLine($"{Path.GetFileName(path),-26} {threads,7} {times[times.Length / 2],10:F1}");
        }
    }
    return;
}

// `dotnet run -c Release -- quick` (GEMM/conv shapes) or `-- layers [filter]` (the comparison
// models' conv and pool layers) prints Stopwatch medians; anything else goes to BenchmarkDotNet.
if (args.Length > 0 && (args[0] == "quick" || args[0] == "layers"))
{
    var names = args[0] == "quick" ? Catalog.Names : Catalog.Layers;
    string filter = args.Length > 1 ? args[1] : "";
    Console.WriteLine($"{"kernel",-26} {"threads",7} {"median µs",10} {"GFLOP/s",8}");
    foreach (var name in names)
    {
        if (!name.Contains(filter, StringComparison.Ordinal))
        {
            continue;
        }
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
            Console.WriteLine($"{name,-26} {threads,7} {median,10:F1} {flops / median / 1e3,8:F1}");
        }
    }
    return;
}
BenchmarkSwitcher.FromAssembly(typeof(KernelBenchmarks).Assembly).Run(args);
