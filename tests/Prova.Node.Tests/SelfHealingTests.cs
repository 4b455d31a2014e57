using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Prova.Core.Content;
using Prova.Core.Keys;
using Prova.Node.Hosting;

namespace Prova.Node.Tests;

/// <summary>
/// A node that loses a chunk stops advertising the model and re-fetches the chunk from a peer (docs/network.md,
/// "Self-healing"). Real Kestrel nodes in this process; the chunk file is corrupted on disk.
/// </summary>
public sealed class SelfHealingTests
{
    private static string DataDir(NodeHost node) => node.Services.GetRequiredService<IOptions<NodeOptions>>().Value.DataDir;

    private static string ChunkFile(NodeHost node, ModelManifest manifest, int index) =>
        Path.Combine(DataDir(node), "chunks", manifest.ChunkHashes[index].ToString()[2..]);

    /// <summary>The CIDs in the node's signed peer record and in its model list.</summary>
    private static async Task<(string[] Record, string[] Listed)> AdvertisedAsync(HttpClient http)
    {
        var record = JsonDocument.Parse(await http.GetStringAsync("/v1/peers")).RootElement.GetProperty("self").GetProperty("models");
        var listed = JsonDocument.Parse(await http.GetStringAsync("/v1/models")).RootElement.GetProperty("data");
        return (record.EnumerateArray().Select(e => e.GetString()!).ToArray(), listed.EnumerateArray().Select(e => e.GetProperty("cid").GetString()!).ToArray());
    }

    [Fact]
    public async Task A_node_that_finds_a_chunk_corrupted_withdraws_the_model_then_repairs_it_from_a_peer_and_serves_it_again()
    {
        var keys = new[] { PrivateKey.Generate(), PrivateKey.Generate() };
        await using var net = await LocalCluster.StartAsync(2, (i, o) =>
        {
            o.Key = keys[i];
            o.Replicas = 1;
        });
        await net.WaitForFullMeshAsync(TimeSpan.FromSeconds(15));
        byte[] model = TestModels.Mlp(64, 64, 8);
        var manifest = ModelManifest.Build(model, 1024);
        using var origin = new HttpClient { BaseAddress = net[0].Url };
        var cid = await new TestClient(origin).PushAsync(model, "heal/mlp", chunkSize: 1024);
        await PeerTests.WaitUntil(() => net[1].HostedModels().Contains(cid), TimeSpan.FromSeconds(20), "node 1 replicates the model");

        // The only other host goes away; then node 1 finds a chunk of its copy corrupted.
        string originDir = DataDir(net[0]);
        await net.StopAsync(0);
        const int index = 3;
        string path = ChunkFile(net[1], manifest, index);
        byte[] good = File.ReadAllBytes(path);
        byte[] bad = (byte[])good.Clone();
        bad[bad.Length / 2] ^= 0x01;
        File.WriteAllBytes(path, bad);
        using var http = new HttpClient { BaseAddress = net[1].Url };
        var client = new TestClient(http);
        await TestClient.ExpectProblem(await http.GetAsync($"/v1/models/{cid}/chunks/{index}"), 500, "corrupted-content");

        // Withdrawn: neither its peer record nor its model list names the model, and it stays so with no peer to repair from.
        var (record, listed) = await AdvertisedAsync(http);
        Assert.DoesNotContain(cid.ToString(), record);
        Assert.DoesNotContain(cid.ToString(), listed);
        Assert.DoesNotContain(cid, net[1].HostedModels());
        await TestClient.ExpectProblem(await client.InferAsync(cid, TestModels.Input(64)), 409, "incomplete-content");
        await Task.Delay(500);
        Assert.DoesNotContain(cid, net[1].HostedModels());

        // The origin comes back (same key and store): node 1 re-fetches the chunk, verifies it and advertises the model again.
        await net.AddAsync(o =>
        {
            o.Key = keys[0];
            o.DataDir = originDir;
            o.Replicas = 1;
            o.Peers = [net[1].Url.AbsoluteUri.TrimEnd('/')];
        });
        await PeerTests.WaitUntil(() => net[1].HostedModels().Contains(cid), TimeSpan.FromSeconds(20), "node 1 repairs the model from the origin");
        Assert.Equal(good, File.ReadAllBytes(path));
        Assert.Equal(good, await http.GetByteArrayAsync($"/v1/models/{cid}/chunks/{index}"));
        Assert.Equal(model, await http.GetByteArrayAsync($"/v1/models/{cid}/content"));
        (record, listed) = await AdvertisedAsync(http);
        Assert.Contains(cid.ToString(), record);
        Assert.Contains(cid.ToString(), listed);
        await TestClient.Expect(await client.InferAsync(cid, TestModels.Input(64)), HttpStatusCode.OK);
        foreach (string file in Directory.EnumerateFiles(Path.Combine(DataDir(net[1]), "chunks")))
        {
            Assert.Equal(Path.GetFileName(file), Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(file))));
        }
    }

    [Fact]
    public async Task A_bundle_file_that_lost_a_chunk_is_re_fetched_from_a_peer_and_the_bundle_served_whole_again()
    {
        await using var net = await LocalCluster.StartAsync(2, (_, o) => o.Replicas = 1);
        await net.WaitForFullMeshAsync(TimeSpan.FromSeconds(15));
        var files = TestBundles.Lm(dataBytes: 20_000);
        using var h0 = new HttpClient { BaseAddress = net[0].Url };
        var bundle = await new TestClient(h0).PushBundleAsync(files, "heal/lm");
        await PeerTests.WaitUntil(() => net[1].HostedModels().Contains(bundle.Cid), TimeSpan.FromSeconds(20), "node 1 replicates the bundle");

        var data = bundle.Files.Single(f => f.Path == "model.onnx.data");
        var manifest = ModelManifest.Build(files[data.Path], 1024);
        Assert.Equal(data.Cid, manifest.Cid);
        string path = ChunkFile(net[1], manifest, 7);
        byte[] good = File.ReadAllBytes(path);
        File.Delete(path);
        using var h1 = new HttpClient { BaseAddress = net[1].Url };
        await TestClient.ExpectProblem(await h1.GetAsync($"/v1/models/{data.Cid}/chunks/7"), 409, "incomplete-content");

        await PeerTests.WaitUntil(() => File.Exists(path), TimeSpan.FromSeconds(20), "node 1 re-fetches the lost chunk");
        await PeerTests.WaitUntil(() => net[1].HostedModels().Contains(bundle.Cid), TimeSpan.FromSeconds(20), "node 1 advertises the bundle again");
        Assert.Equal(good, File.ReadAllBytes(path));
        Assert.Equal(files[data.Path], await h1.GetByteArrayAsync($"/v1/models/{data.Cid}/content"));
        string folder = (await net[1].Services.GetRequiredService<Store.ContentStore>().MaterializeAsync(bundle.Cid))!;
        Assert.Equal(files[data.Path], File.ReadAllBytes(Path.Combine(folder, data.Path)));
    }

    [Fact]
    public async Task A_chunk_lost_while_the_node_was_down_keeps_the_model_withdrawn_after_a_restart()
    {
        using var factory = new NodeFactory();
        byte[] model = TestModels.Mlp();
        var manifest = ModelManifest.Build(model, 1024);
        Prova.Core.Content.Cid cid;
        await using (var first = factory.WithWebHostBuilder(_ => { }))
        {
            cid = await new TestClient(first.CreateClient()).PushAsync(model, "heal/lost", chunkSize: 1024);
            Assert.Contains(cid.ToString(), (await AdvertisedAsync(first.CreateClient())).Listed);
        }
        File.Delete(Path.Combine(factory.DataDir, "chunks", manifest.ChunkHashes[1].ToString()[2..]));
        await using var restarted = factory.WithWebHostBuilder(_ => { });
        var (record, listed) = await AdvertisedAsync(restarted.CreateClient());
        Assert.DoesNotContain(cid.ToString(), record);
        Assert.DoesNotContain(cid.ToString(), listed);
    }
}
