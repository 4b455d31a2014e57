using System.Text;
using Prova.Lm.Text;
using Xunit.Abstractions;

namespace Prova.Lm.Tests.Text;

/// <summary>BERT-style WordPiece tokenizer.json against the Hugging Face reference (TokenizerFixtures, bert-uncased).</summary>
public sealed class WordPieceTokenizerTests(ITestOutputHelper output)
{
    private static readonly Lazy<LmTokenizer> s_bert = new(() => LmTokenizer.Load(TokenizerFixtures.BertDir));

    [Fact]
    public void EncodingAndDecodingMatchTheHuggingFaceReference()
    {
        var tok = s_bert.Value;
        var failures = new List<string>();
        var count = 0;
        foreach (var (text, ids, idsWithSpecial, decoded) in TokenizerFixtures.GoldenCases("bert-uncased"))
        {
            count++;
            var ours = tok.Encode(text, addSpecial: false);
            if (!ours.SequenceEqual(ids))
            {
                failures.Add($"{text}: expected [{string.Join(",", ids)}] got [{string.Join(",", ours)}]");
            }
            var oursSpecial = tok.Encode(text, addSpecial: true);
            if (!oursSpecial.SequenceEqual(idsWithSpecial))
            {
                failures.Add($"{text} (add special): expected [{string.Join(",", idsWithSpecial)}] got [{string.Join(",", oursSpecial)}]");
            }
            if (tok.Decode(ids) != decoded)
            {
                failures.Add($"{text}: decoded as \"{tok.Decode(ids)}\", reference \"{decoded}\"");
            }
        }
        Assert.True(count >= 15, "golden file has too few cases");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public void ClsAndSepFrameASequenceAndAreSkippedWhenDecoding()
    {
        var tok = s_bert.Value;
        var ids = tok.Encode("Hello there.", addSpecial: true);
        Assert.Equal(101, ids[0]);
        Assert.Equal(102, ids[^1]);
        Assert.Equal("hello there.", tok.Decode(ids));
        Assert.Equal("[CLS] hello there. [SEP]", tok.Decode(ids, skipSpecial: false));
    }

    [Fact]
    public void StreamingDecodeAddsUpToDecodeAcrossPunctuationAndContractions()
    {
        // The cleanup removes spaces that the next token decides on ("do" + "not", "'" + "s"), so the streaming
        // decoder must hold text back and never emit something a later token changes.
        var tok = s_bert.Value;
        string[] words = ["do", "not", "don", "'", "t", "it", "s", "'s", "n't", ".", ",", "?", "!", "hello", "world", "un", "##believ", "##able", "'m", "'ve", "'re", "日", "café"];
        var seed = Random.Shared.Next();
        output.WriteLine($"seed {seed}");
        var rng = new Random(seed);
        var heldBack = false;
        for (var i = 0; i < 300; i++)
        {
            var text = string.Join(' ', Enumerable.Range(0, rng.Next(1, 25)).Select(_ => words[rng.Next(words.Length)]));
            var ids = tok.Encode(text, addSpecial: true);
            var decoder = tok.NewDecoder();
            var sb = new StringBuilder();
            foreach (var id in ids)
            {
                var piece = decoder.Add(id);
                heldBack |= piece.Length == 0 && !tok.IsSpecial(id);
                sb.Append(piece);
            }
            sb.Append(decoder.Flush());
            Assert.True(tok.Decode(ids) == sb.ToString(), $"seed {seed}: {text}: streamed \"{sb}\", whole \"{tok.Decode(ids)}\"");
        }
        Assert.True(heldBack, $"seed {seed}: the decoder never held text back");
    }

    [Fact]
    public void ALegacyBertProcessingPostProcessorFramesTheSequence()
    {
        var dir = Directory.CreateTempSubdirectory("prova-lm-wp-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "tokenizer.json"), """
                {"added_tokens": [{"id": 0, "content": "[UNK]", "special": true}, {"id": 1, "content": "[CLS]", "special": true}, {"id": 2, "content": "[SEP]", "special": true}],
                 "normalizer": {"type": "BertNormalizer", "lowercase": true}, "pre_tokenizer": {"type": "BertPreTokenizer"},
                 "post_processor": {"type": "BertProcessing", "cls": ["[CLS]", 1], "sep": ["[SEP]", 2]},
                 "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
                 "model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "play": 3, "##ing": 4, "!": 5}}}
                """);
            var tok = LmTokenizer.Load(dir);
            Assert.Equal([1, 3, 4, 0, 5, 2], tok.Encode("Playing chess!", addSpecial: true));
            Assert.Equal("playing!", tok.Decode([1, 3, 4, 0, 5, 2]));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
