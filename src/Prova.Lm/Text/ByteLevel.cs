namespace Prova.Lm.Text;

/// <summary>
/// The GPT-2 byte-to-character alphabet that byte-level BPE vocabularies (GPT-2, Qwen2, SmolLM, Llama 3) are written in:
/// printable bytes map to themselves, the other 68 bytes to U+0100 upwards in byte order, so every byte string is a
/// printable string and back.
/// </summary>
internal static class ByteLevel
{
    private static readonly char[] s_byteToChar = BuildByteToChar();
    private static readonly Dictionary<char, byte> s_charToByte = BuildCharToByte();

    public static char CharOf(byte b) => s_byteToChar[b];

    /// <summary>The bytes a vocabulary entry stands for, or null when the entry has a character outside the alphabet.</summary>
    public static byte[]? TryBytes(string token)
    {
        var bytes = new byte[token.Length];
        for (var i = 0; i < token.Length; i++)
        {
            if (!s_charToByte.TryGetValue(token[i], out var b))
            {
                return null;
            }
            bytes[i] = b;
        }
        return bytes;
    }

    /// <summary>A text's UTF-8 bytes written in the alphabet (what the vocabulary holds for that text).</summary>
    public static string Encode(string text)
    {
        var utf8 = System.Text.Encoding.UTF8.GetBytes(text);
        var chars = new char[utf8.Length];
        for (var i = 0; i < utf8.Length; i++)
        {
            chars[i] = s_byteToChar[utf8[i]];
        }
        return new string(chars);
    }

    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        var next = 256;
        for (var b = 0; b < 256; b++)
        {
            var printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            map[b] = printable ? (char)b : (char)next++;
        }
        return map;
    }

    private static Dictionary<char, byte> BuildCharToByte()
    {
        var map = new Dictionary<char, byte>(256);
        for (var b = 0; b < 256; b++)
        {
            map[s_byteToChar[b]] = (byte)b;
        }
        return map;
    }
}
