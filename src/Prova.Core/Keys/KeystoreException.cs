namespace Prova.Core.Keys;

/// <summary>
/// A keystore file cannot be used: wrong password, corrupted or malformed file, unsafe file
/// permissions, or a missing file. The message says which and what to do; it never contains key
/// material or the password.
/// </summary>
public sealed class KeystoreException : ProvaException
{
    public KeystoreException(string message) : base(message) { }

    public KeystoreException(string message, Exception inner) : base(message, inner) { }
}
