using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Prova.Core;
using Prova.Core.Keys;
using Prova.Node.Hosting;
using Prova.Node.Testing;
using Prova.Onnx;
using Prova.Sdk;

// Node benchmarks (docs/benchmarks.md, "Node"): a real node on loopback (Kestrel, in this process),
// driven through Prova.Sdk with verification on.
//   dotnet run -c Release --project bench/node -- [--size-mb 512] [--seconds 10] [--clients 16] [--skip-transfer]
int sizeMb = Arg("--size-mb", 512);
int seconds = Arg("--seconds", 10);
int clients = Arg("--clients", 16);
bool skipTransfer = args.Contains("--skip-transfer");

string root = Directory.CreateTempSubdirectory("prova-node-bench-").FullName;
try
{
    await using var node = await NodeHost.StartAsync(new NodeOptions
    {
        DataDir = Path.Combine(root, "node"),
        Listen = "127.0.0.1:0",
        KeyPassword = "bench",
        InferenceQueueLimit = 1024,
    }, services => services.AddLightKeystore(), LogLevel.Warning);
    var owner = PrivateKey.Generate();
    Console.WriteLine($"node {node.Address} at {node.Url}; {Environment.ProcessorCount} cores");

    if (!skipTransfer)
    {
        await Transfer(node, owner, root, sizeMb);
    }
    await Inference(node, owner, root, seconds, clients);
}
finally
{
    Directory.Delete(root, recursive: true);
}

static async Task Transfer(NodeHost node, PrivateKey owner, string root, int sizeMb)
{
    // A Gemm whose weight initializer is sizeMb MiB of float32 (raw data): a real, loadable ONNX model.
    int cols = 4096;
    int rows = (int)((long)sizeMb * (1 << 20) / 4 / cols);
    string path = Path.Combine(root, "big.onnx");
    {
        var rng = new Random(1);
        var weights = new float[(long)rows * cols];
        for (long i = 0; i < weights.Length; i++)
        {
            weights[i] = (float)rng.NextDouble();
        }
        var b = new ModelBuilder(opset: 17, graphName: "big");
        var x = b.Input("x", DataType.Float32, 1, cols);
        var w = b.Initializer("w", Tensor.Create([rows, cols], weights));
        b.Output(b.Node("Gemm", [x, w], [("transB", 1L)]), "y", DataType.Float32, [1, rows]);
        File.WriteAllBytes(path, OnnxWriter.Write(b.Build()));
    }
    long bytes = new FileInfo(path).Length;
    Console.WriteLine($"model: {bytes / 1e6:0.0} MB ({rows}×{cols} float32 weights)");

    using var client = new ProvaClient(node.Url, new ProvaClientOptions { Parallelism = 4 });
    double uploadSeconds = 0;
    long uploadStart = 0;
    var progress = new Progress(p =>
    {
        if (p.BytesTransferred == 0)
        {
            uploadStart = Stopwatch.GetTimestamp();
        }
        else if (p.BytesDone == p.TotalBytes)
        {
            uploadSeconds = Stopwatch.GetElapsedTime(uploadStart).TotalSeconds;
        }
    });
    var pushed = await client.PushAsync(path, new PushOptions { Name = "bench/big" }, owner, progress);
    double push = pushed.Elapsed.TotalSeconds;
    Console.WriteLine($"push: {push:0.00} s total = {bytes / 1e6 / push:0} MB/s (manifest hashing + upload with per-chunk verification + fsync + publish/ONNX load); upload phase {uploadSeconds:0.00} s = {bytes / 1e6 / uploadSeconds:0} MB/s");

    string target = Path.Combine(root, "pulled.onnx");
    var pulled = await client.PullAsync(pushed.Cid, target);
    double pull = pulled.Elapsed.TotalSeconds;
    Console.WriteLine($"pull: {pull:0.00} s = {bytes / 1e6 / pull:0} MB/s (manifest vs CID, every chunk vs manifest, node re-verifies on read, fsync + rename)");
    File.Delete(target);
}

static async Task Inference(NodeHost node, PrivateKey owner, string root, int seconds, int clients)
{
    var rng = new Random(2);
    var b = new ModelBuilder(opset: 17, graphName: "mlp");
    var x = b.Input("x", DataType.Float32, 1, 784);
    var w1 = b.Initializer("w1", Tensor.Create([128, 784], Uniform(rng, 128 * 784)));
    var b1 = b.Initializer("b1", Tensor.Create([128], Uniform(rng, 128)));
    var h = b.Node("Relu", [b.Node("Gemm", [x, w1, b1], [("transB", 1L)])]);
    var w2 = b.Initializer("w2", Tensor.Create([10, 128], Uniform(rng, 1280)));
    var b2 = b.Initializer("b2", Tensor.Create([10], Uniform(rng, 10)));
    b.Output(b.Node("Gemm", [h, w2, b2], [("transB", 1L)]), "y", DataType.Float32, [1, 10]);
    string path = Path.Combine(root, "mlp.onnx");
    File.WriteAllBytes(path, OnnxWriter.Write(b.Build()));

    using var client = new ProvaClient(node.Url);
    var cid = (await client.PushAsync(path, new PushOptions { Name = "bench/mlp" }, owner)).Cid;
    var inputs = new Dictionary<string, Tensor> { ["x"] = Tensor.Create([1, 784], Uniform(rng, 784)) };
    for (int i = 0; i < 50; i++)
    {
        await client.InferAsync(cid, inputs);
    }

    long count = 0;
    long failures = 0;
    var latencies = new List<double>[clients];
    var stop = Stopwatch.StartNew();
    var deadline = TimeSpan.FromSeconds(seconds);
    var tasks = Enumerable.Range(0, clients).Select(c => Task.Run(async () =>
    {
        var mine = latencies[c] = [];
        while (stop.Elapsed < deadline)
        {
            long t = Stopwatch.GetTimestamp();
            var result = await client.InferAsync(cid, inputs);
            mine.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
            if (!result.Verification.IsValid)
            {
                Interlocked.Increment(ref failures);
            }
            Interlocked.Increment(ref count);
        }
    })).ToArray();
    await Task.WhenAll(tasks);
    double elapsed = stop.Elapsed.TotalSeconds;
    var all = latencies.SelectMany(l => l).Order().ToArray();
    Console.WriteLine($"infer: MLP 784-128-10 batch 1, {clients} concurrent clients, {elapsed:0.0} s: {count} requests = {count / elapsed:0} req/s; " +
        $"latency p50 {all[all.Length / 2]:0.00} ms, p99 {all[(int)(all.Length * 0.99)]:0.00} ms; receipts failing verification: {failures}");
}

static float[] Uniform(Random rng, int count)
{
    var data = new float[count];
    for (int i = 0; i < count; i++)
    {
        data[i] = (float)(rng.NextDouble() * 2 - 1) * 0.1f;
    }
    return data;
}

int Arg(string name, int fallback)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture) : fallback;
}

sealed class Progress(Action<TransferProgress> report) : IProgress<TransferProgress>
{
    public void Report(TransferProgress value) => report(value);
}
