using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Prova.Core.Content;
using Prova.Node.Api;
using Prova.Node.Hosting;
using Prova.Node.Store;

namespace Prova.Node.Tests;

/// <summary>A clock the test moves by hand (timers still run on real time).</summary>
internal sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    private DateTimeOffset _now = start;

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;
}

/// <summary>
/// Unsigned uploads cannot fill a node (docs/network.md, "Uploads, quotas and garbage collection"): unpublished
/// content is charged to a quota, deleted after an age, and manifests of too many or too small chunks are refused.
/// </summary>
public sealed class UploadLimitTests
{
    private static WebApplicationFactory<Program> Start(NodeFactory factory, ManualClock clock) =>
        factory.WithWebHostBuilder(b => b.ConfigureServices(s => s.AddSingleton<TimeProvider>(clock)));

    private static byte[] Random(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static string ChunkFile(NodeFactory factory, ModelManifest manifest, int index) =>
        Path.Combine(factory.DataDir, "chunks", manifest.ChunkHashes[index].ToString()[2..]);

    [Fact]
    public async Task Unpublished_uploads_disappear_after_the_age_published_ones_survive_and_a_restart_changes_neither()
    {
        using var factory = new NodeFactory();
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        byte[] model = TestModels.Mlp();
        byte[] stray = Random(8192, seed: 11);
        byte[] partial = Random(6000, seed: 12);
        ModelManifest published, unpublished, half;
        var node = Start(factory, clock);
        try
        {
            var client = new TestClient(node.CreateClient());
            var cid = await client.PushAsync(model, "gc/mlp", chunkSize: 1024);
            published = ModelManifest.Build(model, 1024);
            unpublished = await client.UploadAsync(stray, chunkSize: 2048);
            half = ModelManifest.Build(partial, 2048);
            await client.AnnounceAsync(half);
            await TestClient.Expect(await client.PutChunkAsync(half, 0, TestClient.Chunk(partial, half, 0)), HttpStatusCode.OK);
            var store = node.Services.GetRequiredService<ContentStore>();

            // Younger than the age (1 h by default): nothing goes; a pinned upload (a pull in progress) never goes.
            clock.Advance(TimeSpan.FromMinutes(59));
            Assert.Equal(0, store.CollectGarbage());
            await TestClient.Expect(await client.Http.GetAsync($"/v1/blobs/{unpublished.Cid}"), HttpStatusCode.OK);
            clock.Advance(TimeSpan.FromMinutes(2));
            using (store.Pin(unpublished.Cid, half.Cid))
            {
                Assert.Equal(0, store.CollectGarbage());
            }
            Assert.Equal(2, store.CollectGarbage());

            await TestClient.ExpectProblem(await client.Http.GetAsync($"/v1/blobs/{unpublished.Cid}"), 404, "unknown-blob");
            await TestClient.ExpectProblem(await client.Http.GetAsync($"/v1/blobs/{half.Cid}"), 404, "unknown-blob");
            Assert.False(File.Exists(ChunkFile(factory, unpublished, 0)));
            Assert.False(File.Exists(ChunkFile(factory, half, 0)));
            Assert.Equal(model, await client.Http.GetByteArrayAsync($"/v1/models/{cid}/content"));
            Assert.True(File.Exists(ChunkFile(factory, published, 0)));
        }
        finally
        {
            await node.DisposeAsync();
        }

        // A restart resurrects nothing and loses nothing.
        node = Start(factory, clock);
        try
        {
            var client = new TestClient(node.CreateClient());
            await TestClient.ExpectProblem(await client.Http.GetAsync($"/v1/blobs/{unpublished.Cid}"), 404, "unknown-blob");
            Assert.Equal(model, await client.Http.GetByteArrayAsync($"/v1/models/{published.Cid}/content"));
            var chunkFiles = Directory.GetFiles(Path.Combine(factory.DataDir, "chunks")).Select(f => Path.GetFileName(f)).Order().ToList();
            Assert.Equal(published.ChunkHashes.Select(h => h.ToString()[2..]).Distinct().Order().ToList(), chunkFiles);
        }
        finally
        {
            await node.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_bundle_upload_stays_alive_while_any_of_its_files_receives_chunks_then_goes_whole()
    {
        using var factory = new NodeFactory();
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal)
        {
            ["model.onnx"] = TestModels.Mlp(),
            ["model.onnx.data"] = Random(6000, seed: 61),
        };
        await using var node = Start(factory, clock);
        var client = new TestClient(node.CreateClient());
        var bundle = await client.UploadBundleAsync(files, chunkSize: 1024, skip: new HashSet<string> { "model.onnx.data" });
        var data = ModelManifest.Build(files["model.onnx.data"], 1024);
        await client.AnnounceAsync(data);
        var store = node.Services.GetRequiredService<ContentStore>();

        // model.onnx was finished 70 min ago, but the bundle's other file got a chunk 20 min ago: nothing goes.
        clock.Advance(TimeSpan.FromMinutes(50));
        await TestClient.Expect(await client.PutChunkAsync(data, 0, TestClient.Chunk(files["model.onnx.data"], data, 0)), HttpStatusCode.OK);
        clock.Advance(TimeSpan.FromMinutes(20));
        Assert.Equal(0, store.CollectGarbage());
        Assert.Equal(-1, Array.IndexOf(bundle.Files.Select(f => store.Status(f.Cid) is not null).ToArray(), false));

        // Abandoned: the bundle and both files go, with every chunk.
        clock.Advance(TimeSpan.FromHours(2));
        Assert.Equal(3, store.CollectGarbage());
        await TestClient.ExpectProblem(await client.Http.GetAsync($"/v1/bundles/{bundle.Cid}"), 404);
        Assert.Empty(Directory.GetFiles(Path.Combine(factory.DataDir, "chunks")));
    }

    [Fact]
    public async Task Unpublished_uploads_past_the_age_and_unreferenced_chunk_files_are_deleted_at_start_up()
    {
        using var factory = new NodeFactory();
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        byte[] stray = Random(5000, seed: 21);
        ModelManifest unpublished;
        await using (var node = Start(factory, clock))
        {
            unpublished = await new TestClient(node.CreateClient()).UploadAsync(stray, chunkSize: 1024);
        }
        // A whole chunk file nothing references (as a crash between the index commit and the file deletion leaves).
        byte[] orphan = Random(3000, seed: 22);
        string orphanPath = Path.Combine(factory.DataDir, "chunks", Convert.ToHexStringLower(SHA256.HashData(orphan)));
        File.WriteAllBytes(orphanPath, orphan);

        clock.Advance(TimeSpan.FromHours(2));
        await using (var node = Start(factory, clock))
        {
            var client = new TestClient(node.CreateClient());
            await TestClient.ExpectProblem(await client.Http.GetAsync($"/v1/blobs/{unpublished.Cid}"), 404, "unknown-blob");
            Assert.Empty(Directory.GetFiles(Path.Combine(factory.DataDir, "chunks")));
            Assert.Empty(Directory.GetFiles(Path.Combine(factory.DataDir, "manifests")));
        }
    }

    [Fact]
    public async Task The_upload_quota_refuses_the_next_upload_naming_the_quota_until_something_is_published()
    {
        using var factory = new NodeFactory(o => o.UnpublishedBytesPerClient = 200 << 10);
        var client = new TestClient(factory.CreateClient());
        byte[] model = TestModels.Mlp(128, 128, 4);
        var manifest = ModelManifest.Build(model, 64 << 10);
        Assert.Equal(2, manifest.ChunkCount);
        await client.UploadAsync(model, chunkSize: 64 << 10);          // charged 2 × 64 KiB
        await client.UploadAsync(Random(60_000, 31), chunkSize: 64 << 10); // charged 64 KiB: 192 KiB in all

        var next = ModelManifest.Build(Random(10_000, 32), 64 << 10);
        var refused = await client.Http.PostAsync("/v1/blobs", TestClient.Octets(next.Encode()));
        var problem = await TestClient.ExpectProblem(refused, 429, "upload-quota");
        Assert.Equal("UnpublishedBytesPerClient", problem.GetProperty("limit").GetString());
        Assert.Contains("UnpublishedBytesPerClient", problem.GetProperty("detail").GetString());
        await TestClient.ExpectProblem(await client.Http.GetAsync($"/v1/blobs/{next.Cid}"), 404, "unknown-blob");

        // Published content no longer counts: the same upload now fits.
        await TestClient.Expect(await client.PublishAsync(manifest.Cid, "quota/mlp"), HttpStatusCode.Created);
        await TestClient.Expect(await client.Http.PostAsync("/v1/blobs", TestClient.Octets(next.Encode())), HttpStatusCode.Created);
    }

    [Fact]
    public void The_node_wide_quota_refuses_with_507_when_many_clients_together_exceed_it()
    {
        using var factory = new NodeFactory(o =>
        {
            o.UnpublishedBytesPerClient = 128 << 10;
            o.UnpublishedBytes = 192 << 10;
        });
        var store = factory.Services.GetRequiredService<ContentStore>();
        store.Announce(ModelManifest.Build(Random(100_000, 41), 64 << 10), "10.0.0.1", out _);
        store.Announce(ModelManifest.Build(Random(1000, 42), 64 << 10), "10.0.0.2", out _);
        var ex = Assert.Throws<ApiException>(() => store.Announce(ModelManifest.Build(Random(1000, 43), 64 << 10), "10.0.0.3", out _));
        Assert.Equal((507, "upload-quota", "UnpublishedBytes"), (ex.Status, ex.Code, (string?)ex.Extensions["limit"]));
        // The node's own pulls (replication, repair) are not charged.
        store.Announce(ModelManifest.Build(Random(1000, 44), 64 << 10), out bool created);
        Assert.True(created);
    }

    /// <summary>A well-formed manifest header listing <paramref name="count"/> chunks (hashes all zero).</summary>
    private static byte[] Manifest(long size, int chunkSize, int count)
    {
        var bytes = new byte[ModelManifest.HeaderLength + count * 32L];
        "PROVAMF1"u8.CopyTo(bytes);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(8), (ulong)size);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(16), (uint)chunkSize);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(20), (uint)count);
        return bytes;
    }

    [Fact]
    public async Task A_manifest_of_too_many_chunks_is_refused_from_its_header_without_indexing_anything()
    {
        using var factory = new NodeFactory();
        var client = new TestClient(factory.CreateClient());
        byte[] bomb = Manifest(200_000L * 1024, 1024, 200_000);
        await TestClient.Expect(await client.Http.GetAsync("/v1/node"), HttpStatusCode.OK);
        var timer = Stopwatch.StartNew();
        var problem = await TestClient.ExpectProblem(await client.Http.PostAsync("/v1/blobs", TestClient.Octets(bomb)), 422, "invalid-manifest");
        Console.WriteLine($"6.4 MB manifest of 200000 chunks refused in {timer.ElapsedMilliseconds} ms");
        Assert.Equal("MaxManifestChunks", problem.GetProperty("limit").GetString());
        Assert.Contains("200000 chunks", problem.GetProperty("detail").GetString());
        await TestClient.ExpectProblem(await client.Http.GetAsync($"/v1/blobs/{Cid.ForBytes(bomb)}"), 404, "unknown-blob");
        Assert.Empty(Directory.GetFiles(Path.Combine(factory.DataDir, "manifests")));

        // At the limit it is accepted.
        byte[] atLimit = Manifest(16384L * 1024, 1024, 16384);
        await TestClient.Expect(await client.Http.PostAsync("/v1/blobs", TestClient.Octets(atLimit)), HttpStatusCode.Created);
    }

    [Fact]
    public async Task Chunks_below_the_minimum_are_refused_except_for_content_of_a_single_chunk()
    {
        using var factory = new NodeFactory(o => o.MinChunkBytes = 64 << 10);
        var client = new TestClient(factory.CreateClient());
        var small = ModelManifest.Build(Random(100_000, 51), 4096);
        var problem = await TestClient.ExpectProblem(await client.Http.PostAsync("/v1/blobs", TestClient.Octets(small.Encode())), 422, "invalid-manifest");
        Assert.Equal("MinChunkBytes", problem.GetProperty("limit").GetString());
        Assert.Contains("4096 bytes", problem.GetProperty("detail").GetString());

        // One short chunk, or chunks of the minimum with a shorter last one, are fine.
        await client.UploadAsync(Random(3000, 52), chunkSize: 4096);
        await client.UploadAsync(Random(100_000, 53), chunkSize: 64 << 10);
    }
}
