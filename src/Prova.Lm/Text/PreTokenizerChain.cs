using System.Text.RegularExpressions;

namespace Prova.Lm.Text;

/// <summary>
/// The Hugging Face <c>pre_tokenizer</c> steps byte-level BPE models use, applied in order to every piece the previous
/// step produced: <c>Split</c> with a regex (behaviours Isolated and Removed), <c>Digits</c>, and <c>ByteLevel</c> with
/// <c>use_regex</c> (the GPT-2 split). Pieces are (offset, length) ranges of the normalized text.
/// </summary>
internal sealed class PreTokenizerChain
{
    /// <summary>The split GPT-2's ByteLevel pre-tokenizer does when <c>use_regex</c> is true.</summary>
    internal const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    private static readonly TimeSpan s_regexTimeout = TimeSpan.FromSeconds(5);

    private readonly List<Func<string, int, int, List<(int Offset, int Length)>>> _steps = [];

    public int StepCount => _steps.Count;

    public void AddRegexSplit(string pattern, bool removeMatches, string file)
    {
        Regex regex;
        try
        {
            regex = new Regex(pattern, RegexOptions.CultureInvariant, s_regexTimeout);
        }
        catch (ArgumentException ex)
        {
            throw new LmException($"{file}: the pre_tokenizer regex does not compile in .NET ({ex.Message})", ex);
        }
        _steps.Add((text, offset, length) =>
        {
            var pieces = new List<(int, int)>();
            var cursor = offset;
            var end = offset + length;
            foreach (var match in regex.EnumerateMatches(text.AsSpan(offset, length)))
            {
                var start = offset + match.Index;
                if (start > cursor)
                {
                    pieces.Add((cursor, start - cursor));
                }
                if (!removeMatches && match.Length > 0)
                {
                    pieces.Add((start, match.Length));
                }
                cursor = start + match.Length;
            }
            if (end > cursor)
            {
                pieces.Add((cursor, end - cursor));
            }
            return pieces;
        });
    }

    public void AddDigits(bool individual)
    {
        _steps.Add((text, offset, length) =>
        {
            var pieces = new List<(int, int)>();
            var start = offset;
            var end = offset + length;
            var i = offset;
            while (i < end)
            {
                if (!char.IsDigit(text[i]))
                {
                    i++;
                    continue;
                }
                if (i > start)
                {
                    pieces.Add((start, i - start));
                }
                var runEnd = i + 1;
                if (!individual)
                {
                    while (runEnd < end && char.IsDigit(text[runEnd]))
                    {
                        runEnd++;
                    }
                }
                pieces.Add((i, runEnd - i));
                start = i = runEnd;
            }
            if (end > start)
            {
                pieces.Add((start, end - start));
            }
            return pieces;
        });
    }

    /// <summary>Splits <paramref name="text"/> into pieces; with no steps the whole text is one piece.</summary>
    public List<(int Offset, int Length)> Split(string text)
    {
        var pieces = new List<(int Offset, int Length)> { (0, text.Length) };
        foreach (var step in _steps)
        {
            var next = new List<(int Offset, int Length)>();
            foreach (var (offset, length) in pieces)
            {
                next.AddRange(step(text, offset, length));
            }
            pieces = next;
        }
        return pieces;
    }
}
