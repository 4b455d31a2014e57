using System.Text;
using Prova.Core.Content;

namespace Prova.Core.Tests.Content;

public class BundleManifestTests
{
    private static Cid FileCid(int seed)
    {
        var bytes = new byte[100 + seed];
        new Random(seed).NextBytes(bytes);
        return ModelManifest.Build(bytes, 1024).Cid;
    }

    private static BundleFile File(string path, long size = 10, int seed = 1) => new(path, size, FileCid(seed));

    private static BundleManifest Lm() => BundleManifest.Create(
    [
        File("tokenizer.json", 2_000_000, 1),
        File("model.onnx", 123_456, 2),
        File("model.onnx.data", 4_000_000_000, 3),
        File("config.json", 700, 4),
        File("onnx/extra-1_b+c.bin", 0, 5),
    ]);

    [Fact]
    public void Round_trip_gives_the_same_files_bytes_and_cid()
    {
        var m = Lm();
        var decoded = BundleManifest.Decode(m.Encode());
        Assert.Equal(m.Cid, decoded.Cid);
        Assert.Equal(m.Encode(), decoded.Encode());
        Assert.Equal(m.Files, decoded.Files);
        Assert.Equal(2_000_000 + 123_456 + 4_000_000_000L + 700, decoded.Size);
        Assert.Equal(Cid.ForBytes(m.Encode()), m.Cid);
        Assert.Equal(["config.json", "model.onnx", "model.onnx.data", "onnx/extra-1_b+c.bin", "tokenizer.json"], decoded.Files.Select(f => f.Path));
        Assert.Equal(4_000_000_000, decoded.Find("model.onnx.data")!.Size);
        Assert.Null(decoded.Find("missing.json"));
    }

    [Fact]
    public void Canonical_bytes_do_not_depend_on_input_order_and_are_pinned()
    {
        var files = Lm().Files.ToArray();
        var shuffled = files.Reverse().ToArray();
        Assert.Equal(Lm().Encode(), BundleManifest.Create(shuffled).Encode());
        var one = BundleManifest.Create([new BundleFile("model.onnx", 5, Cid.Parse("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"))]);
        Assert.Equal("""{"format":"prova-bundle/1","files":[{"path":"model.onnx","size":5,"cid":"bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"}]}""",
            Encoding.ASCII.GetString(one.Encode()));
        Assert.Equal(Cid.ForBytes(one.Encode()), one.Cid);
        Assert.True(BundleManifest.LooksLikeBundle(one.Encode()));
        Assert.False(BundleManifest.LooksLikeBundle(ModelManifest.Build(new byte[10]).Encode()));
    }

    [Theory]
    [InlineData("", "is empty")]
    [InlineData("/etc/passwd", "absolute")]
    [InlineData("a\\b.json", "backslash")]
    [InlineData("C:\\x", "backslash")]
    [InlineData("C:x", "contains ':'")]
    [InlineData("../model.onnx", "'..' segment")]
    [InlineData("a/../../b", "'..' segment")]
    [InlineData("./a", "'.' segment")]
    [InlineData("a//b", "empty segment")]
    [InlineData("a/", "empty segment")]
    [InlineData(".hidden", "starting with '.'")]
    [InlineData(".prova-cid", "starting with '.'")]
    [InlineData("sp ace", "contains ' '")]
    [InlineData("é.json", "U+00E9")]
    [InlineData("nul\0.json", "U+0000")]
    [InlineData("quote\".json", "contains '\"'")]
    public void Each_bad_path_is_refused_with_a_reason(string path, string reason)
    {
        Assert.Contains(reason, BundleManifest.CheckPath(path));
        var ex = Assert.Throws<ContentFormatException>(() => BundleManifest.Create([File(path)]));
        Assert.Contains(reason, ex.Message);
    }

    [Fact]
    public void Path_length_segment_length_and_depth_are_limited()
    {
        Assert.Null(BundleManifest.CheckPath(new string('a', 128)));
        Assert.Contains("segment longer than 128", BundleManifest.CheckPath(new string('a', 129)));
        string longest = string.Join("/", Enumerable.Repeat(new string('b', 50), 4)) + "/" + new string('c', 51);
        Assert.Equal(255, longest.Length);
        Assert.Null(BundleManifest.CheckPath(longest));
        Assert.Contains("longer than 255", BundleManifest.CheckPath(longest + "x"));
        Assert.Null(BundleManifest.CheckPath(string.Join("/", Enumerable.Repeat("d", 16))));
        Assert.Contains("more than 16 levels", BundleManifest.CheckPath(string.Join("/", Enumerable.Repeat("d", 17))));
    }

    [Fact]
    public void Duplicates_case_collisions_and_file_directory_clashes_are_refused()
    {
        Assert.Contains("listed twice", Assert.Throws<ContentFormatException>(() => BundleManifest.Create([File("a.json"), File("a.json", seed: 2)])).Message);
        Assert.Contains("only in letter case", Assert.Throws<ContentFormatException>(() => BundleManifest.Create([File("Model.onnx"), File("model.onnx")])).Message);
        Assert.Contains("uses it as a directory", Assert.Throws<ContentFormatException>(() => BundleManifest.Create([File("onnx"), File("onnx/model.onnx")])).Message);
        Assert.Contains("uses it as a directory", Assert.Throws<ContentFormatException>(() => BundleManifest.Create([File("onnx"), File("onnx-x"), File("onnx/a/b")])).Message);
        Assert.Contains("only in letter case", Assert.Throws<ContentFormatException>(() => BundleManifest.Create([File("Onnx/a"), File("onnx/b")])).Message);
        Assert.Contains("uses it as a directory", Assert.Throws<ContentFormatException>(() => BundleManifest.Create([File("ONNX"), File("onnx/b")])).Message);
        Assert.Contains("no files", Assert.Throws<ContentFormatException>(() => BundleManifest.Create([])).Message);
        Assert.Contains("negative size", Assert.Throws<ContentFormatException>(() => BundleManifest.Create([File("a", size: -1)])).Message);
        Assert.Contains("raw (0x55)", Assert.Throws<ContentFormatException>(() => BundleManifest.Create([new BundleFile("a", 1, new Cid(0x70, FileCid(1).Digest))])).Message);
        var many = Enumerable.Range(0, BundleManifest.MaxFiles + 1).Select(i => File($"f{i}", seed: 1)).ToList();
        Assert.Contains("more than the 4096", Assert.Throws<ContentFormatException>(() => BundleManifest.Create(many)).Message);
        Assert.Equal(BundleManifest.MaxFiles, BundleManifest.Create(many.Take(BundleManifest.MaxFiles)).Files.Count);
    }

    [Theory]
    [InlineData("whitespace")]
    [InlineData("unsorted")]
    [InlineData("escaped")]
    [InlineData("key-order")]
    [InlineData("extra-key")]
    [InlineData("trailing")]
    [InlineData("plus-size")]
    [InlineData("float-size")]
    [InlineData("bad-cid")]
    [InlineData("other-format")]
    public void Non_canonical_or_malformed_encodings_are_refused(string variant)
    {
        string good = Encoding.ASCII.GetString(BundleManifest.Create([File("a.json", 3, 1), File("b.json", 4, 2)]).Encode());
        string cidA = FileCid(1).ToString(), cidB = FileCid(2).ToString();
        string bad = variant switch
        {
            "whitespace" => good.Replace(",\"files\"", ", \"files\""),
            "unsorted" => $$"""{"format":"prova-bundle/1","files":[{"path":"b.json","size":4,"cid":"{{cidB}}"},{"path":"a.json","size":3,"cid":"{{cidA}}"}]}""",
            "escaped" => good.Replace("a.json", "\\u0061.json"),
            "key-order" => good.Replace("\"path\":\"a.json\",\"size\":3", "\"size\":3,\"path\":\"a.json\""),
            "extra-key" => good.Replace("\"size\":3,", "\"size\":3,\"mode\":1,"),
            "trailing" => good + " ",
            "plus-size" => good.Replace("\"size\":3", "\"size\":03"),
            "float-size" => good.Replace("\"size\":3", "\"size\":3.0"),
            "bad-cid" => good.Replace(cidA, "Qm" + cidA[2..]),
            "other-format" => good.Replace("prova-bundle/1", "prova-bundle/2"),
            _ => throw new ArgumentException(variant),
        };
        Assert.NotEqual(good, bad);
        Assert.Throws<ContentFormatException>(() => BundleManifest.Decode(Encoding.ASCII.GetBytes(bad)));
    }

    [Fact]
    public void Random_and_mutated_bytes_decode_or_throw_only_the_typed_error()
    {
        int seed = Environment.TickCount;
        var rng = new Random(seed);
        byte[] good = Lm().Encode();
        const string alphabet = "{}[]\":,.0123456789abz/\\ -e";
        for (int i = 0; i < 5000; i++)
        {
            byte[] bytes;
            switch (i % 3)
            {
                case 0:
                    bytes = (byte[])good.Clone();
                    for (int k = rng.Next(1, 4); k > 0; k--)
                    {
                        bytes[rng.Next(bytes.Length)] = rng.Next(2) == 0 ? (byte)rng.Next(256) : (byte)alphabet[rng.Next(alphabet.Length)];
                    }
                    bytes = bytes[..rng.Next(bytes.Length + 1)];
                    break;
                case 1:
                    bytes = new byte[rng.Next(200)];
                    rng.NextBytes(bytes);
                    bytes = [.. "{\"format\":\"prova-bundle/1\""u8, .. bytes];
                    break;
                default:
                    bytes = [.. "{\"format\":\"prova-bundle/1\",\"files\":["u8, .. Enumerable.Range(0, rng.Next(60)).Select(_ => (byte)alphabet[rng.Next(alphabet.Length)])];
                    break;
            }
            try
            {
                var decoded = BundleManifest.Decode(bytes);
                Assert.Equal(bytes, decoded.Encode());
            }
            catch (ContentFormatException)
            {
            }
            catch (Exception ex)
            {
                Assert.Fail($"seed {seed}, case {i}: {ex.GetType().Name}: {ex.Message}");
            }
        }
    }

    [Fact]
    public async Task A_folder_is_written_whole_with_its_marker_and_an_occupied_directory_is_not_overwritten()
    {
        string root = Directory.CreateTempSubdirectory("prova-folder-").FullName;
        try
        {
            var contents = new Dictionary<string, byte[]> { ["config.json"] = "{}"u8.ToArray(), ["onnx/model.onnx"] = new byte[3000] };
            var files = contents.Select(kv => new BundleFile(kv.Key, kv.Value.Length, ModelManifest.Build(kv.Value, 1024).Cid)).ToList();
            var bundle = BundleManifest.Create(files);
            string target = Path.Combine(root, "lm");
            Task Write(BundleFile f, string path, CancellationToken ct) => System.IO.File.WriteAllBytesAsync(path, contents[f.Path], ct);
            string written = await ModelFolder.WriteAsync(target, bundle.Cid, bundle.Files, Write, replace: false);
            Assert.True(ModelFolder.IsComplete(written, bundle.Cid, bundle.Files));
            Assert.Equal(new byte[3000], System.IO.File.ReadAllBytes(Path.Combine(written, "onnx", "model.onnx")));
            Assert.Single(Directory.EnumerateDirectories(root));

            // A writer that fails leaves the folder as it was and no temporary sibling behind.
            await Assert.ThrowsAsync<IOException>(() => ModelFolder.WriteAsync(target, bundle.Cid, bundle.Files,
                (f, p, ct) => System.IO.File.WriteAllBytesAsync(p, new byte[1], ct), replace: true));
            Assert.True(ModelFolder.IsComplete(written, bundle.Cid, bundle.Files));
            Assert.Single(Directory.EnumerateDirectories(root));

            string occupied = Directory.CreateDirectory(Path.Combine(root, "mine")).FullName;
            System.IO.File.WriteAllText(Path.Combine(occupied, "notes.txt"), "keep me");
            await Assert.ThrowsAsync<IOException>(() => ModelFolder.WriteAsync(occupied, bundle.Cid, bundle.Files, Write, replace: false));
            Assert.Equal("keep me", System.IO.File.ReadAllText(Path.Combine(occupied, "notes.txt")));
            await ModelFolder.WriteAsync(occupied, bundle.Cid, bundle.Files, Write, replace: true);
            Assert.False(System.IO.File.Exists(Path.Combine(occupied, "notes.txt")));
            Assert.True(ModelFolder.IsComplete(occupied, bundle.Cid, bundle.Files));
            Assert.False(ModelFolder.IsComplete(occupied, FileCid(9), bundle.Files));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
