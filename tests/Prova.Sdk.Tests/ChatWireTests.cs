using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Prova.Core.Receipts;
using Prova.Lm;
using Xunit.Abstractions;

namespace Prova.Sdk.Tests;

/// <summary>
/// What <see cref="ProvaChatClient"/> makes of a node's answers, from recorded bodies: OpenAI's <c>chat.completion</c>
/// object and its server-sent <c>chat.completion.chunk</c> events, each carrying a result a real node signed.
/// </summary>
public sealed class ChatWireTests(GenerationNodeFixture f, ITestOutputHelper output) : IClassFixture<GenerationNodeFixture>
{
    private static readonly Uri s_node = new("http://127.0.0.1:7420/");

    private string Text => GenerationOutput.Read(f.Result.Outputs).Text;

    /// <summary>What the fixture's generation was asked with, as ChatOptions.</summary>
    private ChatWire.Request Asked(Action<ChatOptions>? change = null, string? mode = null)
    {
        var options = new ChatOptions { ModelId = f.Model.ToString(), MaxOutputTokens = 12, Temperature = 0.8f, TopK = 40, TopP = 0.95f, Seed = 7 };
        if (mode is not null)
        {
            options.WithProvaMode(mode);
        }
        change?.Invoke(options);
        return ChatWire.Request.From([new ChatMessage(ChatRole.User, "The jury said")], options, new ProvaChatClientOptions());
    }

    private string Completion(string? text = null, ResultFile? result = null, bool withProva = true) =>
        $$"""
        {"id": "chatcmpl-1", "object": "chat.completion", "created": 1765000000, "model": "{{f.Model}}",
         "choices": [{"index": 0, "message": {"role": "assistant", "content": {{JsonSerializer.Serialize(text ?? Text)}}}, "finish_reason": "length"}],
         "usage": {"prompt_tokens": 4, "completion_tokens": 12, "total_tokens": 16}
         {{(withProva ? ", \"prova\": " + (result ?? f.Result).ToJson() : "")}}}
        """;

    /// <summary>An event stream: the text in pieces of <paramref name="piece"/> chars, the usage, the result, [DONE].</summary>
    private string Stream(string? text = null, int piece = 3, string newline = "\n", bool done = true, ResultFile? result = null)
    {
        text ??= Text;
        var s = new StringBuilder();
        void Event(string json) => s.Append("data: ").Append(json.ReplaceLineEndings(" ")).Append(newline).Append(newline);
        s.Append(": keep-alive").Append(newline).Append(newline);
        Event($$"""{"id": "chatcmpl-2", "object": "chat.completion.chunk", "created": 1765000000, "model": "{{f.Model}}", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]}""");
        for (int i = 0; i < text.Length; i += piece)
        {
            string part = text.Substring(i, Math.Min(piece, text.Length - i));
            Event($$"""{"id": "chatcmpl-2", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": {{JsonSerializer.Serialize(part)}}}, "finish_reason": null}]}""");
        }
        Event("""{"id": "chatcmpl-2", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]}""");
        s.Append("event: message").Append(newline);
        Event("""{"id": "chatcmpl-2", "object": "chat.completion.chunk", "choices": [], "usage": {"prompt_tokens": 4, "completion_tokens": 12, "total_tokens": 16}}""");
        Event($$"""{"id": "chatcmpl-2", "object": "chat.completion.chunk", "choices": [], "prova": {{(result ?? f.Result).ToJson()}}}""");
        if (done)
        {
            s.Append("data: [DONE]").Append(newline).Append(newline);
        }
        return s.ToString();
    }

    private static async Task<List<ChatResponseUpdate>> ReadStreamAsync(string body, ChatWire.Request asked, bool throwOnDisagreement = true)
    {
        using var reader = new ChatWire.SseReader(new MemoryStream(Encoding.UTF8.GetBytes(body)), 1 << 20);
        var state = new ChatWire.StreamState(asked, s_node, throwOnDisagreement);
        var updates = new List<ChatResponseUpdate>();
        while (!state.Done && await reader.ReadEventAsync(CancellationToken.None) is { } data)
        {
            if (state.Feed(data) is { } update)
            {
                updates.Add(update);
            }
        }
        updates.Add(state.Finish());
        return updates;
    }

    [Fact]
    public void ANonStreamedAnswerHasTheTextUsageFinishReasonAndTheNodesCheckedResult()
    {
        var response = ChatWire.ParseCompletion(Encoding.UTF8.GetBytes(Completion()), Asked(), s_node, true);
        Assert.Equal(Text, response.Text);
        Assert.Equal(ChatRole.Assistant, response.Messages[0].Role);
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.Equal("chatcmpl-1", response.ResponseId);
        Assert.Equal(4, response.Usage!.InputTokenCount);
        Assert.Equal(12, response.Usage.OutputTokenCount);
        Assert.Equal(16, response.Usage.TotalTokenCount);
        var result = response.GetProvaResult()!;
        Assert.Equal(f.Model, result.Model);
        Assert.Equal(f.Result.Receipts[0], result.Receipts[0]);
        Assert.Equal(f.Result.ToJson(), result.ToJson());
    }

    [Theory]
    [InlineData(1, "\n")]
    [InlineData(3, "\r\n")]
    [InlineData(1000, "\n")]
    public async Task AStreamGivesTheTextPieceByPieceAndItsLastUpdateCarriesTheResultAndUsage(int piece, string newline)
    {
        var updates = await ReadStreamAsync(Stream(piece: piece, newline: newline), Asked());
        Assert.Equal(Text, string.Concat(updates.Select(u => u.Text)));
        Assert.Equal((Text.Length + piece - 1) / piece, updates.Count - 1);
        Assert.All(updates.SkipLast(1), u => Assert.Null(u.GetProvaResult()));
        var last = updates[^1];
        Assert.Equal(f.Result.ToJson(), last.GetProvaResult()!.ToJson());
        Assert.Equal(ChatFinishReason.Length, last.FinishReason);
        Assert.Equal(12, last.Contents.OfType<UsageContent>().Single().Details.OutputTokenCount);
        // The usual way to gather a stream keeps the result.
        var response = updates.ToChatResponse();
        Assert.Equal(Text, response.Text);
        Assert.NotNull(response.GetProvaResult());
        Assert.Equal(16, response.Usage?.TotalTokenCount);
    }

    [Fact]
    public async Task TextThatIsNotTheSignedTextIsABadReceipt()
    {
        var plain = Assert.Throws<ProvaClientException>(() => ChatWire.ParseCompletion(Encoding.UTF8.GetBytes(Completion(text: Text + "!")), Asked(), s_node, true));
        Assert.Equal("bad-receipt", plain.Code);
        Assert.Contains("is not the text the receipt signs", plain.Message, StringComparison.Ordinal);
        var streamed = await Assert.ThrowsAsync<ProvaClientException>(() => ReadStreamAsync(Stream(text: "x" + Text), Asked()));
        Assert.Equal("bad-receipt", streamed.Code);
    }

    [Theory]
    [InlineData("seed", "seed 7 (asked 8)")]
    [InlineData("temperature", "temperature 0.8 (asked 0.5)")]
    [InlineData("top_k", "top_k 40 (asked 5)")]
    [InlineData("stop", "the stop strings")]
    [InlineData("mode", "mode 'attested', not the 'quorum:2' asked for")]
    [InlineData("model", "not bafkrei")]
    public void ASignedRequestOtherThanTheOneSentIsABadReceipt(string field, string expected)
    {
        var asked = field switch
        {
            "seed" => Asked(o => o.Seed = 8),
            "temperature" => Asked(o => o.Temperature = 0.5f),
            "top_k" => Asked(o => o.TopK = 5),
            "stop" => Asked(o => o.StopSequences = ["."]),
            "mode" => Asked(mode: "quorum:2"),
            _ => Asked(o => o.ModelId = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"),
        };
        var ex = Assert.Throws<ProvaClientException>(() => ChatWire.ParseCompletion(Encoding.UTF8.GetBytes(Completion()), asked, s_node, true));
        Assert.Equal("bad-receipt", ex.Code);
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ATamperedResultIsABadReceiptNamingTheCheck()
    {
        var (ids, text) = GenerationOutput.Read(f.Result.Outputs);
        ids = (int[])ids.Clone();
        ids[4]++;
        var tampered = f.Result with { Outputs = GenerationOutput.ToTensors(ids, text) };
        var ex = await Assert.ThrowsAsync<ProvaClientException>(() => ReadStreamAsync(Stream(result: tampered), Asked()));
        Assert.Equal("bad-receipt", ex.Code);
        Assert.Contains("does not verify: outputs", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnAnswerWithoutAResultOrAStreamWithoutDoneIsRefused()
    {
        var plain = Assert.Throws<ProvaClientException>(() => ChatWire.ParseCompletion(Encoding.UTF8.GetBytes(Completion(withProva: false)), Asked(), s_node, true));
        Assert.Equal("no-receipt", plain.Code);
        var cut = await Assert.ThrowsAsync<ProvaClientException>(() => ReadStreamAsync(Stream(done: false), Asked()));
        Assert.Equal("bad-response", cut.Code);
        Assert.Contains("before data: [DONE]", cut.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ADisagreeingQuorumThrowsWithTheEvidenceOrIsReturnedWhenAskedTo()
    {
        var evidence = new EvidenceFile
        {
            Model = f.Model,
            InputHash = f.Result.Receipts[0].InputHash,
            Inputs = f.Result.Inputs,
            Receipts = f.Result.Receipts,
            Outputs = [new EvidenceOutput(f.Result.Receipts[0].Node, f.Result.Receipts[0].OutputHash)],
        };
        var disagreed = f.Result with { Verdict = new QuorumVerdict(false, null, evidence.Outputs) { Evidence = evidence } };
        var ex = await Assert.ThrowsAsync<ChatQuorumDisagreementException>(() => ReadStreamAsync(Stream(result: disagreed), Asked()));
        Assert.Equal(evidence.ToJson(), ex.Evidence!.ToJson());
        Assert.Equal(Text, ex.Text);
        var kept = await ReadStreamAsync(Stream(result: disagreed), Asked(), throwOnDisagreement: false);
        Assert.False(kept[^1].GetProvaResult()!.Verdict!.Agreed);
    }

    [Fact]
    public async Task TheNodesOpenAiErrorsSurfaceWithTheirMessage()
    {
        var refused = ChatWire.Error("""{"error": {"message": "max_tokens 9999 is above this node's limit of 512", "type": "invalid_request_error", "param": "max_tokens", "code": "max_tokens_exceeded"}}"""u8.ToArray(), 400, "Bad Request");
        Assert.Equal("node refused the chat request: max_tokens 9999 is above this node's limit of 512 (400 max_tokens_exceeded)", refused.Message);
        Assert.Equal("max_tokens_exceeded", refused.Code);
        Assert.Equal(400, refused.Status);
        Assert.Equal("max_tokens 9999 is above this node's limit of 512", refused.Detail);

        var busy = ChatWire.Error("""{"error": {"message": "too many generations waiting", "type": "rate_limit_error", "code": null}}"""u8.ToArray(), 429, "Too Many Requests");
        Assert.Equal("rate_limit_error", busy.Code);
        Assert.Contains("too many generations waiting (429", busy.Message, StringComparison.Ordinal);
        Assert.Equal("http-502", ChatWire.Error("<html>bad gateway</html>"u8.ToArray(), 502, "Bad Gateway").Code);

        string midStream = "data: {\"choices\": [{\"index\": 0, \"delta\": {\"content\": \"Hi\"}}]}\n\ndata: {\"error\": {\"message\": \"the node is shutting down\", \"type\": \"server_error\"}}\n\n";
        var ended = await Assert.ThrowsAsync<ProvaClientException>(() => ReadStreamAsync(midStream, Asked()));
        Assert.Equal("the node ended the chat stream with an error: the node is shutting down (server_error)", ended.Message);
    }

    [Fact]
    public void TheRequestBodyIsOpenAisWithProvasModeAndBadRequestsAreRefusedBeforeSending()
    {
        var asked = Asked(o => o.StopSequences = ["\n\n"], mode: "quorum:3");
        using var doc = JsonDocument.Parse(asked.ToJson(stream: true));
        var root = doc.RootElement;
        Assert.Equal(f.Model.ToString(), root.GetProperty("model").GetString());
        Assert.Equal("user", root.GetProperty("messages")[0].GetProperty("role").GetString());
        Assert.Equal("The jury said", root.GetProperty("messages")[0].GetProperty("content").GetString());
        Assert.Equal(12, root.GetProperty("max_tokens").GetInt32());
        Assert.Equal(7, root.GetProperty("seed").GetInt64());
        Assert.Equal("\n\n", root.GetProperty("stop")[0].GetString());
        Assert.True(root.GetProperty("stream").GetBoolean());
        Assert.True(root.GetProperty("stream_options").GetProperty("include_usage").GetBoolean());
        Assert.Equal("quorum:3", root.GetProperty("prova").GetProperty("mode").GetString());

        var client = new ProvaChatClientOptions();
        ChatMessage[] hello = [new(ChatRole.User, "hello")];
        Assert.Equal("bad-request", Assert.Throws<ProvaClientException>(() => ChatWire.Request.From(hello, null, client)).Code);
        Assert.Equal("bad-mode", Assert.Throws<ProvaClientException>(() => new ChatOptions().WithProvaMode("quorum:1")).Code);
        Assert.Equal("bad-mode", Assert.Throws<ProvaClientException>(() => new ChatOptions().WithProvaMode("proof")).Code);
        var image = new ChatMessage(ChatRole.User, [new DataContent(new byte[] { 1 }, "image/png")]);
        Assert.Contains("text only", Assert.Throws<ProvaClientException>(() => ChatWire.Request.From([image], new ChatOptions { ModelId = "m" }, client)).Message, StringComparison.Ordinal);
        var instructed = ChatWire.Request.From(hello, new ChatOptions { ModelId = "m", Instructions = "Be brief." }, client);
        Assert.Equal([("system", "Be brief."), ("user", "hello")], instructed.Messages);
    }

    [Fact]
    public async Task MutatedStreamsGiveTheTextOrOneClientErrorNeverACrash()
    {
        int seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var rng = new Random(seed);
        byte[] good = Encoding.UTF8.GetBytes(Stream(piece: 4));
        int accepted = 0;
        for (int trial = 0; trial < 150; trial++)
        {
            byte[] body = (byte[])good.Clone();
            int edits = rng.Next(1, 4);
            for (int e = 0; e < edits && body.Length > 0; e++)
            {
                int at = rng.Next(body.Length);
                switch (rng.Next(3))
                {
                    case 0:
                        body[at] = (byte)rng.Next(256);
                        break;
                    case 1:
                        body = body[..at];
                        break;
                    default:
                        body = [.. body[..at], .. "\n\ndata: {"u8.ToArray(), .. body[at..]];
                        break;
                }
            }
            try
            {
                var updates = await ReadStreamAsync(Encoding.UTF8.GetString(body), Asked());
                Assert.Equal(Text, string.Concat(updates.Select(u => u.Text)));
                accepted++;
            }
            catch (ProvaClientException)
            {
            }
        }
        output.WriteLine($"{accepted} of 150 mutated streams still gave the signed text");
    }
}
