using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Prova.Core.Content;
using Prova.Core.Keys;
using Prova.Lm;
using Prova.Node.Hosting;

namespace Prova.Sdk.Tests;

/// <summary>
/// <c>quorum:K</c> chats through <see cref="ProvaChatClient"/> on real networks in this process (Kestrel on 127.0.0.1,
/// gossip, the default model on every node): K nodes agree on every token, or a node that swaps a token and signs
/// anyway (the test-only <c>corrupt-output</c> fault) is caught and named by re-execution.
/// </summary>
public sealed class ChatQuorumTests
{
    private static async Task<(LocalCluster Cluster, Cid Model)> StartAsync(int count, int? liar = null)
    {
        var cluster = await LocalCluster.StartAsync(count, (_, o) => o.InferenceThreads = 1, LogLevel.None, i => i == liar ? "corrupt-output" : null);
        try
        {
            var owner = PrivateKey.Generate();
            Cid cid = default;
            foreach (var node in cluster.Nodes)
            {
                using var client = new ProvaClient(node.Url);
                cid = (await client.PushDirectoryAsync(GenerationNodeFixture.ModelFolder, new PushOptions { Name = "quorum/lm" }, owner)).Cid;
            }
            await cluster.WaitForFullMeshAsync(TimeSpan.FromSeconds(20));
            // Each node asks the peers whose signed records list the model: wait until every record does.
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
            while (!cluster.Nodes.All(n => n.Peers().Count(p => p.Record.Models.Contains(cid)) == count - 1))
            {
                Assert.True(DateTime.UtcNow < deadline, "the nodes did not learn that every peer hosts the model within 20 s");
                await Task.Delay(50);
            }
            return (cluster, cid);
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    [Fact]
    public async Task TwoHonestNodesAgreeOnEveryTokenAndTheResultCarriesBothReceiptsAndTheVerdict()
    {
        var (cluster, cid) = await StartAsync(2);
        await using var _ = cluster;
        using var chat = new ProvaChatClient(cluster[0].Url, new ProvaChatClientOptions { DefaultModel = "quorum/lm", Mode = "quorum:2" });
        string text = "";
        ResultFile? result = null;
        await foreach (var update in chat.GetStreamingResponseAsync("The jury said", new ChatOptions { MaxOutputTokens = 8, Temperature = 0.9f, Seed = 11 }))
        {
            text += update.Text;
            result = update.GetProvaResult() ?? result;
        }
        Assert.NotNull(result);
        Assert.Equal("quorum:2", result.Mode);
        Assert.True(new[] { cluster[0].Address, cluster[1].Address }.ToHashSet().SetEquals(result.Receipts.Select(r => r.Node)));
        Assert.Equal(2, result.Receipts.Count);
        Assert.True(result.Verdict!.Agreed);
        Assert.Equal(result.Receipts[0].OutputHash, result.Verdict.OutputHash);
        Assert.Equal(text, GenerationOutput.Read(result.Outputs).Text);
        var v = ResultVerifier.Verify(result.ToJsonBytes(), new ResultVerifierOptions { ModelPath = GenerationNodeFixture.ModelFolder });
        Assert.True(v.IsValid, v.Failure?.Message);
        Assert.Contains(v.Checks, c => c.Name == "quorum");
    }

    [Fact]
    public async Task ANodeThatSwapsATokenIsCaughtByTheQuorumAndNamedByReExecution()
    {
        var (cluster, cid) = await StartAsync(3, liar: 2);
        await using var _ = cluster;
        using var chat = new ProvaChatClient(cluster[0].Url, new ProvaChatClientOptions { DefaultModel = cid.ToString() });
        var options = new ChatOptions { MaxOutputTokens = 6, Seed = 4 }.WithProvaMode("quorum:3");
        var ex = await Assert.ThrowsAsync<ChatQuorumDisagreementException>(() => chat.GetResponseAsync("Hello", options));
        Assert.Equal("quorum-disagreement", ex.Code);
        Assert.False(ex.Result.Verdict!.Agreed);
        var evidence = ex.Evidence!;
        Assert.Equal(3, evidence.Receipts.Count);

        var v = EvidenceVerifier.Verify(evidence, new ResultVerifierOptions { ModelPath = GenerationNodeFixture.ModelFolder });
        Assert.True(v.IsValid, v.Failure?.Message);
        Assert.Equal([cluster[2].Address], v.Liars);
        Assert.Equal(2, v.Honest.Count);
        Assert.True(new[] { cluster[0].Address, cluster[1].Address }.ToHashSet().SetEquals(v.Honest));

        // Kept instead of thrown when asked: the answer is the first node's (honest here) with the verdict.
        using var keeping = new ProvaChatClient(cluster[0].Url, new ProvaChatClientOptions { DefaultModel = cid.ToString(), ThrowOnDisagreement = false });
        var response = await keeping.GetResponseAsync("Hello", options);
        Assert.False(response.GetProvaResult()!.Verdict!.Agreed);
        Assert.NotNull(response.GetProvaResult()!.Verdict!.Evidence);
    }
}
