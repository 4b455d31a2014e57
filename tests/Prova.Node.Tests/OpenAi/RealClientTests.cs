using System.ClientModel;
using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.AI;
using OpenAI;
using Prova.Core;
using Prova.Core.Receipts;
using Prova.Lm;

namespace Prova.Node.Tests.OpenAi;

/// <summary>
/// The clients people already have, pointed at a node on 127.0.0.1: the official <c>openai</c> npm package
/// (tests/openai-js, installed by scripts/setup.sh) and <c>Microsoft.Extensions.AI.OpenAI</c>'s <see cref="IChatClient"/>,
/// each streaming and not.
/// </summary>
public sealed class RealClientTests(LmNodeFixture fixture) : IClassFixture<LmNodeFixture>
{
    private static readonly string s_clientDir = RepoFiles.Get("tests", "openai-js");

    private LmNode Node => fixture.Node;

    [Fact]
    public async Task The_official_openai_npm_client_chats_streams_completes_and_lists_models()
    {
        Assert.True(File.Exists(Path.Combine(s_clientDir, "node_modules", "openai", "package.json")), "the openai npm package is not installed: run scripts/setup.sh");
        var start = new ProcessStartInfo("node", [Path.Combine(s_clientDir, "client.mjs"), Node.Host.Url.AbsoluteUri, LmNode.Name])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = s_clientDir,
        };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"node exited with {process.ExitCode}: {await stderr}");
        var seen = JsonDocument.Parse(await stdout).RootElement;

        // Non-streamed: the text, the usage and the receipt, read through the client's own types.
        var chat = seen.GetProperty("chat");
        Assert.StartsWith("chatcmpl-", chat.GetProperty("id").GetString());
        var (inputs, outputs, receipts) = ChatCompletionTests.Evidence(chat.GetProperty("prova"));
        Assert.True(Assert.Single(receipts).Verify(inputs, outputs, Node.Cid, Node.Host.Address).IsValid);
        var (ids, text) = GenerationOutput.Read(outputs);
        Assert.Equal(text, chat.GetProperty("content").GetString());
        Assert.Equal(ids.Length, chat.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Equal(42UL, GenerationRequest.FromTensors(inputs).Sampling.Seed);

        // Streamed with the same seed: the same text, assembled from the deltas, then usage and the evidence chunk.
        var stream = seen.GetProperty("stream");
        Assert.Equal(text, stream.GetProperty("content").GetString());
        Assert.True(stream.GetProperty("chunks").GetInt32() > 4);
        Assert.Equal(chat.GetProperty("finish").GetString(), stream.GetProperty("finish").GetString());
        Assert.Equal(chat.GetProperty("usage").GetRawText(), stream.GetProperty("usage").GetRawText());
        Assert.Equal(chat.GetProperty("prova").GetProperty("outputHash").GetString(), stream.GetProperty("prova").GetProperty("outputHash").GetString());

        var completion = seen.GetProperty("completion");
        Assert.Equal(completion.GetProperty("text").GetString(), completion.GetProperty("streamed").GetString());
        Assert.Equal(8, completion.GetProperty("usage").GetProperty("completion_tokens").GetInt32());

        var error = seen.GetProperty("error");
        Assert.Equal(404, error.GetProperty("status").GetInt32());
        Assert.Equal("NotFoundError", error.GetProperty("name").GetString());
        Assert.Equal("model_not_found", error.GetProperty("code").GetString());

        var model = Assert.Single(seen.GetProperty("models").EnumerateArray());
        Assert.Equal(Node.Cid.ToString(), model.GetProperty("id").GetString());
        Assert.Equal(TestClient.Owner.Address.ToString(), model.GetProperty("owned_by").GetString());
    }

    [Fact]
    public async Task Microsoft_extensions_ai_chat_client_gets_responses_and_streams_from_a_node()
    {
        var openAi = new OpenAIClient(new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(Node.Host.Url, "/v1") });
        IChatClient chat = openAi.GetChatClient(LmNode.Name).AsIChatClient();
        ChatMessage[] messages = [new(ChatRole.System, "You answer briefly."), new(ChatRole.User, "Tell me about the city.")];
        var options = new ChatOptions { MaxOutputTokens = 14, Seed = 11, Temperature = 0.9f };

        var response = await chat.GetResponseAsync(messages, options);
        Assert.Equal(Node.Cid.ToString(), response.ModelId);
        Assert.StartsWith("chatcmpl-", response.ResponseId);
        Assert.Contains(response.FinishReason, new ChatFinishReason?[] { ChatFinishReason.Stop, ChatFinishReason.Length });
        Assert.Equal(ChatRole.Assistant, Assert.Single(response.Messages).Role);

        // The same request over plain HTTP carries the evidence: the same seed gives the text the client got.
        var raw = await Node.ChatAsync(new
        {
            model = LmNode.Name,
            messages = new[] { new { role = "system", content = "You answer briefly." }, new { role = "user", content = "Tell me about the city." } },
            max_completion_tokens = 14,
            seed = 11,
            temperature = 0.9,
        });
        var (inputs, outputs, receipts) = ChatCompletionTests.Evidence(raw.GetProperty("prova"));
        Assert.True(Assert.Single(receipts).Verify(inputs, outputs, Node.Cid, Node.Host.Address).IsValid);
        var (ids, text) = GenerationOutput.Read(outputs);
        Assert.Equal(text, response.Text);
        Assert.Equal(ids.Length, response.Usage!.OutputTokenCount);
        Assert.Equal(raw.GetProperty("usage").GetProperty("prompt_tokens").GetInt32(), response.Usage.InputTokenCount);

        var streamed = new System.Text.StringBuilder();
        int updates = 0;
        ChatFinishReason? finish = null;
        await foreach (var update in chat.GetStreamingResponseAsync(messages, options))
        {
            updates++;
            streamed.Append(update.Text);
            finish = update.FinishReason ?? finish;
        }
        Assert.Equal(text, streamed.ToString());
        Assert.Equal(response.FinishReason, finish);
        Assert.True(updates > 4, $"only {updates} updates: the text was not streamed");
    }
}
