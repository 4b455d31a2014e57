using System.Text.Json;
using Prova.Core.Content;
using Prova.Sdk;

namespace Prova.Cli.Tests;

/// <summary>A real node with a language-model-shaped folder pushed as one bundle through 'prova model push DIR'.</summary>
public sealed class BundleCliFixture : CliNodeFixture
{
    public string Folder { get; private set; } = "";

    public Dictionary<string, byte[]> Files { get; } = new(StringComparer.Ordinal);

    public JsonElement PushJson { get; private set; }

    public string Cid => PushJson.GetProperty("cid").GetString()!;

    protected override Task PrepareAsync()
    {
        Folder = Directory.CreateDirectory(Dir.File("lm")).FullName;
        var data = new byte[(3 << 20) + 12345];
        new Random(42).NextBytes(data);
        Files["model.onnx"] = Prova.Onnx.OnnxWriter.Write(TestModels.Linear());
        Files["model.onnx.data"] = data;
        Files["tokenizer.json"] = """{"model": {"type": "BPE", "vocab": {"a": 0}}}"""u8.ToArray();
        Files["config.json"] = """{"model_type": "llama"}"""u8.ToArray();
        Files["onnx/generation_config.json"] = """{"max_length": 32}"""u8.ToArray();
        foreach (var (path, bytes) in Files)
        {
            string full = Path.Combine(Folder, path);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            File.WriteAllBytes(full, bytes);
        }
        // Hidden files (a git checkout's) are not part of the bundle.
        File.WriteAllText(Path.Combine(Folder, ".gitattributes"), "*.data filter=lfs");
        Directory.CreateDirectory(Path.Combine(Folder, ".git"));
        File.WriteAllText(Path.Combine(Folder, ".git", "HEAD"), "ref: refs/heads/main");

        var push = CliHarness.Run("model", "push", Folder, "--name", "cli/lm", "--node", Url, "--data-dir", Dir.File("user"), "--json");
        Assert.True(push.ExitCode == 0, push.ToString());
        PushJson = JsonDocument.Parse(push.Out).RootElement.Clone();
        return Task.CompletedTask;
    }
}

/// <summary>'prova model push DIR', 'prova model pull CID -o DIR', 'prova model ls' with bundles, and the CID → folder helper.</summary>
public sealed class BundleCliTests : IClassFixture<BundleCliFixture>, IDisposable
{
    private readonly BundleCliFixture _f;
    private readonly TempDir _dir = new();

    public BundleCliTests(BundleCliFixture fixture) => _f = fixture;

    public void Dispose() => _dir.Dispose();

    private void AssertSameFolder(string folder)
    {
        foreach (var (path, bytes) in _f.Files)
        {
            Assert.Equal(bytes, File.ReadAllBytes(Path.Combine(folder, path)));
        }
        var written = Directory.EnumerateFiles(folder, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 })
            .Select(p => Path.GetRelativePath(folder, p).Replace('\\', '/')).Order(StringComparer.Ordinal);
        Assert.Equal(_f.Files.Keys.Append(ModelFolder.MarkerName).Order(StringComparer.Ordinal), written);
    }

    [Fact]
    public void PushOfAFolderPublishesOneBundleAndItsJsonListsTheFiles()
    {
        var json = _f.PushJson;
        Assert.StartsWith("bafkrei", _f.Cid);
        Assert.Equal("cli/lm", json.GetProperty("name").GetString());
        Assert.Equal("1.0.0", json.GetProperty("version").GetString());
        Assert.Equal(_f.Files.Values.Sum(b => (long)b.Length), json.GetProperty("bytes").GetInt64());
        var files = json.GetProperty("files").EnumerateArray().ToList();
        Assert.Equal(_f.Files.Keys.Order(StringComparer.Ordinal), files.Select(f => f.GetProperty("path").GetString()));
        foreach (var f in files)
        {
            var content = _f.Files[f.GetProperty("path").GetString()!];
            Assert.Equal(content.Length, f.GetProperty("size").GetInt64());
            Assert.Equal(ModelManifest.Build(content).Cid.ToString(), f.GetProperty("cid").GetString());
        }
        Assert.True(json.GetProperty("chunks").GetInt32() >= 8, "the data file spans several 1 MiB chunks");

        // Pushing again sends nothing and gives the same CID.
        var again = CliHarness.Run("model", "push", _f.Folder, "--name", "cli/lm", "--node", _f.Url, "--data-dir", _f.Dir.File("user"), "--json");
        Assert.True(again.ExitCode == 0, again.ToString());
        using var doc = JsonDocument.Parse(again.Out);
        Assert.Equal(_f.Cid, doc.RootElement.GetProperty("cid").GetString());
        Assert.Equal(0, doc.RootElement.GetProperty("chunksUploaded").GetInt32());
    }

    [Fact]
    public void PullOfABundleRestoresTheFolderAndRefusesANonEmptyOneWithoutForce()
    {
        string target = _dir.File("restored");
        var pull = CliHarness.Run("model", "pull", _f.Cid, "-o", target, "--node", _f.Url, "--json");
        Assert.True(pull.ExitCode == 0, pull.ToString());
        AssertSameFolder(target);
        using (var doc = JsonDocument.Parse(pull.Out))
        {
            Assert.Equal(5, doc.RootElement.GetProperty("files").GetArrayLength());
            Assert.Equal(Path.GetFullPath(target), doc.RootElement.GetProperty("path").GetString());
        }

        var refused = CliHarness.Run("model", "pull", _f.Cid, "-o", target, "--node", _f.Url);
        Assert.True(refused.ExitCode == 2, refused.ToString());
        Assert.Contains("not empty", refused.Err);

        string mine = Directory.CreateDirectory(_dir.File("mine")).FullName;
        File.WriteAllText(Path.Combine(mine, "notes.txt"), "keep");
        refused = CliHarness.Run("model", "pull", _f.Cid, "-o", mine, "--node", _f.Url);
        Assert.True(refused.ExitCode == 2, refused.ToString());
        Assert.Equal("keep", File.ReadAllText(Path.Combine(mine, "notes.txt")));

        var forced = CliHarness.Run("model", "pull", _f.Cid, "-o", mine, "--node", _f.Url, "--force");
        Assert.True(forced.ExitCode == 0, forced.ToString());
        AssertSameFolder(mine);
        Assert.Empty(Directory.EnumerateDirectories(_dir.Path, ".*"));
    }

    [Fact]
    public void LsShowsTheBundleWithItsFiles()
    {
        var ls = CliHarness.Run("model", "ls", "--node", _f.Url, "--json");
        Assert.True(ls.ExitCode == 0, ls.ToString());
        var model = Assert.Single(JsonDocument.Parse(ls.Out).RootElement.GetProperty("models").EnumerateArray(), m => m.GetProperty("cid").GetString() == _f.Cid);
        Assert.Equal("bundle", model.GetProperty("kind").GetString());
        Assert.Equal(5, model.GetProperty("files").GetArrayLength());
        var table = CliHarness.Run("model", "ls", "--node", _f.Url);
        Assert.True(table.ExitCode == 0, table.ToString());
        Assert.Contains("bundle: 5 files", table.Out);
    }

    [Fact]
    public async Task ResolveGivesTheVerifiedFolderFromTheNodeAndFromItsStore()
    {
        var cid = Cid.Parse(_f.Cid);
        using var client = new ProvaClient(new Uri(_f.Url));
        string fromNode = await ModelFolders.ResolveAsync(cid, _dir.File("cache1"), client: client);
        AssertSameFolder(fromNode);
        Assert.Equal(fromNode, await ModelFolders.ResolveAsync(cid, _dir.File("cache1")));

        string fromStore = await ModelFolders.ResolveAsync(cid, _dir.File("cache2"), storeDirectory: _f.Dir.File("node"));
        AssertSameFolder(fromStore);
        var missing = await Assert.ThrowsAsync<ProvaClientException>(() => ModelFolders.ResolveAsync(ModelManifest.Build(new byte[7]).Cid, _dir.File("cache3")));
        Assert.Equal("unknown-model", missing.Code);
    }
}
