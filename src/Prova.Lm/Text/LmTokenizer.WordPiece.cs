using System.Text;
using System.Text.Json;
using Microsoft.ML.Tokenizers;

namespace Prova.Lm.Text;

public sealed partial class LmTokenizer
{
    /// <summary>
    /// A BERT-style <c>tokenizer.json</c>: a WordPiece model behind a BertNormalizer and a BertPreTokenizer
    /// (<see cref="BertText"/>), each word encoded by Microsoft.ML.Tokenizers' <see cref="WordPieceTokenizer"/>. Decoding follows the WordPiece decoder: a piece with the
    /// continuing-subword prefix joins the previous one, any other piece starts a new word after a space, and with
    /// <c>cleanup</c> the spaces before punctuation and contractions go (<see cref="WordPieceCleanup"/>).
    /// </summary>
    private static LmTokenizer FromWordPieceJson(JsonElement root, JsonElement model, BundleConfig config, List<AddedToken> added)
    {
        const string F = TokenizerJsonFile;
        var (vocab, maxId) = ReadVocab(model, "WordPiece");
        var byId = new string?[maxId + 1];
        foreach (var (token, id) in vocab)
        {
            byId[id] = token;
        }
        var gap = Array.IndexOf(byId, null);
        if (gap >= 0)
        {
            throw new LmException($"{F}: a WordPiece vocab must use the ids 0..{maxId} without gaps (no token has id {gap})");
        }
        var unk = JsonFile.String(model, "unk_token", F) ?? "[UNK]";
        if (!vocab.ContainsKey(unk))
        {
            throw new LmException($"{F}: the WordPiece unk_token '{unk}' is not in the vocab");
        }
        var prefix = JsonFile.String(model, "continuing_subword_prefix", F) ?? "##";
        if (prefix.Length == 0)
        {
            throw new LmException($"{F}: the WordPiece continuing_subword_prefix must not be empty");
        }

        var normalizer = JsonFile.Get(root, "normalizer");
        var normalizerType = normalizer is { ValueKind: JsonValueKind.Object } n ? JsonFile.String(n, "type", F) : null;
        if (normalizer is { ValueKind: JsonValueKind.Object } && normalizerType != "BertNormalizer")
        {
            throw new LmException($"{F}: normalizer '{normalizerType}' is not supported with WordPiece (supported: BertNormalizer or none)");
        }
        var lowercase = normalizer is { } bn && JsonFile.Bool(bn, "lowercase", F) == true;
        var pre = JsonFile.Get(root, "pre_tokenizer") is { ValueKind: JsonValueKind.Object } p ? JsonFile.String(p, "type", F) : null;
        if (pre is not ("BertPreTokenizer" or null))
        {
            throw new LmException($"{F}: pre-tokenizer '{pre}' is not supported with WordPiece (supported: BertPreTokenizer)");
        }
        var cleanup = JsonFile.Get(root, "decoder") is { ValueKind: JsonValueKind.Object } decoder
            && JsonFile.Bool(decoder, "cleanup", F) != false;

        var maxChars = JsonFile.Int(model, "max_input_chars_per_word", F) ?? 100;
        if (maxChars < 1)
        {
            throw new LmException($"{F}: the WordPiece max_input_chars_per_word must be at least 1, not {maxChars}");
        }
        Tokenizer inner;
        try
        {
            using var vocabStream = new MemoryStream(Encoding.UTF8.GetBytes(string.Join('\n', byId) + "\n"));
            inner = WordPieceTokenizer.Create(vocabStream, new WordPieceOptions
            {
                UnknownToken = unk,
                ContinuingSubwordPrefix = prefix,
                // Words are split and length-checked (in characters, not UTF-16 units) by EncodeSegment.
                MaxInputCharsPerWord = 2 * maxChars,
            });
        }
        catch (Exception ex) when (ex is not (OutOfMemoryException or LmException))
        {
            throw new LmException($"{F}: Microsoft.ML.Tokenizers rejects the WordPiece model ({ex.Message})", ex);
        }
        var bert = new BertText(
            cleanText: normalizer is { } ct && JsonFile.Bool(ct, "clean_text", F) != false,
            chineseChars: normalizer is { } hc && JsonFile.Bool(hc, "handle_chinese_chars", F) != false,
            stripAccents: normalizer is { } sa && (JsonFile.Bool(sa, "strip_accents", F) ?? lowercase),
            lowercase: lowercase,
            cleanup: cleanup,
            unknownId: vocab[unk],
            maxCharsPerWord: maxChars);

        foreach (var t in added)
        {
            maxId = Math.Max(maxId, t.Id);
        }
        var tokenBytes = new byte[maxId + 1][];
        // The decoder joins a piece with the prefix to the previous one and starts any other token, added ones
        // included, after a space.
        byte[] Piece(string token) => Encoding.UTF8.GetBytes(token.StartsWith(prefix, StringComparison.Ordinal) ? token[prefix.Length..] : " " + token);
        for (var id = 0; id < byId.Length; id++)
        {
            tokenBytes[id] = Piece(byId[id]!);
        }
        var allAdded = MergeAdded(added, config.Tokenizer);
        foreach (var t in allAdded)
        {
            tokenBytes[t.Id] = Piece(t.Content);
        }
        FillGaps(tokenBytes);
        var (prefixIds, suffixIds) = ReadPostProcessor(JsonFile.Get(root, "post_processor"), allAdded, config.Tokenizer);
        return Build(inner, TokenizerKind.WordPiece, allAdded, null, null, null, tokenBytes, prefixIds, suffixIds, config, bert);
    }
}

/// <summary>
/// The WordPiece decoder's <c>cleanup</c> (Hugging Face tokenizers' <c>cleanup</c> of decoded text), applied in this
/// order to the whole text: " ." → ".", " ?" → "?", " !" → "!", " ," → ",", " ' " → "'", " n't" → "n't",
/// " 'm" → "'m", " do not" → " don't", " 's" → "'s", " 've" → "'ve", " 're" → "'re".
/// </summary>
internal static class WordPieceCleanup
{
    private static readonly (string From, string To)[] s_rules =
    [
        (" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"),
        (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"),
    ];

    /// <summary>
    /// How many characters at the end of a cleaned text later text may still change: a rule's match is at most 7
    /// characters and starts with a space, and a replacement can make a later rule match across it, so 16 is safe.
    /// </summary>
    public const int Unstable = 16;

    public static string Apply(string text)
    {
        foreach (var (from, to) in s_rules)
        {
            text = text.Replace(from, to, StringComparison.Ordinal);
        }
        return text;
    }
}
