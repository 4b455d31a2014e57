using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Prova.Trainer.Lm;

/// <summary>
/// GPT-2-style byte-level BPE: text is split by GPT-2's pre-tokenizer regex, each piece's UTF-8 bytes are mapped
/// to printable characters (GPT-2's bytes_to_unicode), and merges learned on those. Vocabulary: id 0 is
/// &lt;|endoftext|&gt;, ids 1 … 256 the 256 byte characters in byte order, then one token per merge in merge order.
/// Training is deterministic: each step merges the most frequent adjacent pair, ties broken by the smaller
/// (left id, right id).
/// </summary>
internal sealed partial class ByteLevelBpe
{
    public const string EndOfText = "<|endoftext|>";
    public const int EndOfTextId = 0;

    private static readonly string[] s_byteChars = BuildByteChars();
    private readonly Dictionary<(int, int), int> _ranks = [];
    private readonly Dictionary<string, int[]> _cache = new(StringComparer.Ordinal);

    private ByteLevelBpe(List<string> tokens, List<(int Left, int Right)> merges)
    {
        Tokens = tokens;
        Merges = merges;
        for (int i = 0; i < merges.Count; i++)
        {
            _ranks[merges[i]] = i;
        }
    }

    /// <summary>Token strings by id (byte-level characters).</summary>
    public List<string> Tokens { get; }

    public List<(int Left, int Right)> Merges { get; }

    [GeneratedRegex(@"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+")]
    private static partial Regex PreTokenizer();

    public static ByteLevelBpe Train(IEnumerable<string> documents, int vocabSize)
    {
        if (vocabSize < 258)
        {
            throw new ArgumentException($"--vocab {vocabSize}: a byte-level BPE needs at least 258 tokens");
        }
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (string doc in documents)
        {
            foreach (Match m in PreTokenizer().Matches(doc))
            {
                counts[m.Value] = counts.GetValueOrDefault(m.Value) + 1;
            }
        }
        var pieces = new List<string>(counts.Keys);
        pieces.Sort(StringComparer.Ordinal);
        var words = new List<int>[pieces.Count];
        var freq = new long[pieces.Count];
        for (int w = 0; w < pieces.Count; w++)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(pieces[w]);
            words[w] = new List<int>(bytes.Length);
            foreach (byte b in bytes)
            {
                words[w].Add(b + 1);
            }
            freq[w] = counts[pieces[w]];
        }
        var tokens = new List<string> { EndOfText };
        for (int b = 0; b < 256; b++)
        {
            tokens.Add(s_byteChars[b]);
        }
        var pairCounts = new Dictionary<(int, int), long>();
        var where = new Dictionary<(int, int), HashSet<int>>();
        for (int w = 0; w < words.Length; w++)
        {
            AddPairs(words[w], w, freq[w], pairCounts, where, +1);
        }
        var merges = new List<(int, int)>();
        while (tokens.Count < vocabSize && pairCounts.Count > 0)
        {
            (int, int) best = default;
            long bestCount = 0;
            foreach (var (pair, count) in pairCounts)
            {
                if (count > bestCount || count == bestCount && pair.CompareTo(best) < 0)
                {
                    best = pair;
                    bestCount = count;
                }
            }
            if (bestCount <= 0)
            {
                break;
            }
            int id = tokens.Count;
            tokens.Add(tokens[best.Item1] + tokens[best.Item2]);
            merges.Add(best);
            var affected = new List<int>(where[best]);
            affected.Sort();
            foreach (int w in affected)
            {
                var word = words[w];
                AddPairs(word, w, freq[w], pairCounts, where, -1);
                var merged = new List<int>(word.Count);
                for (int i = 0; i < word.Count; i++)
                {
                    if (i + 1 < word.Count && word[i] == best.Item1 && word[i + 1] == best.Item2)
                    {
                        merged.Add(id);
                        i++;
                    }
                    else
                    {
                        merged.Add(word[i]);
                    }
                }
                words[w] = merged;
                AddPairs(merged, w, freq[w], pairCounts, where, +1);
            }
        }
        return new ByteLevelBpe(tokens, merges);
    }

    private static void AddPairs(List<int> word, int w, long freq, Dictionary<(int, int), long> counts, Dictionary<(int, int), HashSet<int>> where, int sign)
    {
        for (int i = 0; i + 1 < word.Count; i++)
        {
            var pair = (word[i], word[i + 1]);
            long c = counts.GetValueOrDefault(pair) + sign * freq;
            if (c <= 0)
            {
                counts.Remove(pair);
                where.Remove(pair);
            }
            else
            {
                counts[pair] = c;
                if (sign > 0)
                {
                    if (!where.TryGetValue(pair, out var set))
                    {
                        where[pair] = set = [];
                    }
                    set.Add(w);
                }
            }
        }
    }

    /// <summary>Token ids of <paramref name="text"/> (no special tokens are recognised inside it).</summary>
    public void Encode(string text, List<int> ids)
    {
        foreach (Match m in PreTokenizer().Matches(text))
        {
            if (!_cache.TryGetValue(m.Value, out var piece))
            {
                piece = EncodePiece(m.Value);
                _cache[m.Value] = piece;
            }
            ids.AddRange(piece);
        }
    }

    private int[] EncodePiece(string piece)
    {
        var word = new List<int>();
        foreach (byte b in Encoding.UTF8.GetBytes(piece))
        {
            word.Add(b + 1);
        }
        while (word.Count > 1)
        {
            int bestRank = int.MaxValue, at = -1;
            for (int i = 0; i + 1 < word.Count; i++)
            {
                if (_ranks.TryGetValue((word[i], word[i + 1]), out int rank) && rank < bestRank)
                {
                    bestRank = rank;
                    at = i;
                }
            }
            if (at < 0)
            {
                break;
            }
            var pair = Merges[bestRank];
            var merged = new List<int>(word.Count);
            for (int i = 0; i < word.Count; i++)
            {
                if (i + 1 < word.Count && word[i] == pair.Left && word[i + 1] == pair.Right)
                {
                    merged.Add(257 + bestRank);
                    i++;
                }
                else
                {
                    merged.Add(word[i]);
                }
            }
            word = merged;
        }
        return [.. word];
    }

    public string Decode(IEnumerable<int> ids)
    {
        var bytes = new List<byte>();
        var reverse = new Dictionary<char, byte>();
        for (int b = 0; b < 256; b++)
        {
            reverse[s_byteChars[b][0]] = (byte)b;
        }
        foreach (int id in ids)
        {
            if (id == EndOfTextId)
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(EndOfText));
                continue;
            }
            foreach (char c in Tokens[id])
            {
                bytes.Add(reverse[c]);
            }
        }
        return Encoding.UTF8.GetString([.. bytes]);
    }

    /// <summary>Writes a Hugging Face tokenizer.json (BPE model, ByteLevel pre-tokenizer/decoder, &lt;|endoftext|&gt; as added token 0).</summary>
    public void WriteTokenizerJson(string path)
    {
        using var stream = File.Create(path);
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        w.WriteStartObject();
        w.WriteString("version", "1.0");
        w.WriteNull("truncation");
        w.WriteNull("padding");
        w.WriteStartArray("added_tokens");
        w.WriteStartObject();
        w.WriteNumber("id", EndOfTextId);
        w.WriteString("content", EndOfText);
        w.WriteBoolean("single_word", false);
        w.WriteBoolean("lstrip", false);
        w.WriteBoolean("rstrip", false);
        w.WriteBoolean("normalized", true);
        w.WriteBoolean("special", true);
        w.WriteEndObject();
        w.WriteEndArray();
        w.WriteNull("normalizer");
        ByteLevel(w, "pre_tokenizer", addPrefixSpace: false, trimOffsets: true);
        ByteLevel(w, "post_processor", addPrefixSpace: true, trimOffsets: false);
        ByteLevel(w, "decoder", addPrefixSpace: true, trimOffsets: true);
        w.WriteStartObject("model");
        w.WriteString("type", "BPE");
        w.WriteNull("dropout");
        w.WriteNull("unk_token");
        w.WriteString("continuing_subword_prefix", "");
        w.WriteString("end_of_word_suffix", "");
        w.WriteBoolean("fuse_unk", false);
        w.WriteBoolean("byte_fallback", false);
        w.WriteBoolean("ignore_merges", false);
        w.WriteStartObject("vocab");
        for (int i = 0; i < Tokens.Count; i++)
        {
            w.WriteNumber(Tokens[i], i);
        }
        w.WriteEndObject();
        w.WriteStartArray("merges");
        foreach (var (left, right) in Merges)
        {
            w.WriteStringValue(Tokens[left] + " " + Tokens[right]);
        }
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void ByteLevel(Utf8JsonWriter w, string name, bool addPrefixSpace, bool trimOffsets)
    {
        w.WriteStartObject(name);
        w.WriteString("type", "ByteLevel");
        w.WriteBoolean("add_prefix_space", addPrefixSpace);
        w.WriteBoolean("trim_offsets", trimOffsets);
        w.WriteBoolean("use_regex", true);
        w.WriteEndObject();
    }

    /// <summary>GPT-2's bytes_to_unicode: printable Latin-1 bytes map to themselves, the rest to U+0100 onwards in byte order.</summary>
    private static string[] BuildByteChars()
    {
        var chars = new string[256];
        int next = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            chars[b] = printable ? ((char)b).ToString() : ((char)(256 + next++)).ToString();
        }
        return chars;
    }
}
