using System.Numerics;
using Prova.Core.Crypto;
using Prova.Core.Keys;
using static Prova.Core.Crypto.Eip712;

namespace Prova.Core.Tests.Crypto;

public class Eip712Tests
{
    // The "Mail" example of EIP-712 itself (assets/eip-712/Example.js).
    private const string MailJson = """
        {
          "types": {
            "EIP712Domain": [
              { "name": "name", "type": "string" },
              { "name": "version", "type": "string" },
              { "name": "chainId", "type": "uint256" },
              { "name": "verifyingContract", "type": "address" }
            ],
            "Person": [
              { "name": "name", "type": "string" },
              { "name": "wallet", "type": "address" }
            ],
            "Mail": [
              { "name": "from", "type": "Person" },
              { "name": "to", "type": "Person" },
              { "name": "contents", "type": "string" }
            ]
          },
          "primaryType": "Mail",
          "domain": {
            "name": "Ether Mail",
            "version": "1",
            "chainId": 1,
            "verifyingContract": "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"
          },
          "message": {
            "from": { "name": "Cow", "wallet": "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826" },
            "to": { "name": "Bob", "wallet": "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB" },
            "contents": "Hello, Bob!"
          }
        }
        """;

    private static PrivateKey KeyOf(string word) => PrivateKey.FromBytes(Keccak256.Hash(word).ToArray());

    [Fact]
    public void MailExampleFromTheEip()
    {
        var data = TypedData.FromJson(MailJson);
        Assert.Equal("Mail(Person from,Person to,string contents)Person(string name,address wallet)", EncodeType(data.Types, "Mail"));
        Assert.Equal("0xa0cedeb2dc280ba39b857546d74f5549c3a1d7bdc2dd96bf881f76108e23dac2", TypeHash(data.Types, "Mail").ToString());
        Assert.Equal(
            "a0cedeb2dc280ba39b857546d74f5549c3a1d7bdc2dd96bf881f76108e23dac2fc71e5fa27ff56c350aa531bc129ebdf613b772b6604664f5d8dbe21b85eb0c8cd54f074a4af31b4411ff6a60c9719dbd559c221c8ac3492d9d872b041d703d1b5aadf3154a261abdd9086fc627b61efca26ae5702701d05cd2305f7c52a2fc8",
            Convert.ToHexStringLower(EncodeData(data.Types, "Mail", data.Message)));
        Assert.Equal("0xc52c0ee5d84264471806290a3f2c4cecfc5490626bf912d01f240d7a274b371e", data.MessageHash().ToString());
        Assert.Equal("0xf2cee375fa42b42143804025fc449deafd50cc031ca257e0b194a650a912090f", data.DomainSeparator().ToString());
        Assert.Equal("0xbe609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2", data.SigningHash().ToString());

        var cow = KeyOf("cow");
        var sig = Sign(cow, data);
        Assert.Equal(28, sig.V);
        Assert.Equal(BigInteger.Parse("004355c47d63924e8a72e509b65029052eb6c299d53a04e167c5775fd466751c9d", System.Globalization.NumberStyles.HexNumber), sig.R);
        Assert.Equal(BigInteger.Parse("0007299936d304c153f6443dfa05f40ff007d72911b6f72307f996231605b91562", System.Globalization.NumberStyles.HexNumber), sig.S);
        Assert.Equal(Address.Parse("0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"), Recover(data, sig));
        Assert.True(Verify(data, sig, cow.Address));
    }

    [Fact]
    public void ObjectModelGivesTheSameHashesAsJson()
    {
        var types = new Dictionary<string, IReadOnlyList<Field>>
        {
            ["Person"] = [new("name", "string"), new("wallet", "address")],
            ["Mail"] = [new("from", "Person"), new("to", "Person"), new("contents", "string")],
        };
        var domain = new Eip712Domain("Ether Mail", "1", 1, Address.Parse("0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"));
        var message = new Dictionary<string, object?>
        {
            ["from"] = new Dictionary<string, object?> { ["name"] = "Cow", ["wallet"] = Address.Parse("0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826") },
            ["to"] = new Dictionary<string, object?> { ["name"] = "Bob", ["wallet"] = "0xbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb" },
            ["contents"] = "Hello, Bob!",
        };
        var data = TypedData.Create(domain, types, "Mail", message);
        Assert.Equal("0xf2cee375fa42b42143804025fc449deafd50cc031ca257e0b194a650a912090f", domain.Separator().ToString());
        Assert.Equal("0xf2cee375fa42b42143804025fc449deafd50cc031ca257e0b194a650a912090f", data.DomainSeparator().ToString());
        Assert.Equal("0xbe609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2", data.SigningHash().ToString());
    }

    [Fact]
    public void DomainTypeIsDerivedFromMembersWhenTypesOmitIt()
    {
        var json = MailJson.Replace("\"EIP712Domain\": [", "\"Unused\": [");
        var data = TypedData.FromJson(json);
        Assert.Equal("0xf2cee375fa42b42143804025fc449deafd50cc031ca257e0b194a650a912090f", data.DomainSeparator().ToString());
    }

    [Fact]
    public void DomainWithSaltOnly()
    {
        var salt = Keccak256.Hash("salt");
        var domain = new Eip712Domain(Salt: salt);
        byte[] expected = [.. Keccak256.Hash("EIP712Domain(bytes32 salt)").ToArray(), .. salt.ToArray()];
        Assert.Equal(Keccak256.Hash(expected), domain.Separator());
    }

    // MetaMask eth-sig-util's signTypedData_v4 test: arrays of structs and of addresses.
    [Fact]
    public void ArraysExampleFromEthSigUtil()
    {
        var data = TypedData.FromJson("""
            {
              "types": {
                "EIP712Domain": [
                  { "name": "name", "type": "string" }, { "name": "version", "type": "string" },
                  { "name": "chainId", "type": "uint256" }, { "name": "verifyingContract", "type": "address" }
                ],
                "Person": [ { "name": "name", "type": "string" }, { "name": "wallets", "type": "address[]" } ],
                "Mail": [ { "name": "from", "type": "Person" }, { "name": "to", "type": "Person[]" }, { "name": "contents", "type": "string" } ],
                "Group": [ { "name": "name", "type": "string" }, { "name": "members", "type": "Person[]" } ]
              },
              "domain": { "name": "Ether Mail", "version": "1", "chainId": 1, "verifyingContract": "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC" },
              "primaryType": "Mail",
              "message": {
                "from": { "name": "Cow", "wallets": [ "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826", "0xDeaDbeefdEAdbeefdEadbEEFdeadbeEFdEaDbeeF" ] },
                "to": [ { "name": "Bob", "wallets": [
                  "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB", "0xB0BdaBea57B0BDABeA57b0bdABEA57b0BDabEa57", "0xB0B0b0b0b0b0B000000000000000000000000000" ] } ],
                "contents": "Hello, Bob!"
              }
            }
            """);
        Assert.Equal("Mail(Person from,Person[] to,string contents)Person(string name,address[] wallets)", EncodeType(data.Types, "Mail"));
        Assert.Equal("0x4bd8a9a2b93427bb184aca81e24beb30ffa3c747e2a33d4225ec08bf12e2e753", TypeHash(data.Types, "Mail").ToString());
        Assert.Equal("0x9b4846dd48b866f0ac54d61b9b21a9e746f921cefa4ee94c4c0a1c49c774f67f",
            HashStruct(data.Types, "Person", (IReadOnlyDictionary<string, object?>)data.Message["from"]!).ToString());
        Assert.Equal("0xeb4221181ff3f1a83ea7313993ca9218496e424604ba9492bb4052c03d5c3df8", data.MessageHash().ToString());
        Assert.Equal("0xa85c2e2b118698e88db68a8105b794a8cc7cec074e89ef991cb4f5f533819cc2", data.SigningHash().ToString());
        Assert.Equal(
            "0x65cbd956f2fae28a601bebc9b906cea0191744bd4c4247bcd27cd08f8eb6b71c78efdf7a31dc9abee78f492292721f362d296cf86b4538e07b51303b67f749061b",
            Sign(KeyOf("cow"), data).ToString());
    }

    // MetaMask eth-sig-util's "signedTypeData_v4 with recursive types": absent struct members encode as zero.
    [Fact]
    public void RecursiveTypesExampleFromEthSigUtil()
    {
        var data = TypedData.FromJson("""
            {
              "types": {
                "EIP712Domain": [
                  { "name": "name", "type": "string" }, { "name": "version", "type": "string" },
                  { "name": "chainId", "type": "uint256" }, { "name": "verifyingContract", "type": "address" }
                ],
                "Person": [ { "name": "name", "type": "string" }, { "name": "mother", "type": "Person" }, { "name": "father", "type": "Person" } ]
              },
              "domain": { "name": "Family Tree", "version": "1", "chainId": 1, "verifyingContract": "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC" },
              "primaryType": "Person",
              "message": {
                "name": "Jon",
                "mother": { "name": "Lyanna", "father": { "name": "Rickard" } },
                "father": { "name": "Rhaegar", "father": { "name": "Aeris II" } }
              }
            }
            """);
        Assert.Equal("Person(string name,Person mother,Person father)", EncodeType(data.Types, "Person"));
        Assert.Equal("0x7c5c8e90cb92c8da53b893b24962513be98afcf1b57b00327ae4cc14e3a64116", TypeHash(data.Types, "Person").ToString());
        Assert.Equal("0x9ebcfbf94f349de50bcb1e3aa4f1eb38824457c99914fefda27dcf9f99f6178b",
            HashStruct(data.Types, "Person", (IReadOnlyDictionary<string, object?>)data.Message["mother"]!).ToString());
        Assert.Equal("0xfdc7b6d35bbd81f7fa78708604f57569a10edff2ca329c8011373f0667821a45", data.MessageHash().ToString());
        Assert.Equal("0xfacb2c1888f63a780c84c216bd9a81b516fc501a19bae1fc81d82df590bbdc60", data.DomainSeparator().ToString());
        Assert.Equal("0x807773b9faa9879d4971b43856c4d60c2da15c6f8c062bd9d33afefb756de19c", data.SigningHash().ToString());
        var dragon = KeyOf("dragon");
        Assert.Equal("0x065a687103c9f6467380bee800ecd70b17f6b72f", dragon.Address.ToLowerHex());
        Assert.Equal(
            "0xf2ec61e636ff7bb3ac8bc2a4cc2c8b8f635dd1b2ec8094c963128b358e79c85c5ca6dd637ed7e80f0436fe8fce39c0e5f2082c9517fe677cc2917dcd6c84ba881c",
            Sign(dragon, data).ToString());
    }

    [Fact]
    public void EncodeTypeListsReferencedTypesSortedAfterThePrimary()
    {
        var types = new Dictionary<string, IReadOnlyList<Field>>
        {
            ["Zed"] = [new("b", "Beta"), new("a", "Alpha[]")],
            ["Beta"] = [new("a", "Alpha")],
            ["Alpha"] = [new("x", "uint8")],
            ["Unreferenced"] = [new("y", "bool")],
        };
        Assert.Equal("Zed(Beta b,Alpha[] a)Alpha(uint8 x)Beta(Alpha a)", EncodeType(types, "Zed"));
    }

    private static byte[] EncodeOne(string type, object? value)
    {
        var types = new Dictionary<string, IReadOnlyList<Field>> { ["T"] = [new("v", type)] };
        return EncodeData(types, "T", new Dictionary<string, object?> { ["v"] = value })[32..];
    }

    [Fact]
    public void AtomicValuesEncodeAsOneWord()
    {
        Assert.Equal(Convert.FromHexString(new string('f', 64)), EncodeOne("int16", -1));
        Assert.Equal(Convert.FromHexString(new string('f', 62) + "80"), EncodeOne("int8", "-128"));
        Assert.Equal(Convert.FromHexString(new string('0', 62) + "ff"), EncodeOne("uint8", 255));
        Assert.Equal(Convert.FromHexString(new string('0', 60) + "1234"), EncodeOne("uint256", "0x1234"));
        Assert.Equal(Convert.FromHexString(new string('0', 63) + "1"), EncodeOne("bool", true));
        Assert.Equal(Convert.FromHexString("deadbeef" + new string('0', 56)), EncodeOne("bytes4", "0xdeadbeef"));
        Assert.Equal(Keccak256.Hash(new byte[] { 1, 2, 3 }).ToArray(), EncodeOne("bytes", new byte[] { 1, 2, 3 }));
        Assert.Equal(Keccak256.Hash("hi").ToArray(), EncodeOne("string", "hi"));
        Assert.Equal(BigInteger.Pow(2, 256) - 1,
            new BigInteger(EncodeOne("uint256", BigInteger.Pow(2, 256) - 1), isUnsigned: true, isBigEndian: true));
        // uint8[2][]: an array of fixed arrays hashes each inner array to one word.
        var inner = Keccak256.Hash([.. EncodeOne("uint8", 1), .. EncodeOne("uint8", 2)]);
        Assert.Equal(Keccak256.Hash(inner.ToArray()).ToArray(), EncodeOne("uint8[2][]", new List<object?> { new List<object?> { 1, 2 } }));
    }

    [Theory]
    [InlineData("uint8", 256)]
    [InlineData("uint8", -1)]
    [InlineData("int8", -129)]
    [InlineData("int8", 128)]
    [InlineData("bytes4", "0xdeadbe")]
    [InlineData("bytes4", "deadbeef")]
    [InlineData("bool", 1)]
    [InlineData("address", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD")]
    [InlineData("string", 5)]
    [InlineData("uint256", "1.5")]
    [InlineData("uint256", null)]
    [InlineData("uint7", 1)]
    [InlineData("uint264", 1)]
    [InlineData("bytes33", "0x00")]
    [InlineData("Nope", "x")]
    [InlineData("uint8[2]", "not an array")]
    public void BadValuesAndTypesAreRejectedWithTheTypedError(string type, object? value)
    {
        var e = Assert.Throws<CryptoFormatException>(() => EncodeOne(type, value));
        Assert.Contains("typed data", e.Message);
    }

    [Fact]
    public void FixedArrayLengthIsChecked()
    {
        var e = Assert.Throws<CryptoFormatException>(() => EncodeOne("uint8[3]", new List<object?> { 1, 2 }));
        Assert.Contains("needs 3", e.Message);
    }

    [Fact]
    public void MissingAtomicMemberIsNamed()
    {
        var data = TypedData.FromJson(MailJson.Replace("\"contents\": \"Hello, Bob!\"", "\"other\": 1"));
        var e = Assert.Throws<CryptoFormatException>(() => data.MessageHash());
        Assert.Contains("Mail.contents", e.Message);
    }

    [Fact]
    public void CyclicObjectGraphIsRejectedNotAStackOverflow()
    {
        var types = new Dictionary<string, IReadOnlyList<Field>> { ["Node"] = [new("next", "Node")] };
        var node = new Dictionary<string, object?>();
        node["next"] = node;
        Assert.Throws<CryptoFormatException>(() => HashStruct(types, "Node", node));
    }

    [Fact]
    public void HugeTypeChainIsRejected()
    {
        var types = new Dictionary<string, IReadOnlyList<Field>>();
        for (int i = 0; i < 5000; i++)
        {
            types[$"T{i}"] = [new("next", $"T{i + 1}")];
        }
        types["T5000"] = [new("x", "uint8")];
        Assert.Throws<CryptoFormatException>(() => EncodeType(types, "T0"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("[]")]
    [InlineData("{")]
    [InlineData("{\"types\": {}, \"primaryType\": \"Mail\", \"domain\": {}}")]
    [InlineData("{\"types\": {\"Mail\": 5}, \"primaryType\": \"Mail\", \"domain\": {}, \"message\": {}}")]
    [InlineData("{\"types\": {\"Mail\": [{\"name\": \"a\"}]}, \"primaryType\": \"Mail\", \"domain\": {}, \"message\": {}}")]
    [InlineData("{\"types\": {}, \"primaryType\": \"Mail\", \"domain\": {\"chainId\": 1.5}, \"message\": {}}")]
    public void MalformedJsonIsTheTypedError(string json)
    {
        Assert.Throws<CryptoFormatException>(() => TypedData.FromJson(json));
    }

    [Fact]
    public void UndefinedPrimaryTypeIsTheTypedError()
    {
        var data = TypedData.FromJson(MailJson.Replace("\"primaryType\": \"Mail\"", "\"primaryType\": \"Letter\""));
        var e = Assert.Throws<CryptoFormatException>(() => data.SigningHash());
        Assert.Contains("Letter", e.Message);
    }

    [Fact]
    public void ChangingAnyMessageFieldChangesTheRecoveredSigner()
    {
        var cow = KeyOf("cow");
        var sig = Sign(cow, TypedData.FromJson(MailJson));
        foreach (var (from, to) in new[]
        {
            ("Hello, Bob!", "Hello, Bob?"),
            ("\"Cow\"", "\"Cox\""),
            ("0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB", "0xbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbc"),
            ("\"chainId\": 1", "\"chainId\": 5"),
            ("\"version\": \"1\"", "\"version\": \"2\""),
        })
        {
            var changed = TypedData.FromJson(MailJson.Replace(from, to));
            Assert.NotEqual(cow.Address, Recover(changed, sig));
        }
    }
}
