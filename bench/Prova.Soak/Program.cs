using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Prova.Cli;
using Prova.Core;
using Prova.Core.Content;
using Prova.Core.Keys;
using Prova.Onnx;
using Prova.Sdk;

// Soak test (issue #14, docs/security.md "Soak"): a devnet of N `prova node start` processes under
// M minutes of mixed traffic — attested and quorum inference, chat, model pushes and pulls,
// malformed requests, and bodies at and over the 64 MiB request limit — while each node's resident
// memory, open file descriptors, threads and store size are sampled. It fails (exit 1) when a node answers a malformed request with
// a 5xx, dies, or when any sampled quantity keeps growing: the maximum over the last half of the run
// (after a warm-up fifth) must stay within 10 % (plus a small slack) of the maximum over the first half.
//   dotnet run -c Release --project bench/Prova.Soak -- [--nodes 3] [--minutes 10] [--sample-seconds 10]
int nodeCount = (int)Arg("--nodes", 3);
double minutes = Arg("--minutes", 10.0);
int sampleSeconds = (int)Arg("--sample-seconds", 10.0);
string root = FindRepository();
var cnnInputs = TensorJson.ReadRequestFile(Path.Combine(root, "models", "examples", "fashion-test-00000.json"));
var duration = TimeSpan.FromMinutes(minutes);
const int MalformedKinds = 10;

Console.WriteLine($"soak: devnet of {nodeCount} node processes, {minutes:0.#} min of mixed traffic, sampling every {sampleSeconds} s, {Environment.ProcessorCount} cores");
await using var devnet = await Devnet.StartAsync(new DevnetOptions { Nodes = nodeCount, Replicas = nodeCount - 1 });
var owner = PrivateKey.Generate();
Cid mlp, cnn, lm;
using (var client = new ProvaClient(devnet.Nodes[0].Url))
{
    mlp = (await client.PushAsync(Path.Combine(root, "models", "fashion-mlp.onnx"), new PushOptions { Name = "fashion-mlp" }, owner)).Cid;
    cnn = (await client.PushAsync(Path.Combine(root, "models", "fashion-cnn.onnx"), new PushOptions { Name = "fashion-cnn" }, owner)).Cid;
    lm = (await client.PushDirectoryAsync(Path.Combine(root, "models", "lm"), new PushOptions { Name = "prova-lm" }, owner)).Cid;
}
foreach (var cid in new[] { mlp, cnn, lm })
{
    await devnet.WaitForReplicasAsync(cid, nodeCount, TimeSpan.FromSeconds(120));
}
Console.WriteLine($"models replicated to all {nodeCount} nodes: fashion-mlp, fashion-cnn, prova-lm");

// A few small distinct models pushed over and over (the store should hold each once).
string scratch = Directory.CreateTempSubdirectory("prova-soak-").FullName;
var pushFiles = Enumerable.Range(0, 4).Select(i =>
{
    string path = Path.Combine(scratch, $"soak-{i}.onnx");
    OnnxWriter.Save(RandomMlp(i), path);
    return path;
}).ToArray();

var counts = new Counts();
var failures = new List<string>();
using var cts = new CancellationTokenSource(duration);
var stop = cts.Token;
using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
var clock = Stopwatch.StartNew();
var samples = new List<Sample>();

var workers = new List<Task>
{
    Loop("infer", async i =>
    {
        using var network = devnet.Network();
        await network.InferAsync(i % 2 == 0 ? mlp : cnn, cnnInputs, i % 5 == 0 ? "quorum:3" : "attested", cancellationToken: stop);
    }),
    Loop("infer", async i =>
    {
        using var network = devnet.Network();
        await network.InferAsync(cnn, cnnInputs, "attested", cancellationToken: stop);
    }),
    Loop("chat", async i =>
    {
        string body = $$"""{"model":"{{lm}}","messages":[{"role":"user","content":"Tell me about the sea, {{i}}"}],"max_tokens":16,"seed":{{i}}}""";
        using var response = await http.PostAsync(Url(i, "/v1/chat/completions"), new StringContent(body, Encoding.UTF8, "application/json"), stop);
        Expect(response, "chat", ok: true);
    }),
    Loop("push", async i =>
    {
        using var client = new ProvaClient(Url(i, "/"));
        await client.PushAsync(pushFiles[i % pushFiles.Length], new PushOptions { Name = $"soak-{i % pushFiles.Length}" }, owner, cancellationToken: stop);
        await Task.Delay(500, stop);
    }),
    Loop("pull", async i =>
    {
        using var client = new ProvaClient(Url(i, "/"));
        string target = Path.Combine(scratch, $"pull-{i}.onnx");
        await client.PullAsync(i % 2 == 0 ? cnn : mlp, target, cancellationToken: stop);
        File.Delete(target);
    }),
    Loop("malformed", async i =>
    {
        var (method, path, content) = Malformed(i);
        using var request = new HttpRequestMessage(method, Url(i, path)) { Content = content };
        using var response = await http.SendAsync(request, stop);
        Expect(response, $"malformed #{i % MalformedKinds} {method} {path}", ok: false);
    }),
    Loop("large", async i =>
    {
        // A body just under the node's 64 MiB request limit (then one over it): refused without
        // the node keeping what it read.
        int megabytes = i % 2 == 0 ? 60 : 70;
        var body = new StringBuilder(megabytes << 20);
        body.Append("{\"model\":\"").Append(mlp).Append("\",\"inputs\":{\"input\":{\"dtype\":\"float32\",\"shape\":[1,784],\"data\":[0.5");
        while (body.Length < (megabytes << 20) - 16)
        {
            body.Append(",0.25");
        }
        body.Append("]}}}");
        using var response = await http.PostAsync(Url(i, "/v1/infer"), Json(body.ToString()), stop);
        Expect(response, $"{megabytes} MB inference body", ok: false);
        await Task.Delay(2000, stop);
    }),
    SampleLoop(),
};
await Task.WhenAll(workers);

Console.WriteLine();
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"requests in {clock.Elapsed.TotalMinutes:F1} min: infer {counts.Get("infer")}, chat {counts.Get("chat")}, push {counts.Get("push")}, pull {counts.Get("pull")}, malformed {counts.Get("malformed")}, 60–70 MB bodies {counts.Get("large")}; client-side errors {counts.Get("error")}"));
bool pass = failures.Count == 0;
foreach (string failure in failures.Distinct().Take(20))
{
    Console.WriteLine("FAIL " + failure);
}
for (int n = 0; n < nodeCount; n++)
{
    var mine = samples.Where(s => s.Node == n).ToList();
    foreach (var (name, get, slack) in new (string, Func<Sample, double>, double)[]
    {
        ("rss MB", s => s.RssMb, 48), ("fds", s => s.Fds, 32), ("threads", s => s.Threads, 8), ("store MB", s => s.StoreMb, 2),
    })
    {
        var (first, last, plateau) = Plateau(mine, get, slack);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"node {n} {name,-9} max first half {first,8:F1}  max last half {last,8:F1}  {(plateau ? "plateau" : "GROWING")}"));
        pass &= plateau;
    }
}
try
{
    Directory.Delete(scratch, recursive: true);
}
catch (IOException)
{
}
Console.WriteLine(pass ? "soak passed" : "soak FAILED");
return pass ? 0 : 1;

Uri Url(int i, string path) => new(devnet.Nodes[i % nodeCount].Url, path);

Task Loop(string kind, Func<int, Task> body) => Task.Run(async () =>
{
    for (int i = 0; !stop.IsCancellationRequested; i++)
    {
        try
        {
            await body(i);
            counts.Add(kind);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return;
        }
        catch (Exception ex) when (ex is ProvaClientException or HttpRequestException or TaskCanceledException)
        {
            // Busy (429/503) or a timeout under load is a client-side error, not a failure of the node;
            // a dead node shows in the samples and the next requests.
            counts.Add("error");
            if (ex is HttpRequestException { StatusCode: null })
            {
                lock (failures)
                {
                    failures.Add($"{kind}: connection failed: {ex.Message}");
                }
            }
            await Task.Delay(100, CancellationToken.None);
        }
    }
});

void Expect(HttpResponseMessage response, string what, bool ok)
{
    int status = (int)response.StatusCode;
    bool good = ok ? status is 200 or 429 or 503 : status is < 500 or 503;
    if (!good)
    {
        lock (failures)
        {
            failures.Add($"{what}: HTTP {status}");
        }
    }
}

Task SampleLoop() => Task.Run(async () =>
{
    while (!stop.IsCancellationRequested)
    {
        var row = new StringBuilder(string.Create(CultureInfo.InvariantCulture, $"{clock.Elapsed.TotalSeconds,6:F0} s"));
        foreach (var node in devnet.Nodes)
        {
            if (!node.IsRunning)
            {
                lock (failures)
                {
                    failures.Add($"node {node.Index} exited");
                }
                continue;
            }
            var s = Measure(node, clock.Elapsed);
            samples.Add(s);
            row.Append(CultureInfo.InvariantCulture, $" | node {node.Index}: rss {s.RssMb:F0} MB, {s.Fds} fds, {s.Threads} threads, store {s.StoreMb:F1} MB");
        }
        Console.WriteLine(row);
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(sampleSeconds), stop);
        }
        catch (OperationCanceledException)
        {
            return;
        }
    }
});

static Sample Measure(DevnetNode node, TimeSpan at)
{
    string status = File.ReadAllText($"/proc/{node.ProcessId}/status");
    double Field(string name)
    {
        int i = status.IndexOf(name + ":", StringComparison.Ordinal);
        string rest = status[(i + name.Length + 1)..].TrimStart();
        return double.Parse(rest[..rest.IndexOfAny([' ', '\n'])], CultureInfo.InvariantCulture);
    }
    int fds = Directory.GetFiles($"/proc/{node.ProcessId}/fd").Length;
    long store = new DirectoryInfo(node.DataDir).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f =>
    {
        try
        {
            return f.Length;
        }
        catch (FileNotFoundException)
        {
            return 0;
        }
    });
    return new Sample(node.Index, at, Field("VmRSS") / 1024, fds, (int)Field("Threads"), store / 1048576.0);
}

// Growth test: ignore the first fifth (start-up, JIT, first loads); the rest's second half may not
// exceed its first half's maximum by more than 10 % plus the slack.
static (double First, double Last, bool Plateau) Plateau(List<Sample> samples, Func<Sample, double> get, double slack)
{
    var steady = samples.Skip(samples.Count / 5).Select(get).ToList();
    if (steady.Count < 2)
    {
        return (double.NaN, double.NaN, true);
    }
    double first = steady.Take(steady.Count / 2).Max();
    double last = steady.Skip(steady.Count / 2).Max();
    return (first, last, last <= first * 1.10 + slack);
}

(HttpMethod, string, HttpContent?) Malformed(int i)
{
    var random = new Random(i);
    byte[] junk = new byte[random.Next(1, 4096)];
    random.NextBytes(junk);
    string cnnJson = File.ReadAllText(Path.Combine(root, "models", "examples", "fashion-test-00000.json"));
    return (i % MalformedKinds) switch
    {
        0 => (HttpMethod.Post, "/v1/infer", Json($$"""{"model":"{{cnn}}","inputs":""" + cnnJson[..(cnnJson.Length / 2)])),
        1 => (HttpMethod.Post, "/v1/infer", Json("{\"model\":\"" + cnn + "\",\"inputs\":{\"input\":{\"dtype\":\"float32\",\"shape\":[1,1,28,29],\"data\":[1]}}}")),
        2 => (HttpMethod.Post, "/v1/infer", new ByteArrayContent(junk) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } }),
        3 => (HttpMethod.Post, "/v1/chat/completions", Json($$"""{"model":"{{lm}}","messages":[{"role":"user","content":"{{new string('a', 2 << 20)}}"}]}""")),
        4 => (HttpMethod.Post, "/v1/chat/completions", Json($$"""{"model":"{{lm}}","messages":"not a list","max_tokens":-5}""")),
        5 => (HttpMethod.Put, $"/v1/blobs/{cnn}/chunks/999999", new ByteArrayContent(junk)),
        6 => (HttpMethod.Post, "/v1/models", Json("""{"cid":"bafy-not-a-cid","name":"x","signature":"0x00"}""")),
        7 => (HttpMethod.Post, "/v1/blobs", new ByteArrayContent(junk)),
        8 => (HttpMethod.Get, $"/v1/models/{cnn}/chunks/-1", null),
        _ => (HttpMethod.Post, "/v1/infer", Json("{\"model\":\"" + cnn + "\",\"inputs\":{\"input\":{\"dtype\":\"float32\",\"shape\":[1,1,28,28],\"data\":[" + string.Join(',', Enumerable.Repeat("1e309", 784)) + "]}}}")),
    };
}

static StringContent Json(string text) => new(text, Encoding.UTF8, "application/json");

static OnnxModel RandomMlp(int seed)
{
    var random = new Random(seed);
    float[] weights = new float[784 * 64];
    for (int i = 0; i < weights.Length; i++)
    {
        weights[i] = (float)(random.NextDouble() - 0.5);
    }
    var b = new ModelBuilder();
    string x = b.Input("input", DataType.Float32, 1, 784);
    string w = b.Initializer("w", Tensor.Create([784, 64], weights));
    b.Output(b.Node("Relu", [b.Node("MatMul", [x, w])]), "output", DataType.Float32, [1, 64]);
    return b.Build();
}

double Arg(string name, double fallback)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? double.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
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

internal sealed record Sample(int Node, TimeSpan At, double RssMb, int Fds, int Threads, double StoreMb);

internal sealed class Counts
{
    private readonly Dictionary<string, long> _counts = [];

    public void Add(string kind)
    {
        lock (_counts)
        {
            _counts[kind] = _counts.GetValueOrDefault(kind) + 1;
        }
    }

    public long Get(string kind)
    {
        lock (_counts)
        {
            return _counts.GetValueOrDefault(kind);
        }
    }
}

