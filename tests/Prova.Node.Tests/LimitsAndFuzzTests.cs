using System.Net;
using System.Text;
using System.Text.Json;
using Prova.Core;
using Prova.Core.Content;

namespace Prova.Node.Tests;

public sealed class LimitsAndFuzzTests
{
    [Fact]
    public async Task Limits_answer_413_naming_the_setting()
    {
        using var factory = new NodeFactory(o =>
        {
            o.MaxRequestBytes = 2048;
            o.MaxChunkBytes = 1024;
            o.MaxModelBytes = 10_000;
        });
        var client = new TestClient(factory.CreateClient());

        var big = new Dictionary<string, Tensor> { ["x"] = Tensor.Create([1, 1000], new float[1000]) };
        var p = await TestClient.ExpectProblem(await client.InferAsync(Cid.ForBytes("m"u8), big), 413, "payload-too-large");
        Assert.Equal("MaxRequestBytes", p.GetProperty("limit").GetString());
        Assert.Equal(2048, p.GetProperty("maxBytes").GetInt64());

        var content = new byte[20_000];
        p = await TestClient.ExpectProblem(await client.Http.PostAsync("/v1/blobs", TestClient.Octets(ModelManifest.Build(content, 1024).Encode())), 413, "payload-too-large");
        Assert.Equal("MaxModelBytes", p.GetProperty("limit").GetString());
        p = await TestClient.ExpectProblem(await client.Http.PostAsync("/v1/blobs", TestClient.Octets(ModelManifest.Build(content.AsSpan(0, 5000), 4096).Encode())), 413, "payload-too-large");
        Assert.Equal("MaxChunkBytes", p.GetProperty("limit").GetString());

        var manifest = ModelManifest.Build(content.AsSpan(0, 5000), 1024);
        await client.AnnounceAsync(manifest);
        p = await TestClient.ExpectProblem(await client.PutChunkAsync(manifest, 0, new byte[1500]), 413, "payload-too-large");
        Assert.Equal("MaxChunkBytes", p.GetProperty("limit").GetString());
        // A body of the wrong length within the limit is a mismatch, not a size problem.
        await TestClient.ExpectProblem(await client.PutChunkAsync(manifest, 0, new byte[1000]), 422, "chunk-mismatch");
    }

    [Fact]
    public async Task A_flood_of_inferences_gets_503_with_retry_after_not_a_crash()
    {
        using var factory = new NodeFactory(o =>
        {
            o.MaxConcurrentInferences = 1;
            o.InferenceQueueLimit = 0;
        });
        var client = new TestClient(factory.CreateClient());
        var cid = await client.PushAsync(TestModels.Mlp(1024, 1024, 256), "big", chunkSize: 1 << 20);
        var input = TestModels.Input(1024);
        int ok = 0, busy = 0;
        // Waves of 32 simultaneous requests until the limit has visibly refused some (on a loaded
        // machine a single wave may happen to run one request at a time).
        for (int wave = 0; wave < 10 && (ok == 0 || busy == 0); wave++)
        {
            var responses = await Task.WhenAll(Enumerable.Range(0, 32).Select(_ => Task.Run(() => client.InferAsync(cid, input))));
            foreach (var r in responses)
            {
                if (r.StatusCode == HttpStatusCode.OK)
                {
                    ok++;
                    continue;
                }
                await TestClient.ExpectProblem(r, 503, "saturated");
                Assert.True(r.Headers.RetryAfter is not null, "503 without Retry-After");
                busy++;
            }
        }
        Assert.True(ok >= 1 && busy >= 1, $"ok {ok}, busy {busy}");
        Assert.Contains($"prova_inference_rejected_total {busy}", await client.Http.GetStringAsync("/metrics"));
        // The node still serves after the flood.
        Assert.Equal(HttpStatusCode.OK, (await client.InferAsync(cid, input)).StatusCode);
    }

    [Fact]
    public async Task Fuzzed_request_bodies_get_4xx_problem_details_never_500()
    {
        using var factory = new NodeFactory();
        var client = new TestClient(factory.CreateClient());
        var cid = await client.PushAsync(TestModels.Mlp(), "mlp");
        var owner = TestClient.Owner;
        var publication = new ModelPublication("mlp", "2.0.0", cid, owner.Address, 1_700_000_000);
        string publish = JsonSerializer.Serialize(new
        {
            cid = cid.ToString(), name = "mlp", version = "2.0.0", description = "d", license = "MIT",
            owner = owner.Address.ToString(), timestamp = 1_700_000_000, signature = publication.Sign(owner, 31337).ToString(),
        });
        string infer = $"{{\"model\": \"{cid}\", \"requestId\": \"0x{new string('a', 64)}\", \"mode\": \"attested\", " +
            Encoding.UTF8.GetString(TensorJson.WriteNamedTensors(TestModels.Input()))[1..];

        int seed = Environment.TickCount;
        var rng = new Random(seed);
        string[] tokens = ["{", "}", "[", "]", ",", ":", "\"", "null", "true", "-1", "1e999", "\"x\"", "0x", "\\u0000", "NaN", "[[[[[[", "\"dtype\"", "\"shape\": [-1]", "\"inputs\": 5", "\"model\": []"];
        foreach (var (path, valid) in new[] { ("/v1/infer", infer), ("/v1/models", publish) })
        {
            for (int i = 0; i < 250; i++)
            {
                byte[] body = Mutate(Encoding.UTF8.GetBytes(valid), rng, tokens);
                var response = await client.Http.PostAsync(path, new ByteArrayContent(body) { Headers = { ContentType = new("application/json") } });
                int status = (int)response.StatusCode;
                string text = await response.Content.ReadAsStringAsync();
                Assert.True(status < 500, $"seed {seed}, {path}, body {Encoding.UTF8.GetString(body)}: {status} {text}");
                if (status >= 400)
                {
                    Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
                }
            }
        }
    }

    private static byte[] Mutate(byte[] valid, Random rng, string[] tokens)
    {
        var bytes = new List<byte>(valid);
        for (int k = rng.Next(1, 4); k > 0; k--)
        {
            int at = rng.Next(bytes.Count + 1);
            switch (rng.Next(5))
            {
                case 0 when at < bytes.Count:
                    bytes[at] = (byte)rng.Next(256);
                    break;
                case 1:
                    bytes.RemoveRange(at, Math.Min(rng.Next(1, 20), bytes.Count - at));
                    break;
                case 2:
                    bytes.InsertRange(at, Encoding.UTF8.GetBytes(tokens[rng.Next(tokens.Length)]));
                    break;
                case 3:
                    bytes.RemoveRange(at, bytes.Count - at);
                    break;
                default:
                    if (at < bytes.Count && char.IsAsciiDigit((char)bytes[at]))
                    {
                        bytes[at] = (byte)('0' + rng.Next(10));
                    }
                    break;
            }
        }
        return [.. bytes];
    }
}
