using System.Globalization;
using System.Text;
using Prova.Core.Keys;

namespace Prova.Core.Crypto;

/// <summary>
/// EIP-191 version 0x45 ("personal_sign"): the signed hash is
/// keccak256("\x19Ethereum Signed Message:\n" ‖ decimal byte length ‖ message), so a signed
/// message can never be mistaken for a signed transaction.
/// </summary>
public static class Eip191
{
    private const string Prefix = "\u0019Ethereum Signed Message:\n";

    public static Hash256 HashPersonalMessage(ReadOnlySpan<byte> message)
    {
        byte[] header = Encoding.ASCII.GetBytes(Prefix + message.Length.ToString(CultureInfo.InvariantCulture));
        return Keccak256.HashConcat(header, message.ToArray());
    }

    /// <summary>Hash of the UTF-8 bytes of <paramref name="message"/> (the length counts bytes, not characters).</summary>
    public static Hash256 HashPersonalMessage(string message) => HashPersonalMessage(Encoding.UTF8.GetBytes(message));

    public static Signature SignPersonalMessage(PrivateKey key, ReadOnlySpan<byte> message) =>
        key.Sign(HashPersonalMessage(message));

    public static Signature SignPersonalMessage(PrivateKey key, string message) =>
        key.Sign(HashPersonalMessage(message));

    /// <exception cref="CryptoFormatException">the signature cannot be recovered (high s, or no matching key).</exception>
    public static Address RecoverPersonalMessage(ReadOnlySpan<byte> message, Signature signature) =>
        Secp256k1.EcRecover(HashPersonalMessage(message), signature);

    public static Address RecoverPersonalMessage(string message, Signature signature) =>
        Secp256k1.EcRecover(HashPersonalMessage(message), signature);

    public static bool VerifyPersonalMessage(ReadOnlySpan<byte> message, Signature signature, Address signer) =>
        Secp256k1.Verify(HashPersonalMessage(message), signature, signer);
}
