namespace Prova.Lm.Text;

/// <summary>
/// The added tokens of a tokenizer (special ones like <c>&lt;|im_start|&gt;</c> and plain ones), which Hugging Face
/// tokenizers split out of the text before anything else, longest match first at the leftmost position.
/// </summary>
internal sealed class AddedTokens
{
    private readonly Dictionary<char, string[]> _byFirstChar;

    public AddedTokens(IEnumerable<AddedToken> tokens)
    {
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        var special = new HashSet<int>();
        foreach (var t in tokens)
        {
            if (t.Content.Length == 0)
            {
                continue;
            }
            ids[t.Content] = t.Id;
            if (t.Special)
            {
                special.Add(t.Id);
            }
        }
        Ids = ids;
        SpecialIds = special;
        var groups = new Dictionary<char, List<string>>();
        foreach (var content in ids.Keys)
        {
            if (!groups.TryGetValue(content[0], out var list))
            {
                groups[content[0]] = list = [];
            }
            list.Add(content);
        }
        _byFirstChar = [];
        foreach (var (c, list) in groups)
        {
            list.Sort((a, b) => b.Length != a.Length ? b.Length.CompareTo(a.Length) : string.CompareOrdinal(a, b));
            _byFirstChar[c] = [.. list];
        }
    }

    public IReadOnlyDictionary<string, int> Ids { get; }

    public HashSet<int> SpecialIds { get; }

    /// <summary>The first added token at or after <paramref name="from"/>: its position and text, or (length, null).</summary>
    public (int At, string? Token) FindNext(string text, int from)
    {
        if (_byFirstChar.Count == 0)
        {
            return (text.Length, null);
        }
        for (var i = from; i < text.Length; i++)
        {
            if (!_byFirstChar.TryGetValue(text[i], out var candidates))
            {
                continue;
            }
            foreach (var candidate in candidates)
            {
                if (string.CompareOrdinal(text, i, candidate, 0, candidate.Length) == 0 && i + candidate.Length <= text.Length)
                {
                    return (i, candidate);
                }
            }
        }
        return (text.Length, null);
    }
}
