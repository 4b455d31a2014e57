using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Prova.Core.Content;
using Prova.Core.Crypto;
using Prova.Core.Keys;
using Prova.Core.Receipts;
using Prova.Node.Hosting;
using Prova.Node.Network;
using Prova.Node.Store;

namespace Prova.Node.Tests;

/// <summary>Replication of pushed models across real Kestrel nodes (docs/network.md, "Replication").</summary>
public sealed class ReplicationTests
{
    private static Replicator Replicator(NodeHost node) => node.Services.GetRequiredService<Replicator>();

    private static string DataDir(NodeHost node) =>
        node.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<NodeOptions>>().Value.DataDir;

    /// <summary>The model's listing entry without the node-local publication time.</summary>
    private static async Task<string> ListingAsync(HttpClient http, Cid cid)
    {
        var list = JsonDocument.Parse(await http.GetStringAsync("/v1/models")).RootElement.GetProperty("data");
        var entry = Assert.Single(list.EnumerateArray(), e => e.GetProperty("cid").GetString() == cid.ToString());
        var fields = entry.EnumerateObject().Where(p => p.Name != "publishedAt").Select(p => $"{p.Name}={p.Value.GetRawText()}");
        return string.Join("\n", fields);
    }

    /// <summary>Every stored chunk file hashes to its name: nothing bad was ever stored.</summary>
    private static void AssertStoreClean(NodeHost node)
    {
        foreach (string file in Directory.EnumerateFiles(Path.Combine(DataDir(node), "chunks")))
        {
            Assert.Equal(Path.GetFileName(file), Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(file))));
        }
    }

    [Fact]
    public void The_pullers_are_the_lowest_ranked_non_hosts_and_only_as_many_as_are_missing()
    {
        var cid = Cid.ForBytes([1, 2, 3]);
        var nodes = Enumerable.Range(1, 6).Select(i => PrivateKey.FromHex("0x" + i.ToString("x64", System.Globalization.CultureInfo.InvariantCulture)).Address).ToList();
        var origin = nodes[0];
        var ranked = nodes.Skip(1).OrderBy(a => Keccak256.HashConcat(cid.Digest.ToArray(), a.ToArray()).ToString(), StringComparer.Ordinal).ToList();
        var pullers = nodes.Where(n => Network.Replicator.ShouldPull(cid, n, [origin], nodes, replicas: 2)).ToList();
        Assert.Equal(ranked.Take(2).Select(a => a.ToString()).Order(), pullers.Select(a => a.ToString()).Order());
        // Once one replica exists, only the next one in rank still pulls; with R+1 hosts nobody does.
        Assert.Equal([ranked[1]], nodes.Where(n => Network.Replicator.ShouldPull(cid, n, [origin, ranked[0]], nodes, 2)));
        Assert.DoesNotContain(nodes, n => Network.Replicator.ShouldPull(cid, n, [origin, ranked[0], ranked[1]], nodes, 2));
        Assert.DoesNotContain(nodes, n => Network.Replicator.ShouldPull(cid, n, [origin], nodes, 0));
        // A host never pulls what it has.
        Assert.False(Network.Replicator.ShouldPull(cid, origin, [origin], nodes, 5));
    }

    [Fact]
    public async Task A_pushed_model_is_replicated_to_exactly_R_nodes_that_serve_identical_bytes_listing_and_results()
    {
        // Tolerant of a loaded machine: a peer that misses a few 100 ms rounds is not dropped (a node
        // that loses sight of a chosen puller would rightly pull too, and the count would not be exact).
        await using var net = await LocalCluster.StartAsync(4, (_, o) =>
        {
            o.Replicas = 2;
            o.PeerMaxFailures = 20;
        });
        await net.WaitForFullMeshAsync(TimeSpan.FromSeconds(15));
        byte[] model = TestModels.Mlp(64, 64, 8);
        using var origin = new HttpClient { BaseAddress = net[0].Url };
        var cid = await new TestClient(origin).PushAsync(model, "net/mlp", chunkSize: 1024);
        Assert.True(ModelManifest.Build(model, 1024).ChunkCount > 4);

        await PeerTests.WaitUntil(() => net.Nodes.Count(n => n.HostedModels().Contains(cid)) >= 3, TimeSpan.FromSeconds(20), "two replicas host the model");
        // Let several more rounds pass: nobody else pulls (exactly R replicas).
        await Task.Delay(800);
        var hosts = net.Nodes.Where(n => n.HostedModels().Contains(cid)).ToList();
        Assert.True(hosts.Count == 3, $"{hosts.Count} hosts; peers seen: " + string.Join("; ", net.Nodes.Select(n => $"{n.Address}: {n.Peers().Count}")));
        Assert.Contains(net[0], hosts);
        var expected = net.Nodes.Skip(1).Select(n => n.Address)
            .Where(a => Network.Replicator.ShouldPull(cid, a, [net[0].Address], net.Nodes.Select(n => n.Address), 2)).ToHashSet();
        Assert.Equal(expected, hosts.Skip(1).Select(n => n.Address).ToHashSet());

        string originListing = await ListingAsync(origin, cid);
        var originAnswer = await new TestClient(origin).InferAsync(cid, TestModels.Input(64));
        string originHash = JsonDocument.Parse(await originAnswer.Content.ReadAsStringAsync()).RootElement.GetProperty("outputHash").GetString()!;
        foreach (var replica in hosts.Skip(1))
        {
            using var http = new HttpClient { BaseAddress = replica.Url };
            Assert.Equal(model, await http.GetByteArrayAsync($"/v1/models/{cid}/content"));
            Assert.Equal(originListing, await ListingAsync(http, cid));
            var response = await new TestClient(http).InferAsync(cid, TestModels.Input(64));
            await TestClient.Expect(response, HttpStatusCode.OK);
            var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal(originHash, body.GetProperty("outputHash").GetString());
            Assert.True(Receipt.FromJson(body.GetProperty("receipt")).Verify(model: cid, signer: replica.Address).IsValid);
            Assert.Equal(1, Replicator(replica).Replicated);
            AssertStoreClean(replica);
        }
        // Every node's peer record now announces the hosts correctly.
        await PeerTests.WaitUntil(() => net[3].Peers().Count(p => p.Record.Hosts(cid)) == (hosts.Contains(net[3]) ? 2 : 3),
            TimeSpan.FromSeconds(10), "the hosts announce the model");
    }

    [Fact]
    public async Task A_node_serving_corrupted_chunks_poisons_no_store_and_the_transfer_continues_from_honest_peers()
    {
        // Node 0 serves corrupted chunks; nodes 0 and 1 both host the model; with R = 3 nodes 2 and 3 must pull it.
        await using var net = await LocalCluster.StartAsync(4, (i, o) =>
        {
            o.Replicas = 3;
        }, faults: i => i == 0 ? "corrupt-chunks" : null);
        await net.WaitForFullMeshAsync(TimeSpan.FromSeconds(15));
        byte[] model = TestModels.Mlp(64, 64, 8);
        using var h0 = new HttpClient { BaseAddress = net[0].Url };
        using var h1 = new HttpClient { BaseAddress = net[1].Url };
        var cid = await new TestClient(h0).PushAsync(model, "net/mlp", chunkSize: 1024);
        await new TestClient(h1).PushAsync(model, "net/mlp", chunkSize: 1024);

        await PeerTests.WaitUntil(() => net.Nodes.All(n => n.HostedModels().Contains(cid)), TimeSpan.FromSeconds(20), "nodes 2 and 3 replicate the model");
        foreach (var replica in new[] { net[2], net[3] })
        {
            using var http = new HttpClient { BaseAddress = replica.Url };
            Assert.Equal(model, await http.GetByteArrayAsync($"/v1/models/{cid}/content"));
            // Each puller asked the corrupt node first for some chunk (hosts alternate by chunk index), refused it and went on.
            Assert.True(Replicator(replica).BadChunksRefused > 0, "the corrupt node was never asked: the test proves nothing");
            AssertStoreClean(replica);
            string metrics = await http.GetStringAsync("/metrics");
            Assert.Contains("prova_chunks_rejected_total " + Replicator(replica).BadChunksRefused, metrics);
        }
    }

    [Fact]
    public async Task A_model_only_a_corrupt_node_serves_is_never_stored_elsewhere()
    {
        await using var net = await LocalCluster.StartAsync(2, (i, o) =>
        {
            o.Replicas = 1;
        }, faults: i => i == 0 ? "corrupt-chunks" : null);
        await net.WaitForFullMeshAsync(TimeSpan.FromSeconds(15));
        using var h0 = new HttpClient { BaseAddress = net[0].Url };
        var cid = await new TestClient(h0).PushAsync(TestModels.Mlp(), "net/mlp", chunkSize: 1024);
        await PeerTests.WaitUntil(() => Replicator(net[1]).BadChunksRefused >= 2, TimeSpan.FromSeconds(20), "node 1 tries to pull twice");
        Assert.DoesNotContain(cid, net[1].HostedModels());
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(DataDir(net[1]), "chunks")));
        using var h1 = new HttpClient { BaseAddress = net[1].Url };
        await TestClient.ExpectProblem(await h1.GetAsync($"/v1/models/{cid}"), 404, "unknown-model");
    }

    [Fact]
    public async Task A_bundle_is_replicated_between_two_real_nodes_file_by_file_with_identical_files_and_listing()
    {
        await using var net = await LocalCluster.StartAsync(2, (_, o) =>
        {
            o.Replicas = 1;
            o.PeerMaxFailures = 20;
        });
        await net.WaitForFullMeshAsync(TimeSpan.FromSeconds(15));
        var files = TestBundles.Lm(dataBytes: 20_000);
        using var h0 = new HttpClient { BaseAddress = net[0].Url };
        var bundle = await new TestClient(h0).PushBundleAsync(files, "net/lm");

        await PeerTests.WaitUntil(() => net[1].HostedModels().Contains(bundle.Cid), TimeSpan.FromSeconds(20), "node 1 replicates the bundle");
        using var h1 = new HttpClient { BaseAddress = net[1].Url };
        Assert.Equal(await ListingAsync(h0, bundle.Cid), await ListingAsync(h1, bundle.Cid));
        Assert.Contains("kind=\"bundle\"", await ListingAsync(h1, bundle.Cid));
        Assert.Equal(bundle.Encode(), await h1.GetByteArrayAsync($"/v1/models/{bundle.Cid}/manifest"));
        foreach (var f in bundle.Files)
        {
            Assert.Equal(files[f.Path], await h1.GetByteArrayAsync($"/v1/models/{f.Cid}/content"));
        }
        string folder = (await net[1].Services.GetRequiredService<ContentStore>().MaterializeAsync(bundle.Cid))!;
        foreach (var f in bundle.Files)
        {
            Assert.Equal(files[f.Path], File.ReadAllBytes(Path.Combine(folder, f.Path)));
        }
        Assert.Equal(1, Replicator(net[1]).Replicated);
        AssertStoreClean(net[1]);
    }

    [Fact]
    public async Task A_peer_lying_about_bundle_chunks_costs_one_chunk_and_the_bundle_comes_from_the_honest_peer()
    {
        // No automatic replication: node 2 pulls on demand from the corrupt node 0 and the honest node 1.
        await using var net = await LocalCluster.StartAsync(3, (i, o) =>
        {
            o.Replicas = 0;
        }, faults: i => i == 0 ? "corrupt-chunks" : null);
        var files = TestBundles.Lm(dataBytes: 20_000);
        using var h0 = new HttpClient { BaseAddress = net[0].Url };
        using var h1 = new HttpClient { BaseAddress = net[1].Url };
        var bundle = await new TestClient(h0).PushBundleAsync(files, "net/lm");
        await new TestClient(h1).PushBundleAsync(files, "net/lm");

        var puller = Replicator(net[2]);
        var info = await puller.PullAsync(bundle.Cid, [net[0].Url.ToString().TrimEnd('/'), net[1].Url.ToString().TrimEnd('/')], CancellationToken.None);
        Assert.Equal("bundle", info.Kind);
        Assert.Equal(1, puller.BadChunksRefused);
        using var h2 = new HttpClient { BaseAddress = net[2].Url };
        foreach (var f in bundle.Files)
        {
            Assert.Equal(files[f.Path], await h2.GetByteArrayAsync($"/v1/models/{f.Cid}/content"));
        }
        AssertStoreClean(net[2]);

        // Only the liar left: nothing bad is stored, the pull fails naming the chunk.
        await using var solo = await LocalCluster.StartAsync(1, (_, o) => o.Replicas = 0);
        var ex = await Assert.ThrowsAsync<ReplicationException>(() =>
            Replicator(solo[0]).PullAsync(bundle.Cid, [net[0].Url.ToString().TrimEnd('/')], CancellationToken.None));
        Assert.Contains("no peer served a good chunk", ex.Message);
        Assert.Equal(1, Replicator(solo[0]).BadChunksRefused);
        AssertStoreClean(solo[0]);
        Assert.DoesNotContain(bundle.Cid, solo[0].HostedModels());
    }
}
