using System.Text;
using Org.BouncyCastle.Crypto.Digests;

namespace Prova.Core.Crypto;

/// <summary>
/// Keccak-256 as used by Ethereum: the original Keccak padding (0x01), not FIPS-202 SHA3-256 (0x06),
/// so the two give different digests for the same input.
/// </summary>
public static class Keccak256
{
    public static Hash256 Hash(ReadOnlySpan<byte> data)
    {
        var digest = new KeccakDigest(256);
        // BouncyCastle 1.9 has no span overloads; a copy of inputs this small is cheap.
        byte[] input = data.ToArray();
        digest.BlockUpdate(input, 0, input.Length);
        var output = new byte[Hash256.Length];
        digest.DoFinal(output, 0);
        return new Hash256(output);
    }

    /// <summary>Keccak-256 of the concatenation of <paramref name="parts"/>.</summary>
    public static Hash256 HashConcat(params ReadOnlySpan<byte[]> parts)
    {
        var digest = new KeccakDigest(256);
        foreach (var part in parts)
        {
            digest.BlockUpdate(part, 0, part.Length);
        }
        var output = new byte[Hash256.Length];
        digest.DoFinal(output, 0);
        return new Hash256(output);
    }

    /// <summary>Keccak-256 of the UTF-8 bytes of <paramref name="text"/>.</summary>
    public static Hash256 Hash(string text) => Hash(Encoding.UTF8.GetBytes(text));
}
