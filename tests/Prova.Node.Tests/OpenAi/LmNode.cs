using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Prova.Core.Content;
using Prova.Core.Keys;
using Prova.Lm;
using Prova.Node.Hosting;

namespace Prova.Node.Tests.OpenAi;

/// <summary>A node on Kestrel (127.0.0.1) with the default language model, models/lm, published as "lm/tiny".</summary>
public sealed class LmNode : IAsyncDisposable
{
    public const string Name = "lm/tiny";

    private readonly string _dir;

    private LmNode(string dir, NodeHost host, HttpClient http, Cid cid)
    {
        _dir = dir;
        Host = host;
        Http = http;
        Cid = cid;
    }

    public NodeHost Host { get; }

    public HttpClient Http { get; }

    public Cid Cid { get; }

    public static string BundleDir => RepoFiles.Get("models", "lm");

    public static async Task<LmNode> StartAsync(Action<NodeOptions>? configure = null, string? faults = null)
    {
        string dir = Directory.CreateTempSubdirectory("prova-openai-").FullName;
        var options = new NodeOptions { DataDir = dir, Listen = "127.0.0.1:0", Key = PrivateKey.Generate(), InferenceThreads = 1 };
        configure?.Invoke(options);
        var host = await Prova.Node.Testing.FaultyNode.StartAsync(options, faults);
        var http = new HttpClient { BaseAddress = host.Url, Timeout = TimeSpan.FromMinutes(2) };
        var cid = await PublishAsync(http);
        return new LmNode(dir, host, http, cid);
    }

    /// <summary>Pushes models/lm to the node at <paramref name="http"/> and publishes it as <see cref="Name"/>.</summary>
    public static async Task<Cid> PublishAsync(HttpClient http)
    {
        var files = Directory.GetFiles(BundleDir).ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes, StringComparer.Ordinal);
        var bundle = await new TestClient(http).PushBundleAsync(files, Name, chunkSize: 1 << 20);
        return bundle.Cid;
    }

    public Task<HttpResponseMessage> PostAsync(string path, string json, string? mode = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        if (mode is not null)
        {
            request.Headers.Add("Prova-Mode", mode);
        }
        return Http.SendAsync(request);
    }

    public async Task<JsonElement> ChatAsync(object body)
    {
        var response = await Http.PostAsJsonAsync("/v1/chat/completions", body);
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    public async Task<JsonElement> CompleteAsync(object body)
    {
        var response = await Http.PostAsJsonAsync("/v1/completions", body);
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>The model loaded in this process: the oracle that re-runs a signed request.</summary>
    public static LanguageModel LoadModel() => LanguageModel.Load(BundleDir, threads: 1);

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Host.DisposeAsync();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>One <see cref="LmNode"/> shared by the tests of a class.</summary>
public sealed class LmNodeFixture : IAsyncLifetime
{
    public LmNode Node { get; private set; } = null!;

    public async Task InitializeAsync() => Node = await LmNode.StartAsync(o => o.MaxConcurrentGenerations = 2);

    public async Task DisposeAsync() => await Node.DisposeAsync();
}

/// <summary>Reads a server-sent event stream: each <c>data:</c> payload, in order.</summary>
internal static class Sse
{
    public static async Task<List<string>> ReadAllAsync(HttpResponseMessage response)
    {
        var events = new List<string>();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                events.Add(line["data: ".Length..]);
            }
            else
            {
                Assert.True(line.Length == 0, $"unexpected SSE line '{line}'");
            }
        }
        return events;
    }
}
