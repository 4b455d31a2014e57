using System.Text;
using System.Text.Json;
using Microsoft.ML.Tokenizers;

namespace Prova.Lm.Text;

/// <summary>
/// A language model's tokenizer, loaded from its bundle folder: <c>tokenizer.json</c> (byte-level BPE, Unigram,
/// SentencePiece-style BPE with byte fallback, or BERT-style WordPiece) or <c>tokenizer.model</c> (SentencePiece BPE), plus the added and special
/// tokens of <c>tokenizer_config.json</c>. The subword algorithms are Microsoft.ML.Tokenizers'; this type adds what the
/// Hugging Face files say around them: added tokens split out first (so a chat template's special tokens are one id
/// each), the pre-tokenizer chain, BOS insertion, and byte-exact decoding.
/// </summary>
public sealed partial class LmTokenizer
{
    private readonly Tokenizer _inner;
    private readonly TokenizerKind _kind;
    private readonly AddedTokens _added;
    private readonly PreTokenizerChain? _preTokenizer;
    private readonly NormalizationForm? _normalization;
    private readonly IReadOnlyDictionary<string, int>? _ignoreMergesVocab;
    private readonly byte[][] _tokenBytes;
    private readonly int[] _prefixIds;
    private readonly int[] _suffixIds;
    private readonly BertText? _bert;

    private LmTokenizer(
        Tokenizer inner,
        TokenizerKind kind,
        AddedTokens added,
        PreTokenizerChain? preTokenizer,
        NormalizationForm? normalization,
        IReadOnlyDictionary<string, int>? ignoreMergesVocab,
        byte[][] tokenBytes,
        int[] prefixIds,
        int[] suffixIds,
        int? bosId,
        IReadOnlyList<int> eosIds,
        BertText? bert)
    {
        _inner = inner;
        _kind = kind;
        _added = added;
        _preTokenizer = preTokenizer;
        _normalization = normalization;
        _ignoreMergesVocab = ignoreMergesVocab;
        _tokenBytes = tokenBytes;
        _prefixIds = prefixIds;
        _suffixIds = suffixIds;
        BosId = bosId;
        EosIds = eosIds;
        _bert = bert;
    }

    /// <summary>The Microsoft.ML.Tokenizers tokenizer doing the subword step.</summary>
    public Tokenizer Inner => _inner;

    /// <summary>Number of ids: one more than the largest id of the vocabulary and the added tokens.</summary>
    public int VocabSize => _tokenBytes.Length;

    /// <summary>The beginning-of-sequence id, if the tokenizer has one.</summary>
    public int? BosId { get; }

    /// <summary>Ids that end generation: the tokenizer's eos token plus <c>generation_config.json</c>'s eos_token_id.</summary>
    public IReadOnlyList<int> EosIds { get; }

    /// <summary>Whether <paramref name="id"/> is a special token (BOS, EOS, chat markers), which decoding skips.</summary>
    public bool IsSpecial(int id) => _added.SpecialIds.Contains(id);

    /// <summary>The id of an added or special token written out in full, e.g. <c>"&lt;|im_end|&gt;"</c>.</summary>
    public int? TokenId(string token) => _added.Ids.TryGetValue(token, out var id) ? id : null;

    /// <summary>
    /// Encodes <paramref name="text"/>. Added tokens appearing in the text (chat-template markers such as
    /// <c>&lt;|im_start|&gt;</c>) become their single ids; the text between them goes through normalization,
    /// pre-tokenization and the subword model. <paramref name="addSpecial"/> adds what the tokenizer adds around a
    /// sequence (BOS for Llama-style models, nothing for ChatML ones).
    /// </summary>
    public int[] Encode(string text, bool addSpecial)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 4);
        if (addSpecial)
        {
            ids.AddRange(_prefixIds);
        }
        var cursor = 0;
        while (cursor < text.Length)
        {
            var (at, token) = _added.FindNext(text, cursor);
            if (at > cursor)
            {
                EncodeSegment(text[cursor..at], ids);
            }
            if (token is null)
            {
                break;
            }
            ids.Add(_added.Ids[token]);
            cursor = at + token.Length;
        }
        if (addSpecial)
        {
            ids.AddRange(_suffixIds);
        }
        return [.. ids];
    }

    /// <summary>
    /// Decodes ids to text. Special tokens are left out when <paramref name="skipSpecial"/>; bytes that do not form
    /// UTF-8 become U+FFFD. Ids outside the vocabulary throw <see cref="LmException"/>.
    /// </summary>
    public string Decode(ReadOnlySpan<int> ids, bool skipSpecial = true)
    {
        var bytes = new List<byte>(ids.Length * 4);
        foreach (var id in ids)
        {
            if (skipSpecial && IsSpecial(id))
            {
                continue;
            }
            bytes.AddRange(TokenBytes(id));
        }
        var text = Encoding.UTF8.GetString([.. bytes]);
        text = StripsLeadingSpace && text.StartsWith(' ') ? text[1..] : text;
        return CleansUpSpaces ? WordPieceCleanup.Apply(text) : text;
    }

    /// <summary>A decoder for generated ids that emits text only once it is complete UTF-8.</summary>
    public IncrementalDecoder NewDecoder(bool skipSpecial = true) => new(this, skipSpecial);

    /// <summary>Whether decoding removes the spaces a WordPiece decoder with <c>cleanup</c> removes (<see cref="WordPieceCleanup"/>).</summary>
    internal bool CleansUpSpaces => _bert?.Cleanup == true;

    /// <summary>SentencePiece marks a word start with '▁' and WordPiece pieces start a word after a space; the first one of a text is not a space.</summary>
    internal bool StripsLeadingSpace => _kind != TokenizerKind.ByteLevelBpe;

    /// <summary>True for an id at or above the vocabulary size (a padded logit), which the incremental decoder skips.</summary>
    internal bool PastVocabulary(int id) => id >= _tokenBytes.Length;

    internal byte[] TokenBytes(int id)
    {
        if ((uint)id >= (uint)_tokenBytes.Length)
        {
            throw new LmException($"token id {id} is outside the vocabulary (0..{_tokenBytes.Length - 1})");
        }
        return _tokenBytes[id];
    }

    private void EncodeSegment(string segment, List<int> ids)
    {
        try
        {
            switch (_kind)
            {
                case TokenizerKind.ByteLevelBpe:
                    var normalized = _normalization is { } form ? segment.Normalize(form) : segment;
                    foreach (var (offset, length) in _preTokenizer!.Split(normalized))
                    {
                        var piece = normalized.Substring(offset, length);
                        if (_ignoreMergesVocab is not null && _ignoreMergesVocab.TryGetValue(ByteLevel.Encode(piece), out var whole))
                        {
                            ids.Add(whole);
                            continue;
                        }
                        ids.AddRange(_inner.EncodeToIds(piece, considerPreTokenization: false, considerNormalization: false));
                    }
                    break;
                case TokenizerKind.WordPiece:
                    _bert!.Encode(_inner, segment, ids);
                    break;
                default:
                    var sp = (SentencePieceTokenizer)_inner;
                    ids.AddRange(sp.EncodeToIds(segment, addBeginningOfSentence: false, addEndOfSentence: false, considerPreTokenization: true, considerNormalization: true));
                    break;
            }
        }
        catch (System.Text.RegularExpressions.RegexMatchTimeoutException ex)
        {
            throw new LmException($"the pre-tokenizer regex timed out on a {segment.Length}-character text", ex);
        }
    }

    internal enum TokenizerKind
    {
        ByteLevelBpe,
        SentencePiece,
        Unigram,
        WordPiece,
    }
}
