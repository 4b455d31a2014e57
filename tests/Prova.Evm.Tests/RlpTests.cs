using System.Numerics;
using System.Text;
using Prova.Evm.Codec;
using Xunit.Abstractions;

namespace Prova.Evm.Tests;

public class RlpTests(ITestOutputHelper output)
{
    private static byte[] H(string hex) => Convert.FromHexString(hex);

    private static RlpItem S(string text) => RlpItem.String(text);

    public static TheoryData<string, string> SpecExamples => new()
    {
        // Ethereum wiki / Yellow Paper appendix B examples.
        { "dog", "83646f67" },
        { "[cat,dog]", "c88363617483646f67" },
        { "''", "80" },
        { "[]", "c0" },
        { "0", "80" },
        { "15", "0f" },
        { "1024", "820400" },
        { "set", "c7c0c1c0c3c0c1c0" },
        { "lorem", "b838" + Convert.ToHexStringLower(Encoding.ASCII.GetBytes("Lorem ipsum dolor sit amet, consectetur adipisicing elit")) },
        { "0x00", "00" },
    };

    private static RlpItem Example(string name) => name switch
    {
        "dog" => S("dog"),
        "[cat,dog]" => RlpItem.List(S("cat"), S("dog")),
        "''" => S(""),
        "[]" => RlpItem.List(),
        "0" => RlpItem.Integer(0),
        "15" => RlpItem.Integer(15),
        "1024" => RlpItem.Integer(1024),
        "set" => RlpItem.List(RlpItem.List(), RlpItem.List(RlpItem.List()), RlpItem.List(RlpItem.List(), RlpItem.List(RlpItem.List()))),
        "lorem" => S("Lorem ipsum dolor sit amet, consectetur adipisicing elit"),
        "0x00" => RlpItem.String([0]),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(SpecExamples))]
    public void Spec_examples_encode_and_decode(string name, string hex)
    {
        var item = Example(name);
        Assert.Equal(hex, Convert.ToHexStringLower(Rlp.Encode(item)));
        Assert.Equal(item.ToString(), Rlp.Decode(H(hex)).ToString());
    }

    [Fact]
    public void Integers_decode_back()
    {
        Assert.Equal(new BigInteger(1024), Rlp.Decode(H("820400")).ToBigInteger());
        Assert.Equal(BigInteger.Zero, Rlp.Decode(H("80")).ToBigInteger());
        Assert.Equal(15UL, Rlp.Decode(H("0f")).ToUInt64());
    }

    [Fact]
    public void Long_list_uses_long_form()
    {
        var items = Enumerable.Range(0, 20).Select(i => S("abcd")).ToArray();
        byte[] encoded = Rlp.Encode(RlpItem.List(items));
        Assert.Equal(0xf8, encoded[0]);
        Assert.Equal(100, encoded[1]);
        Assert.Equal(102, encoded.Length);
        Assert.Equal(20, Rlp.Decode(encoded).Items.Count);
    }

    [Fact]
    public void Long_string_of_1024_bytes_uses_two_length_bytes()
    {
        var bytes = Enumerable.Range(0, 1024).Select(i => (byte)i).ToArray();
        byte[] encoded = Rlp.EncodeString(bytes);
        Assert.Equal("b90400", Convert.ToHexStringLower(encoded[..3]));
        Assert.Equal(bytes, Rlp.Decode(encoded).ToArray());
    }

    [Theory]
    [InlineData("8105", "below 0x80")] // single byte < 0x80 with a prefix
    [InlineData("b80100", "short form")] // long form for a 1-byte payload
    [InlineData("b90038" + "00", "leading zero")] // long-form length with a leading zero
    [InlineData("f80100", "short form")] // long-form list of length 0
    [InlineData("83646f", "remain")] // truncated
    [InlineData("83646f6700", "trailing")] // trailing bytes
    [InlineData("", "ends")] // empty input
    [InlineData("c3646f", "remain")] // list longer than the input
    [InlineData("c2820400", "remain")] // child crosses the list boundary
    [InlineData("bf0000000000000001", "leading zero")]
    [InlineData("bb7fffffff", "remain")]
    public void Non_canonical_or_truncated_input_is_rejected(string hex, string expected)
    {
        var e = Assert.Throws<RlpException>(() => Rlp.Decode(H(hex)));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Integer_with_leading_zero_is_rejected()
    {
        Assert.Throws<RlpException>(() => Rlp.Decode(H("820004")).ToBigInteger());
    }

    [Fact]
    public void Nesting_is_bounded()
    {
        var item = RlpItem.List();
        for (int i = 0; i < 100; i++)
        {
            item = RlpItem.List(item);
        }
        byte[] data = Rlp.Encode(item);
        var e = Assert.Throws<RlpException>(() => Rlp.Decode(data));
        Assert.Contains("deeper than 64", e.Message);
        Assert.NotNull(Rlp.Decode(data, maxDepth: 200));
    }

    [Fact]
    public void Random_bytes_only_ever_give_RlpException()
    {
        int seed = int.TryParse(Environment.GetEnvironmentVariable("PROVA_SEED"), out int fixedSeed) ? fixedSeed : Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        int decoded = 0;
        for (int i = 0; i < 20000; i++)
        {
            var bytes = new byte[random.Next(0, 64)];
            random.NextBytes(bytes);
            if (bytes.Length > 0 && random.Next(2) == 0)
            {
                bytes[0] = (byte)(0xc0 + random.Next(0, 64)); // bias towards lists
            }
            try
            {
                var item = Rlp.Decode(bytes);
                decoded++;
                // Anything accepted is canonical: it re-encodes to the same bytes.
                Assert.Equal(bytes, Rlp.Encode(item));
            }
            catch (RlpException)
            {
            }
        }
        output.WriteLine($"{decoded} of 20000 random inputs were valid RLP");
    }

    [Fact]
    public void Random_items_round_trip()
    {
        int seed = int.TryParse(Environment.GetEnvironmentVariable("PROVA_SEED"), out int fixedSeed) ? fixedSeed : Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        for (int i = 0; i < 500; i++)
        {
            var item = RandomItem(random, 0);
            byte[] encoded = Rlp.Encode(item);
            Assert.Equal(item.ToString(), Rlp.Decode(encoded).ToString());
        }
    }

    private static RlpItem RandomItem(Random random, int depth)
    {
        if (depth > 4 || random.Next(3) > 0)
        {
            var bytes = new byte[random.Next(3) == 0 ? random.Next(0, 300) : random.Next(0, 3)];
            random.NextBytes(bytes);
            return RlpItem.String(bytes);
        }
        return RlpItem.List(Enumerable.Range(0, random.Next(0, 6)).Select(_ => RandomItem(random, depth + 1)).ToArray());
    }
}
