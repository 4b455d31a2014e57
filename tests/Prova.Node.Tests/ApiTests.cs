using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Prova.Core;
using Prova.Core.Content;
using Prova.Core.Receipts;
using Prova.Onnx;
using Prova.Runtime;

namespace Prova.Node.Tests;

public sealed class ApiTests : IDisposable
{
    private readonly NodeFactory _factory = new();
    private readonly TestClient _client;

    public ApiTests()
    {
        _client = new TestClient(_factory.CreateClient());
    }

    public void Dispose() => _factory.Dispose();

    [Fact]
    public async Task Push_publish_list_and_pull_return_identical_bytes()
    {
        byte[] model = TestModels.Mlp(64, 64, 8);
        var cid = await _client.PushAsync(model, "mlp", chunkSize: 1024);

        var list = await _client.Http.GetFromJsonAsync<JsonElement>("/v1/models");
        var entry = Assert.Single(list.GetProperty("data").EnumerateArray());
        Assert.Equal(cid.ToString(), entry.GetProperty("cid").GetString());
        Assert.Equal("mlp", entry.GetProperty("name").GetString());
        Assert.Equal(TestClient.Owner.Address.ToString(), entry.GetProperty("owner").GetString());
        Assert.Equal("x", entry.GetProperty("inputs")[0].GetProperty("name").GetString());
        Assert.Equal("float32", entry.GetProperty("inputs")[0].GetProperty("dtype").GetString());
        Assert.Equal(64, entry.GetProperty("inputs")[0].GetProperty("shape")[1].GetInt32());
        Assert.Equal("y", entry.GetProperty("outputs")[0].GetProperty("name").GetString());
        Assert.Equal(model.Length, entry.GetProperty("size").GetInt64());

        var meta = await _client.Http.GetFromJsonAsync<JsonElement>($"/v1/models/{cid}");
        Assert.Equal("1.0.0", meta.GetProperty("version").GetString());

        byte[] manifestBytes = await _client.Http.GetByteArrayAsync($"/v1/models/{cid}/manifest");
        Assert.Equal(cid, Cid.ForBytes(manifestBytes));
        var manifest = ModelManifest.Decode(manifestBytes);

        byte[] content = await _client.Http.GetByteArrayAsync($"/v1/models/{cid}/content");
        Assert.Equal(model, content);

        var pulled = new MemoryStream();
        for (int i = 0; i < manifest.ChunkCount; i++)
        {
            byte[] chunk = await _client.Http.GetByteArrayAsync($"/v1/models/{cid}/chunks/{i}");
            Assert.True(manifest.Verify(i, chunk));
            pulled.Write(chunk);
        }
        Assert.Equal(model, pulled.ToArray());

        var ranged = new HttpRequestMessage(HttpMethod.Get, $"/v1/models/{cid}/content");
        ranged.Headers.Range = new RangeHeaderValue(1000, 3000);
        var partial = await _client.Http.SendAsync(ranged);
        Assert.Equal(HttpStatusCode.PartialContent, partial.StatusCode);
        Assert.Equal(model.AsSpan(1000, 2001).ToArray(), await partial.Content.ReadAsByteArrayAsync());
        Assert.Equal($"bytes 1000-3000/{model.Length}", partial.Content.Headers.ContentRange?.ToString());

        var outside = new HttpRequestMessage(HttpMethod.Get, $"/v1/models/{cid}/content");
        outside.Headers.Range = new RangeHeaderValue(model.Length + 5, null);
        await TestClient.ExpectProblem(await _client.Http.SendAsync(outside), 416, "range-not-satisfiable");
    }

    [Fact]
    public async Task A_chunk_with_one_wrong_byte_is_rejected_and_not_stored()
    {
        byte[] model = TestModels.Mlp();
        var manifest = ModelManifest.Build(model, 1024);
        await _client.AnnounceAsync(manifest);
        byte[] chunk = TestClient.Chunk(model, manifest, 1);
        chunk[17] ^= 0x01;
        await TestClient.ExpectProblem(await _client.PutChunkAsync(manifest, 1, chunk), 422, "chunk-mismatch");
        var status = await _client.Http.GetFromJsonAsync<JsonElement>($"/v1/blobs/{manifest.Cid}");
        Assert.Contains(1, status.GetProperty("missing").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(manifest.ChunkCount, status.GetProperty("missing").GetArrayLength());
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(_factory.DataDir, "chunks")));
        string metrics = await _client.Http.GetStringAsync("/metrics");
        Assert.Contains("prova_chunks_rejected_total 1", metrics);

        // The right bytes are accepted afterwards, and re-announcing shows the progress.
        await TestClient.Expect(await _client.PutChunkAsync(manifest, 1, TestClient.Chunk(model, manifest, 1)), HttpStatusCode.OK);
        var again = await _client.AnnounceAsync(manifest);
        Assert.DoesNotContain(1, again.GetProperty("missing").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(manifest.ChunkCount - 1, again.GetProperty("missing").GetArrayLength());
    }

    [Fact]
    public async Task Only_the_first_publisher_owns_a_name()
    {
        var cid = await _client.PushAsync(TestModels.Mlp(), "owned");
        var other = (await _client.UploadAsync(TestModels.Mlp(seed: 99))).Cid;

        var problem = await TestClient.ExpectProblem(await _client.PublishAsync(other, "owned", "2.0.0", owner: TestClient.Stranger), 403, "name-owned");
        Assert.Equal(TestClient.Owner.Address.ToString(), problem.GetProperty("owner").GetString());

        // Claiming to be the owner without the owner's key fails the signature check.
        await TestClient.ExpectProblem(await _client.PublishAsync(other, "owned", "2.0.0", signer: TestClient.Stranger), 401, "bad-signature");

        // Same version with other content conflicts; the identical record is idempotent; the owner can add versions.
        await TestClient.ExpectProblem(await _client.PublishAsync(other, "owned", "1.0.0"), 409, "version-exists");
        Assert.Equal(HttpStatusCode.OK, (await _client.PublishAsync(cid, "owned", "1.0.0")).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await _client.PublishAsync(other, "owned", "2.0.0")).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await _client.PublishAsync(other, "strangers-model", "1", owner: TestClient.Stranger)).StatusCode);

        var versions = await _client.Http.GetFromJsonAsync<JsonElement>("/v1/models?name=owned");
        Assert.Equal(["1.0.0", "2.0.0"], versions.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("version").GetString()));
    }

    [Fact]
    public async Task Infer_matches_a_local_session_and_returns_a_receipt_that_verifies()
    {
        byte[] model = TestModels.Mlp();
        var cid = await _client.PushAsync(model, "mlp");
        var inputs = TestModels.Input();
        string requestId = "0x" + new string('c', 64);
        var response = await _client.InferAsync(cid, inputs, $"\"requestId\": \"{requestId}\", ");
        await TestClient.Expect(response, HttpStatusCode.OK);
        string body = await response.Content.ReadAsStringAsync();

        using var local = new InferenceSession(OnnxLoader.Load(model), new SessionOptions { Threads = 1 });
        var expected = local.Run(inputs);
        var outputs = TensorJson.ReadNamedTensors(body, "outputs");
        Assert.Equal(TensorEncoding.Encode(expected["y"]), TensorEncoding.Encode(outputs["y"]));

        using var document = JsonDocument.Parse(body);
        var receipt = Receipt.FromJson(document.RootElement.GetProperty("receipt"));
        var result = receipt.Verify(inputs, outputs, cid, NodeFactory.NodeKey.Address, 31337, Prova.Core.Crypto.Hash256.Parse(requestId), "attested");
        Assert.True(result.IsValid, result.ToString());
        Assert.Equal(receipt.OutputHash.ToString(), document.RootElement.GetProperty("outputHash").GetString());
        Assert.Equal(receipt.InputHash.ToString(), document.RootElement.GetProperty("inputHash").GetString());

        // A tampered output no longer matches the receipt.
        ((float[])outputs["y"].Data)[0] += 1;
        Assert.Equal(VerificationReason.OutputHashMismatch, receipt.Verify(inputs, outputs).Reason);

        string metrics = await _client.Http.GetStringAsync("/metrics");
        Assert.Contains("prova_inferences_total{result=\"ok\"} 1", metrics);
        Assert.Contains("prova_models_hosted 1", metrics);
        Assert.Contains("route=\"/v1/infer\",status=\"200\"", metrics);
        Assert.Contains("prova_http_request_duration_seconds_bucket{route=\"/v1/infer\",le=\"+Inf\"} 1", metrics);
    }

    [Fact]
    public async Task Inference_errors_are_problem_details_naming_the_problem()
    {
        var cid = await _client.PushAsync(TestModels.Mlp(), "mlp");
        var unknown = Cid.ForBytes("nothing"u8);
        var p = await TestClient.ExpectProblem(await _client.InferAsync(unknown, TestModels.Input()), 404, "unknown-model");
        Assert.Contains(unknown.ToString(), p.GetProperty("detail").GetString());

        var wrongName = new Dictionary<string, Tensor> { ["z"] = TestModels.Input()["x"] };
        p = await TestClient.ExpectProblem(await _client.InferAsync(cid, wrongName), 422, "invalid-input");
        Assert.Contains("x", p.GetProperty("detail").GetString());

        var wrongShape = new Dictionary<string, Tensor> { ["x"] = Tensor.Create([1, 15], new float[15]) };
        await TestClient.ExpectProblem(await _client.InferAsync(cid, wrongShape), 422, "invalid-input");

        var wrongType = new Dictionary<string, Tensor> { ["x"] = Tensor.Create([1, 16], new long[16]) };
        await TestClient.ExpectProblem(await _client.InferAsync(cid, wrongType), 422, "invalid-input");

        // A float model cannot be proven (tests/Prova.Node.Tests/ProofModeTests.cs covers proof mode).
        await TestClient.ExpectProblem(await _client.InferAsync(cid, TestModels.Input(), "\"mode\": \"proof\", "), 422, "proof-unsupported");
        await TestClient.ExpectProblem(await _client.InferAsync(cid, TestModels.Input(), "\"requestId\": \"0x12\", "), 400, "bad-request");
        await TestClient.ExpectProblem(await Post("/v1/infer", "{\"model\": \"bafy-not-a-cid\", \"inputs\": {}}"), 400, "invalid-cid");
        await TestClient.ExpectProblem(await Post("/v1/infer", "{\"model\": 5}"), 400, "bad-request");
        await TestClient.ExpectProblem(await Post("/v1/infer", "{not json"), 400, "bad-request");
        await TestClient.ExpectProblem(await Post("/v1/infer", $"{{\"model\": \"{cid}\"}}"), 400, "bad-request");
        await TestClient.ExpectProblem(await Post("/v1/infer", $"{{\"model\": \"{cid}\", \"inputs\": {{\"x\": {{\"dtype\": \"float32\", \"shape\": [1, 16], \"data\": [1]}}}}}}"), 400, "bad-request");
    }

    [Fact]
    public async Task Upload_and_publish_errors_are_problem_details()
    {
        byte[] model = TestModels.Mlp();
        var manifest = ModelManifest.Build(model, 1024);
        await TestClient.ExpectProblem(await _client.Http.PostAsync("/v1/blobs", TestClient.Octets([1, 2, 3])), 422, "invalid-manifest");
        await TestClient.ExpectProblem(await _client.PutChunkAsync(manifest, 0, TestClient.Chunk(model, manifest, 0)), 404, "unknown-blob");
        await TestClient.ExpectProblem(await _client.Http.GetAsync($"/v1/blobs/{manifest.Cid}"), 404, "unknown-blob");
        await TestClient.ExpectProblem(await _client.Http.GetAsync("/v1/blobs/xyz"), 400, "invalid-cid");

        await _client.AnnounceAsync(manifest);
        await TestClient.ExpectProblem(await _client.PutChunkAsync(manifest, manifest.ChunkCount, [1]), 422, "chunk-index");
        await TestClient.ExpectProblem(await _client.Http.PutAsync($"/v1/blobs/{manifest.Cid}/chunks/-1", TestClient.Octets([1])), 422, "chunk-index");
        var p = await TestClient.ExpectProblem(await _client.PublishAsync(manifest.Cid, "half"), 409, "incomplete-content");
        Assert.Equal(manifest.ChunkCount, p.GetProperty("missing").GetInt32());
        await TestClient.ExpectProblem(await _client.PublishAsync(Cid.ForBytes("never"u8), "never"), 404, "unknown-blob");

        // Complete content that is not ONNX.
        var junk = Enumerable.Range(0, 3000).Select(i => (byte)(i * 7)).ToArray();
        var junkManifest = await _client.UploadAsync(junk, 1024);
        p = await TestClient.ExpectProblem(await _client.PublishAsync(junkManifest.Cid, "junk"), 422, "invalid-onnx");
        Assert.Contains("ONNX", p.GetProperty("detail").GetString());

        var good = await _client.UploadAsync(model, 1024);
        await TestClient.ExpectProblem(await _client.PublishAsync(good.Cid, "bad name!"), 422, "invalid-publication");
        await TestClient.ExpectProblem(await _client.PublishAsync(good.Cid, "ok", "1 0"), 422, "invalid-publication");
        await TestClient.ExpectProblem(await _client.PublishAsync(good.Cid, "ok", timestamp: (ulong)DateTimeOffset.UtcNow.AddDays(3).ToUnixTimeSeconds()), 422, "invalid-publication");
        await TestClient.ExpectProblem(await Post("/v1/models", "[]"), 400, "bad-request");
        await TestClient.ExpectProblem(await Post("/v1/models", $"{{\"cid\": \"{good.Cid}\", \"name\": \"a\"}}"), 400, "bad-request");

        await TestClient.ExpectProblem(await _client.Http.GetAsync($"/v1/models/{Cid.ForBytes("x"u8)}"), 404, "unknown-model");
        await TestClient.ExpectProblem(await _client.Http.GetAsync($"/v1/models/{Cid.ForBytes("x"u8)}/content"), 404, "unknown-model");
        await TestClient.ExpectProblem(await _client.Http.GetAsync("/v1/nothing-here"), 404, "not-found");
        var wrongMethod = await TestClient.ExpectProblem(await _client.Http.DeleteAsync("/v1/models"), 405, "method-not-allowed");
        Assert.Contains("GET", wrongMethod.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Node_info_health_and_openapi_describe_the_node()
    {
        var info = await _client.Http.GetFromJsonAsync<JsonElement>("/v1/node");
        Assert.Equal(NodeFactory.NodeKey.Address.ToString(), info.GetProperty("address").GetString());
        Assert.Equal("31337", info.GetProperty("chainId").GetString());
        Assert.Equal(1 << 20, info.GetProperty("limits").GetProperty("defaultChunkSize").GetInt32());
        var health = await _client.Http.GetFromJsonAsync<JsonElement>("/healthz");
        Assert.Equal("ok", health.GetProperty("status").GetString());
        var openapi = await _client.Http.GetFromJsonAsync<JsonElement>("/openapi/v1.json");
        var paths = openapi.GetProperty("paths");
        foreach (var route in new[] { "/v1/infer", "/v1/models", "/v1/models/{cid}", "/v1/models/{cid}/content", "/v1/blobs", "/v1/blobs/{cid}/chunks/{index}", "/healthz", "/v1/node" })
        {
            Assert.True(paths.TryGetProperty(route, out _) || paths.TryGetProperty(route + "/", out _), $"openapi lacks {route}");
        }
    }

    [Fact]
    public async Task A_corrupted_chunk_on_disk_is_detected_not_served_and_repairable()
    {
        byte[] model = TestModels.Mlp();
        var cid = await _client.PushAsync(model, "mlp", chunkSize: 1024);
        var manifest = ModelManifest.Decode(await _client.Http.GetByteArrayAsync($"/v1/models/{cid}/manifest"));
        string file = Path.Combine(_factory.DataDir, "chunks", manifest.ChunkHashes[2].ToString()[2..]);
        byte[] bytes = File.ReadAllBytes(file);
        bytes[5] ^= 0x40;
        File.WriteAllBytes(file, bytes);

        await TestClient.ExpectProblem(await _client.Http.GetAsync($"/v1/models/{cid}/chunks/2"), 500, "corrupted-content");
        await TestClient.ExpectProblem(await _client.Http.GetAsync($"/v1/models/{cid}/content"), 409, "incomplete-content");
        var status = await _client.Http.GetFromJsonAsync<JsonElement>($"/v1/blobs/{cid}");
        Assert.Equal([2], status.GetProperty("missing").EnumerateArray().Select(e => e.GetInt32()));

        await _client.UploadAsync(model, 1024);
        Assert.Equal(model, await _client.Http.GetByteArrayAsync($"/v1/models/{cid}/content"));

        // Corruption found mid-stream aborts the response instead of sending wrong bytes.
        file = Path.Combine(_factory.DataDir, "chunks", manifest.ChunkHashes[1].ToString()[2..]);
        bytes = File.ReadAllBytes(file);
        bytes[0] ^= 0x01;
        File.WriteAllBytes(file, bytes);
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => _client.Http.GetByteArrayAsync($"/v1/models/{cid}/content"));
        await TestClient.ExpectProblem(await _client.Http.GetAsync($"/v1/models/{cid}/chunks/1"), 409, "incomplete-content");
    }

    private Task<HttpResponseMessage> Post(string path, string json) =>
        _client.Http.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));
}
