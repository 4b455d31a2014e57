using System.Numerics;
using System.Text;
using Prova.Core.Crypto;
using Prova.Evm.Abi;
using Xunit.Abstractions;

namespace Prova.Evm.Tests;

public class AbiTests(ITestOutputHelper output)
{
    private static string W(params string[] words) => string.Concat(words.Select(w => w.PadLeft(64, '0')));

    private static string R(string hexBytes) => hexBytes.PadRight((hexBytes.Length + 63) / 64 * 64, '0');

    private static string Ascii(string s) => Convert.ToHexStringLower(Encoding.ASCII.GetBytes(s));

    private static string Call(string signature, params object?[] args) =>
        Convert.ToHexStringLower(AbiFunction.Parse(signature).EncodeCall(args));

    // The examples of the Solidity "Contract ABI Specification".
    [Fact]
    public void Spec_baz()
    {
        Assert.Equal("cdcd77c0" + W("45") + W("1"), Call("baz(uint32,bool)", 69u, true));
    }

    [Fact]
    public void Spec_bar()
    {
        Assert.Equal("fce353f6" + R(Ascii("abc")) + R(Ascii("def")),
            Call("bar(bytes3[2])", [new object[] { Encoding.ASCII.GetBytes("abc"), Encoding.ASCII.GetBytes("def") }]));
    }

    [Fact]
    public void Spec_sam()
    {
        string expected = "a5643bf2" + W("60") + W("1") + W("a0") + W("4") + R(Ascii("dave")) + W("3") + W("1") + W("2") + W("3");
        Assert.Equal(expected, Call("sam(bytes,bool,uint256[])", Encoding.ASCII.GetBytes("dave"), true, new BigInteger[] { 1, 2, 3 }));
    }

    [Fact]
    public void Spec_f_with_dynamic_and_static_mix()
    {
        string expected = "8be65246" + W("123") + W("80") + R(Ascii("1234567890")) + W("e0")
            + W("2") + W("456") + W("789") + W("d") + R(Ascii("Hello, world!"));
        string actual = Call("f(uint256,uint32[],bytes10,bytes)", 0x123, new uint[] { 0x456, 0x789 },
            Encoding.ASCII.GetBytes("1234567890"), Encoding.ASCII.GetBytes("Hello, world!"));
        Assert.Equal(expected, actual);
        var decoded = AbiFunction.Parse("f(uint256,uint32[],bytes10,bytes)").DecodeCall(Convert.FromHexString(actual));
        Assert.Equal(new BigInteger(0x123), decoded[0]);
        Assert.Equal(new object[] { new BigInteger(0x456), new BigInteger(0x789) }, (object?[])decoded[1]!);
        Assert.Equal("Hello, world!", Encoding.ASCII.GetString((byte[])decoded[3]!));
    }

    [Fact]
    public void Spec_g_nested_dynamic_arrays()
    {
        string expected = "2289b18c" + W("40") + W("140") + W("2") + W("40") + W("a0") + W("2") + W("1") + W("2") + W("1") + W("3")
            + W("3") + W("60") + W("a0") + W("e0") + W("3") + R(Ascii("one")) + W("3") + R(Ascii("two")) + W("5") + R(Ascii("three"));
        var fn = AbiFunction.Parse("g(uint256[][],string[])");
        object?[] args = [new object[] { new BigInteger[] { 1, 2 }, new BigInteger[] { 3 } }, new[] { "one", "two", "three" }];
        Assert.Equal(expected, Convert.ToHexStringLower(fn.EncodeCall(args)));
        var decoded = fn.DecodeCall(Convert.FromHexString(expected));
        Assert.Equal("three", ((object?[])decoded[1]!)[2]);
        Assert.Equal(new BigInteger(3), ((object?[])((object?[])decoded[0]!)[1]!)[0]);
    }

    [Fact]
    public void Selectors_match_well_known_ones()
    {
        Assert.Equal("a9059cbb", Convert.ToHexStringLower(AbiFunction.Parse("transfer(address,uint256)").Selector));
        Assert.Equal("08c379a0", Convert.ToHexStringLower(AbiError.Error.Selector));
        Assert.Equal("4e487b71", Convert.ToHexStringLower(AbiError.Panic.Selector));
        var transfer = new AbiEvent("Transfer", [new("from", AbiType.AddressType, true), new("to", AbiType.AddressType, true), new("value", AbiType.UInt256)]);
        Assert.Equal("0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef", transfer.Topic.ToString());
    }

    [Fact]
    public void Signed_integers_round_trip_and_sign_extend()
    {
        byte[] encoded = AbiCodec.Encode(AbiType.Int(8), -1);
        Assert.All(encoded, b => Assert.Equal(0xff, b));
        Assert.Equal(new BigInteger(-1), AbiCodec.Decode(AbiType.Int(8), encoded));
        Assert.Equal(new BigInteger(-128), AbiCodec.Decode(AbiType.Int(8), AbiCodec.Encode(AbiType.Int(8), -128)));
        Assert.Throws<AbiException>(() => AbiCodec.Encode(AbiType.Int(8), 128));
        Assert.Throws<AbiException>(() => AbiCodec.Encode(AbiType.UInt(8), 256));
        Assert.Throws<AbiException>(() => AbiCodec.Encode(AbiType.UInt256, -1));
    }

    [Fact]
    public void Dirty_words_are_rejected()
    {
        byte[] word = new byte[32];
        word[0] = 1;
        Assert.Throws<AbiException>(() => AbiCodec.Decode(AbiType.AddressType, word));
        Assert.Throws<AbiException>(() => AbiCodec.Decode(AbiType.UInt(8), word));
        Assert.Throws<AbiException>(() => AbiCodec.Decode(AbiType.BoolType, word));
        word[0] = 0;
        word[31] = 2;
        Assert.Throws<AbiException>(() => AbiCodec.Decode(AbiType.BoolType, word));
        Assert.Throws<AbiException>(() => AbiCodec.Decode(AbiType.FixedBytes(4), word));
    }

    [Fact]
    public void Offsets_past_the_end_and_huge_lengths_are_rejected()
    {
        Assert.Throws<AbiException>(() => AbiCodec.Decode(AbiType.BytesType, Convert.FromHexString(W("40"))));
        Assert.Throws<AbiException>(() => AbiCodec.Decode(AbiType.BytesType, Convert.FromHexString(W("20") + W("ffffffff"))));
        Assert.Throws<AbiException>(() => AbiCodec.Decode(AbiType.Parse("uint256[]"), Convert.FromHexString(W("20") + W("1000000"))));
    }

    [Fact]
    public void Overlapping_offsets_cannot_amplify()
    {
        // uint256[][] whose 1000 elements all point to the same 1000-element array would be 10^6 values.
        var words = new List<string> { W("20"), W("3e8") };
        words.AddRange(Enumerable.Repeat(W("7d00"), 1000)); // offset 32000 = 1000 words after the array head
        words.Add(W("3e8"));
        words.AddRange(Enumerable.Repeat(W("1"), 1000));
        var e = Assert.Throws<AbiException>(() => AbiCodec.Decode(AbiType.Parse("uint256[][]"), Convert.FromHexString(string.Concat(words))));
        Assert.Contains("more values", e.Message);
    }

    [Fact]
    public void Tuples_static_dynamic_and_nested_round_trip()
    {
        var type = AbiType.Parse("(uint64,(address,bytes32)[],string,(bool,int16)[2])");
        Assert.True(type.IsDynamic);
        Assert.Equal("(uint64,(address,bytes32)[],string,(bool,int16)[2])", type.CanonicalName);
        var address = Address.Parse("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed");
        var hash = Keccak256.Hash("x");
        object?[] value = [(ulong)7, new object[] { new object[] { address, hash } }, "héllo", new object[] { new object[] { true, (short)-3 }, new object[] { false, (short)300 } }];
        byte[] encoded = AbiCodec.Encode(type, value);
        var decoded = (object?[])AbiCodec.Decode(type, encoded)!;
        Assert.Equal(new BigInteger(7), decoded[0]);
        var inner = (object?[])((object?[])decoded[1]!)[0]!;
        Assert.Equal(address, inner[0]);
        Assert.Equal(hash.ToArray(), (byte[])inner[1]!);
        Assert.Equal("héllo", decoded[2]);
        Assert.Equal(new BigInteger(300), ((object?[])((object?[])decoded[3]!)[1]!)[1]);
        Assert.Equal(encoded, AbiCodec.Encode(type, decoded));
    }

    [Fact]
    public void Static_tuple_is_inline()
    {
        var type = AbiType.Parse("(uint256,bool)");
        Assert.False(type.IsDynamic);
        Assert.Equal(64, type.HeadSize);
        Assert.Equal(W("5") + W("1"), Convert.ToHexStringLower(AbiCodec.Encode(type, new object[] { 5, true })));
    }

    [Fact]
    public void Revert_data_is_decoded()
    {
        var message = RevertReason.Decode(AbiError.Error.Encode("not owner"));
        Assert.Equal(RevertKind.Error, message.Kind);
        Assert.Equal("not owner", message.Message);
        var panic = RevertReason.Decode(AbiError.Panic.Encode(0x11));
        Assert.Equal(RevertKind.Panic, panic.Kind);
        Assert.Equal(new BigInteger(0x11), panic.PanicCode);
        var custom = new AbiError("TooLow", [new("have", AbiType.UInt256), new("want", AbiType.UInt256)]);
        var reason = RevertReason.Decode(custom.Encode(1, 2), [custom]);
        Assert.Equal(RevertKind.Custom, reason.Kind);
        Assert.Equal("TooLow", reason.ErrorName);
        Assert.Equal("TooLow(1, 2)", reason.Message);
        Assert.Equal(RevertKind.Unknown, RevertReason.Decode(custom.Encode(1, 2)).Kind);
        Assert.Equal(RevertKind.Empty, RevertReason.Decode([]).Kind);
        Assert.Equal(RevertKind.Unknown, RevertReason.Decode([0x08, 0xc3, 0x79, 0xa0, 1]).Kind);
    }

    [Fact]
    public void Event_with_indexed_parameters_decodes()
    {
        var ev = new AbiEvent("Posted", [new("node", AbiType.AddressType, true), new("root", AbiType.Bytes32, true), new("tag", AbiType.StringType, true), new("count", AbiType.UInt256), new("note", AbiType.StringType)]);
        var node = Address.Parse("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed");
        var root = Keccak256.Hash("root");
        Hash256[] topics = [ev.Topic, AbiEvent.EncodeTopic(AbiType.AddressType, node), AbiEvent.EncodeTopic(AbiType.Bytes32, root), AbiEvent.EncodeTopic(AbiType.StringType, "t")];
        byte[] data = AbiCodec.Encode([AbiType.UInt256, AbiType.StringType], [12, "hi"]);
        var values = ev.Decode(topics, data);
        Assert.Equal(node, values[0]);
        Assert.Equal(root.ToArray(), (byte[])values[1]!);
        Assert.Equal(Keccak256.Hash("t"), values[2]);
        Assert.Equal(new BigInteger(12), values[3]);
        Assert.Equal("hi", values[4]);
        Assert.Throws<AbiException>(() => ev.Decode(topics[..3], data));
    }

    [Theory]
    [InlineData("uint7")]
    [InlineData("uint264")]
    [InlineData("bytes33")]
    [InlineData("bytes0")]
    [InlineData("uint256[01]")]
    [InlineData("(uint256")]
    [InlineData("foo")]
    [InlineData("uint256[")]
    public void Bad_type_names_are_rejected(string text)
    {
        Assert.Throws<AbiException>(() => AbiType.Parse(text));
    }

    [Fact]
    public void Contract_abi_json_is_read()
    {
        const string json = """
        [{"type":"constructor","inputs":[{"name":"owner","type":"address"}],"stateMutability":"nonpayable"},
         {"type":"function","name":"post","inputs":[{"name":"b","type":"tuple[]","components":[{"name":"root","type":"bytes32"},{"name":"n","type":"uint32"}]}],"outputs":[],"stateMutability":"payable"},
         {"type":"event","name":"E","inputs":[{"name":"a","type":"uint256","indexed":true}],"anonymous":false},
         {"type":"error","name":"Nope","inputs":[{"name":"x","type":"uint8"}]}]
        """;
        var abi = AbiContract.Parse(json);
        Assert.Equal("post((bytes32,uint32)[])", abi.Function("post").Signature);
        Assert.Equal("payable", abi.Function("post").StateMutability);
        Assert.Equal("constructor(address)", abi.Constructor.Signature);
        Assert.Equal("E(uint256)", abi.Event("E").Signature);
        Assert.Equal("Nope(uint8)", abi.Errors[0].Signature);
        Assert.Throws<AbiException>(() => AbiContract.Parse("{"));
        Assert.Throws<AbiException>(() => abi.Function("missing"));
    }

    [Fact]
    public void Random_values_round_trip_and_random_data_only_gives_AbiException()
    {
        int seed = int.TryParse(Environment.GetEnvironmentVariable("PROVA_SEED"), out int fixedSeed) ? fixedSeed : Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        for (int i = 0; i < 300; i++)
        {
            var type = RandomType(random, 0);
            object? value = RandomValue(random, type);
            byte[] encoded = AbiCodec.Encode(type, value);
            object? decoded = AbiCodec.Decode(type, encoded);
            Assert.Equal(encoded, AbiCodec.Encode(type, decoded));
            // Corrupt one byte: decoding may succeed or fail, but only with AbiException.
            if (encoded.Length > 0)
            {
                encoded[random.Next(encoded.Length)] ^= (byte)(1 << random.Next(8));
                try
                {
                    AbiCodec.Decode(type, encoded);
                }
                catch (AbiException)
                {
                }
            }
            var junk = new byte[random.Next(0, 200)];
            random.NextBytes(junk);
            try
            {
                AbiCodec.Decode(type, junk);
            }
            catch (AbiException)
            {
            }
        }
    }

    private static AbiType RandomType(Random random, int depth)
    {
        int choice = random.Next(depth > 2 ? 7 : 10);
        return choice switch
        {
            0 => AbiType.UInt(8 * random.Next(1, 33)),
            1 => AbiType.Int(8 * random.Next(1, 33)),
            2 => AbiType.AddressType,
            3 => AbiType.BoolType,
            4 => AbiType.FixedBytes(random.Next(1, 33)),
            5 => AbiType.BytesType,
            6 => AbiType.StringType,
            7 => AbiType.ArrayOf(RandomType(random, depth + 1)),
            8 => AbiType.FixedArrayOf(RandomType(random, depth + 1), random.Next(0, 4)),
            _ => AbiType.Tuple(Enumerable.Range(0, random.Next(1, 4)).Select(_ => RandomType(random, depth + 1)).ToArray()),
        };
    }

    private static object? RandomValue(Random random, AbiType type)
    {
        switch (type.Kind)
        {
            case AbiKind.UInt:
            case AbiKind.Int:
                {
                    var bytes = new byte[type.Size / 8];
                    random.NextBytes(bytes);
                    return new BigInteger(bytes, isUnsigned: type.Kind == AbiKind.UInt, isBigEndian: true);
                }
            case AbiKind.Address:
                {
                    var bytes = new byte[20];
                    random.NextBytes(bytes);
                    return new Address(bytes);
                }
            case AbiKind.Bool:
                return random.Next(2) == 1;
            case AbiKind.FixedBytes:
            case AbiKind.Bytes:
                {
                    var bytes = new byte[type.Kind == AbiKind.Bytes ? random.Next(0, 70) : type.Size];
                    random.NextBytes(bytes);
                    return bytes;
                }
            case AbiKind.String:
                return new string(Enumerable.Range(0, random.Next(0, 40)).Select(_ => (char)random.Next(0x20, 0x3000)).Where(c => !char.IsSurrogate(c)).ToArray());
            case AbiKind.Array:
                return Enumerable.Range(0, random.Next(0, 4)).Select(_ => RandomValue(random, type.Element!)).ToArray();
            case AbiKind.FixedArray:
                return Enumerable.Range(0, type.Size).Select(_ => RandomValue(random, type.Element!)).ToArray();
            default:
                return type.Components.Select(c => RandomValue(random, c.Type)).ToArray();
        }
    }
}
