using Microsoft.Extensions.AI;
using Prova.Lm;

namespace Prova.Sdk.Tests;

/// <summary>
/// <see cref="ProvaChatClient"/> as an <see cref="IChatClient"/> against a real node on 127.0.0.1 serving the default
/// model (models/lm) through its OpenAI-compatible API: answers streamed and not, the result on the answer re-executed
/// locally token by token, the node's errors.
/// </summary>
public sealed class ProvaChatClientTests(GenerationNodeFixture f) : IClassFixture<GenerationNodeFixture>
{
    private IChatClient Client(string? model = "sdk/lm") => new ProvaChatClient(f.Node.Node.Url, new ProvaChatClientOptions { DefaultModel = model });

    private static ChatOptions Options => new() { MaxOutputTokens = 10, Temperature = 0.7f, Seed = 3 };

    private static List<ChatMessage> Conversation =>
    [
        new(ChatRole.System, "You answer briefly."),
        new(ChatRole.User, "Hello"),
        new(ChatRole.Assistant, "Hi."),
        new(ChatRole.User, "Tell me about the jury"),
    ];

    [Fact]
    public async Task AnAnswerAndTheSameAnswerStreamedCarryResultsThatReExecuteToTheSameTokens()
    {
        using var client = Client();
        var response = await client.GetResponseAsync(Conversation, Options);
        var result = response.GetProvaResult()!;
        Assert.Equal(f.Model, result.Model);
        Assert.Equal("attested", result.Mode);
        Assert.Equal(f.Node.Node.Url.AbsoluteUri, result.Node);
        var (ids, text) = GenerationOutput.Read(result.Outputs);
        Assert.Equal(text, response.Text);
        Assert.Equal(ids.Length, response.Usage?.OutputTokenCount);
        Assert.True(response.Usage?.InputTokenCount > 10, $"the chat template's tokens: {response.Usage?.InputTokenCount}");
        Assert.Equal(response.Usage!.InputTokenCount + response.Usage.OutputTokenCount, response.Usage.TotalTokenCount);
        Assert.NotNull(response.FinishReason);

        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in client.GetStreamingResponseAsync(Conversation, Options))
        {
            updates.Add(update);
        }
        Assert.True(updates.Count >= 3, $"{updates.Count} updates: tokens are streamed as they come");
        Assert.All(updates.SkipLast(1), u => Assert.Null(u.GetProvaResult()));
        var streamed = updates[^1].GetProvaResult()!;
        Assert.Equal(response.Text, string.Concat(updates.Select(u => u.Text)));
        // Same messages, parameters and seed: the same signed request and tokens, under another request id.
        Assert.Equal(result.Receipts[0].InputHash, streamed.Receipts[0].InputHash);
        Assert.Equal(result.Receipts[0].OutputHash, streamed.Receipts[0].OutputHash);
        Assert.NotEqual(result.RequestId, streamed.RequestId);
        Assert.Equal(response.Usage.TotalTokenCount, updates.ToChatResponse().Usage?.TotalTokenCount);

        foreach (var r in new[] { result, streamed })
        {
            var v = ResultVerifier.Verify(r.ToJsonBytes(), new ResultVerifierOptions { ModelPath = GenerationNodeFixture.ModelFolder });
            Assert.True(v.IsValid, v.Failure?.Message);
            Assert.Contains(v.Checks, c => c.Name == "re-execution");
        }
    }

    [Fact]
    public async Task TheModelCanBeNamedByCidPerRequestAndTheClientDescribesItself()
    {
        using var client = Client(model: null);
        var options = Options;
        options.ModelId = f.Model.ToString();
        var response = await client.GetResponseAsync("The jury said", options);
        Assert.Equal(f.Model, response.GetProvaResult()!.Model);
        var metadata = client.GetService<ChatClientMetadata>()!;
        Assert.Equal("prova", metadata.ProviderName);
        Assert.Equal(f.Node.Node.Url, metadata.ProviderUri);
        Assert.Same(client, client.GetService<ProvaChatClient>());
    }

    [Fact]
    public async Task TheNodesErrorsSurfaceAsProvaClientExceptionsWithItsMessage()
    {
        using var client = Client();
        var tooMany = await Assert.ThrowsAsync<ProvaClientException>(() => client.GetResponseAsync("hi", new ChatOptions { MaxOutputTokens = 100_000 }));
        Assert.Equal(400, tooMany.Status);
        Assert.Contains("max_tokens 100000 is above this node's limit of 2048", tooMany.Message, StringComparison.Ordinal);

        using var unknown = Client("no/such-model");
        var missing = await Assert.ThrowsAsync<ProvaClientException>(async () =>
        {
            await foreach (var _ in unknown.GetStreamingResponseAsync("hi"))
            {
            }
        });
        Assert.Equal(404, missing.Status);
        Assert.Contains("the model 'no/such-model' does not exist on this node", missing.Message, StringComparison.Ordinal);

        using var nowhere = new ProvaChatClient(new Uri("http://127.0.0.1:1/"), new ProvaChatClientOptions { DefaultModel = "m" });
        Assert.Equal("unreachable", (await Assert.ThrowsAsync<ProvaClientException>(() => nowhere.GetResponseAsync("hi"))).Code);
    }

    [Fact]
    public async Task AClientThatLeavesAStreamEarlyLeavesTheNodeFreeForTheNext()
    {
        using var client = Client();
        int seen = 0;
        await foreach (var update in client.GetStreamingResponseAsync("Once upon a time", new ChatOptions { MaxOutputTokens = 2000, Seed = 1 }))
        {
            if (++seen == 2)
            {
                break;
            }
        }
        var next = await client.GetResponseAsync("Once upon a time", new ChatOptions { MaxOutputTokens = 4, Seed = 1 });
        Assert.NotNull(next.GetProvaResult());
    }
}

/// <summary>A client of several nodes: a node that cannot be reached or lacks the model is replaced by the next before anything is sent back.</summary>
public sealed class ProvaChatClientFailoverTests(GenerationNodeFixture f) : IClassFixture<GenerationNodeFixture>
{
    [Fact]
    public async Task UnreachableNodesAndNodesWithoutTheModelAreSkippedAndTheAnsweringNodeIsNamed()
    {
        var empty = new NodeFixture();
        await empty.InitializeAsync();
        try
        {
            Uri dead = new("http://127.0.0.1:1/");
            using var client = new ProvaChatClient([dead, empty.Node.Url, f.Node.Node.Url], new ProvaChatClientOptions { DefaultModel = f.Model.ToString() });
            for (int i = 0; i < 3; i++)
            {
                var response = await client.GetResponseAsync("Hello", new ChatOptions { MaxOutputTokens = 3, Seed = 1 });
                Assert.Equal(f.Node.Node.Url.AbsoluteUri, response.GetProvaResult()!.Node);
                string streamedBy = "";
                await foreach (var update in client.GetStreamingResponseAsync("Hello", new ChatOptions { MaxOutputTokens = 3, Seed = 1 }))
                {
                    streamedBy = update.GetProvaResult()?.Node ?? streamedBy;
                }
                Assert.Equal(f.Node.Node.Url.AbsoluteUri, streamedBy);
            }

            using var none = new ProvaChatClient([dead, empty.Node.Url], new ProvaChatClientOptions { DefaultModel = f.Model.ToString() });
            var ex = await Assert.ThrowsAsync<ProvaClientException>(() => none.GetResponseAsync("Hello"));
            Assert.StartsWith("none of the 2 nodes answered: ", ex.Message, StringComparison.Ordinal);
            Assert.Contains("cannot reach node at http://127.0.0.1:1/", ex.Message, StringComparison.Ordinal);
            Assert.Contains("does not exist on this node", ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            await empty.DisposeAsync();
        }
    }
}
