using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Prova.Core;
using Prova.Core.Content;
using Prova.Core.Crypto;
using Prova.Core.Keys;
using Prova.Core.Receipts;
using Prova.Evm.Devnet;
using Prova.Lm;
using Prova.Node.Hosting;
using Prova.Node.Settlement;
using Prova.Runtime.Generation;
using Xunit.Abstractions;

namespace Prova.Node.Tests;

/// <summary>
/// A lie about a generation, settled on a real anvil with four real nodes: a node that swaps one generated token signs
/// it, its batch is challenged with the generation request as the inputs, the committee regenerates and the liar is slashed.
/// </summary>
public sealed class GenerationSettlementTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_node_that_signs_a_wrong_token_is_slashed_by_a_committee_that_regenerates()
    {
        var total = Stopwatch.StartNew();
        const int Liar = 2;
        await using var cluster = await ChainCluster.StartAsync(Liar);
        var (anvil, deployment, keys, services, http, clients) = (cluster.Anvil, cluster.Deployment, cluster.Keys, cluster.Services, cluster.Http, cluster.Clients);

        Cid cid = default;
        foreach (var c in clients)
        {
            var bundle = await c.UploadBundleAsync(TestBundles.DefaultLm, chunkSize: 1 << 20);
            cid = await SettlementEndToEndTests.PublishAsync(c, bundle.Cid, deployment, "lm/default");
        }
        var modelOwner = anvil.Account(2);
        await SettlementEndToEndTests.Send(modelOwner, ProvaContracts.ModelRegistry, deployment.ModelRegistry, "register", 0, cid.Digest.ToArray(), "lm/default");

        var request = new GenerationRequest
        {
            PromptText = "The jury said",
            MaxTokens = 16,
            Sampling = new SamplingOptions { Temperature = 0.8f, TopK = 40, RepetitionPenalty = 1.3f, Seed = 42 },
        };
        var inputs = request.ToTensors();
        var truth = await GenerateAsync(clients[0], cid, inputs);
        var lie = await GenerateAsync(clients[Liar], cid, inputs);
        Assert.NotEqual(truth.OutputHash, lie.OutputHash);
        var liarBatch = await services[Liar].FlushAsync();
        Assert.NotNull(liarBatch);

        var proof = await http[Liar].GetFromJsonAsync<JsonElement>($"/v1/settlement/receipts/{lie.RequestId}");
        var siblings = proof.GetProperty("proof").EnumerateArray().Select(p => Hash256.Parse(p.GetString()!)).ToArray();
        var chain = services[0].Chain;
        var challenger = new SettlementChain(anvil.Client, anvil.DevKeys[4], deployment);
        var stakeBefore = await chain.StakeOfAsync(keys[Liar].Address);
        var clock = Stopwatch.StartNew();
        var (challengeId, _) = await challenger.ChallengeAsync(liarBatch.Value, lie, siblings, InputFetcher.DataUri(CanonicalTensors.Encode(inputs)));
        var committee = await chain.CommitteeOfAsync(challengeId);
        Assert.DoesNotContain(keys[Liar].Address, committee);
        await SettlementEndToEndTests.WaitUntil(async () => await chain.StakeOfAsync(keys[Liar].Address) < stakeBefore, TimeSpan.FromSeconds(60), "the liar's stake is slashed");
        output.WriteLine($"challenge → committee regenerates and votes → slashed: {clock.Elapsed.TotalMilliseconds:F0} ms (total {total.Elapsed.TotalSeconds:F1} s)");
        foreach (var member in committee)
        {
            var vote = (byte[])(await SettlementEndToEndTests.Call(anvil.Account(3), ProvaContracts.Settlement, deployment.Settlement, "voteOf", challengeId, member))[0]!;
            Assert.Equal(truth.OutputHash, new Hash256(vote));
        }
        Assert.Equal(1, await SettlementEndToEndTests.ResolvedVerdict(chain, deployment, challengeId)); // NodeLied

        // A contract asks a question on chain (InferenceRequests.requestGeneration, quorum:2); honest nodes generate from
        // the prompt text, gather a second signature and fulfil; the callback gets the text this machine's engine writes.
        var consumerOwner = anvil.Account(5);
        var consumer = await ChainDeployer.DeployAsync(consumerOwner, ProvaContracts.ExampleChatConsumer, [deployment.InferenceRequests]);
        clock.Restart();
        await SettlementEndToEndTests.Send(consumerOwner, ProvaContracts.ExampleChatConsumer, consumer, "chat", SettlementParameters.Ether / 100,
            cid.Digest.ToArray(), "The court", 12u, "quorum:2");
        var requestId = new Hash256((byte[])(await SettlementEndToEndTests.Call(consumerOwner, ProvaContracts.ExampleChatConsumer, consumer, "lastRequestId"))[0]!);
        await SettlementEndToEndTests.WaitUntil(async () => (bool)(await SettlementEndToEndTests.Call(consumerOwner, ProvaContracts.ExampleChatConsumer, consumer, "answered", requestId))[0]!,
            TimeSpan.FromSeconds(60), "the chat consumer gets its callback");
        output.WriteLine($"requestGeneration quorum:2 → callback: {clock.Elapsed.TotalMilliseconds:F0} ms");
        string answer = (string)(await SettlementEndToEndTests.Call(consumerOwner, ProvaContracts.ExampleChatConsumer, consumer, "lastAnswer"))[0]!;
        using var lm = LanguageModel.Load(RepoFiles.Get("models", "lm"), threads: 1);
        var local = lm.Run(new GenerationRequest { PromptText = "The court", MaxTokens = 12, Sampling = new SamplingOptions() });
        Assert.Equal(local.Text, answer);
        Assert.False(string.IsNullOrEmpty(answer));
    }

    private static async Task<Receipt> GenerateAsync(TestClient client, Cid cid, Dictionary<string, Tensor> inputs)
    {
        var response = await client.InferAsync(cid, inputs);
        await TestClient.Expect(response, HttpStatusCode.OK);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return Receipt.FromJson(body.RootElement.GetProperty("receipt"));
    }
}
