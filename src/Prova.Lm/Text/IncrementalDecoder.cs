using System.Text;

namespace Prova.Lm.Text;

/// <summary>
/// Turns generated ids into text one id at a time. Byte-level BPE splits a multi-byte character across tokens and
/// SentencePiece writes unknown characters as byte tokens (<c>&lt;0xE2&gt;</c>), so a token's bytes are held back until
/// they complete a UTF-8 character; bytes that can never complete one come out as U+FFFD, as a whole decode would.
/// The concatenation of everything <see cref="Add"/> and <see cref="Flush"/> return equals
/// <see cref="LmTokenizer.Decode"/> of all the ids. An id beyond the tokenizer's vocabulary adds no text: models often
/// pad their logits past the tokenizer (Qwen2: 151,936 logits for 151,665 tokens), and transformers decodes such
/// ids to nothing too. A WordPiece decoder's cleanup (<see cref="WordPieceCleanup"/>) removes spaces that later
/// tokens decide on ("word ." becomes "word."), so with it the last <see cref="WordPieceCleanup.Unstable"/>
/// characters are held back until more text or <see cref="Flush"/> settles them.
/// </summary>
public sealed class IncrementalDecoder
{
    private readonly LmTokenizer _tokenizer;
    private readonly bool _skipSpecial;
    private readonly byte[] _pending = new byte[8];
    private int _pendingCount;
    private bool _atStart = true;
    private readonly StringBuilder? _raw;
    private int _emitted;

    internal IncrementalDecoder(LmTokenizer tokenizer, bool skipSpecial)
    {
        _tokenizer = tokenizer;
        _skipSpecial = skipSpecial;
        _raw = tokenizer.CleansUpSpaces ? new StringBuilder() : null;
    }

    /// <summary>Adds one id; returns the text it completes (often empty mid-character).</summary>
    public string Add(int id)
    {
        if (_skipSpecial && _tokenizer.IsSpecial(id))
        {
            return "";
        }
        if (_tokenizer.PastVocabulary(id))
        {
            return "";
        }
        var bytes = _tokenizer.TokenBytes(id);
        if (bytes.Length == 0)
        {
            return "";
        }
        var sb = new StringBuilder();
        foreach (var b in bytes)
        {
            Push(b, sb);
        }
        return Settle(Emit(sb), final: false);
    }

    /// <summary>With WordPiece cleanup: the cleaned text's new part, all of it when final, else up to its unstable tail.</summary>
    private string Settle(string text, bool final)
    {
        if (_raw is null)
        {
            return text;
        }
        _raw.Append(text);
        var cleaned = WordPieceCleanup.Apply(_raw.ToString());
        var end = final ? cleaned.Length : Math.Max(_emitted, cleaned.Length - WordPieceCleanup.Unstable);
        if (end > _emitted && end < cleaned.Length && char.IsLowSurrogate(cleaned[end]))
        {
            end--;
        }
        var piece = cleaned[_emitted..end];
        _emitted = end;
        return piece;
    }

    /// <summary>Ends the stream: bytes still waiting for the rest of a character come out as U+FFFD.</summary>
    public string Flush()
    {
        var sb = new StringBuilder();
        if (_pendingCount > 0)
        {
            sb.Append(Encoding.UTF8.GetString(_pending, 0, _pendingCount));
            _pendingCount = 0;
        }
        return Settle(Emit(sb), final: true);
    }

    private string Emit(StringBuilder sb)
    {
        if (sb.Length == 0)
        {
            return "";
        }
        if (_atStart)
        {
            _atStart = false;
            if (_tokenizer.StripsLeadingSpace && sb[0] == ' ')
            {
                sb.Remove(0, 1);
            }
        }
        return sb.ToString();
    }

    private void Push(byte b, StringBuilder sb)
    {
        if (_pendingCount > 0 && (b & 0xC0) != 0x80)
        {
            // A character that did not complete: the whole-text decoder turns it into U+FFFD too.
            sb.Append(Encoding.UTF8.GetString(_pending, 0, _pendingCount));
            _pendingCount = 0;
        }
        _pending[_pendingCount++] = b;
        var need = Utf8Length(_pending[0]);
        if (need == 0 || _pendingCount >= need)
        {
            sb.Append(Encoding.UTF8.GetString(_pending, 0, _pendingCount));
            _pendingCount = 0;
        }
    }

    /// <summary>The length of the UTF-8 sequence a lead byte starts; 0 for bytes that cannot lead (emitted at once as U+FFFD).</summary>
    private static int Utf8Length(byte lead) => lead switch
    {
        < 0x80 => 1,
        >= 0xC2 and <= 0xDF => 2,
        >= 0xE0 and <= 0xEF => 3,
        >= 0xF0 and <= 0xF4 => 4,
        _ => 0,
    };
}
