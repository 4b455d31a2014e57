using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Prova.Core.Content;
using Prova.Core.Receipts;
using Prova.Lm;
using Prova.Node.Hosting;
using Prova.Sdk;

namespace Prova.Node.Tests.OpenAi;

/// <summary><c>quorum:3</c> on the chat route of a 3-node in-process cluster: agreement, then a lying node caught with evidence.</summary>
public sealed class OpenAiQuorumTests
{
    private static readonly object[] s_messages = [new { role = "user", content = "Tell me about the city." }];

    [Fact]
    public async Task Quorum_3_streams_the_first_nodes_tokens_and_ends_with_the_verdict_and_a_lying_node_yields_evidence()
    {
        await using var net = await LocalCluster.StartAsync(3, (i, o) => o.InferenceThreads = 1);
        await net.WaitForFullMeshAsync(TimeSpan.FromSeconds(30));
        var cid = await PublishAllAsync(net);
        await WaitForHostsAsync(net[0], cid, 2);
        using var http = new HttpClient { BaseAddress = net[0].Url, Timeout = TimeSpan.FromMinutes(2) };

        // Three honest nodes: the client streams node 0's tokens, then the evidence with three receipts that agree.
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = JsonContent.Create(new { model = LmNode.Name, messages = s_messages, max_tokens = 12, seed = 5, stream = true }),
        };
        request.Headers.Add("Prova-Mode", "quorum:3");
        var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var events = await Sse.ReadAllAsync(response);
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e).RootElement).ToList();
        var prova = chunks[^1].GetProperty("prova");
        Assert.Equal("quorum:3", prova.GetProperty("mode").GetString());
        var verdict = prova.GetProperty("verdict");
        Assert.True(verdict.GetProperty("agreed").GetBoolean(), verdict.GetRawText());
        Assert.Equal(3, verdict.GetProperty("nodes").GetArrayLength());
        Assert.False(verdict.TryGetProperty("evidence", out _));
        var (inputs, outputs, receipts) = ChatCompletionTests.Evidence(prova);
        Assert.Equal(3, receipts.Count);
        Assert.Equal(3, receipts.Select(r => r.Node).Distinct().Count());
        Assert.All(receipts, r => Assert.True(r.Verify(inputs, outputs, cid, r.Node).IsValid));
        Assert.All(receipts, r => Assert.Equal("quorum:3", r.Mode));
        Assert.Single(receipts.Select(r => r.RequestId).Distinct());
        string streamed = string.Concat(chunks.Where(c => c.GetProperty("choices").GetArrayLength() > 0)
            .Select(c => c.GetProperty("choices")[0].GetProperty("delta").TryGetProperty("content", out var p) ? p.GetString() : ""));
        Assert.Equal(GenerationOutput.Read(outputs).Text, streamed);
        Assert.True(ResultVerifier.Verify(Encoding.UTF8.GetBytes(prova.GetRawText())).IsValid);

        // Node 2 goes away and a node that swaps a token and signs anyway joins: node 0 asks node 1 and node 3
        // (node 2's failure is named), the verdict is a disagreement, and the evidence names the liar.
        await net.StopAsync(2);
        var liar = await net.AddAsync(o =>
        {
            o.InferenceThreads = 1;
            o.Peers = [net[0].Url.AbsoluteUri.TrimEnd('/')];
        }, faults: "corrupt-output");
        using (var liarHttp = new HttpClient { BaseAddress = liar.Url })
        {
            Assert.Equal(cid, await LmNode.PublishAsync(liarHttp));
        }
        await WaitForHostsAsync(net[0], cid, 2, liar.Address);
        var body = await http.PostAsJsonAsync("/v1/chat/completions", new { model = cid.ToString(), messages = s_messages, max_tokens = 12, seed = 5, prova = new { mode = "quorum:3" } });
        string text = await body.Content.ReadAsStringAsync();
        Assert.True(body.IsSuccessStatusCode, text);
        var disputed = JsonDocument.Parse(text).RootElement.GetProperty("prova");
        verdict = disputed.GetProperty("verdict");
        Assert.False(verdict.GetProperty("agreed").GetBoolean(), verdict.GetRawText());
        var evidence = EvidenceFile.Parse(Encoding.UTF8.GetBytes(verdict.GetProperty("evidence").GetRawText()));
        Assert.Equal(3, evidence.Receipts.Count);
        Assert.Equal(cid, evidence.Model);
        Assert.Equal(Receipt.HashTensors(evidence.Inputs), evidence.InputHash);
        string honest = disputed.GetProperty("outputHash").GetString()!;
        var lie = Assert.Single(evidence.Outputs, o => o.OutputHash.ToString() != honest);
        Assert.Equal(liar.Address, lie.Node);

        // Re-running the signed request locally gives the honest nodes' tokens.
        using var lm = LmNode.LoadModel();
        var again = lm.Run(GenerationRequest.FromTensors(evidence.Inputs));
        Assert.Equal(honest, Receipt.HashTensors(again.ToTensors()).ToString());
        // The result file lists all three receipts: the liar's does not sign the outputs node 0 returned.
        var listed = ChatCompletionTests.Evidence(disputed).Receipts;
        Assert.Equal(3, listed.Count);
        var check = ResultVerifier.Verify(Encoding.UTF8.GetBytes(disputed.GetRawText()));
        Assert.False(check.IsValid);
        Assert.StartsWith($"receipt {listed.FindIndex(r => r.Node == liar.Address)}:", check.Failure!.Message);
    }

    private static async Task<Cid> PublishAllAsync(LocalCluster net)
    {
        Cid? cid = null;
        foreach (var node in net.Nodes)
        {
            using var http = new HttpClient { BaseAddress = node.Url };
            cid = await LmNode.PublishAsync(http);
        }
        return cid!.Value;
    }

    /// <summary>Waits until <paramref name="node"/>'s peer table lists <paramref name="count"/> peers hosting <paramref name="cid"/> (including <paramref name="must"/>).</summary>
    private static async Task WaitForHostsAsync(NodeHost node, Cid cid, int count, Prova.Core.Crypto.Address? must = null)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var hosts = node.Peers().Where(p => p.Record.Models.Contains(cid)).Select(p => p.Record.Address).ToList();
            if (hosts.Count >= count && (must is null || hosts.Contains(must.Value)))
            {
                return;
            }
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"only {hosts.Count} peers of {node.Url} host {cid}");
            await Task.Delay(100);
        }
    }
}
