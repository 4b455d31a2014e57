using Prova.Core.Crypto;

namespace Prova.Core.Tests.Crypto;

public class ValueTypeTests
{
    // The examples from EIP-55 itself: all-caps, all-lower and mixed forms are each the checksummed form.
    [Theory]
    [InlineData("0x52908400098527886E0F7030069857D2E4169EE7")]
    [InlineData("0x8617E340B3D01FA5F11F306F4090FD50E238070D")]
    [InlineData("0xde709f2102306220921060314715629080e2fb77")]
    [InlineData("0x27b1fdb04752bbc536007a920d24acb045561c26")]
    [InlineData("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")]
    [InlineData("0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359")]
    [InlineData("0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB")]
    [InlineData("0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb")]
    public void Eip55ChecksumExamplesRoundTrip(string checksummed)
    {
        var address = Address.Parse(checksummed);
        Assert.Equal(checksummed, address.ToString());
        Assert.Equal(address, Address.Parse(checksummed.ToLowerInvariant()));
        Assert.Equal(address, Address.Parse("0x" + checksummed[2..].ToUpperInvariant()));
        Assert.Equal(checksummed.ToLowerInvariant(), address.ToLowerHex());
    }

    [Fact]
    public void MixedCaseWithWrongChecksumIsRejected()
    {
        // One letter's case flipped in an EIP-55 example.
        var e = Assert.Throws<CryptoFormatException>(() => Address.Parse("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"));
        Assert.Contains("checksum", e.Message);
        Assert.Contains("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", e.Message);
        Assert.False(Address.TryParse("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD", out _));
    }

    [Theory]
    [InlineData("")]
    [InlineData("0x")]
    [InlineData("5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")]
    [InlineData("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe")]
    [InlineData("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAedd0")]
    [InlineData("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeg")]
    public void MalformedAddressesAreRejected(string text)
    {
        Assert.Throws<CryptoFormatException>(() => Address.Parse(text));
        Assert.False(Address.TryParse(text, out _));
    }

    [Fact]
    public void AddressValueEquality()
    {
        var a = Address.Parse("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed");
        var b = new Address(a.ToArray());
        Assert.True(a == b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.NotEqual(a, Address.Zero);
        Assert.True(Address.Zero.IsZero);
        Assert.Equal("0x0000000000000000000000000000000000000000", Address.Zero.ToString());
    }

    [Fact]
    public void Hash256ParsesAndFormatsLowerCase()
    {
        var hash = Hash256.Parse("0xF2CEE375FA42B42143804025FC449DEAFD50CC031CA257E0B194A650A912090F");
        Assert.Equal("0xf2cee375fa42b42143804025fc449deafd50cc031ca257e0b194a650a912090f", hash.ToString());
        Assert.Equal(hash, new Hash256(hash.ToArray()));
        Assert.NotEqual(hash, Hash256.Zero);
        Assert.Throws<CryptoFormatException>(() => Hash256.Parse("f2cee375fa42b42143804025fc449deafd50cc031ca257e0b194a650a912090f"));
        Assert.Throws<CryptoFormatException>(() => Hash256.Parse("0xf2cee375"));
        Assert.Throws<CryptoFormatException>(() => new Hash256(new byte[31]));
    }

    [Fact]
    public void SignatureRejectsBadVAndOutOfRangeComponents()
    {
        var bytes = new byte[65];
        bytes[31] = 1;
        bytes[63] = 1;
        bytes[64] = 27;
        Assert.Equal(27, Signature.FromBytes(bytes).V);
        foreach (byte v in new byte[] { 0, 1, 26, 29, 37, 255 })
        {
            bytes[64] = v;
            var e = Assert.Throws<CryptoFormatException>(() => Signature.FromBytes(bytes));
            Assert.Contains("v must be 27 or 28", e.Message);
        }
        bytes[64] = 28;
        bytes[31] = 0;
        Assert.Throws<CryptoFormatException>(() => Signature.FromBytes(bytes)); // r = 0
        Array.Fill(bytes, (byte)0xFF, 0, 32);
        Assert.Throws<CryptoFormatException>(() => Signature.FromBytes(bytes)); // r >= n
        Assert.Throws<CryptoFormatException>(() => Signature.FromBytes(new byte[64]));
        Assert.False(Signature.TryParse("0x1234", out _));
    }
}
