using System.Text;
using Prova.Core.Crypto;
using Prova.Core.Keys;

namespace Prova.Core.Tests.Crypto;

public class Eip191Tests
{
    [Fact]
    public void HashMatchesPublishedVector()
    {
        // web3.eth.accounts.hashMessage("Hello World") in the web3.js documentation.
        Assert.Equal("0xa1de988600a42c4b4ab089b619297c17d53cffae5d5120d82d8a92d0bb3b78f2",
            Eip191.HashPersonalMessage("Hello World").ToString());
    }

    [Fact]
    public void SignatureMatchesPublishedVector()
    {
        // web3.eth.accounts.sign('Some data', '0x4c08…2318') in the web3.js documentation.
        var key = PrivateKey.FromHex("0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318");
        Assert.Equal("0x1da44b586eb0729ff70a73c326926f6ed5a25f5b056e7f47fbc6e58d86871655",
            Eip191.HashPersonalMessage("Some data").ToString());
        var sig = Eip191.SignPersonalMessage(key, "Some data");
        Assert.Equal(
            "0xb91467e570a6466aa9e9876cbcd013baba02900b8979d43fe208a4a4f339f5fd6007e74cd82e037b800186422fc2da167c747ef045e5d18a5f5d4300f8e1a0291c",
            sig.ToString());
        Assert.Equal(28, sig.V);
        Assert.Equal(key.Address, Eip191.RecoverPersonalMessage("Some data", sig));
        Assert.Equal(Address.Parse("0x2c7536E3605D9C16a7a3D7b1898e529396a65c23"),
            Eip191.RecoverPersonalMessage(Encoding.UTF8.GetBytes("Some data"), sig));
    }

    [Fact]
    public void LengthPrefixCountsUtf8Bytes()
    {
        // "é" is 2 bytes in UTF-8: the prefix must say 2, not 1.
        var expected = Keccak256.Hash("\u0019Ethereum Signed Message:\n2é");
        Assert.Equal(expected, Eip191.HashPersonalMessage("é"));
    }

    [Fact]
    public void PersonalSignIsNotARawHashSignature()
    {
        var key = PrivateKey.FromHex("0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318");
        var message = Encoding.UTF8.GetBytes("Some data");
        var sig = Eip191.SignPersonalMessage(key, message);
        Assert.False(Secp256k1.Verify(Keccak256.Hash(message), sig, key.Address));
    }
}
