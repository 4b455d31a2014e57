using System.Text;
using Prova.Lm.Text;
using Xunit.Abstractions;

namespace Prova.Lm.Tests.Text;

public sealed class LmTokenizerTests(ITestOutputHelper output)
{
    private static readonly Lazy<LmTokenizer> s_qwen = new(() => LmTokenizer.Load(TokenizerFixtures.Qwen3Dir));
    private static readonly Lazy<LmTokenizer> s_llama = new(() => LmTokenizer.Load(TokenizerFixtures.Llama2Dir));

    [Theory]
    [InlineData("qwen3-trimmed")]
    [InlineData("llama2")]
    public void EncodingMatchesTheHuggingFaceReferenceIds(string fixture)
    {
        var tok = fixture == "llama2" ? s_llama.Value : s_qwen.Value;
        var failures = new List<string>();
        var count = 0;
        foreach (var (text, ids, idsWithSpecial) in TokenizerFixtures.Golden(fixture))
        {
            if (fixture == "qwen3-trimmed" && HasCombiningMark(text))
            {
                continue; // NFC needs ICU; see DecomposedTextIsNotComposedWithoutIcu
            }
            count++;
            var ours = tok.Encode(text, addSpecial: false);
            if (!ours.SequenceEqual(ids))
            {
                failures.Add($"{Show(text)}: expected [{string.Join(",", ids)}] got [{string.Join(",", ours)}]");
            }
            var oursSpecial = tok.Encode(text, addSpecial: true);
            if (!oursSpecial.SequenceEqual(idsWithSpecial))
            {
                failures.Add($"{Show(text)} (add special): expected [{string.Join(",", idsWithSpecial)}] got [{string.Join(",", oursSpecial)}]");
            }
        }
        Assert.True(count >= 10, "golden file has too few cases");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public void ChatMarkersEncodeToSingleIds()
    {
        var tok = s_qwen.Value;
        var ids = tok.Encode("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", addSpecial: false);
        Assert.Equal(151644, ids[0]);
        Assert.Contains(151645, ids);
        Assert.Equal(3, ids.Count(id => id is 151644 or 151645));
        Assert.Equal(151644, tok.TokenId("<|im_start|>"));
        Assert.Equal([151645], tok.EosIds);
        Assert.Null(tok.BosId);
    }

    [Fact]
    public void SentencePieceBosAndEosAreSingleIdsAndBosIsAddedOnRequest()
    {
        var tok = s_llama.Value;
        Assert.Equal(1, tok.BosId);
        Assert.Equal([2], tok.EosIds);
        Assert.Equal(32000, tok.VocabSize);
        var ids = tok.Encode("<s>[INST] hi [/INST]", addSpecial: false);
        Assert.Equal(1, ids[0]);
        Assert.Equal(1, tok.Encode("hi", addSpecial: true)[0]);
        Assert.NotEqual(1, tok.Encode("hi", addSpecial: false)[0]);
    }

    [Theory]
    [InlineData("qwen3-trimmed")]
    [InlineData("llama2")]
    public void DecodeInvertsEncodeOnRandomUnicode(string fixture)
    {
        var tok = fixture == "llama2" ? s_llama.Value : s_qwen.Value;
        var seed = Random.Shared.Next();
        output.WriteLine($"seed {seed}");
        var rng = new Random(seed);
        for (var i = 0; i < 200; i++)
        {
            var text = RandomText(rng, rng.Next(0, 40));
            if (fixture == "llama2")
            {
                // SentencePiece drops the dummy-prefix space of a text that starts with one; HF does the same.
                text = text.TrimStart(' ');
            }
            var ids = tok.Encode(text, addSpecial: false);
            Assert.True(text == tok.Decode(ids), $"seed {seed}: {Show(text)} decoded as {Show(tok.Decode(ids))}");
        }
    }

    [Fact]
    public void DecodeAgreesWithMicrosoftMlTokenizersOnByteLevelText()
    {
        var tok = s_qwen.Value;
        foreach (var (text, ids, _) in TokenizerFixtures.Golden("qwen3-trimmed"))
        {
            if (ids.Any(tok.IsSpecial) || HasCombiningMark(text))
            {
                continue;
            }
            Assert.Equal(tok.Inner.Decode(ids), tok.Decode(ids));
            Assert.Equal(text, tok.Decode(ids));
        }
    }

    [Theory]
    [InlineData("qwen3-trimmed")]
    [InlineData("llama2")]
    public void StreamingDecodeEmitsOnlyWholeCharactersAndAddsUpToDecode(string fixture)
    {
        var tok = fixture == "llama2" ? s_llama.Value : s_qwen.Value;
        var seed = Random.Shared.Next();
        output.WriteLine($"seed {seed}");
        var rng = new Random(seed);
        var sawSplitCharacter = false;
        for (var i = 0; i < 200; i++)
        {
            var text = RandomText(rng, rng.Next(1, 30));
            var ids = tok.Encode(text, addSpecial: true);
            var decoder = tok.NewDecoder();
            var sb = new StringBuilder();
            foreach (var id in ids)
            {
                var piece = decoder.Add(id);
                Assert.DoesNotContain('\uFFFD', piece);
                Assert.False(piece.Length > 0 && char.IsHighSurrogate(piece[^1]), $"seed {seed}: a piece ends inside a surrogate pair");
                sawSplitCharacter |= piece.Length == 0 && !tok.IsSpecial(id);
                sb.Append(piece);
            }
            sb.Append(decoder.Flush());
            Assert.Equal(tok.Decode(ids), sb.ToString());
        }
        Assert.True(sawSplitCharacter, $"seed {seed}: no token ever ended mid-character, so holding back was not exercised");
    }

    [Fact]
    public void StreamingDecodeHoldsASplitEmojiUntilItsLastByte()
    {
        var tok = s_qwen.Value;
        var ids = tok.Encode("😀", addSpecial: false);
        Assert.True(ids.Length > 1, "the trimmed vocabulary should spell the emoji with several byte tokens");
        var decoder = tok.NewDecoder();
        for (var i = 0; i < ids.Length - 1; i++)
        {
            Assert.Equal("", decoder.Add(ids[i]));
        }
        Assert.Equal("😀", decoder.Add(ids[^1]));
    }

    [Fact]
    public void StreamingDecodeOfByteFallbackTokensWaitsForTheCharacter()
    {
        var tok = s_llama.Value;
        var e2 = tok.Encode("\u2603", addSpecial: false); // ☃ is not a piece: three <0x..> byte tokens after '▁'
        var decoder = tok.NewDecoder();
        var pieces = e2.Select(decoder.Add).ToList();
        Assert.Equal("\u2603", string.Concat(pieces) + decoder.Flush());
        Assert.Equal("\u2603", pieces[^1]);
    }

    [Fact]
    public void AnUnfinishedCharacterAtTheEndBecomesAReplacementCharacter()
    {
        var tok = s_qwen.Value;
        var ids = tok.Encode("😀", addSpecial: false);
        var decoder = tok.NewDecoder();
        Assert.Equal("", decoder.Add(ids[0]));
        Assert.Equal("\uFFFD", decoder.Flush());
        Assert.Equal("\uFFFD", tok.Decode(ids.AsSpan(0, 1)));
    }

    [Fact]
    public void IdsOutsideTheVocabularyAreRejected()
    {
        var ex = Assert.Throws<LmException>(() => s_qwen.Value.Decode([1 << 30]));
        Assert.Contains("outside the vocabulary", ex.Message);
        Assert.Throws<LmException>(() => s_qwen.Value.NewDecoder().Add(-1));
    }

    [Fact]
    public void AGeneratedIdPastTheVocabularyAddsNoText()
    {
        // Models pad their logits past the tokenizer (Qwen2: 151,936 logits, 151,665 tokens); such an id decodes to nothing.
        var tok = s_qwen.Value;
        var decoder = tok.NewDecoder();
        var ids = tok.Encode("Hi there", addSpecial: false);
        string text = decoder.Add(ids[0]) + decoder.Add(tok.VocabSize + 5) + string.Concat(ids.Skip(1).Select(decoder.Add)) + decoder.Flush();
        Assert.Equal("Hi there", text);
    }

    [Fact]
    public void SpecialTokensAreSkippedWhenDecodingUnlessAsked()
    {
        var tok = s_qwen.Value;
        var ids = tok.Encode("<|im_start|>hi<|im_end|>", addSpecial: false);
        Assert.Equal("hi", tok.Decode(ids));
        Assert.Equal("<|im_start|>hi<|im_end|>", tok.Decode(ids, skipSpecial: false));
    }

    [Fact]
    public void DecomposedTextIsNotComposedWithoutIcu()
    {
        // Prova runs with InvariantGlobalization, where string.Normalize cannot compose "e\u0301" to "\u00e9"; the NFC
        // normalizer of Qwen-style tokenizers then sees decomposed text as is and spends more tokens than Hugging Face.
        // Keyboards and models produce composed text, so this only matters for pasted decomposed input.
        var tok = s_qwen.Value;
        var composed = tok.Encode("\u00e9", addSpecial: false);
        var decomposed = tok.Encode("e\u0301", addSpecial: false);
        var icu = "e\u0301".Normalize(NormalizationForm.FormC) == "\u00e9";
        Assert.Equal(icu, composed.SequenceEqual(decomposed));
        Assert.Equal(icu ? "\u00e9" : "e\u0301", tok.Decode(decomposed));
    }

    private static bool HasCombiningMark(string s) => s.Any(c => c is >= '\u0300' and <= '\u036F');

    internal static string RandomText(Random rng, int length)
    {
        var sb = new StringBuilder();
        for (var i = 0; i < length; i++)
        {
            switch (rng.Next(8))
            {
                case 0:
                    sb.Append((char)rng.Next(0x20, 0x7F));
                    break;
                case 1:
                    sb.Append(' ');
                    break;
                case 2:
                    sb.Append((char)rng.Next(0xC0, 0x250));
                    break;
                case 3:
                    sb.Append((char)rng.Next(0x4E00, 0x9FFF));
                    break;
                case 4:
                    sb.Append(char.ConvertFromUtf32(rng.Next(0x1F600, 0x1F650)));
                    break;
                case 5:
                    sb.Append("\n\t\r"[rng.Next(3)]);
                    break;
                case 6:
                    sb.Append((char)rng.Next('0', '9' + 1));
                    break;
                default:
                    sb.Append((char)rng.Next(0x0400, 0x0500));
                    break;
            }
        }
        return sb.ToString();
    }

    private static string Show(string s) => System.Text.Json.JsonSerializer.Serialize(s);
}
