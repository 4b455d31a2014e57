using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Prova.Core;
using Prova.Core.Receipts;
using Prova.Lm;
using Prova.Lm.Text;

namespace Prova.Node.Tests.OpenAi;

/// <summary>The OpenAI-compatible routes on the default model: shapes, receipts, determinism, usage, stop strings, streaming.</summary>
public sealed class ChatCompletionTests(LmNodeFixture fixture) : IClassFixture<LmNodeFixture>
{
    private static readonly object[] s_messages = [new { role = "system", content = "You answer briefly." }, new { role = "user", content = "Tell me about the city." }];

    private LmNode Node => fixture.Node;

    [Fact]
    public async Task A_chat_completion_has_the_openai_shape_and_a_receipt_binding_the_resolved_request_and_tokens()
    {
        var r = await Node.ChatAsync(new { model = LmNode.Name, messages = s_messages, max_tokens = 12, seed = 7 });

        Assert.StartsWith("chatcmpl-", r.GetProperty("id").GetString());
        Assert.Equal("chat.completion", r.GetProperty("object").GetString());
        Assert.Equal(Node.Cid.ToString(), r.GetProperty("model").GetString());
        Assert.InRange(r.GetProperty("created").GetInt64(), DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 600, DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 5);
        Assert.Equal(JsonValueKind.String, r.GetProperty("system_fingerprint").ValueKind);
        var choice = Assert.Single(r.GetProperty("choices").EnumerateArray());
        Assert.Equal(0, choice.GetProperty("index").GetInt32());
        Assert.Equal("assistant", choice.GetProperty("message").GetProperty("role").GetString());
        string content = choice.GetProperty("message").GetProperty("content").GetString()!;

        var prova = r.GetProperty("prova");
        Assert.Equal("prova-result/1", prova.GetProperty("format").GetString());
        Assert.Equal(Node.Cid.ToString(), prova.GetProperty("model").GetString());
        Assert.Equal("attested", prova.GetProperty("mode").GetString());
        var (inputs, outputs, receipts) = Evidence(prova);
        var receipt = Assert.Single(receipts);
        Assert.True(receipt.Verify(inputs, outputs, Node.Cid, Node.Host.Address).IsValid);
        Assert.Equal(Receipt.HashTensors(inputs), receipt.InputHash);
        Assert.Equal(prova.GetProperty("inputHash").GetString(), receipt.InputHash.ToString());
        Assert.Equal(prova.GetProperty("outputHash").GetString(), receipt.OutputHash.ToString());
        Assert.Equal(r.GetProperty("id").GetString(), "chatcmpl-" + receipt.RequestId.ToString()[2..]);
        Assert.True(Prova.Sdk.ResultVerifier.Verify(Encoding.UTF8.GetBytes(prova.GetRawText())).IsValid, "prova is not a result file that verifies");

        // The signed request is the chat template's token ids, the bundle's sampling defaults (generation_config.json) and the seed.
        using var lm = LmNode.LoadModel();
        var request = GenerationRequest.FromTensors(inputs);
        var chat = new[] { new ChatMessage("system", "You answer briefly."), new ChatMessage("user", "Tell me about the city.") };
        Assert.Equal(lm.EncodeChat(chat), request.PromptIds);
        Assert.Equal(lm.DefaultSampling() with { Seed = 7 }, request.Sampling);
        Assert.Equal(12, request.MaxTokens);

        // Anyone re-running the signed request gets the same tokens and text.
        var again = lm.Run(request);
        var (ids, text) = GenerationOutput.Read(outputs);
        Assert.Equal(again.Ids, ids);
        Assert.Equal(again.Text, text);
        Assert.Equal(text, content);
        Assert.Equal(OpenAiFinish(again), choice.GetProperty("finish_reason").GetString());

        var usage = r.GetProperty("usage");
        Assert.Equal(request.PromptIds!.Length, usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(ids.Length, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(request.PromptIds.Length + ids.Length, usage.GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public async Task The_same_seed_gives_the_same_text_and_output_hash_and_an_unset_seed_is_drawn_and_reported()
    {
        var body = new { model = Node.Cid.ToString(), messages = s_messages, max_tokens = 16, seed = 1234, temperature = 1.2 };
        var a = await Node.ChatAsync(body);
        var b = await Node.ChatAsync(body);
        Assert.Equal(Content(a), Content(b));
        Assert.Equal(a.GetProperty("prova").GetProperty("outputHash").GetString(), b.GetProperty("prova").GetProperty("outputHash").GetString());
        Assert.Equal(a.GetProperty("prova").GetProperty("inputHash").GetString(), b.GetProperty("prova").GetProperty("inputHash").GetString());
        Assert.NotEqual(a.GetProperty("prova").GetProperty("requestId").GetString(), b.GetProperty("prova").GetProperty("requestId").GetString());
        var request = GenerationRequest.FromTensors(Evidence(a.GetProperty("prova")).Inputs);
        Assert.Equal(1.2f, request.Sampling.Temperature);
        Assert.Equal(1234UL, request.Sampling.Seed);

        var response = await Node.Http.PostAsJsonAsync("/v1/chat/completions", new { model = LmNode.Name, messages = s_messages, max_tokens = 4 });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var drawn = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        ulong seed = GenerationRequest.FromTensors(Evidence(drawn.GetProperty("prova")).Inputs).Sampling.Seed;
        Assert.Equal(seed.ToString(System.Globalization.CultureInfo.InvariantCulture), Assert.Single(response.Headers.GetValues("Prova-Seed")));
        Assert.True(seed < 1UL << 53);
    }

    [Fact]
    public async Task A_text_completion_tokenizes_the_prompt_and_unset_max_tokens_fills_the_context()
    {
        const string prompt = "The history of the city";
        var r = await Node.CompleteAsync(new { model = LmNode.Name + ":1.0.0", prompt, seed = 3, temperature = 0 });
        Assert.StartsWith("cmpl-", r.GetProperty("id").GetString());
        Assert.Equal("text_completion", r.GetProperty("object").GetString());
        var choice = Assert.Single(r.GetProperty("choices").EnumerateArray());
        var (inputs, outputs, receipts) = Evidence(r.GetProperty("prova"));
        Assert.True(Assert.Single(receipts).Verify(inputs, outputs, Node.Cid, Node.Host.Address).IsValid);
        var request = GenerationRequest.FromTensors(inputs);
        Assert.Equal(prompt, request.PromptText);
        Assert.Equal(0f, request.Sampling.Temperature);
        using var lm = LmNode.LoadModel();
        int promptTokens = lm.Encode(prompt).Length;
        Assert.Equal(promptTokens, r.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(lm.Decoder.MaxContext - promptTokens, request.MaxTokens);
        Assert.Equal(GenerationOutput.Read(outputs).Text, choice.GetProperty("text").GetString());
    }

    [Fact]
    public async Task A_prompt_of_token_ids_completes_like_its_text_and_top_k_and_repetition_penalty_are_signed()
    {
        const string prompt = "The history of the city";
        using var lm = LmNode.LoadModel();
        int[] ids = lm.Encode(prompt);
        var byText = await Node.CompleteAsync(new { model = LmNode.Name, prompt, temperature = 0, max_tokens = 12 });
        var byIds = await Node.CompleteAsync(new { model = LmNode.Name, prompt = ids, temperature = 0, max_tokens = 12 });
        var batchForm = await Node.CompleteAsync(new { model = LmNode.Name, prompt = new[] { ids }, temperature = 0, max_tokens = 12 });
        string text = byText.GetProperty("choices")[0].GetProperty("text").GetString()!;
        Assert.Equal(text, byIds.GetProperty("choices")[0].GetProperty("text").GetString());
        Assert.Equal(text, batchForm.GetProperty("choices")[0].GetProperty("text").GetString());
        var request = GenerationRequest.FromTensors(Evidence(byIds.GetProperty("prova")).Inputs);
        Assert.Equal(ids, request.PromptIds);
        Assert.Null(request.PromptText);
        Assert.Equal(ids.Length, byIds.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());

        // top_k = 1 keeps only the most likely token, so a hot, seeded sample is the greedy text; both values are in
        // the signed request a verifier replays.
        var topOne = await Node.CompleteAsync(new { model = LmNode.Name, prompt = ids, temperature = 1.5, seed = 99, top_k = 1, max_tokens = 12 });
        Assert.Equal(text, topOne.GetProperty("choices")[0].GetProperty("text").GetString());
        var penalised = await Node.CompleteAsync(new { model = LmNode.Name, prompt = ids, temperature = 0, repetition_penalty = 1.7, max_tokens = 12 });
        var signed = GenerationRequest.FromTensors(Evidence(penalised.GetProperty("prova")).Inputs).Sampling;
        Assert.Equal(1.7f, signed.RepetitionPenalty);
        Assert.Equal(1, GenerationRequest.FromTensors(Evidence(topOne.GetProperty("prova")).Inputs).Sampling.TopK);
    }

    [Fact]
    public async Task A_stop_string_cuts_the_text_before_it_and_finishes_with_stop()
    {
        var free = await Node.CompleteAsync(new { model = LmNode.Name, prompt = "The history of the city", temperature = 0, max_tokens = 24 });
        string text = free.GetProperty("choices")[0].GetProperty("text").GetString()!;
        int cut = text.IndexOf(' ', 3);
        Assert.True(cut > 0, $"the greedy text '{text}' has no second word to stop at");
        string stop = text.Substring(cut, Math.Min(3, text.Length - cut));

        var stopped = await Node.CompleteAsync(new { model = LmNode.Name, prompt = "The history of the city", temperature = 0, max_tokens = 24, stop = new[] { "\u00a7never", stop } });
        var choice = stopped.GetProperty("choices")[0];
        Assert.Equal(text[..text.IndexOf(stop, StringComparison.Ordinal)], choice.GetProperty("text").GetString());
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
        Assert.Equal(["\u00a7never", stop], GenerationRequest.FromTensors(Evidence(stopped.GetProperty("prova")).Inputs).Stop);

        var length = await Node.CompleteAsync(new { model = LmNode.Name, prompt = "The history of the city", temperature = 0, max_tokens = 2 });
        Assert.Equal("length", length.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal(2, length.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task A_streamed_chat_sends_role_then_text_then_finish_usage_and_evidence_and_matches_the_unstreamed_answer()
    {
        var body = new { model = LmNode.Name, messages = s_messages, max_tokens = 20, seed = 99, stream = true, stream_options = new { include_usage = true } };
        var response = await Node.Http.PostAsJsonAsync("/v1/chat/completions", body);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        var events = await Sse.ReadAllAsync(response);
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e).RootElement).ToList();
        Assert.All(chunks, c => Assert.Equal("chat.completion.chunk", c.GetProperty("object").GetString()));
        Assert.Single(chunks.Select(c => c.GetProperty("id").GetString()).Distinct());
        Assert.Equal("assistant", chunks[0].GetProperty("choices")[0].GetProperty("delta").GetProperty("role").GetString());

        var prova = chunks[^1];
        Assert.Empty(prova.GetProperty("choices").EnumerateArray());
        var usage = chunks[^2];
        Assert.Empty(usage.GetProperty("choices").EnumerateArray());
        var finish = chunks[^3];
        string reason = finish.GetProperty("choices")[0].GetProperty("finish_reason").GetString()!;
        Assert.Contains(reason, new[] { "stop", "length" });
        var text = new StringBuilder();
        foreach (var c in chunks[..^3])
        {
            Assert.Equal(JsonValueKind.Null, c.GetProperty("choices")[0].GetProperty("finish_reason").ValueKind);
            Assert.Equal(JsonValueKind.Null, c.GetProperty("usage").ValueKind);
            text.Append(c.GetProperty("choices")[0].GetProperty("delta").TryGetProperty("content", out var piece) ? piece.GetString() : "");
        }
        Assert.True(chunks.Count > 5, $"only {chunks.Count} chunks: the text was not streamed");

        var (inputs, outputs, receipts) = Evidence(prova.GetProperty("prova"));
        Assert.True(Assert.Single(receipts).Verify(inputs, outputs, Node.Cid, Node.Host.Address).IsValid);
        var (ids, signedText) = GenerationOutput.Read(outputs);
        Assert.Equal(signedText, text.ToString());
        Assert.Equal(ids.Length, usage.GetProperty("usage").GetProperty("completion_tokens").GetInt32());

        var plain = await Node.ChatAsync(new { model = LmNode.Name, messages = s_messages, max_tokens = 20, seed = 99 });
        Assert.Equal(text.ToString(), Content(plain));
        Assert.Equal(prova.GetProperty("prova").GetProperty("outputHash").GetString(), plain.GetProperty("prova").GetProperty("outputHash").GetString());
        Assert.Equal(reason, plain.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task A_streamed_completion_sends_text_chunks_and_ends_with_the_evidence_chunk()
    {
        var response = await Node.Http.PostAsJsonAsync("/v1/completions", new { model = LmNode.Name, prompt = "Once upon a time", max_tokens = 10, seed = 5, stream = true });
        var events = await Sse.ReadAllAsync(response);
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e).RootElement).ToList();
        Assert.All(chunks, c => Assert.Equal("text_completion", c.GetProperty("object").GetString()));
        Assert.All(chunks, c => Assert.False(c.TryGetProperty("usage", out _)));
        var prova = chunks[^1].GetProperty("prova");
        string text = string.Concat(chunks[..^1].Select(c => c.GetProperty("choices")[0].GetProperty("text").GetString()));
        Assert.Equal(GenerationOutput.Read(Evidence(prova).Outputs).Text, text);
    }

    [Fact]
    public async Task Get_models_is_an_openai_list_that_keeps_provas_metadata()
    {
        var list = await Node.Http.GetFromJsonAsync<JsonElement>("/v1/models");
        Assert.Equal("list", list.GetProperty("object").GetString());
        var model = Assert.Single(list.GetProperty("data").EnumerateArray());
        Assert.Equal(Node.Cid.ToString(), model.GetProperty("id").GetString());
        Assert.Equal("model", model.GetProperty("object").GetString());
        Assert.Equal(1_700_000_000, model.GetProperty("created").GetInt64());
        Assert.Equal(TestClient.Owner.Address.ToString(), model.GetProperty("owned_by").GetString());
        Assert.Equal(LmNode.Name, model.GetProperty("name").GetString());
        Assert.Equal("bundle", model.GetProperty("kind").GetString());

        // OpenAI's "retrieve model" is the same object.
        var one = await Node.Http.GetFromJsonAsync<JsonElement>($"/v1/models/{Node.Cid}");
        Assert.Equal(model.GetRawText(), one.GetRawText());

        using var sdk = new Prova.Sdk.ProvaClient(Node.Host.Url);
        var models = await sdk.ListModelsAsync();
        Assert.Equal(Node.Cid, Assert.Single(models).Cid);
        Assert.Equal(LmNode.Name, (await sdk.GetModelAsync(Node.Cid)).Name);
    }

    internal static string Content(JsonElement completion) => completion.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;

    internal static string OpenAiFinish(TextGeneration g) =>
        g.Result.Reason is Prova.Runtime.Generation.StopReason.MaxTokens or Prova.Runtime.Generation.StopReason.ContextFull ? "length" : "stop";

    internal static (Dictionary<string, Tensor> Inputs, Dictionary<string, Tensor> Outputs, List<Receipt> Receipts) Evidence(JsonElement prova)
    {
        string json = prova.GetRawText();
        var receipts = prova.GetProperty("evidence").GetProperty("receipts").EnumerateArray().Select(Receipt.FromJson).ToList();
        return (TensorJson.ReadNamedTensors(json, "inputs"), TensorJson.ReadNamedTensors(json, "outputs"), receipts);
    }
}
