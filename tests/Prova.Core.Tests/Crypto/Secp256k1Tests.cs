using System.Numerics;
using Prova.Core.Crypto;
using Prova.Core.Keys;
using Xunit.Abstractions;

namespace Prova.Core.Tests.Crypto;

public class Secp256k1Tests(ITestOutputHelper output)
{
    // Published in the web3.js accounts documentation (and many wallets' test suites).
    private const string Web3Key = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";

    [Theory]
    [InlineData(Web3Key, "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23")]
    [InlineData("0x348ce564d427a3311b6536bbcff9390d69395b06ed6c486954e971d960fe8709", "0xb8CE9ab6943e0eCED004cDe8e3bBed6568B2Fa01")]
    public void PrivateKeyToAddressMatchesPublishedVectors(string key, string address)
    {
        Assert.Equal(address, PrivateKey.FromHex(key).Address.ToString());
    }

    [Fact]
    public void CowKeyFromEip712ExampleHasItsAddress()
    {
        var key = PrivateKey.FromBytes(Keccak256.Hash("cow").ToArray());
        Assert.Equal("0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826", key.Address.ToString());
        Assert.Equal(key.Address, Address.FromPublicKey(key.PublicKey.Span));
    }

    [Fact]
    public void ToStringShowsAddressNeverTheSecret()
    {
        var key = PrivateKey.FromHex(Web3Key);
        string text = key.ToString();
        Assert.Equal("PrivateKey(0x2c7536E3605D9C16a7a3D7b1898e529396a65c23)", text);
        Assert.DoesNotContain("4c0883a6", text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("4c0883a6", $"{key}", StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("0x0000000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141")] // n
    [InlineData("0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff")]
    [InlineData("0x4c0883a6")]
    [InlineData("not a key at all, and certainly not 64 hex digits long........")]
    public void OutOfRangeOrMalformedKeysAreRejectedWithoutEchoingThem(string text)
    {
        var e = Assert.Throws<CryptoFormatException>(() => PrivateKey.FromHex(text));
        Assert.DoesNotContain(text.Length > 6 ? text[2..] : "\u0000", e.Message);
    }

    [Fact]
    public void LargestValidKeyIsAccepted()
    {
        var key = PrivateKey.FromHex("0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140"); // n - 1
        var hash = Keccak256.Hash("n-1");
        Assert.Equal(key.Address, Secp256k1.EcRecover(hash, key.Sign(hash)));
    }

    [Fact]
    public void SigningIsDeterministicAndLowS()
    {
        var key = PrivateKey.FromHex(Web3Key);
        var hash = Keccak256.Hash("determinism");
        var first = key.Sign(hash);
        Assert.Equal(first, key.Sign(hash));
        Assert.Equal(first, PrivateKey.FromHex(Web3Key).Sign(hash));
        Assert.True(first.IsLowS);
        Assert.Equal(first, Signature.Parse(first.ToString()));
        Assert.Equal(first, Signature.FromBytes(first.ToArray()));
    }

    [Fact]
    public void HighSFormOfAValidSignatureIsRejected()
    {
        var key = PrivateKey.FromHex(Web3Key);
        var hash = Keccak256.Hash("malleability");
        var low = key.Sign(hash);
        // (r, n - s, v ^ 1) is the same point equation: valid ECDSA, but EIP-2 forbids it.
        var high = new Signature(low.R, Secp256k1.Order - low.S, (byte)(low.V == 27 ? 28 : 27));
        Assert.False(high.IsLowS);
        Assert.Equal(low, high.ToLowS());
        var e = Assert.Throws<CryptoFormatException>(() => Secp256k1.EcRecover(hash, high));
        Assert.Contains("high s", e.Message);
        Assert.False(Secp256k1.TryRecover(hash, high, out _));
        Assert.False(Secp256k1.Verify(hash, high, key.Address));
    }

    [Fact]
    public void RecoveryWithRNotOnTheCurveFails()
    {
        // x = 5 is not the x coordinate of a secp256k1 point (5^3 + 7 = 132 is a non-residue mod p).
        var sig = new Signature(new BigInteger(5), BigInteger.One, 27);
        Assert.False(Secp256k1.TryRecover(Keccak256.Hash("x"), sig, out _));
        Assert.Throws<CryptoFormatException>(() => Secp256k1.EcRecover(Keccak256.Hash("x"), sig));
    }

    [Fact]
    public void DefaultSignatureDoesNotRecover()
    {
        Assert.False(Secp256k1.TryRecover(Keccak256.Hash("x"), default, out _));
        Assert.Throws<CryptoFormatException>(() => Secp256k1.EcRecover(Keccak256.Hash("x"), default));
    }

    [Fact]
    public void SignRecoverRoundTripsForRandomKeysAndMessages()
    {
        int seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        for (int i = 0; i < 40; i++)
        {
            var key = RandomKey(random);
            var message = new byte[random.Next(0, 200)];
            random.NextBytes(message);
            var hash = Keccak256.Hash(message);
            var sig = key.Sign(hash);
            Assert.True(sig.IsLowS);
            Assert.Equal(key.Address, Secp256k1.EcRecover(hash, sig));
            Assert.True(Secp256k1.Verify(hash, sig, key.Address));
        }
    }

    [Fact]
    public void TamperingAnySignatureByteChangesTheSignerOrFails()
    {
        int seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        var key = RandomKey(random);
        var hash = Keccak256.Hash("receipt");
        byte[] good = key.Sign(hash).ToArray();
        for (int position = 0; position < Signature.Length; position++)
        {
            byte[] bad = (byte[])good.Clone();
            bad[position] ^= (byte)(1 << random.Next(8));
            bool recovered = Signature.TryFromBytes(bad, out var sig) && Secp256k1.TryRecover(hash, sig, out var who) && who == key.Address;
            Assert.False(recovered, $"byte {position} flipped, signer still recovered (seed {seed})");
        }
    }

    [Fact]
    public void TamperingAnyMessageByteChangesTheSigner()
    {
        int seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        var key = RandomKey(random);
        var message = new byte[48];
        random.NextBytes(message);
        var sig = Eip191.SignPersonalMessage(key, message);
        Assert.Equal(key.Address, Eip191.RecoverPersonalMessage(message, sig));
        for (int position = 0; position < message.Length; position++)
        {
            byte[] bad = (byte[])message.Clone();
            bad[position] ^= (byte)(1 << random.Next(8));
            Assert.False(Eip191.VerifyPersonalMessage(bad, sig, key.Address), $"byte {position} flipped (seed {seed})");
        }
        Assert.False(Eip191.VerifyPersonalMessage(message.AsSpan(1), sig, key.Address));
    }

    internal static PrivateKey RandomKey(Random random)
    {
        var bytes = new byte[32];
        random.NextBytes(bytes);
        bytes[0] &= 0x7F; // stay below n
        bytes[31] |= 1;   // and above 0
        return PrivateKey.FromBytes(bytes);
    }
}
