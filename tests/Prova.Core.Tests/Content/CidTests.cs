using Prova.Core.Content;
using Prova.Core.Crypto;

namespace Prova.Core.Tests.Content;

public class CidTests
{
    [Fact]
    public void Raw_cid_of_empty_bytes_matches_the_well_known_ipfs_value()
    {
        // `ipfs add --cid-version 1 --raw-leaves` of an empty file.
        var cid = Cid.ForBytes([]);
        Assert.Equal("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", cid.ToString());
        Assert.Equal(Hash256.Parse("0xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"), cid.Digest);
        Assert.Equal(Cid.RawCodec, cid.Codec);
    }

    [Fact]
    public void Parse_round_trips_and_equality_is_by_value()
    {
        var cid = Cid.ForBytes("hello"u8);
        var parsed = Cid.Parse(cid.ToString());
        Assert.Equal(cid, parsed);
        Assert.True(cid == parsed);
        Assert.Equal(cid.GetHashCode(), parsed.GetHashCode());
        Assert.NotEqual(cid, Cid.ForBytes("hellp"u8));
        Assert.NotEqual(cid, new Cid(0x71, cid.Digest));
        Assert.StartsWith("bafyrei", new Cid(0x71, cid.Digest).ToString());
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG", "CIDv0")]
    [InlineData("Bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", "base32")]
    [InlineData("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyk1", "base32")]
    [InlineData("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvy", "digest")]
    [InlineData("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvykuaa", "digest")]
    [InlineData("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvykv", "canonical")]
    [InlineData("bciqodmcdsmowdzxkzq3w7yqtpvvf3hpa3fjuo7jfgk3uqk53hdl4q5i", "version 1")]
    public void Malformed_text_is_refused_with_a_reason(string text, string reason)
    {
        Assert.False(Cid.TryParse(text, out _, out string? problem));
        Assert.Contains(reason, problem);
        var ex = Assert.Throws<ContentFormatException>(() => Cid.Parse(text));
        Assert.Contains("is not a CID", ex.Message);
    }

    [Fact]
    public void Random_strings_never_throw_anything_but_the_typed_error()
    {
        int seed = Environment.TickCount;
        var rng = new Random(seed);
        string valid = Cid.ForBytes("x"u8).ToString();
        for (int i = 0; i < 2000; i++)
        {
            var chars = valid.ToCharArray();
            chars[rng.Next(chars.Length)] = "abcxyz234567ABQ=!"[rng.Next(17)];
            string text = new string(chars)[..rng.Next(chars.Length + 1)];
            try
            {
                var cid = Cid.Parse(text);
                Assert.Equal(text, cid.ToString());
            }
            catch (ContentFormatException)
            {
            }
            catch (Exception ex)
            {
                Assert.Fail($"seed {seed}: '{text}' threw {ex.GetType().Name}: {ex.Message}");
            }
        }
    }
}
