using System.Security.Cryptography;
using System.Text;
using Prova.Core.Crypto;

namespace Prova.Core.Tests.Crypto;

public class Keccak256Tests
{
    [Theory]
    [InlineData("", "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")]
    [InlineData("abc", "0x4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45")]
    public void MatchesPublishedVectors(string input, string expected)
    {
        Assert.Equal(expected, Keccak256.Hash(input).ToString());
        Assert.Equal(expected, Keccak256.Hash(Encoding.UTF8.GetBytes(input)).ToString());
    }

    [Fact]
    public void IsNotSha3_256()
    {
        // FIPS-202 SHA3-256("abc"); Ethereum's Keccak differs only in padding, so a mix-up shows here.
        Assert.NotEqual("0x3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532", Keccak256.Hash("abc").ToString());
    }

    [Fact]
    public void HashConcatEqualsHashOfConcatenation()
    {
        var a = new byte[] { 1, 2, 3 };
        var b = new byte[200];
        RandomNumberGenerator.Fill(b);
        Assert.Equal(Keccak256.Hash([.. a, .. b]), Keccak256.HashConcat(a, b));
    }
}
