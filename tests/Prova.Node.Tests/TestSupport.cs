using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Prova.Core;
using Prova.Core.Content;
using Prova.Core.Keys;
using Prova.Node.Hosting;
using Prova.Node.Testing;
using Prova.Onnx;

namespace Prova.Node.Tests;

internal static class TestModels
{
    /// <summary>An MLP x float32 [1, in] → Gemm → Relu → Gemm → y float32 [1, out], seeded weights.</summary>
    public static byte[] Mlp(int inputs = 16, int hidden = 32, int outputs = 4, int seed = 7)
    {
        var rng = new Random(seed);
        float[] Rand(int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        var b = new ModelBuilder(opset: 17, graphName: "mlp");
        var x = b.Input("x", DataType.Float32, 1, inputs);
        var w1 = b.Initializer("w1", Tensor.Create([hidden, inputs], Rand(hidden * inputs)));
        var b1 = b.Initializer("b1", Tensor.Create([hidden], Rand(hidden)));
        var h = b.Node("Gemm", [x, w1, b1], [("transB", 1L)], name: "fc1");
        h = b.Node("Relu", [h], name: "relu");
        var w2 = b.Initializer("w2", Tensor.Create([hidden, outputs], Rand(hidden * outputs)));
        var b2 = b.Initializer("b2", Tensor.Create([outputs], Rand(outputs)));
        var y = b.Node("Gemm", [h, w2, b2], name: "fc2");
        b.Output(y, "y", DataType.Float32, [1, outputs]);
        return OnnxWriter.Write(b.Build());
    }

    public static Dictionary<string, Tensor> Input(int inputs = 16, int seed = 3)
    {
        var rng = new Random(seed);
        return new() { ["x"] = Tensor.Create([1, inputs], Enumerable.Range(0, inputs).Select(_ => (float)rng.NextDouble()).ToArray()) };
    }
}

/// <summary>The node in memory (WebApplicationFactory) with a temp data dir and a fixed key.</summary>
public sealed class NodeFactory : WebApplicationFactory<Program>
{
    public static readonly PrivateKey NodeKey = PrivateKey.FromHex("0x" + new string('1', 64));

    private readonly Action<NodeOptions>? _configure;
    private readonly string? _faults;

    /// <summary>A node in the test server; <paramref name="faults"/> makes it misbehave (Prova.Node.Testing.NodeFaults).</summary>
    public NodeFactory(Action<NodeOptions>? configure = null, string? faults = null)
    {
        _configure = configure;
        _faults = faults;
        DataDir = Directory.CreateTempSubdirectory("prova-node-").FullName;
    }

    public string DataDir { get; }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.ConfigureLogging(l => l.SetMinimumLevel(LogLevel.Critical));
        builder.ConfigureServices(s => s.PostConfigure<NodeOptions>(o =>
        {
            o.DataDir = DataDir;
            o.Key = NodeKey;
            _configure?.Invoke(o);
        }).AddFaults(Prova.Node.Testing.NodeFaults.Parse(_faults)));
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        try
        {
            Directory.Delete(DataDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>A minimal client of the /v1 API, written from docs/node-api.md.</summary>
/// <summary>Small synthetic language-model folders (the real models/lm may not exist).</summary>
internal static class TestBundles
{
    private static readonly Lazy<Dictionary<string, byte[]>> s_defaultLm = new(() =>
        Directory.GetFiles(RepoFiles.Get("models", "lm")).ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes, StringComparer.Ordinal));

    /// <summary>The committed default language model (models/lm), file by file.</summary>
    public static IReadOnlyDictionary<string, byte[]> DefaultLm => s_defaultLm.Value;

    /// <summary>model.onnx (a real small ONNX), model.onnx.data spanning many 1 KiB chunks, tokenizer and configs.</summary>
    public static Dictionary<string, byte[]> Lm(int dataBytes = 10_000, int seed = 5)
    {
        var data = new byte[dataBytes];
        new Random(seed).NextBytes(data);
        return new Dictionary<string, byte[]>(StringComparer.Ordinal)
        {
            ["model.onnx"] = TestModels.Mlp(),
            ["model.onnx.data"] = data,
            ["tokenizer.json"] = System.Text.Encoding.UTF8.GetBytes("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}}, \"seed\": " + seed + "}"),
            ["config.json"] = """{"model_type": "llama", "vocab_size": 2}"""u8.ToArray(),
        };
    }
}

internal sealed class TestClient(HttpClient http)
{
    public static readonly PrivateKey Owner = PrivateKey.FromHex("0x" + new string('2', 64));
    public static readonly PrivateKey Stranger = PrivateKey.FromHex("0x" + new string('3', 64));

    public HttpClient Http { get; } = http;

    public async Task<JsonElement> AnnounceAsync(ModelManifest manifest)
    {
        var response = await Http.PostAsync("/v1/blobs", Octets(manifest.Encode()));
        await Expect(response, HttpStatusCode.OK, HttpStatusCode.Created);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    public Task<HttpResponseMessage> PutChunkAsync(ModelManifest manifest, int index, byte[] chunk) =>
        Http.PutAsync($"/v1/blobs/{manifest.Cid}/chunks/{index}", Octets(chunk));

    public static byte[] Chunk(byte[] content, ModelManifest manifest, int index) =>
        content.AsSpan((int)manifest.ChunkOffset(index), manifest.ChunkLength(index)).ToArray();

    public async Task<ModelManifest> UploadAsync(byte[] content, int chunkSize = 4096)
    {
        var manifest = ModelManifest.Build(content, chunkSize);
        var status = await AnnounceAsync(manifest);
        foreach (var i in status.GetProperty("missing").EnumerateArray())
        {
            var response = await PutChunkAsync(manifest, i.GetInt32(), Chunk(content, manifest, i.GetInt32()));
            await Expect(response, HttpStatusCode.OK);
        }
        return manifest;
    }

    /// <summary>Announces the bundle of <paramref name="files"/> and uploads every file; returns the bundle manifest.</summary>
    public async Task<BundleManifest> UploadBundleAsync(IReadOnlyDictionary<string, byte[]> files, int chunkSize = 1024, ISet<string>? skip = null)
    {
        var bundle = Bundle(files, chunkSize);
        var response = await Http.PostAsync("/v1/bundles", Octets(bundle.Encode()));
        await Expect(response, HttpStatusCode.OK, HttpStatusCode.Created);
        foreach (var (path, content) in files)
        {
            if (skip?.Contains(path) != true)
            {
                await UploadAsync(content, chunkSize);
            }
        }
        return bundle;
    }

    public static BundleManifest Bundle(IReadOnlyDictionary<string, byte[]> files, int chunkSize = 1024) =>
        BundleManifest.Create(files.Select(kv => new BundleFile(kv.Key, kv.Value.Length, ModelManifest.Build(kv.Value, chunkSize).Cid)));

    public async Task<BundleManifest> PushBundleAsync(IReadOnlyDictionary<string, byte[]> files, string name, string version = "1.0.0", int chunkSize = 1024)
    {
        var bundle = await UploadBundleAsync(files, chunkSize);
        var response = await PublishAsync(bundle.Cid, name, version);
        await Expect(response, HttpStatusCode.Created, HttpStatusCode.OK);
        return bundle;
    }

    public Task<HttpResponseMessage> PublishAsync(Cid cid, string name, string version = "1.0.0", PrivateKey? owner = null, PrivateKey? signer = null, ulong timestamp = 1_700_000_000)
    {
        owner ??= Owner;
        var publication = new ModelPublication(name, version, cid, owner.Address, timestamp);
        var signature = (signer ?? owner).Sign(publication.ToTypedData(31337).SigningHash());
        return Http.PostAsJsonAsync("/v1/models", new
        {
            cid = cid.ToString(),
            name,
            version,
            description = "test model",
            license = "MIT",
            owner = owner.Address.ToString(),
            timestamp,
            signature = signature.ToString(),
        });
    }

    public async Task<Cid> PushAsync(byte[] content, string name, string version = "1.0.0", int chunkSize = 4096)
    {
        var manifest = await UploadAsync(content, chunkSize);
        var response = await PublishAsync(manifest.Cid, name, version);
        await Expect(response, HttpStatusCode.Created, HttpStatusCode.OK);
        return manifest.Cid;
    }

    public Task<HttpResponseMessage> InferAsync(Cid cid, Dictionary<string, Tensor> inputs, string? extra = null)
    {
        string tensors = System.Text.Encoding.UTF8.GetString(TensorJson.WriteNamedTensors(inputs));
        string body = $"{{\"model\": \"{cid}\", {extra}{tensors[1..]}";
        return Http.PostAsync("/v1/infer", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
    }

    public static ByteArrayContent Octets(byte[] bytes)
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        return content;
    }

    public static async Task Expect(HttpResponseMessage response, params HttpStatusCode[] statuses)
    {
        if (!statuses.Contains(response.StatusCode))
        {
            Assert.Fail($"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }

    /// <summary>Asserts a ProblemDetails with this status and code, and returns it.</summary>
    public static async Task<JsonElement> ExpectProblem(HttpResponseMessage response, int status, string? code = null)
    {
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(status == (int)response.StatusCode, $"expected {status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(text).RootElement.Clone();
        Assert.Equal(status, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("title").GetString()));
        if (code is not null)
        {
            Assert.Equal(code, problem.GetProperty("code").GetString());
            Assert.False(string.IsNullOrEmpty(problem.GetProperty("detail").GetString()));
        }
        return problem;
    }
}
