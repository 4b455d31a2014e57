using Org.BouncyCastle.Asn1.X9;
using Org.BouncyCastle.Crypto.Digests;
using Org.BouncyCastle.Crypto.EC;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Crypto.Signers;
using Org.BouncyCastle.Math.EC;
using BcBigInteger = Org.BouncyCastle.Math.BigInteger;
using NumBigInteger = System.Numerics.BigInteger;

namespace Prova.Core.Crypto;

/// <summary>
/// ECDSA over secp256k1 the way Ethereum uses it (SEC 1 v2 §4.1.6 public key recovery; EIP-2 low-s;
/// RFC 6979 deterministic nonces with HMAC-SHA-256). The arithmetic is BouncyCastle's.
/// </summary>
public static class Secp256k1
{
    private static readonly X9ECParameters s_curve = CustomNamedCurves.GetByName("secp256k1");

    internal static readonly ECDomainParameters Domain =
        new(s_curve.Curve, s_curve.G, s_curve.N, s_curve.H);

    /// <summary>The group order n.</summary>
    public static readonly NumBigInteger Order = ToNumeric(s_curve.N);

    /// <summary>n / 2: the largest s EIP-2 allows.</summary>
    public static readonly NumBigInteger HalfOrder = Order >> 1;

    private static readonly BcBigInteger s_halfN = s_curve.N.ShiftRight(1);

    /// <summary>The address whose key made <paramref name="signature"/> over <paramref name="hash"/>.</summary>
    /// <exception cref="CryptoFormatException">s is high (EIP-2) or no public key fits the signature.</exception>
    public static Address EcRecover(Hash256 hash, Signature signature)
    {
        if (!signature.IsLowS)
        {
            throw new CryptoFormatException("signature has a high s value (s > n/2), which Ethereum rejects since EIP-2");
        }
        var q = RecoverPoint(hash, signature)
            ?? throw new CryptoFormatException("no public key matches this signature (r is not the x coordinate of a curve point)");
        return AddressOf(q);
    }

    public static bool TryRecover(Hash256 hash, Signature signature, out Address address)
    {
        var q = signature.IsLowS ? RecoverPoint(hash, signature) : null;
        address = q is null ? default : AddressOf(q);
        return q is not null;
    }

    /// <summary>True when <paramref name="signature"/> over <paramref name="hash"/> was made by <paramref name="signer"/>'s key.</summary>
    public static bool Verify(Hash256 hash, Signature signature, Address signer) =>
        TryRecover(hash, signature, out var recovered) && recovered == signer;

    internal static Signature Sign(BcBigInteger d, Hash256 hash, ECPoint publicKey)
    {
        var signer = new ECDsaSigner(new HMacDsaKCalculator(new Sha256Digest()));
        signer.Init(true, new ECPrivateKeyParameters(d, Domain));
        byte[] message = hash.ToArray();
        var rs = signer.GenerateSignature(message);
        var r = rs[0];
        var s = rs[1];
        if (s.CompareTo(s_halfN) > 0)
        {
            s = Domain.N.Subtract(s);
        }
        byte[] rBytes = ToBytes32(r);
        byte[] sBytes = ToBytes32(s);
        for (byte v = 27; v <= 28; v++)
        {
            var candidate = new Signature(rBytes, sBytes, v);
            var q = RecoverPoint(hash, candidate);
            if (q is not null && q.Equals(publicKey))
            {
                return candidate;
            }
        }
        throw new InvalidOperationException("secp256k1: no recovery id reproduces the signer's public key");
    }

    internal static ECPoint PublicPoint(BcBigInteger d) => Domain.G.Multiply(d).Normalize();

    /// <summary>x ‖ y of an affine point (64 bytes).</summary>
    internal static byte[] Uncompressed64(ECPoint q)
    {
        byte[] encoded = q.GetEncoded(false);
        return encoded[1..];
    }

    internal static Address AddressOf(ECPoint q) => Address.FromPublicKey(Uncompressed64(q));

    internal static byte[] ToBytes32(BcBigInteger value)
    {
        byte[] raw = value.ToByteArrayUnsigned();
        if (raw.Length == 32)
        {
            return raw;
        }
        var bytes = new byte[32];
        raw.CopyTo(bytes, 32 - raw.Length);
        return bytes;
    }

    // SEC 1 v2 §4.1.6. With v ∈ {27, 28} only x = r is tried (r < n < p, so x = r + n is never needed
    // for the recovery ids Ethereum allows).
    private static ECPoint? RecoverPoint(Hash256 hash, Signature signature)
    {
        var n = Domain.N;
        var r = new BcBigInteger(1, signature.RBytes);
        var s = new BcBigInteger(1, signature.SBytes);
        // default(Signature) bypasses the constructor's checks.
        if ((signature.V != 27 && signature.V != 28) || r.SignValue == 0 || s.SignValue == 0)
        {
            return null;
        }
        var compressed = new byte[33];
        compressed[0] = (byte)(signature.RecoveryId == 0 ? 0x02 : 0x03);
        signature.RBytes.CopyTo(compressed, 1);
        ECPoint bigR;
        try
        {
            bigR = Domain.Curve.DecodePoint(compressed);
        }
        catch (ArgumentException)
        {
            return null;
        }
        var e = new BcBigInteger(1, hash.ToArray()).Mod(n);
        var rInv = r.ModInverse(n);
        var u1 = n.Subtract(e).Multiply(rInv).Mod(n);
        var u2 = s.Multiply(rInv).Mod(n);
        var q = ECAlgorithms.SumOfTwoMultiplies(Domain.G, u1, bigR, u2).Normalize();
        return q.IsInfinity ? null : q;
    }

    private static NumBigInteger ToNumeric(BcBigInteger value) =>
        new(value.ToByteArrayUnsigned(), isUnsigned: true, isBigEndian: true);
}
