using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;
using Prova.Trainer.Lm;

namespace Prova.Lm.Tests.Trainer;

/// <summary>The trainer's byte-level BPE and Brown corpus text, and that its tokenizer.json loads in Microsoft.ML.Tokenizers with the same ids.</summary>
public sealed class ByteLevelBpeTests
{
    private const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    private static readonly string[] s_documents =
    [
        "The jury said it did find that many of Georgia's registration and election laws \"are outmoded or inadequate and often ambiguous\".",
        "It recommended that Fulton legislators act \"to have these laws studied and revised to the end of modernizing and improving them\".",
        "The grand jury commented on a number of other topics, among them the Atlanta and Fulton County purchasing departments which it said \"are well operated and follow generally accepted practices\".",
        "Déjà vu: naïve café owners paid $1,250.50 in 1961 — twice!",
    ];

    [Fact]
    public void TaggedBrownTextBecomesNaturalText()
    {
        string tagged = "\n\n\tThe/at jury/nn said/vbd ``/`` no/at evidence/nn ''/'' ,/, and/cc it/pps didn't/dod* (/( see/vb )/) Atlanta's/np$ primary/nn ./.\n\n\tIt/pps ended/vbd ./.\n";
        string text = BrownCorpus.Detag(tagged, out int words);
        Assert.Equal("The jury said \"no evidence\", and it didn't (see) Atlanta's primary. It ended.", text);
        Assert.Equal(20, words);
    }

    [Fact]
    public void TrainingIsDeterministicAndEncodingRoundTrips()
    {
        var a = ByteLevelBpe.Train(s_documents, 400);
        var b = ByteLevelBpe.Train(s_documents, 400);
        Assert.Equal(a.Tokens, b.Tokens);
        Assert.Equal(400, a.Tokens.Count);
        Assert.Equal("<|endoftext|>", a.Tokens[0]);
        Assert.Equal("Ġ", a.Tokens[1 + ' ']);
        int tokens = 0, chars = 0;
        foreach (string doc in s_documents)
        {
            var ids = new List<int>();
            a.Encode(doc, ids);
            Assert.Equal(doc, a.Decode(ids));
            tokens += ids.Count;
            chars += doc.Length;
        }
        Assert.True(tokens < chars / 2, $"{tokens} tokens for {chars} characters: the merges do not compress");
    }

    [Fact]
    public void TokenizerJsonLoadsInMicrosoftMlTokenizersWithTheSameIds()
    {
        var bpe = ByteLevelBpe.Train(s_documents, 420);
        string dir = Directory.CreateTempSubdirectory("prova-bpe").FullName;
        try
        {
            string path = Path.Combine(dir, "tokenizer.json");
            bpe.WriteTokenizerJson(path);
            var tokenizer = Load(path);
            string text = "The jury said the laws of Fulton County are well operated, naïve and \"ambiguous\" in 1961.<|endoftext|>It";
            var expected = new List<int>();
            bpe.Encode(text[..^15], expected);
            expected.Add(0);
            bpe.Encode("It", expected);
            Assert.Equal(expected, tokenizer.EncodeToIds(text));
            Assert.Equal(text, tokenizer.Decode(expected));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Reads a Hugging Face BPE tokenizer.json into Microsoft.ML.Tokenizers' BpeTokenizer (ByteLevel, GPT-2 regex).</summary>
    internal static BpeTokenizer Load(string path)
    {
        using var json = JsonDocument.Parse(File.ReadAllBytes(path));
        var model = json.RootElement.GetProperty("model");
        Assert.Equal("BPE", model.GetProperty("type").GetString());
        Assert.Equal("ByteLevel", json.RootElement.GetProperty("pre_tokenizer").GetProperty("type").GetString());
        var vocab = new List<KeyValuePair<string, int>>();
        foreach (var entry in model.GetProperty("vocab").EnumerateObject())
        {
            vocab.Add(new(entry.Name, entry.Value.GetInt32()));
        }
        var merges = new List<string>();
        foreach (var merge in model.GetProperty("merges").EnumerateArray())
        {
            merges.Add(merge.GetString()!);
        }
        var special = new Dictionary<string, int>();
        foreach (var added in json.RootElement.GetProperty("added_tokens").EnumerateArray())
        {
            special[added.GetProperty("content").GetString()!] = added.GetProperty("id").GetInt32();
        }
        return BpeTokenizer.Create(new BpeOptions(vocab)
        {
            Merges = merges,
            ByteLevel = true,
            SpecialTokens = special,
            PreTokenizer = new RegexPreTokenizer(new Regex(Gpt2Pattern, RegexOptions.Compiled), special),
        });
    }
}
