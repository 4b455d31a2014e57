using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Prova.Node.Inference;
using Xunit.Abstractions;

namespace Prova.Node.Tests.OpenAi;

/// <summary>A node with the default model and MaxGenerationTokens = 4 (so fuzzed requests stay short).</summary>
public sealed class ShortLmNodeFixture : IAsyncLifetime
{
    public LmNode Node { get; private set; } = null!;

    public async Task InitializeAsync() => Node = await LmNode.StartAsync(o =>
    {
        o.MaxGenerationTokens = 4;
        o.MaxConcurrentGenerations = 2;
    });

    public async Task DisposeAsync() => await Node.DisposeAsync();
}

/// <summary>Errors in OpenAI's shape, the limits, and the request parser under random mutations.</summary>
public sealed class OpenAiErrorTests(ShortLmNodeFixture fixture, ITestOutputHelper output) : IClassFixture<ShortLmNodeFixture>
{
    private LmNode Node => fixture.Node;

    private static string Chat(string extra = "") =>
        $"{{\"model\": \"{LmNode.Name}\", \"messages\": [{{\"role\": \"user\", \"content\": \"Hello\"}}]{extra}}}";

    [Fact]
    public async Task Bad_requests_get_openai_errors_naming_the_field_and_the_status_clients_expect()
    {
        await ExpectError(await Node.PostAsync("/v1/chat/completions", Chat(", \"max_tokens\": 5")), 400, "invalid_request_error", "max_tokens_exceeded", "max_tokens", "MaxGenerationTokens");
        string longPrompt = string.Concat(Enumerable.Repeat("the city and the county ", 60));
        await ExpectError(await Node.PostAsync("/v1/completions", $"{{\"model\": \"{LmNode.Name}\", \"prompt\": \"{longPrompt}\"}}"), 400, "invalid_request_error", "context_length_exceeded", "prompt", "context");
        await ExpectError(await Node.PostAsync("/v1/chat/completions", Chat().Replace(LmNode.Name, "lm/none", StringComparison.Ordinal)), 404, "invalid_request_error", "model_not_found", "model", "lm/none");
        await ExpectError(await Node.PostAsync("/v1/chat/completions", Chat().Replace(LmNode.Name, LmNode.Name + ":9.9", StringComparison.Ordinal)), 404, "invalid_request_error", "model_not_found", "model", ":9.9");
        await ExpectError(await Node.PostAsync("/v1/chat/completions", Chat(", \"n\": 2")), 400, "invalid_request_error", null, "n", "'n'");
        await ExpectError(await Node.PostAsync("/v1/chat/completions", Chat(", \"temperature\": 2.5")), 400, "invalid_request_error", null, "temperature", "0 to 2");
        await ExpectError(await Node.PostAsync("/v1/chat/completions", Chat(", \"stop\": [\"a\", \"b\", \"c\", \"d\", \"e\"]")), 400, "invalid_request_error", null, "stop", "at most 4");
        await ExpectError(await Node.PostAsync("/v1/chat/completions", Chat(", \"seed\": -1")), 400, "invalid_request_error", null, "seed", "'seed'");
        await ExpectError(await Node.PostAsync("/v1/chat/completions", Chat(", \"stream_options\": {\"include_usage\": true}")), 400, "invalid_request_error", null, "stream_options", "stream");
        await ExpectError(await Node.PostAsync("/v1/chat/completions", $"{{\"model\": \"{LmNode.Name}\", \"messages\": [{{\"role\": \"tool\", \"content\": \"x\"}}]}}"), 400, "invalid_request_error", null, "messages[0].role", "tool");
        await ExpectError(await Node.PostAsync("/v1/chat/completions", $"{{\"model\": \"{LmNode.Name}\", \"messages\": [{{\"role\": \"user\", \"content\": [{{\"type\": \"image_url\"}}]}}]}}"), 400, "invalid_request_error", null, "messages[0].content[0].type", "text parts");
        await ExpectError(await Node.PostAsync("/v1/chat/completions", $"{{\"model\": \"{LmNode.Name}\"}}"), 400, "invalid_request_error", null, "messages", "'messages'");
        await ExpectError(await Node.PostAsync("/v1/completions", $"{{\"model\": \"{LmNode.Name}\"}}"), 400, "invalid_request_error", null, "prompt", "'prompt'");
        await ExpectError(await Node.PostAsync("/v1/completions", $"{{\"model\": \"{LmNode.Name}\", \"prompt\": [1, -2]}}"), 400, "invalid_request_error", null, "prompt", "'prompt[1]' must be a token id");
        await ExpectError(await Node.PostAsync("/v1/completions", $"{{\"model\": \"{LmNode.Name}\", \"prompt\": [\"a\", \"b\"]}}"), 400, "invalid_request_error", null, "prompt", "exactly one");
        await ExpectError(await Node.PostAsync("/v1/completions", $"{{\"model\": \"{LmNode.Name}\", \"prompt\": [5, 99999999]}}"), 400, "invalid_request_error", null, null, "99999999");
        await ExpectError(await Node.PostAsync("/v1/chat/completions", Chat(", \"top_k\": -1")), 400, "invalid_request_error", null, "top_k", "'top_k'");
        await ExpectError(await Node.PostAsync("/v1/chat/completions", Chat(", \"repetition_penalty\": 0")), 400, "invalid_request_error", null, "repetition_penalty", "above 0");
        await ExpectError(await Node.PostAsync("/v1/chat/completions", "{\"model\": \"x\", \"messages\": ["), 400, "invalid_request_error", null, null, "not valid JSON");
        await ExpectError(await Node.PostAsync("/v1/chat/completions", "[1, 2]"), 400, "invalid_request_error", null, null, "JSON object");
        await ExpectError(await Node.PostAsync("/v1/chat/completions", Chat(), mode: "proof"), 400, "invalid_request_error", "unsupported_mode", "prova.mode", "proof");
        await ExpectError(await Node.PostAsync("/v1/chat/completions", Chat(", \"prova\": {\"mode\": \"quorum:1\"}")), 400, "invalid_request_error", "unsupported_mode", "prova.mode", "quorum");
        await ExpectError(await Node.PostAsync("/v1/chat/completions", Chat(), mode: "quorum:3"), 503, "service_unavailable_error", "quorum_unavailable", null, "needs 2 other nodes");
        var huge = Chat().Replace("Hello", new string('x', 1 << 20), StringComparison.Ordinal);
        await ExpectError(await Node.PostAsync("/v1/chat/completions", huge), 413, "invalid_request_error", "request_too_large", null, "MaxChatRequestBytes");

        // Unknown fields are ignored, as OpenAI does; the body's mode wins over the header's.
        var ok = await Node.PostAsync("/v1/chat/completions", Chat(", \"user\": \"u-1\", \"logit_bias\": {}, \"frequency_penalty\": 0, \"prova\": {\"mode\": \"attested\"}"), mode: "quorum:3");
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    /// <summary>
    /// Random mutations of valid bodies (characters dropped, inserted or replaced, values swapped for other JSON
    /// values, truncation): the node answers every one with a 2xx or a 4xx in OpenAI's error shape, never a 5xx.
    /// </summary>
    [Fact]
    public async Task Fuzzed_request_bodies_never_get_a_server_error()
    {
        int seed = Environment.GetEnvironmentVariable("PROVA_FUZZ_SEED") is { } s ? int.Parse(s, System.Globalization.CultureInfo.InvariantCulture) : Random.Shared.Next();
        output.WriteLine($"seed {seed} (PROVA_FUZZ_SEED to repeat)");
        var random = new Random(seed);
        string[] bases =
        [
            Chat(", \"max_tokens\": 2, \"temperature\": 0.7, \"top_p\": 0.9, \"seed\": 12, \"stop\": [\"x\", \"\\n\"]"),
            $"{{\"model\": \"{Node.Cid}\", \"messages\": [{{\"role\": \"system\", \"content\": \"Be brief.\"}}, {{\"role\": \"user\", \"content\": [{{\"type\": \"text\", \"text\": \"Hi\"}}]}}], \"stream\": true, \"stream_options\": {{\"include_usage\": true}}, \"n\": 1}}",
            $"{{\"model\": \"{LmNode.Name}:1.0.0\", \"messages\": [{{\"role\": \"developer\", \"content\": \"x\"}}, {{\"role\": \"assistant\", \"content\": null}}, {{\"role\": \"user\", \"content\": \"y\"}}], \"max_completion_tokens\": 1, \"prova\": {{\"mode\": \"attested\"}}}}",
        ];
        string[] completions = [$"{{\"model\": \"{LmNode.Name}\", \"prompt\": \"Once upon\", \"max_tokens\": 3, \"stop\": \"q\", \"seed\": 0}}"];
        string[] values = ["null", "true", "-1", "0", "1e400", "3.5", "\"\"", "\"quorum:2\"", "[]", "{}", "[\"a\"]", "18446744073709551616", "\"\\ud800\"", "{\"mode\": 5}"];
        const string alphabet = "{}[]\",:0123456789.-aeltruns\\ \u00e9";
        int served = 0;
        for (int i = 0; i < 300; i++)
        {
            bool chat = random.Next(4) > 0;
            string body = chat ? bases[random.Next(bases.Length)] : completions[0];
            int mutations = 1 + random.Next(3);
            for (int m = 0; m < mutations && body.Length > 0; m++)
            {
                int at = random.Next(body.Length);
                body = random.Next(6) switch
                {
                    0 => body.Remove(at, 1),
                    1 => body.Insert(at, alphabet[random.Next(alphabet.Length)].ToString()),
                    2 => body[..at] + alphabet[random.Next(alphabet.Length)] + body[(at + 1)..],
                    3 => body[..at],
                    _ => ReplaceValue(body, random, values),
                };
            }
            var response = await Node.PostAsync(chat ? "/v1/chat/completions" : "/v1/completions", body);
            string text = await response.Content.ReadAsStringAsync();
            // A mutation may turn the mode into a valid quorum:K, which this lone node rightly cannot serve (503 quorum_unavailable).
            bool noQuorum = (int)response.StatusCode == 503 && text.Contains("\"quorum_unavailable\"", StringComparison.Ordinal);
            Assert.True((int)response.StatusCode < 500 || noQuorum, $"seed {seed}, case {i}: {(int)response.StatusCode} for {body}: {text}");
            if (response.IsSuccessStatusCode)
            {
                served++;
                continue;
            }
            using var doc = JsonDocument.Parse(text);
            var error = doc.RootElement.GetProperty("error");
            Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()), $"seed {seed}, case {i}: {text}");
            Assert.Equal(JsonValueKind.String, error.GetProperty("type").ValueKind);
        }
        output.WriteLine($"{served} of 300 mutated bodies were still valid requests");
        Assert.Equal(0, Node.Host.Services.GetRequiredService<GenerationService>().Running);
    }

    /// <summary>Replaces the value after a random <c>": "</c> with one of <paramref name="values"/>.</summary>
    private static string ReplaceValue(string body, Random random, string[] values)
    {
        var colons = new List<int>();
        for (int i = body.IndexOf("\": ", StringComparison.Ordinal); i >= 0; i = body.IndexOf("\": ", i + 1, StringComparison.Ordinal))
        {
            colons.Add(i + 3);
        }
        if (colons.Count == 0)
        {
            return body;
        }
        int start = colons[random.Next(colons.Count)];
        int end = start;
        int depth = 0;
        bool inString = false;
        for (; end < body.Length; end++)
        {
            char c = body[end];
            if (inString)
            {
                if (c == '\\')
                {
                    end++;
                }
                else if (c == '"')
                {
                    inString = false;
                    if (depth == 0)
                    {
                        end++;
                        break;
                    }
                }
                continue;
            }
            if (c == '"')
            {
                inString = true;
            }
            else if (c is '{' or '[')
            {
                depth++;
            }
            else if (c is '}' or ']')
            {
                if (depth == 0)
                {
                    break;
                }
                depth--;
                if (depth == 0)
                {
                    end++;
                    break;
                }
            }
            else if (c == ',' && depth == 0)
            {
                break;
            }
        }
        return body[..start] + values[random.Next(values.Length)] + body[Math.Min(end, body.Length)..];
    }

    internal static async Task<JsonElement> ExpectError(HttpResponseMessage response, int status, string type, string? code, string? param, string messagePart)
    {
        string text = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == status, $"expected {status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var error = JsonDocument.Parse(text).RootElement.GetProperty("error").Clone();
        Assert.Equal(type, error.GetProperty("type").GetString());
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.Equal(param, error.GetProperty("param").GetString());
        Assert.Contains(messagePart, error.GetProperty("message").GetString());
        return error;
    }
}

/// <summary>Generation slots through the API: a full queue is a 429, a queue wait past the timeout a 503, and a client that goes away frees its slot at once.</summary>
public sealed class OpenAiSlotTests
{
    [Fact]
    public async Task A_full_queue_is_429_a_long_wait_503_and_a_client_that_disconnects_frees_its_slot_at_once()
    {
        // One slot, one place in the queue, 2 s queue timeout; every token takes 80 ms (the slow fault), so 60 tokens take about 5 s.
        await using var node = await LmNode.StartAsync(o =>
        {
            o.MaxConcurrentGenerations = 1;
            o.GenerationQueueLimit = 1;
            o.RequestTimeoutSeconds = 2;
            o.Faults = "slow:80";
        });
        var generations = node.Host.Services.GetRequiredService<GenerationService>();

        // The streaming client is a bare TCP connection, closed when it goes away (as a killed process's is): no HTTP
        // client library in between that could drain the response or keep the socket open.
        using var socket = new System.Net.Sockets.TcpClient();
        await socket.ConnectAsync(node.Host.Url.Host, node.Host.Url.Port);
        var connection = socket.GetStream();
        byte[] body = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new { model = LmNode.Name, messages = new[] { new { role = "user", content = "Tell me a long story." } }, max_tokens = 60, stream = true, seed = 1 }));
        await connection.WriteAsync(Encoding.ASCII.GetBytes($"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n"));
        await connection.WriteAsync(body);
        var received = new StringBuilder();
        var buffer = new byte[4096];
        while (!received.ToString().Contains("data: ", StringComparison.Ordinal))
        {
            int n = await connection.ReadAsync(buffer);
            Assert.True(n > 0, $"the node closed the stream: {received}");
            received.Append(Encoding.UTF8.GetString(buffer, 0, n));
        }
        Assert.StartsWith("HTTP/1.1 200", received.ToString());
        Assert.Equal(1, generations.Running);

        var queued = node.PostAsync("/v1/chat/completions", Small());
        await WaitUntil(() => generations.Waiting == 1, TimeSpan.FromSeconds(5));
        var rejected = await node.PostAsync("/v1/chat/completions", Small());
        Assert.Equal("1", Assert.Single(rejected.Headers.GetValues("Retry-After")));
        await OpenAiErrorTests.ExpectError(rejected, 429, "rate_limit_error", "rate_limit_exceeded", null, "MaxConcurrentGenerations");
        await OpenAiErrorTests.ExpectError(await queued, 503, "service_unavailable_error", "server_is_overloaded", null, "RequestTimeoutSeconds");
        Assert.Equal(1, generations.Running);

        // The client goes away mid-stream: the generation stops at its next token and the slot is free for the next request.
        var clock = Stopwatch.StartNew();
        socket.Close();
        await WaitUntil(() => generations.Running == 0, TimeSpan.FromSeconds(1));
        var freed = clock.Elapsed;
        var next = await node.PostAsync("/v1/chat/completions", Small());
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        Assert.True(freed < TimeSpan.FromSeconds(1), $"the slot was freed {freed.TotalMilliseconds:F0} ms after the client left");
    }

    [Fact]
    public async Task Concurrent_streams_each_receive_their_text_as_it_forms()
    {
        // Four generations at once, 40 ms per token: each stream's first text must arrive early in its generation, not
        // in one burst at the end (generations must not starve the threads that write the streams).
        await using var node = await LmNode.StartAsync(o =>
        {
            o.MaxConcurrentGenerations = 4;
            o.Faults = "slow:40";
        });
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => node.PostAsync("/v1/chat/completions", Small())));
        var streams = await Task.WhenAll(Enumerable.Range(0, 4).Select(async i =>
        {
            var clock = Stopwatch.StartNew();
            var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
            {
                Content = JsonContent.Create(new { model = LmNode.Name, prompt = "The history of the city", max_tokens = 30, temperature = 0, stream = true }),
            };
            using var response = await node.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            double first = -1;
            while (await reader.ReadLineAsync() is { } line)
            {
                if (first < 0 && line.StartsWith("data: {", StringComparison.Ordinal) && line.Contains("\"text\":\"", StringComparison.Ordinal) && !line.Contains("\"text\":\"\"", StringComparison.Ordinal))
                {
                    first = clock.Elapsed.TotalMilliseconds;
                }
            }
            return (First: first, Total: clock.Elapsed.TotalMilliseconds);
        }));
        foreach (var (first, total) in streams)
        {
            Assert.True(first >= 0 && first < total / 2, $"the first text arrived after {first:F0} ms of a {total:F0} ms stream");
        }
    }

    private static string Small() => $"{{\"model\": \"{LmNode.Name}\", \"messages\": [{{\"role\": \"user\", \"content\": \"Hi\"}}], \"max_tokens\": 2}}";

    private static async Task WaitUntil(Func<bool> condition, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < timeout, $"not reached within {timeout.TotalSeconds} s");
            await Task.Delay(10);
        }
    }
}
