using Prova.Core.Content;

namespace Prova.Sdk.Tests;

/// <summary>Bundles (folder models) through the SDK against a real node on loopback.</summary>
public sealed class BundleClientTests : IClassFixture<NodeFixture>, IDisposable
{
    private const int SmallChunks = 4096;
    private readonly NodeFixture _node;
    private readonly TempDir _dir = new();

    public BundleClientTests(NodeFixture node) => _node = node;

    public void Dispose() => _dir.Dispose();

    private Dictionary<string, byte[]> WriteFolder(string name, int seed)
    {
        var data = new byte[50_000];
        new Random(seed).NextBytes(data);
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal)
        {
            ["model.onnx"] = Prova.Onnx.OnnxWriter.Write(TestModels.Mlp(seed: seed)),
            ["model.onnx.data"] = data,
            ["tokenizer.json"] = "{\"model\": {}}"u8.ToArray(),
            ["tokenizer_config.json"] = "{}"u8.ToArray(),
        };
        foreach (var (path, bytes) in files)
        {
            File.WriteAllBytes(Path.Combine(Directory.CreateDirectory(_dir.File(name)).FullName, path), bytes);
        }
        return files;
    }

    [Fact]
    public async Task A_pushed_folder_reports_progress_over_all_files_and_pulls_back_identical()
    {
        var files = WriteFolder("lm", seed: 21);
        using var client = _node.Client();
        var reports = new List<TransferProgress>();
        var pushed = await client.PushDirectoryAsync(_dir.File("lm"), new PushOptions { Name = "sdk/lm", ChunkSize = SmallChunks }, _node.Owner,
            new SyncProgress(reports.Add));
        long total = files.Values.Sum(b => (long)b.Length);
        Assert.Equal(total, pushed.Bytes);
        Assert.Equal(4, pushed.Files!.Count);
        Assert.True(pushed.Model.IsBundle);
        Assert.Equal(total, reports[^1].BytesDone);
        Assert.All(reports, r => Assert.Equal(total, r.TotalBytes));
        Assert.True(reports.Zip(reports.Skip(1)).All(p => p.Second.BytesDone >= p.First.BytesDone), "progress never goes back");
        Assert.Equal(pushed.Cid, (await client.GetBundleAsync(pushed.Cid))!.Cid);
        // Each file is served by its own CID, as single-file content.
        Assert.Null(await client.GetBundleAsync(pushed.Files!.Single(f => f.Path == "model.onnx").Cid));

        var pulled = await client.PullDirectoryAsync(pushed.Cid, _dir.File("copy"));
        foreach (var (path, bytes) in files)
        {
            Assert.Equal(bytes, File.ReadAllBytes(Path.Combine(pulled.Path, path)));
        }
        var info = await client.GetModelAsync(pushed.Cid);
        Assert.Equal("bundle", info.Kind);
        Assert.Equal(pushed.Files, info.Files);
    }

    [Fact]
    public async Task A_corrupted_chunk_during_a_bundle_pull_leaves_the_target_folder_unchanged()
    {
        WriteFolder("lm2", seed: 22);
        using var honest = _node.Client();
        var cid = (await honest.PushDirectoryAsync(_dir.File("lm2"), new PushOptions { Name = "sdk/lm2", ChunkSize = SmallChunks }, _node.Owner)).Cid;
        string target = Directory.CreateDirectory(_dir.File("target")).FullName;
        File.WriteAllText(Path.Combine(target, "old.txt"), "previous");

        using var lying = new ProvaClient(_node.Node.Url, new ProvaClientTests.FlipByteHandler("/chunks/3"));
        var error = await Assert.ThrowsAsync<ContentVerificationException>(() => lying.PullDirectoryAsync(cid, target, force: true));
        Assert.Equal("chunk-mismatch", error.Code);
        Assert.Equal(3, error.ChunkIndex);
        Assert.Equal(["old.txt"], Directory.EnumerateFileSystemEntries(target).Select(Path.GetFileName));
        Assert.Empty(Directory.EnumerateDirectories(_dir.Path, ".*"));

        var notEmpty = await Assert.ThrowsAsync<ProvaClientException>(() => honest.PullDirectoryAsync(cid, target));
        Assert.Equal("not-empty", notEmpty.Code);
    }

    [Fact]
    public void A_folder_with_a_path_the_bundle_rules_refuse_is_not_pushed_and_the_error_names_it()
    {
        WriteFolder("bad", seed: 23);
        File.WriteAllText(_dir.File("bad/my notes.txt"), "x");
        var error = Assert.Throws<ProvaClientException>(() => ProvaClient.BuildBundle(_dir.File("bad")));
        Assert.Equal("bad-file", error.Code);
        Assert.Contains("'my notes.txt'", error.Message);
    }
}
