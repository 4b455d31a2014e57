namespace Prova.Core.Crypto;

/// <summary>"0x"-prefixed hex as used by Ethereum tooling; the one place that parses it.</summary>
internal static class Hex
{
    /// <summary>Decodes "0x…" hex (the prefix optional unless <paramref name="requirePrefix"/>) of exactly destination.Length bytes.</summary>
    public static bool TryDecode(ReadOnlySpan<char> text, Span<byte> destination, bool requirePrefix = true)
    {
        if (text.StartsWith("0x", StringComparison.Ordinal) || text.StartsWith("0X", StringComparison.Ordinal))
        {
            text = text[2..];
        }
        else if (requirePrefix)
        {
            return false;
        }
        if (text.Length != destination.Length * 2)
        {
            return false;
        }
        for (int i = 0; i < destination.Length; i++)
        {
            int hi = Nibble(text[2 * i]);
            int lo = Nibble(text[2 * i + 1]);
            if ((hi | lo) < 0)
            {
                return false;
            }
            destination[i] = (byte)((hi << 4) | lo);
        }
        return true;
    }

    /// <summary>Decodes "0x…" hex (or, with <paramref name="prefixed"/> false, bare hex) of any even length; null when it is not that.</summary>
    public static byte[]? TryDecodeAny(ReadOnlySpan<char> text, bool prefixed = true)
    {
        if (prefixed)
        {
            if (!text.StartsWith("0x", StringComparison.Ordinal) && !text.StartsWith("0X", StringComparison.Ordinal))
            {
                return null;
            }
            text = text[2..];
        }
        if (text.Length % 2 != 0)
        {
            return null;
        }
        var bytes = new byte[text.Length / 2];
        return TryDecode(text, bytes, requirePrefix: false) ? bytes : null;
    }

    public static string Encode(ReadOnlySpan<byte> bytes, bool prefix = true)
    {
        string hex = Convert.ToHexStringLower(bytes);
        return prefix ? "0x" + hex : hex;
    }

    public static int Nibble(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'f' => c - 'a' + 10,
        >= 'A' and <= 'F' => c - 'A' + 10,
        _ => -1,
    };
}
