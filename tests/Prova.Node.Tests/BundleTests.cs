using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Prova.Core.Content;
using Prova.Node.Store;

namespace Prova.Node.Tests;

/// <summary>Bundles: a model that is a folder, published, listed, served and materialised under one CID.</summary>
public sealed class BundleTests : IDisposable
{
    private readonly NodeFactory _factory = new();
    private readonly TestClient _client;

    public BundleTests()
    {
        _client = new TestClient(_factory.CreateClient());
    }

    public void Dispose() => _factory.Dispose();

    [Fact]
    public async Task A_pushed_bundle_is_described_as_a_bundle_and_each_file_is_served_by_its_own_cid()
    {
        var files = TestBundles.Lm();
        var bundle = await _client.PushBundleAsync(files, "lm/tiny");
        Assert.True(ModelManifest.Build(files["model.onnx.data"], 1024).ChunkCount >= 10);

        var info = await _client.Http.GetFromJsonAsync<JsonElement>($"/v1/models/{bundle.Cid}");
        Assert.Equal("bundle", info.GetProperty("kind").GetString());
        Assert.Equal("lm/tiny", info.GetProperty("name").GetString());
        Assert.Equal(files.Values.Sum(f => (long)f.Length), info.GetProperty("size").GetInt64());
        var listed = info.GetProperty("files").EnumerateArray().ToList();
        Assert.Equal(["config.json", "model.onnx", "model.onnx.data", "tokenizer.json"], listed.Select(f => f.GetProperty("path").GetString()));
        foreach (var f in listed)
        {
            string path = f.GetProperty("path").GetString()!;
            Assert.Equal(files[path].Length, f.GetProperty("size").GetInt64());
            Assert.Equal(ModelManifest.Build(files[path], 1024).Cid.ToString(), f.GetProperty("cid").GetString());
            Assert.Equal(files[path], await _client.Http.GetByteArrayAsync($"/v1/models/{f.GetProperty("cid").GetString()}/content"));
        }
        byte[] manifest = await _client.Http.GetByteArrayAsync($"/v1/models/{bundle.Cid}/manifest");
        Assert.Equal(bundle.Cid, Cid.ForBytes(manifest));
        Assert.Equal(bundle.Files, BundleManifest.Decode(manifest).Files);
        await TestClient.ExpectProblem(await _client.Http.GetAsync($"/v1/models/{bundle.Cid}/content"), 404, "not-found");

        var list = await _client.Http.GetFromJsonAsync<JsonElement>("/v1/models");
        var entry = Assert.Single(list.GetProperty("data").EnumerateArray());
        Assert.Equal("bundle", entry.GetProperty("kind").GetString());
        Assert.Equal(4, entry.GetProperty("files").GetArrayLength());
        var inference = await _client.InferAsync(bundle.Cid, TestModels.Input());
        Assert.Contains("must be a generation request", (await TestClient.ExpectProblem(inference, 422, "invalid-input")).GetProperty("detail").GetString());

        // A single-file model keeps its shape: kind "model", no files.
        var single = await _client.PushAsync(TestModels.Mlp(seed: 9), "mlp");
        var singleInfo = await _client.Http.GetFromJsonAsync<JsonElement>($"/v1/models/{single}");
        Assert.Equal("model", singleInfo.GetProperty("kind").GetString());
        Assert.False(singleInfo.TryGetProperty("files", out _));

        // Files of an unpublished bundle are not served.
        var other = await _client.UploadBundleAsync(TestBundles.Lm(seed: 6));
        await TestClient.ExpectProblem(await _client.Http.GetAsync($"/v1/models/{other.Find("model.onnx.data")!.Cid}/content"), 404, "unknown-model");
    }

    [Fact]
    public async Task An_incomplete_bundle_is_not_published_and_the_status_names_what_is_missing()
    {
        var files = TestBundles.Lm();
        var bundle = await _client.UploadBundleAsync(files, skip: new HashSet<string> { "tokenizer.json" });
        var status = await _client.Http.GetFromJsonAsync<JsonElement>($"/v1/bundles/{bundle.Cid}");
        Assert.False(status.GetProperty("complete").GetBoolean());
        var tokenizer = status.GetProperty("files").EnumerateArray().Single(f => f.GetProperty("path").GetString() == "tokenizer.json");
        Assert.False(tokenizer.GetProperty("announced").GetBoolean());
        var problem = await TestClient.ExpectProblem(await _client.PublishAsync(bundle.Cid, "lm"), 409, "incomplete-content");
        Assert.Contains("tokenizer.json", problem.GetProperty("detail").GetString());
        Assert.Equal(1, problem.GetProperty("missing").GetInt32());

        await _client.UploadAsync(files["tokenizer.json"], 1024);
        await TestClient.Expect(await _client.PublishAsync(bundle.Cid, "lm"), HttpStatusCode.Created);
        // Announcing again is idempotent and says it is complete.
        var again = await _client.Http.PostAsync("/v1/bundles", TestClient.Octets(bundle.Encode()));
        await TestClient.Expect(again, HttpStatusCode.OK);
        Assert.True((await again.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("complete").GetBoolean());
    }

    [Fact]
    public async Task Only_the_owner_of_a_bundle_name_publishes_its_versions()
    {
        var v1 = await _client.PushBundleAsync(TestBundles.Lm(seed: 1), "lm");
        var v2 = await _client.UploadBundleAsync(TestBundles.Lm(seed: 2));
        var problem = await TestClient.ExpectProblem(await _client.PublishAsync(v2.Cid, "lm", "2.0.0", owner: TestClient.Stranger), 403, "name-owned");
        Assert.Equal(TestClient.Owner.Address.ToString(), problem.GetProperty("owner").GetString());
        await TestClient.ExpectProblem(await _client.PublishAsync(v2.Cid, "lm", "2.0.0", signer: TestClient.Stranger), 401, "bad-signature");
        await TestClient.ExpectProblem(await _client.PublishAsync(v2.Cid, "lm", "1.0.0"), 409, "version-exists");
        await TestClient.Expect(await _client.PublishAsync(v2.Cid, "lm", "2.0.0"), HttpStatusCode.Created);
        var versions = await _client.Http.GetFromJsonAsync<JsonElement>("/v1/models?name=lm");
        Assert.Equal([v1.Cid.ToString(), v2.Cid.ToString()], versions.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("cid").GetString()));
    }

    [Fact]
    public async Task Bundle_limits_answer_ProblemDetails_that_name_the_limit()
    {
        using var factory = new NodeFactory(o =>
        {
            o.MaxModelBytes = 3000;
            o.MaxBundleFileBytes = 5000;
            o.MaxBundleBytes = 8000;
        });
        var client = new TestClient(factory.CreateClient());
        var rng = new Random(11);
        byte[] Bytes(int n)
        {
            var b = new byte[n];
            rng.NextBytes(b);
            return b;
        }

        var tooBigFile = TestClient.Bundle(new Dictionary<string, byte[]> { ["model.onnx.data"] = Bytes(6000) });
        var p = await TestClient.ExpectProblem(await client.Http.PostAsync("/v1/bundles", TestClient.Octets(tooBigFile.Encode())), 413, "payload-too-large");
        Assert.Equal("MaxBundleFileBytes", p.GetProperty("limit").GetString());
        Assert.Equal(5000, p.GetProperty("maxBytes").GetInt64());

        var tooBig = TestClient.Bundle(new Dictionary<string, byte[]> { ["a.bin"] = Bytes(4500), ["b.bin"] = Bytes(4500) });
        p = await TestClient.ExpectProblem(await client.Http.PostAsync("/v1/bundles", TestClient.Octets(tooBig.Encode())), 413, "payload-too-large");
        Assert.Equal("MaxBundleBytes", p.GetProperty("limit").GetString());

        // A 4500-byte file is above MaxModelBytes on its own, and fine as the file of an announced bundle.
        var data = Bytes(4500);
        var dataManifest = ModelManifest.Build(data, 1024);
        p = await TestClient.ExpectProblem(await client.Http.PostAsync("/v1/blobs", TestClient.Octets(dataManifest.Encode())), 413, "payload-too-large");
        Assert.Equal("MaxModelBytes", p.GetProperty("limit").GetString());
        var bundle = await client.UploadBundleAsync(new Dictionary<string, byte[]> { ["model.onnx.data"] = data, ["config.json"] = "{}"u8.ToArray() });
        await TestClient.Expect(await client.PublishAsync(bundle.Cid, "lm"), HttpStatusCode.Created);
        // ... but it cannot be published as a single model.
        p = await TestClient.ExpectProblem(await client.PublishAsync(dataManifest.Cid, "big"), 413, "payload-too-large");
        Assert.Equal("MaxModelBytes", p.GetProperty("limit").GetString());

        await TestClient.ExpectProblem(await client.Http.PostAsync("/v1/bundles", TestClient.Octets("{\"format\":\"prova-bundle/1\",\"files\":[]}"u8.ToArray())), 422, "invalid-manifest");
        await TestClient.ExpectProblem(await client.Http.PostAsync("/v1/bundles", TestClient.Octets(dataManifest.Encode())), 422, "invalid-manifest");
        // A bundle that lies about a known file's size is refused.
        string lying = System.Text.Encoding.ASCII.GetString(bundle.Encode()).Replace("\"size\":4500", "\"size\":4501");
        p = await TestClient.ExpectProblem(await client.Http.PostAsync("/v1/bundles", TestClient.Octets(System.Text.Encoding.ASCII.GetBytes(lying))), 422, "invalid-manifest");
        Assert.Contains("4501", p.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task A_corrupted_chunk_of_a_bundle_file_is_detected_by_serving_and_by_materialising_and_a_re_push_repairs_it()
    {
        var files = TestBundles.Lm();
        var bundle = await _client.PushBundleAsync(files, "lm");
        var store = _factory.Services.GetRequiredService<ContentStore>();

        string folder = (await store.MaterializeAsync(bundle.Cid))!;
        foreach (var (path, content) in files)
        {
            Assert.Equal(content, File.ReadAllBytes(Path.Combine(folder, path)));
        }
        Assert.Equal(folder, await store.MaterializeAsync(bundle.Cid));
        Directory.Delete(folder, recursive: true);

        var data = bundle.Find("model.onnx.data")!;
        var manifest = ModelManifest.Build(files["model.onnx.data"], 1024);
        string chunk = Path.Combine(_factory.DataDir, "chunks", manifest.ChunkHashes[3].ToString()[2..]);
        byte[] bytes = File.ReadAllBytes(chunk);
        bytes[100] ^= 1;
        File.WriteAllBytes(chunk, bytes);

        var ex = await Assert.ThrowsAsync<Api.ApiException>(() => store.MaterializeAsync(bundle.Cid));
        Assert.Equal("corrupted-content", ex.Code);
        Assert.False(Directory.Exists(folder));
        await TestClient.ExpectProblem(await _client.Http.GetAsync($"/v1/models/{data.Cid}/chunks/3"), 409, "incomplete-content");
        var status = await _client.Http.GetFromJsonAsync<JsonElement>($"/v1/bundles/{bundle.Cid}");
        Assert.False(status.GetProperty("complete").GetBoolean());

        await _client.UploadAsync(files["model.onnx.data"], 1024);
        folder = (await store.MaterializeAsync(bundle.Cid))!;
        Assert.Equal(files["model.onnx.data"], File.ReadAllBytes(Path.Combine(folder, "model.onnx.data")));
        Assert.Empty(Directory.EnumerateDirectories(Path.GetDirectoryName(folder)!, ".*"));
    }

    [Fact]
    public async Task A_single_file_model_materialises_as_a_folder_with_model_onnx()
    {
        byte[] model = TestModels.Mlp();
        var cid = await _client.PushAsync(model, "mlp");
        var store = _factory.Services.GetRequiredService<ContentStore>();
        string folder = (await store.MaterializeAsync(cid))!;
        Assert.Equal(model, File.ReadAllBytes(Path.Combine(folder, ModelFolder.SingleModelName)));
        Assert.Equal(cid.ToString(), File.ReadAllText(Path.Combine(folder, ModelFolder.MarkerName)).Trim());
        Assert.Null(await store.MaterializeAsync(Cid.ForBytes("nothing"u8)));
    }
}
