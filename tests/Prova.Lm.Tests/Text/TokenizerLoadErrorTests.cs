using System.Text;
using Prova.Lm.Text;
using Xunit.Abstractions;

namespace Prova.Lm.Tests.Text;

public sealed class TokenizerLoadErrorTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("prova-lm-tok-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const string TinyByteLevel = """
        {"version": "1.0", "added_tokens": [{"id": 5, "content": "<|end|>", "special": true}],
         "normalizer": null,
         "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
         "decoder": {"type": "ByteLevel"},
         "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "Ġ": 3, "Ġab": 4}, "merges": ["a b", ["Ġ", "ab"]]}}
        """;

    [Fact]
    public void ASmallHandWrittenByteLevelTokenizerWorksWithBothMergeForms()
    {
        File.WriteAllText(Path.Combine(_dir, "tokenizer.json"), TinyByteLevel);
        File.WriteAllText(Path.Combine(_dir, "tokenizer_config.json"), """{"eos_token": "<|end|>"}""");
        var tok = LmTokenizer.Load(_dir);
        Assert.Equal([2, 4, 5], tok.Encode("ab ab<|end|>", addSpecial: true));
        Assert.Equal([5], tok.EosIds);
        Assert.Equal(6, tok.VocabSize);
        Assert.Equal("ab ab", tok.Decode([2, 4, 5]));
    }

    [Theory]
    [InlineData("""{"model": {"type": "WordLevel", "vocab": {}}}""", "model type 'WordLevel' is not supported")]
    [InlineData("""{"model": {"vocab": {}}}""", "'model' has no 'type'")]
    [InlineData("""{"version": "1.0"}""", "has no 'model' object")]
    [InlineData("""{"model": {"type": "BPE", "vocab": {"a": "zero"}}, "decoder": {"type": "ByteLevel"}}""", "vocab entry 'a'")]
    [InlineData("""{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [["a"]]}, "decoder": {"type": "ByteLevel"}}""", "merge 0")]
    [InlineData("""{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}""", "without ByteLevel")]
    [InlineData("""{"model": {"type": "BPE", "vocab": {"a": 0}}, "pre_tokenizer": {"type": "Whitespace"}, "decoder": {"type": "ByteLevel"}}""", "pre-tokenizer 'Whitespace' is not supported")]
    [InlineData("""{"model": {"type": "BPE", "vocab": {"a": 0}}, "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(unclosed"}, "behavior": "Isolated"}, "decoder": {"type": "ByteLevel"}}""", "regex does not compile")]
    [InlineData("""{"model": {"type": "BPE", "byte_fallback": true, "vocab": {"<unk>": 0, "a": 2}}}""", "without gaps")]
    [InlineData("""{"model": {"type": "WordPiece", "vocab": {"[UNK]": 0, "a": 2}}}""", "without gaps (no token has id 1)")]
    [InlineData("""{"model": {"type": "WordPiece", "vocab": {"a": 0}}}""", "unk_token '[UNK]' is not in the vocab")]
    [InlineData("""{"model": {"type": "WordPiece", "vocab": {"[UNK]": 0}}, "pre_tokenizer": {"type": "Metaspace"}}""", "pre-tokenizer 'Metaspace' is not supported with WordPiece")]
    [InlineData("""{"model": {"type": "WordPiece", "vocab": {"[UNK]": 0}}, "normalizer": {"type": "NFKC"}}""", "normalizer 'NFKC' is not supported with WordPiece")]
    [InlineData("""{"model": {"type": "WordPiece", "vocab": {"[UNK]": 0}}, "post_processor": {"type": "BertProcessing", "cls": ["[CLS]"], "sep": ["[SEP]", 1]}}""", "'cls' must be")]
    [InlineData("{not json", "not valid JSON")]
    public void UnsupportedOrBrokenTokenizerJsonNamesTheFileAndTheProblem(string json, string expected)
    {
        File.WriteAllText(Path.Combine(_dir, "tokenizer.json"), json);
        var ex = Assert.Throws<LmException>(() => LmTokenizer.Load(_dir));
        Assert.StartsWith("tokenizer.json", ex.Message);
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void GarbageTokenizerModelBytesOnlyThrowLmException()
    {
        var seed = Random.Shared.Next();
        output.WriteLine($"seed {seed}");
        var rng = new Random(seed);
        for (var i = 0; i < 300; i++)
        {
            var bytes = new byte[rng.Next(0, 200)];
            rng.NextBytes(bytes);
            File.WriteAllBytes(Path.Combine(_dir, "tokenizer.model"), bytes);
            try
            {
                LmTokenizer.Load(_dir);
            }
            catch (LmException)
            {
            }
            catch (Exception ex)
            {
                Assert.Fail($"seed {seed}, case {i}: {ex.GetType().FullName}: {ex.Message}");
            }
        }
    }

    private const string TinyWordPiece = """
        {"added_tokens": [{"id": 0, "content": "[UNK]", "special": true}, {"id": 5, "content": "<|end|>", "special": true}],
         "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null, "lowercase": true},
         "pre_tokenizer": {"type": "BertPreTokenizer"},
         "post_processor": {"type": "BertProcessing", "cls": ["<|end|>", 5], "sep": ["<|end|>", 5]},
         "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
         "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
                   "vocab": {"[UNK]": 0, "a": 1, "##b": 2, "b": 3, ".": 4, "<|end|>": 5}}}
        """;

    [Theory]
    [InlineData("byte-level BPE")]
    [InlineData("WordPiece")]
    public void MutatedTokenizerJsonOnlyThrowsLmException(string kind)
    {
        var seed = Random.Shared.Next();
        output.WriteLine($"seed {seed}");
        var rng = new Random(seed);
        File.WriteAllText(Path.Combine(_dir, "tokenizer_config.json"), """{"eos_token": "<|end|>", "bos_token": "a"}""");
        var loaded = 0;
        for (var i = 0; i < 1_000; i++)
        {
            var text = new StringBuilder(kind == "WordPiece" ? TinyWordPiece : TinyByteLevel);
            for (var e = rng.Next(1, 4); e > 0 && text.Length > 0; e--)
            {
                var at = rng.Next(text.Length);
                if (rng.Next(2) == 0)
                {
                    text.Remove(at, Math.Min(rng.Next(1, 6), text.Length - at));
                }
                else
                {
                    text[at] = (char)rng.Next(32, 127);
                }
            }
            File.WriteAllText(Path.Combine(_dir, "tokenizer.json"), text.ToString());
            try
            {
                var tok = LmTokenizer.Load(_dir);
                tok.Decode(tok.Encode("ab ab <|end|> ba", addSpecial: true));
                loaded++;
            }
            catch (LmException)
            {
            }
            catch (Exception ex)
            {
                Assert.Fail($"seed {seed}, case {i}: {ex.GetType().FullName}: {ex.Message} for {text}");
            }
        }
        output.WriteLine($"{loaded} of 1,000 mutated tokenizer.json files still loaded and encoded");
    }
}
