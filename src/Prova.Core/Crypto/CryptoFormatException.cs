namespace Prova.Core.Crypto;

/// <summary>
/// A hash, address, signature or EIP-712 typed-data document is malformed. The message names the
/// value and what is wrong with it (never any key material).
/// </summary>
public sealed class CryptoFormatException : ProvaException
{
    public CryptoFormatException(string message) : base(message) { }

    public CryptoFormatException(string message, Exception inner) : base(message, inner) { }
}
