using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace Prova.Lm.Text;

/// <summary>
/// Writes a SentencePiece <c>ModelProto</c> (sentencepiece_model.proto: pieces = 1, trainer_spec = 2,
/// normalizer_spec = 3) for a <c>tokenizer.json</c> BPE model with byte fallback (Llama 2, TinyLlama, Mistral), so that
/// Microsoft.ML.Tokenizers' SentencePiece BPE does the encoding. SentencePiece merges the adjacent pair whose
/// concatenation has the highest score; Hugging Face merges the pair of lowest rank, and its converter ranks merges by
/// that same score, so each piece gets score −(rank of the first merge that produces it).
/// </summary>
internal static class SentencePieceModelWriter
{
    private const int Normal = 1;
    private const int Unknown = 2;
    private const int Control = 3;
    private const int UserDefined = 4;
    private const int Byte = 6;

    public static byte[] FromBpeJson(JsonElement root)
    {
        const string F = LmTokenizer.TokenizerJsonFile;
        var model = JsonFile.Get(root, "model")!.Value;
        if (JsonFile.Get(model, "vocab") is not { ValueKind: JsonValueKind.Object } vocabJson)
        {
            throw new LmException($"{F}: the BPE model has no 'vocab' object");
        }
        var pieces = new SortedDictionary<int, string>();
        foreach (var p in vocabJson.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetInt32(out var id) || id < 0)
            {
                throw new LmException($"{F}: vocab entry '{p.Name}' must have a non-negative integer id");
            }
            if (!pieces.TryAdd(id, p.Name))
            {
                throw new LmException($"{F}: vocab id {id} is used by both '{pieces[id]}' and '{p.Name}'");
            }
        }
        if (pieces.Count == 0 || pieces.Keys.Last() != pieces.Count - 1)
        {
            throw new LmException($"{F}: a SentencePiece-style BPE vocab must use the ids 0..{pieces.Count - 1} without gaps");
        }

        var rank = new Dictionary<string, int>(StringComparer.Ordinal);
        if (JsonFile.Get(model, "merges") is { ValueKind: JsonValueKind.Array } merges)
        {
            var r = 0;
            foreach (var m in merges.EnumerateArray())
            {
                string merged;
                if (m.ValueKind == JsonValueKind.String && m.GetString() is { } s && s.IndexOf(' ', 1) is > 0 and var space)
                {
                    merged = string.Concat(s.AsSpan(0, space), s.AsSpan(space + 1));
                }
                else if (m.ValueKind == JsonValueKind.Array && m.GetArrayLength() == 2 && m[0].ValueKind == JsonValueKind.String && m[1].ValueKind == JsonValueKind.String)
                {
                    merged = m[0].GetString() + m[1].GetString();
                }
                else
                {
                    throw new LmException($"{F}: merge {r} must be \"a b\" or [\"a\", \"b\"], not {m.GetRawText()}");
                }
                rank.TryAdd(merged, r++);
            }
        }

        var special = new HashSet<string>(StringComparer.Ordinal);
        if (JsonFile.Get(root, "added_tokens") is { ValueKind: JsonValueKind.Array } added)
        {
            foreach (var t in added.EnumerateArray())
            {
                if (JsonFile.String(t, "content", F) is { } c)
                {
                    special.Add(c);
                }
            }
        }
        var unk = JsonFile.String(model, "unk_token", F);

        var proto = new List<byte>(pieces.Count * 16);
        var bos = -1;
        var eos = -1;
        var unkId = -1;
        foreach (var (id, piece) in pieces)
        {
            int type;
            if (piece == unk)
            {
                type = Unknown;
                unkId = id;
            }
            else if (special.Contains(piece))
            {
                type = piece.Length > 2 && piece[0] == '<' && piece[^1] == '>' ? Control : UserDefined;
                if (piece == "<s>")
                {
                    bos = id;
                }
                else if (piece == "</s>")
                {
                    eos = id;
                }
            }
            else if (piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece[5] == '>')
            {
                type = Byte;
            }
            else
            {
                type = Normal;
            }
            var score = rank.TryGetValue(piece, out var r) ? -(float)r : piece.Length == 1 ? 0f : -(float)(rank.Count + id);
            var entry = new List<byte>();
            WriteString(entry, 1, piece);
            WriteTag(entry, 2, 5);
            var f = new byte[4];
            BinaryPrimitives.WriteSingleLittleEndian(f, score);
            entry.AddRange(f);
            WriteVarintField(entry, 3, type);
            WriteBytes(proto, 1, [.. entry]);
        }
        if (unkId < 0)
        {
            throw new LmException($"{F}: a SentencePiece-style BPE model needs an unk_token in its vocab");
        }

        var trainer = new List<byte>();
        WriteVarintField(trainer, 3, 2); // model_type = BPE
        WriteVarintField(trainer, 35, 1); // byte_fallback
        WriteVarintField(trainer, 40, unkId);
        WriteVarintField(trainer, 41, bos);
        WriteVarintField(trainer, 42, eos);
        WriteVarintField(trainer, 43, -1);
        WriteBytes(proto, 2, [.. trainer]);

        var normalizer = new List<byte>();
        WriteString(normalizer, 1, "identity");
        WriteVarintField(normalizer, 3, 1); // add_dummy_prefix
        WriteVarintField(normalizer, 4, 0); // remove_extra_whitespaces
        WriteVarintField(normalizer, 5, 1); // escape_whitespaces
        WriteBytes(proto, 3, [.. normalizer]);
        return [.. proto];
    }

    private static void WriteTag(List<byte> o, int field, int wire) => WriteVarint(o, (ulong)((field << 3) | wire));

    private static void WriteVarintField(List<byte> o, int field, int value)
    {
        WriteTag(o, field, 0);
        WriteVarint(o, (ulong)(long)value);
    }

    private static void WriteString(List<byte> o, int field, string s) => WriteBytes(o, field, Encoding.UTF8.GetBytes(s));

    private static void WriteBytes(List<byte> o, int field, byte[] bytes)
    {
        WriteTag(o, field, 2);
        WriteVarint(o, (ulong)bytes.Length);
        o.AddRange(bytes);
    }

    private static void WriteVarint(List<byte> o, ulong v)
    {
        while (v >= 0x80)
        {
            o.Add((byte)(v | 0x80));
            v >>= 7;
        }
        o.Add((byte)v);
    }
}
