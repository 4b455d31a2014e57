using System.Globalization;
using Prova.Core.Receipts;

namespace Prova.Sdk;

/// <summary>The verification modes a client asks for: <c>attested</c> (one node) and <c>quorum:K</c> (K distinct nodes that must agree bit for bit).</summary>
public static class QuorumMode
{
    public const string Prefix = "quorum:";

    /// <summary>Largest K accepted.</summary>
    public const int MaxK = 16;

    public static string Format(int k) => Prefix + k.ToString(CultureInfo.InvariantCulture);

    /// <summary>True for <c>quorum:K</c> with 2 ≤ K ≤ <see cref="MaxK"/> (decimal, no sign or leading zeros).</summary>
    public static bool TryParse(string? mode, out int k)
    {
        k = 0;
        if (mode is null || !mode.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }
        var digits = mode.AsSpan(Prefix.Length);
        if (digits.Length is 0 or > 2 || digits[0] == '0' || !int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out int value))
        {
            return false;
        }
        if (value < 2 || value > MaxK)
        {
            return false;
        }
        k = value;
        return true;
    }

    /// <summary>Parses a user's <c>--mode</c>: <c>attested</c>, <c>proof</c> or <c>quorum:K</c>; anything else is a <see cref="ProvaClientException"/> (<c>bad-mode</c>).</summary>
    public static string Normalize(string mode)
    {
        if (mode == Receipt.AttestedMode || mode == ProofEvidence.Mode || TryParse(mode, out _))
        {
            return mode;
        }
        throw new ProvaClientException($"mode '{mode}' is not 'attested', 'proof' or 'quorum:K' (K from 2 to {MaxK})", "bad-mode");
    }
}
