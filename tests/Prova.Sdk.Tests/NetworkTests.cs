using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Prova.Core;
using Prova.Core.Content;
using Prova.Core.Crypto;
using Prova.Core.Keys;
using Prova.Core.Receipts;
using Prova.Node.Hosting;
using Prova.Onnx;

namespace Prova.Sdk.Tests;

/// <summary>
/// <see cref="ProvaNetwork"/> against real 4-node networks in this process (Kestrel on 127.0.0.1,
/// gossip, real receipts); the faults are the nodes' own test-only fault options.
/// </summary>
public sealed class NetworkTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly PrivateKey _owner = PrivateKey.Generate();

    public void Dispose() => _dir.Dispose();

    /// <summary>Starts <paramref name="count"/> nodes (faults by index), pushes one model to every node and waits until all know each other.</summary>
    private async Task<(LocalCluster Cluster, Cid Model, string Path)> StartAsync(int count, IReadOnlyDictionary<int, string>? faults = null)
    {
        var cluster = await LocalCluster.StartAsync(count, (i, o) =>
        {
            if (faults is not null && faults.TryGetValue(i, out string? f))
            {
                o.Faults = f;
            }
        }, LogLevel.None);
        try
        {
            string path = TestModels.Write(TestModels.Mlp(inputs: 32, hidden: 16, seed: 21), _dir);
            Cid cid = default;
            foreach (var node in cluster.Nodes)
            {
                using var client = new ProvaClient(node.Url);
                cid = (await client.PushAsync(path, new PushOptions { Name = "net/mlp" }, _owner)).Cid;
            }
            await cluster.WaitForFullMeshAsync(TimeSpan.FromSeconds(20));
            return (cluster, cid, path);
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    [Fact]
    public async Task OneSeedIsEnoughAndLoadIsSpreadOverEveryHost()
    {
        var (cluster, cid, _) = await StartAsync(4);
        await using var _ = cluster;
        using var network = new ProvaNetwork([cluster[0].Url]);
        var hosts = await network.FindHostsAsync(cid);
        Assert.Equal(cluster.Nodes.Select(n => n.Address.ToString()).Order(), hosts.Select(h => h.Address!.Value.ToString()).Order());

        var inputs = TestModels.Input(inputs: 32, seed: 2);
        var results = await Task.WhenAll(Enumerable.Range(0, 40).Select(_ => network.InferAsync(cid, inputs)));
        Assert.All(results, r => Assert.True(r.Answers[0].Verification.IsValid));
        Assert.Single(results.Select(r => r.OutputHash).Distinct());
        foreach (var node in network.Nodes)
        {
            Assert.True(node.Served >= 4, $"{node} served only {node.Served} of 40 requests");
        }
    }

    [Fact]
    public async Task QuorumOfHonestNodesAgreesAndItsResultFileVerifies()
    {
        var (cluster, cid, path) = await StartAsync(4);
        await using var _ = cluster;
        using var network = new ProvaNetwork([cluster[1].Url]);
        var result = await network.InferAsync(cid, TestModels.Input(inputs: 32, seed: 3), "quorum:3");
        Assert.Equal(3, result.Answers.Select(a => a.Receipt.Node).Distinct().Count());
        Assert.All(result.Answers, a => Assert.Equal("quorum:3", a.Receipt.Mode));
        Assert.Single(result.Answers.Select(a => a.Receipt.RequestId).Distinct());
        var file = result.ToResultFile();
        Assert.Equal(3, file.Receipts.Count);
        var v = ResultVerifier.Verify(file.ToJsonBytes(), new ResultVerifierOptions { ModelBytes = File.ReadAllBytes(path) });
        Assert.True(v.IsValid, v.Failure?.Message);
    }

    [Fact]
    public async Task CorruptingNodeIsCaughtEveryTimeItIsInTheQuorum()
    {
        var (cluster, cid, path) = await StartAsync(4, new Dictionary<int, string> { [3] = "corrupt-output" });
        await using var _ = cluster;
        var liar = cluster[3].Address;
        using var network = new ProvaNetwork([cluster[0].Url]);
        byte[] model = File.ReadAllBytes(path);
        for (int i = 0; i < 6; i++)
        {
            var inputs = TestModels.Input(inputs: 32, seed: 100 + i);
            var ex = await Assert.ThrowsAsync<QuorumDisagreementException>(() =>
                network.InferAsync(cid, inputs, "quorum:3", new NetworkInferOptions { Include = [liar] }));
            Assert.Contains(liar.ToString(), ex.Message);
            string evidencePath = _dir.File($"evidence-{i}.json");
            ex.Evidence.Save(evidencePath);
            var v = EvidenceVerifier.Verify(File.ReadAllBytes(evidencePath), new ResultVerifierOptions { ModelBytes = model });
            Assert.True(v.IsValid, v.Failure?.Message);
            Assert.Equal([liar], v.Liars);
            Assert.Equal(2, v.Honest.Count);
        }
        // Without it the honest three agree.
        var ok = await network.InferAsync(cid, TestModels.Input(inputs: 32, seed: 1), "quorum:3", new NetworkInferOptions { Exclude = [liar] });
        Assert.DoesNotContain(liar, ok.Answers.Select(a => a.Receipt.Node));
    }

    [Fact]
    public async Task SlowNodeIsTimedOutAndTheRequestAnsweredElsewhere()
    {
        var (cluster, cid, _) = await StartAsync(3, new Dictionary<int, string> { [1] = "slow:5000" });
        await using var _ = cluster;
        var slow = cluster[1].Address;
        using var network = new ProvaNetwork([cluster[0].Url], new ProvaNetworkOptions { RequestTimeout = TimeSpan.FromSeconds(2) });
        var inputs = TestModels.Input(inputs: 32, seed: 4);
        var result = await network.InferAsync(cid, inputs, Receipt.AttestedMode, new NetworkInferOptions { Include = [slow] });
        Assert.NotEqual(slow, result.Answers[0].Receipt.Node);
        var failure = Assert.Single(result.Failures);
        Assert.Equal("timeout", failure.Code);
        Assert.Equal(slow, failure.Address);
        // Answered before the slow node's 5 s delay: the 2 s timeout (generous for a loaded machine) cut it off.
        Assert.True(result.Elapsed < TimeSpan.FromSeconds(4.8), $"took {result.Elapsed}");
        // Quorum too: the slow member is replaced by the remaining node... only 2 others exist, so quorum:3 cannot be met.
        var ex = await Assert.ThrowsAsync<ProvaClientException>(() => network.InferAsync(cid, inputs, "quorum:3", new NetworkInferOptions { Include = [slow] }));
        Assert.Equal("not-enough-nodes", ex.Code);
        Assert.Contains("timeout", ex.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task NodeCrashingUnderLoadLosesNoRequest()
    {
        var (cluster, cid, _) = await StartAsync(4, new Dictionary<int, string> { [2] = "crash-after:3" });
        await using var _ = cluster;
        using var network = new ProvaNetwork([cluster[0].Url], new ProvaNetworkOptions { RequestTimeout = TimeSpan.FromSeconds(5) });
        var inputs = TestModels.Input(inputs: 32, seed: 5);
        var results = await Task.WhenAll(Enumerable.Range(0, 48).Select(async i =>
        {
            await Task.Delay(i * 5);
            return await network.InferAsync(cid, inputs);
        }));
        Assert.Equal(48, results.Length);
        Assert.Single(results.Select(r => r.OutputHash).Distinct());
        Assert.Contains(results, r => r.Failures.Count > 0);
        Assert.Contains(results.SelectMany(r => r.Failures), f => f.Address == cluster[2].Address);
    }

    [Fact]
    public async Task UnreachableSeedIsSkippedAndBadInputIsNotRetried()
    {
        var (cluster, cid, _) = await StartAsync(2);
        await using var _ = cluster;
        var dead = new Uri("http://127.0.0.1:1/");
        using var network = new ProvaNetwork([dead, cluster[0].Url]);
        var result = await network.InferAsync(cid, TestModels.Input(inputs: 32, seed: 6));
        Assert.True(result.Answers[0].Verification.IsValid);

        var wrong = new Dictionary<string, Tensor> { ["x"] = Tensor.Create([1, 5], new float[5]) };
        var ex = await Assert.ThrowsAsync<ProvaClientException>(() => network.InferAsync(cid, wrong));
        Assert.InRange(ex.Status ?? 0, 400, 499);
        var missing = await Assert.ThrowsAsync<ProvaClientException>(() =>
            network.InferAsync(ModelManifest.Build(new byte[] { 1, 2, 3 }, ModelManifest.DefaultChunkSize).Cid, wrong));
        Assert.Equal("no-hosts", missing.Code);
        await Assert.ThrowsAsync<ProvaClientException>(() => network.InferAsync(cid, wrong, "quorum:0"));
    }

    /// <summary>
    /// A node that lost a chunk of the model answers 409 incomplete-content; a client whose view still lists it there
    /// (peer lists are cached) gets its answer from another host, and the failure is reported, not fatal.
    /// </summary>
    [Fact]
    public async Task ClientPointedAtANodeThatLostAChunkGetsItsAnswerFromAnotherNode()
    {
        // Two nodes that are not peers (so the broken one cannot repair itself during the test), the model pushed to both.
        await using var cluster = await LocalCluster.StartAsync(2, (_, o) =>
        {
            o.Peers = [];
            o.Replicas = 0;
        }, LogLevel.None);
        var mlp = TestModels.Mlp(inputs: 32, hidden: 16, seed: 23);
        string path = TestModels.Write(mlp, _dir);
        byte[] bytes = File.ReadAllBytes(path);
        var manifest = ModelManifest.Build(bytes);
        foreach (var node in cluster.Nodes)
        {
            using var client = new ProvaClient(node.Url);
            Assert.Equal(manifest.Cid, (await client.PushAsync(path, new PushOptions { Name = "net/heal" }, _owner)).Cid);
        }
        var broken = cluster[0];
        using var network = new ProvaNetwork([broken.Url, cluster[1].Url], new ProvaNetworkOptions { RefreshInterval = TimeSpan.FromHours(1) });
        Assert.Equal(2, (await network.FindHostsAsync(manifest.Cid)).Count);

        string chunk = Path.Combine(broken.Services.GetRequiredService<IOptions<NodeOptions>>().Value.DataDir, "chunks", manifest.ChunkHashes[0].ToString()[2..]);
        byte[] corrupted = File.ReadAllBytes(chunk);
        corrupted[corrupted.Length / 2] ^= 0x01;
        File.WriteAllBytes(chunk, corrupted);
        using (var http = new HttpClient { BaseAddress = broken.Url })
        {
            Assert.Equal(System.Net.HttpStatusCode.InternalServerError, (await http.GetAsync($"/v1/models/{manifest.Cid}/chunks/0")).StatusCode);
        }

        var result = await network.InferAsync(manifest.Cid, TestModels.Input(inputs: 32, seed: 4), options: new NetworkInferOptions { Include = [broken.Address] });
        Assert.Equal(cluster[1].Address, result.Answers[0].Receipt.Node);
        Assert.True(result.Answers[0].Verification.IsValid);
        var failure = Assert.Single(result.Failures);
        Assert.Equal((broken.Address, "incomplete-content"), (failure.Address!.Value, failure.Code));

        // A second model broken on both nodes: the error lists what each node answered.
        string secondPath = TestModels.Write(TestModels.Mlp(inputs: 32, hidden: 16, seed: 24), _dir, "second.onnx");
        var secondManifest = ModelManifest.Build(File.ReadAllBytes(secondPath));
        foreach (var node in cluster.Nodes)
        {
            using var client = new ProvaClient(node.Url);
            await client.PushAsync(secondPath, new PushOptions { Name = "net/heal2" }, _owner);
            string file = Path.Combine(node.Services.GetRequiredService<IOptions<NodeOptions>>().Value.DataDir, "chunks", secondManifest.ChunkHashes[0].ToString()[2..]);
            File.Delete(file);
        }
        await network.RefreshAsync();
        var ex = await Assert.ThrowsAsync<ProvaClientException>(() => network.InferAsync(secondManifest.Cid, TestModels.Input(inputs: 32, seed: 4)));
        foreach (var node in cluster.Nodes)
        {
            Assert.Contains($"{node.Url} incomplete-content", ex.Message);
        }
    }
}
