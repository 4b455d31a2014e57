using System.Security.Cryptography;
using Prova.Core.Crypto;
using BcBigInteger = Org.BouncyCastle.Math.BigInteger;
using ECPoint = Org.BouncyCastle.Math.EC.ECPoint;

namespace Prova.Core.Keys;

/// <summary>
/// A secp256k1 private key: 32 bytes, an integer in [1, n−1]. The node's identity is its
/// <see cref="Address"/>. The secret never leaves this type through a public member: ToString
/// shows only the address, and the raw bytes are reachable only inside Prova.Core (for the keystore).
/// </summary>
public sealed class PrivateKey
{
    public const int Length = 32;

    private readonly byte[] _secret;
    private readonly BcBigInteger _d;
    private readonly ECPoint _publicPoint;

    private PrivateKey(byte[] secret)
    {
        var d = new BcBigInteger(1, secret);
        if (d.SignValue == 0 || d.CompareTo(Secp256k1.Domain.N) >= 0)
        {
            CryptographicOperations.ZeroMemory(secret);
            throw new CryptoFormatException("a private key must be an integer in [1, n-1] (n = the secp256k1 group order)");
        }
        _secret = secret;
        _d = d;
        _publicPoint = Secp256k1.PublicPoint(d);
        PublicKey = Secp256k1.Uncompressed64(_publicPoint);
        Address = Address.FromPublicKey(PublicKey.Span);
    }

    /// <summary>The uncompressed public key x ‖ y (64 bytes, no 0x04 prefix).</summary>
    public ReadOnlyMemory<byte> PublicKey { get; }

    public Address Address { get; }

    /// <summary>A fresh key from the operating system's CSPRNG.</summary>
    public static PrivateKey Generate()
    {
        var bytes = new byte[Length];
        while (true)
        {
            RandomNumberGenerator.Fill(bytes);
            var d = new BcBigInteger(1, bytes);
            // Rejection sampling: about 2^-128 of 32-byte strings fall outside [1, n-1].
            if (d.SignValue != 0 && d.CompareTo(Secp256k1.Domain.N) < 0)
            {
                return new PrivateKey(bytes);
            }
        }
    }

    public static PrivateKey FromBytes(ReadOnlySpan<byte> secret)
    {
        if (secret.Length != Length)
        {
            throw new CryptoFormatException($"a private key is 32 bytes, got {secret.Length}");
        }
        return new PrivateKey(secret.ToArray());
    }

    /// <summary>Reads a key from "0x" + 64 hex digits (the prefix is optional). For tests and imports.</summary>
    public static PrivateKey FromHex(string hex)
    {
        var bytes = new byte[Length];
        if (hex is null || !Hex.TryDecode(hex, bytes, requirePrefix: false))
        {
            // Do not echo the text: it may be (most of) a secret.
            throw new CryptoFormatException("a private key must be 64 hex digits, optionally prefixed with 0x");
        }
        return new PrivateKey(bytes);
    }

    /// <summary>Deterministic (RFC 6979) low-s signature of a 32-byte hash.</summary>
    public Signature Sign(Hash256 hash) => Secp256k1.Sign(_d, hash, _publicPoint);

    /// <summary>A copy of the secret. Only the keystore needs it; callers must zero it after use.</summary>
    internal byte[] ExportSecret() => (byte[])_secret.Clone();

    public override string ToString() => $"PrivateKey({Address})";
}
