using System.Diagnostics;
using System.Globalization;
using Prova.Cli;
using Prova.Core;
using Prova.Core.Content;
using Prova.Core.Keys;
using Prova.Sdk;

// Network load benchmark (docs/benchmarks.md, "Network"): a devnet of N `prova node start` processes
// on 127.0.0.1, driven by C concurrent clients through Prova.Sdk's ProvaNetwork (discovery, least-
// outstanding routing, every receipt verified), for attested and quorum:3 on the MLP and the CNN.
//   dotnet run -c Release --project bench/Prova.NetBench -- [--nodes 4] [--clients 8] [--seconds 10]
int nodes = Arg("--nodes", 4);
int clients = Arg("--clients", 8);
int seconds = Arg("--seconds", 10);
string root = FindRepository();
string example = Path.Combine(root, "models", "examples", "fashion-test-00000.json");
var inputs = TensorJson.ReadRequestFile(example);

Console.WriteLine($"devnet of {nodes} node processes, {clients} concurrent clients, {seconds} s per row, {Environment.ProcessorCount} cores");
await using var devnet = await Devnet.StartAsync(new DevnetOptions { Nodes = nodes, Replicas = nodes - 1 });
var owner = PrivateKey.Generate();
var rows = new List<string>();
foreach (string name in new[] { "fashion-mlp", "fashion-cnn" })
{
    string path = Path.Combine(root, "models", name + ".onnx");
    Cid cid;
    using (var client = new ProvaClient(devnet.Nodes[0].Url))
    {
        cid = (await client.PushAsync(path, new PushOptions { Name = name }, owner)).Cid;
    }
    await devnet.WaitForReplicasAsync(cid, nodes, TimeSpan.FromSeconds(60));
    foreach (string mode in new[] { "attested", "quorum:3" })
    {
        using var network = devnet.Network();
        // Warm-up: every node loads the model.
        for (int i = 0; i < nodes * 2; i++)
        {
            await network.InferAsync(cid, inputs, "quorum:3");
        }
        var latencies = new List<double>();
        int failures = 0;
        var clock = Stopwatch.StartNew();
        var stopAt = TimeSpan.FromSeconds(seconds);
        await Task.WhenAll(Enumerable.Range(0, clients).Select(async _ =>
        {
            var mine = new List<double>();
            while (clock.Elapsed < stopAt)
            {
                long t = Stopwatch.GetTimestamp();
                try
                {
                    await network.InferAsync(cid, inputs, mode);
                    mine.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
                }
                catch (ProvaClientException)
                {
                    Interlocked.Increment(ref failures);
                }
            }
            lock (latencies)
            {
                latencies.AddRange(mine);
            }
        }));
        double elapsed = clock.Elapsed.TotalSeconds;
        latencies.Sort();
        string row = string.Create(CultureInfo.InvariantCulture,
            $"| {name} | {mode} | {clients} | {latencies.Count / elapsed:F0} | {Percentile(latencies, 0.50):F1} | {Percentile(latencies, 0.99):F1} | {latencies.Count} | {failures} |");
        Console.WriteLine(row);
        rows.Add(row);
    }
}
Console.WriteLine();
Console.WriteLine("| model | mode | clients | requests/s | p50 ms | p99 ms | requests | failed |");
Console.WriteLine("|---|---|---:|---:|---:|---:|---:|---:|");
rows.ForEach(Console.WriteLine);

static double Percentile(List<double> sorted, double p) =>
    sorted.Count == 0 ? double.NaN : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];

int Arg(string name, int fallback)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
}

static string FindRepository()
{
    for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
    {
        if (File.Exists(Path.Combine(dir.FullName, "Prova.slnx")))
        {
            return dir.FullName;
        }
    }
    throw new InvalidOperationException("run from inside the repository (models/ is needed)");
}
