using System.Text;

namespace Prova.Core.Content;

/// <summary>
/// The one rule for model names (docs/network.md, "Model names"), used by the node, the CLI and the SDK.
/// A name is lower-case ASCII words of a-z and 0-9 joined by single separators <c>. _ - /</c>, 1 to
/// <see cref="MaxLength"/> characters: "fashion-cnn", "acme/mnist.int8". A name that is not already in
/// that form is refused with its normal form in the message, never silently rewritten, so that a signed
/// publication's name is exactly what is stored, and look-alikes ("FASHION-CNN", "fashion-cnn/",
/// fullwidth "ｆａｓｈｉｏｎ-ｃｎｎ") cannot stand next to the name they imitate.
/// </summary>
/// <remarks>
/// The normal form is: Unicode NFKC compatibility folding, then lower case (invariant), then separator
/// runs collapsed to their first character and separators at either end dropped. Names are ASCII only,
/// so only NFKC's mappings onto ASCII matter; they are applied from the table in <see cref="FoldToAscii"/>
/// (fullwidth forms, mathematical alphanumerics, circled and super/subscript digits and letters, Latin
/// ligatures, Roman numerals), because the engine runs with InvariantGlobalization, where
/// <see cref="string.Normalize(NormalizationForm)"/> leaves non-ASCII text unchanged. Any other non-ASCII
/// character has no normal form and is refused outright.
/// </remarks>
public static class ModelName
{
    /// <summary>Longest name, in characters.</summary>
    public const int MaxLength = 128;

    /// <summary>The rule in one phrase, for error messages.</summary>
    public const string Rule = "lower-case a-z and 0-9 words joined by single separators . _ - / (like 'acme/fashion-cnn.v2'), at most 128 characters";

    /// <summary>True when <paramref name="name"/> is a normal model name.</summary>
    public static bool IsNormal(string name) => Problem(name) is null;

    /// <summary>
    /// The normal form of <paramref name="name"/>, or null when it has none (empty after folding, too long,
    /// or a character outside the alphabet that no folding maps into it).
    /// </summary>
    public static string? Normalize(string name)
    {
        if (name.Length > 4 * MaxLength)
        {
            return null;
        }
        var folded = new StringBuilder(name.Length);
        foreach (var rune in name.EnumerateRunes())
        {
            if (FoldToAscii(rune.Value) is not { } ascii)
            {
                return null;
            }
            foreach (char c in ascii)
            {
                char lower = char.ToLowerInvariant(c);
                bool separator = IsSeparator(lower);
                if (!separator && !IsWordChar(lower))
                {
                    return null;
                }
                if (separator && (folded.Length == 0 || IsSeparator(folded[^1])))
                {
                    continue; // leading separator, or a run of them
                }
                folded.Append(lower);
            }
        }
        while (folded.Length > 0 && IsSeparator(folded[^1]))
        {
            folded.Length--;
        }
        return folded.Length is > 0 and <= MaxLength ? folded.ToString() : null;
    }

    /// <summary>Null when <paramref name="name"/> is normal; otherwise a one-line reason that gives the normal form when there is one.</summary>
    public static string? Problem(string name)
    {
        if (name.Length == 0)
        {
            return $"the model name is empty; a name is {Rule}";
        }
        string quoted = ErrorText.Bound(name, 200);
        string? normal = Normalize(name);
        if (normal == name)
        {
            return null;
        }
        return normal is null
            ? $"the model name '{quoted}' has no normal form ({Offender(name)}); a name is {Rule}"
            : $"the model name '{quoted}' is not in normal form; use '{normal}' (a name is {Rule})";
    }

    /// <summary>Throws <see cref="ContentFormatException"/> unless <paramref name="name"/> is normal.</summary>
    public static void Require(string name)
    {
        if (Problem(name) is { } problem)
        {
            throw new ContentFormatException(problem);
        }
    }

    private static bool IsSeparator(char c) => c is '.' or '_' or '-' or '/';

    private static bool IsWordChar(char c) => c is (>= 'a' and <= 'z') or (>= '0' and <= '9');

    private static string Offender(string name)
    {
        foreach (var rune in name.EnumerateRunes())
        {
            if (FoldToAscii(rune.Value) is not { } ascii)
            {
                return $"character U+{rune.Value:X4} is not allowed";
            }
            foreach (char c in ascii)
            {
                char lower = char.ToLowerInvariant(c);
                if (!IsSeparator(lower) && !IsWordChar(lower))
                {
                    return c == ' ' ? "spaces are not allowed" : $"character '{c}' is not allowed";
                }
            }
        }
        return name.Length > MaxLength ? $"it is {name.Length} characters long" : "it is only separators";
    }

    // Letters of the Mathematical Alphanumeric Symbols block (U+1D400-U+1D6A3): 13 styles of A-Z then a-z.
    private const int MathLettersStart = 0x1D400;
    private const int MathLettersEnd = 0x1D6A3;

    // Digits of that block (U+1D7CE-U+1D7FF): 5 styles of 0-9.
    private const int MathDigitsStart = 0x1D7CE;
    private const int MathDigitsEnd = 0x1D7FF;

    /// <summary>
    /// NFKC of one code point when that is ASCII; the code point itself when it is ASCII; else null.
    /// Each entry is the code point's compatibility decomposition in the Unicode Character Database.
    /// </summary>
    private static string? FoldToAscii(int cp)
    {
        switch (cp)
        {
            case < 0x80:
                return ((char)cp).ToString();
            case >= 0xFF01 and <= 0xFF5E: // fullwidth ASCII
                return ((char)(cp - 0xFEE0)).ToString();
            case >= 0x2070 and <= 0x2079 when cp is not (0x2071 or 0x2072 or 0x2073): // superscript digits ⁰ ⁴-⁹
                return ((char)('0' + cp - 0x2070)).ToString();
            case 0x00B9:
                return "1";
            case 0x00B2:
                return "2";
            case 0x00B3:
                return "3";
            case 0x2071:
                return "i";
            case 0x207F:
                return "n";
            case >= 0x2080 and <= 0x2089: // subscript digits
                return ((char)('0' + cp - 0x2080)).ToString();
            case >= 0x2460 and <= 0x2473: // circled 1-20
                return (cp - 0x2460 + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
            case >= 0x24B6 and <= 0x24CF: // circled A-Z
                return ((char)('A' + cp - 0x24B6)).ToString();
            case >= 0x24D0 and <= 0x24E9: // circled a-z
                return ((char)('a' + cp - 0x24D0)).ToString();
            case 0x24EA:
                return "0";
            case 0xFB00:
                return "ff";
            case 0xFB01:
                return "fi";
            case 0xFB02:
                return "fl";
            case 0xFB03:
                return "ffi";
            case 0xFB04:
                return "ffl";
            case 0xFB05:
            case 0xFB06:
                return "st";
            case >= 0x2160 and <= 0x216F: // Roman numerals
                return s_roman[cp - 0x2160];
            case >= 0x2170 and <= 0x217F: // small Roman numerals
                return s_roman[cp - 0x2170].ToLowerInvariant();
            case >= MathLettersStart and <= MathLettersEnd:
                // 13 styles of A-Z then a-z (the block's few unassigned holes fold too; a name using one is refused either way).
                return MathLetter((cp - MathLettersStart) % 52);
            case >= MathDigitsStart and <= MathDigitsEnd:
                return ((char)('0' + (cp - MathDigitsStart) % 10)).ToString();
            default:
                return null;
        }
    }

    private static string MathLetter(int i) => i < 26 ? ((char)('A' + i)).ToString() : ((char)('a' + i - 26)).ToString();

    private static readonly string[] s_roman = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII", "L", "C", "D", "M"];
}
