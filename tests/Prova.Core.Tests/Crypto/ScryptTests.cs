using System.Text;
using Org.BouncyCastle.Crypto.Generators;
using Prova.Core.Crypto;
using Xunit.Abstractions;

namespace Prova.Core.Tests.Crypto;

public class ScryptTests(ITestOutputHelper output)
{
    [Theory]
    // RFC 7914 §12.
    [InlineData("", "", 16, 1, 1,
        "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906")]
    [InlineData("password", "NaCl", 1024, 8, 16,
        "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640")]
    public void MatchesRfc7914Vectors(string password, string salt, int n, int r, int p, string expected)
    {
        byte[] key = Scrypt.DeriveKey(Encoding.UTF8.GetBytes(password), Encoding.UTF8.GetBytes(salt), n, r, p, 64);
        Assert.Equal(expected, Convert.ToHexStringLower(key));
    }

    [Fact]
    public void AgreesWithBouncyCastleWhereBothApply()
    {
        int seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        for (int i = 0; i < 12; i++)
        {
            int r = random.Next(1, 5);
            int n = 1 << random.Next(1, 9);
            int p = random.Next(1, 4);
            var password = new byte[random.Next(0, 40)];
            var salt = new byte[random.Next(0, 40)];
            random.NextBytes(password);
            random.NextBytes(salt);
            int length = random.Next(1, 80);
            Assert.Equal(SCrypt.Generate(password, salt, n, r, p, length), Scrypt.DeriveKey(password, salt, n, r, p, length));
        }
    }

    [Theory]
    [InlineData(0, 1, 1)]
    [InlineData(1, 1, 1)]
    [InlineData(1000, 1, 1)]
    [InlineData(16, 0, 1)]
    [InlineData(16, 1, 0)]
    public void RejectsInvalidParameters(int n, int r, int p)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Scrypt.DeriveKey([], [], n, r, p, 32));
    }
}
