using System.Net;
using System.Text.Json;
using Prova.Core;
using Prova.Core.Receipts;
using Prova.Lm;
using Prova.Node.Hosting;
using Prova.Runtime.Generation;

namespace Prova.Node.Tests;

/// <summary>
/// Generations through the node's generic path (<c>/v1/infer</c> on a language-model bundle with a generation request's
/// tensors): what quorum peers, challenges and on-chain requests use. The receipt binds the resolved request and the tokens.
/// </summary>
public sealed class GenerationTests : IDisposable
{
    private readonly List<NodeFactory> _factories = [];

    public void Dispose()
    {
        foreach (var f in _factories)
        {
            f.Dispose();
        }
    }

    private async Task<(TestClient Client, Core.Content.Cid Model)> NodeWithDefaultLmAsync(Action<NodeOptions>? configure = null, string? faults = null)
    {
        var factory = new NodeFactory(configure, faults);
        _factories.Add(factory);
        var client = new TestClient(factory.CreateClient());
        var bundle = await client.PushBundleAsync(TestBundles.DefaultLm, "lm/default", chunkSize: 1 << 20);
        return (client, bundle.Cid);
    }

    private static GenerationRequest Request(ulong seed, int maxTokens = 12, string[]? stop = null) => new()
    {
        PromptText = "The jury said",
        MaxTokens = maxTokens,
        Sampling = new SamplingOptions { Temperature = 0.8f, TopK = 40, RepetitionPenalty = 1.3f, Seed = seed },
        Stop = stop ?? [],
    };

    private static async Task<JsonElement> InferOkAsync(TestClient client, Core.Content.Cid model, GenerationRequest request, string? extra = null)
    {
        var response = await client.InferAsync(model, request.ToTensors(), extra);
        await TestClient.Expect(response, HttpStatusCode.OK);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    [Fact]
    public async Task A_generation_is_signed_over_the_request_and_the_tokens_and_repeats_bit_for_bit()
    {
        var (client, model) = await NodeWithDefaultLmAsync();
        var request = Request(seed: 7);
        var first = await InferOkAsync(client, model, request);
        var second = await InferOkAsync(client, model, request);

        var receipt = Receipt.FromJson(first.GetProperty("receipt"));
        var outputs = TensorJson.ReadNamedTensors(JsonSerializer.SerializeToUtf8Bytes(first), "outputs");
        Assert.True(receipt.Verify(inputs: request.ToTensors(), outputs: outputs, model: model, signer: NodeFactory.NodeKey.Address).IsValid);
        Assert.Equal(request.Hash(), receipt.InputHash.ToString());

        // The node's tokens are the ones a local run of the same bundle gives, and the text is what they decode to.
        var (ids, text) = GenerationOutput.Read(outputs);
        using var lm = LanguageModel.Load(RepoFiles.Get("models", "lm"), threads: 1);
        var local = lm.Run(request);
        Assert.Equal(local.Ids, ids);
        Assert.Equal(local.Text, text);
        Assert.Equal(local.ReceiptOutputHash, receipt.OutputHash.ToString());
        Assert.InRange(ids.Length, 1, 12);

        Assert.Equal(first.GetProperty("outputHash").GetString(), second.GetProperty("outputHash").GetString());
        var otherSeed = await InferOkAsync(client, model, Request(seed: 8));
        Assert.NotEqual(first.GetProperty("outputHash").GetString(), otherSeed.GetProperty("outputHash").GetString());
    }

    [Fact]
    public async Task A_stop_string_ends_the_generation_and_is_cut_from_the_text()
    {
        var (client, model) = await NodeWithDefaultLmAsync();
        var free = GenerationOutput.Read(TensorJson.ReadNamedTensors(
            JsonSerializer.SerializeToUtf8Bytes(await InferOkAsync(client, model, Request(seed: 3, maxTokens: 24))), "outputs"));
        // Stop at the second word the model wrote on its own.
        string[] words = free.Text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(words.Length >= 2, $"the model wrote '{free.Text}'");
        string stop = " " + words[1];
        var stopped = GenerationOutput.Read(TensorJson.ReadNamedTensors(
            JsonSerializer.SerializeToUtf8Bytes(await InferOkAsync(client, model, Request(seed: 3, maxTokens: 24, stop: [stop]))), "outputs"));
        Assert.DoesNotContain(stop, stopped.Text, StringComparison.Ordinal);
        Assert.StartsWith(stopped.Text, free.Text, StringComparison.Ordinal);
        Assert.True(stopped.Ids.Length < free.Ids.Length);
    }

    [Fact]
    public async Task A_lying_node_signs_different_tokens_for_the_same_request()
    {
        var (honest, model) = await NodeWithDefaultLmAsync();
        var (liar, liarModel) = await NodeWithDefaultLmAsync(faults: "corrupt-output");
        Assert.Equal(model, liarModel);
        var request = Request(seed: 11);
        var truth = await InferOkAsync(honest, model, request);
        var lie = await InferOkAsync(liar, model, request);
        Assert.NotEqual(truth.GetProperty("outputHash").GetString(), lie.GetProperty("outputHash").GetString());
        var lieReceipt = Receipt.FromJson(lie.GetProperty("receipt"));
        Assert.True(lieReceipt.Verify().IsValid, "the liar signs its lie");
        var truthIds = GenerationOutput.Read(TensorJson.ReadNamedTensors(JsonSerializer.SerializeToUtf8Bytes(truth), "outputs")).Ids;
        var lieIds = GenerationOutput.Read(TensorJson.ReadNamedTensors(JsonSerializer.SerializeToUtf8Bytes(lie), "outputs")).Ids;
        Assert.Equal(truthIds.Length, lieIds.Length);
        Assert.Equal(1, truthIds.Zip(lieIds).Count(p => p.First != p.Second));
    }

    [Fact]
    public async Task Requests_beyond_the_node_limits_are_refused_with_a_problem_naming_the_limit()
    {
        var (client, model) = await NodeWithDefaultLmAsync(o => o.MaxGenerationTokens = 8);
        var tooMany = await client.InferAsync(model, Request(seed: 1, maxTokens: 9).ToTensors());
        Assert.Contains("MaxGenerationTokens", (await TestClient.ExpectProblem(tooMany, 400, "max-tokens-exceeded")).GetProperty("detail").GetString());

        var longPrompt = new GenerationRequest { PromptIds = [.. Enumerable.Repeat(5, 200)], MaxTokens = 4, Sampling = new SamplingOptions() };
        var tooLong = await client.InferAsync(model, longPrompt.ToTensors());
        Assert.Contains("context", (await TestClient.ExpectProblem(tooLong, 400, "context-length-exceeded")).GetProperty("detail").GetString());

        var tensors = Request(seed: 1).ToTensors();
        tensors.Remove("seed");
        var missing = await client.InferAsync(model, tensors);
        Assert.Contains("'seed'", (await TestClient.ExpectProblem(missing, 422, "invalid-input")).GetProperty("detail").GetString());
    }
}
