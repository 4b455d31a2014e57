using System.Numerics;
using Prova.Core.Crypto;
using Prova.Core.Keys;
using Prova.Evm.Transactions;
using Xunit.Abstractions;

namespace Prova.Evm.Tests;

public class TransactionTests(ITestOutputHelper output)
{
    private static readonly PrivateKey s_eip155Key = PrivateKey.FromHex("0x4646464646464646464646464646464646464646464646464646464646464646");

    private static Transaction Eip155Example => new()
    {
        Type = TransactionType.Legacy,
        ChainId = 1,
        Nonce = 9,
        GasPrice = 20_000_000_000,
        GasLimit = 21000,
        To = Address.Parse("0x3535353535353535353535353535353535353535"),
        Value = BigInteger.Pow(10, 18),
    };

    [Fact]
    public void Eip155_example_signing_hash_and_signed_transaction()
    {
        var tx = Eip155Example;
        Assert.Equal("0xdaf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53", tx.SigningHash().ToString());
        var signed = tx.Sign(s_eip155Key);
        Assert.Equal(new BigInteger(37), signed.WireV);
        Assert.Equal("0xf86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83", signed.ToHex());
        Assert.Equal(s_eip155Key.Address, signed.RecoverSender());
    }

    [Fact]
    public void Eip155_example_decodes_and_recovers_sender()
    {
        var signed = SignedTransaction.Decode("0xf86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83");
        Assert.Equal(Eip155Example, signed.Transaction with { Data = Eip155Example.Data });
        Assert.Equal(1UL, signed.Transaction.ChainId);
        Assert.Equal(s_eip155Key.Address, signed.RecoverSender());
        Assert.Equal("0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F", signed.RecoverSender().ToString());
    }

    /// <summary>
    /// Published EIP-1559 signing vectors (ethereumjs-monorepo packages/tx/test/json/eip1559.json; chain id 7822,
    /// no data, empty access list). Their files give the typed transaction wrapped as an RLP string
    /// (0xb8 len …); the transaction itself is the payload after that 2-byte header.
    /// </summary>
    [Theory]
    [InlineData(819, 43203529, 35552, 75853, 121212, "0xb87302f870821e8e8203338301284d8301d97c828ae094000000000000000000000000000000000000aaaa8402933bc980c080a0d067f2167008c59219652f91cbf8788dbca5f771f6e91e2b7657e85b78b472e0a01d305af9fe81fdba43f0dfcd400ed24dcace0a7e30d4e85701dcaaf484cd079e")]
    [InlineData(353, 61901619, 32593, 38850, 136295, "0xb87202f86f821e8e8201618297c283021467827f5194000000000000000000000000000000000000aaaa8403b08b3380c001a004205678f13fc1d7b10feea6513dfa76e24418b6e08097d95c6f93a3b64e536da01d45ad61bfece43862de2cce7d2575a8c1d08c26c87f3cb5f26d7b0be54a91b2")]
    [InlineData(709, 6478043, 28335, 86252, 94636, "0xb87202f86f821e8e8202c5830150ec830171ac826eaf94000000000000000000000000000000000000aaaa8362d8db80c001a09880d133cd636f8c8dce32e2c43494b9f2dc000eee8dc61931e09f866ed04b46a00e44d5c503c7f08b36c8b062c32a963f3dd20a71e95e3d903bfbe7f4da47cd47")]
    public void Eip1559_published_vectors_sign_to_the_same_bytes(ulong nonce, long value, ulong gasLimit, long tip, long maxFee, string wrapped)
    {
        var key = PrivateKey.FromHex("0x8f2a55949038a9610f50fb23b5883af3b4ecb3c3bb792cbcefbd1542c692be63");
        string expected = "0x" + wrapped[6..];
        var tx = new Transaction
        {
            ChainId = 7822,
            Nonce = nonce,
            MaxPriorityFeePerGas = tip,
            MaxFeePerGas = maxFee,
            GasLimit = gasLimit,
            To = Address.Parse("0x000000000000000000000000000000000000aaaa"),
            Value = value,
        };
        var signed = tx.Sign(key);
        Assert.Equal(expected, signed.ToHex());
        var decoded = SignedTransaction.Decode(expected);
        Assert.Equal(tx, decoded.Transaction with { Data = tx.Data, AccessList = tx.AccessList });
        Assert.Equal(key.Address, decoded.RecoverSender());
    }

    [Fact]
    public void Eip1559_sign_decode_round_trip()
    {
        var key = PrivateKey.FromHex("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");
        var tx = new Transaction
        {
            ChainId = 31337,
            Nonce = 3,
            MaxPriorityFeePerGas = 1_000_000_000,
            MaxFeePerGas = 30_000_000_000,
            GasLimit = 100_000,
            To = Address.Parse("0x70997970C51812dc3A010C7d01b50e0d17dc79C8"),
            Value = 12345,
            Data = [1, 2, 3],
            AccessList = [new AccessListEntry(Address.Parse("0x70997970C51812dc3A010C7d01b50e0d17dc79C8"), [Keccak256.Hash("slot")])],
        };
        var signed = tx.Sign(key);
        Assert.Equal(0x02, signed.RawBytes[0]);
        var decoded = SignedTransaction.Decode(signed.RawBytes);
        Assert.Equal(signed.Hash, decoded.Hash);
        Assert.Equal(key.Address, decoded.RecoverSender());
        Assert.Equal(tx.MaxFeePerGas, decoded.Transaction.MaxFeePerGas);
        Assert.Equal(tx.Data, decoded.Transaction.Data);
        Assert.Equal(Keccak256.Hash("slot"), decoded.Transaction.AccessList[0].StorageKeys[0]);
    }

    [Fact]
    public void Contract_creation_has_no_recipient()
    {
        var key = PrivateKey.FromHex("0x4646464646464646464646464646464646464646464646464646464646464646");
        var signed = new Transaction { ChainId = 5, MaxFeePerGas = 2, MaxPriorityFeePerGas = 1, GasLimit = 53000, Data = [0x60, 0x00] }.Sign(key);
        Assert.Null(SignedTransaction.Decode(signed.RawBytes).Transaction.To);
    }

    [Fact]
    public void Tampering_changes_the_sender_or_fails()
    {
        var signed = Eip155Example.Sign(s_eip155Key);
        byte[] raw = signed.RawBytes;
        raw[^40] ^= 1; // inside r
        try
        {
            Assert.NotEqual(s_eip155Key.Address, SignedTransaction.Decode(raw).RecoverSender());
        }
        catch (TransactionFormatException)
        {
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("0x01c0")]
    [InlineData("0x02c0")]
    [InlineData("0xc0")]
    [InlineData("0x7f")]
    public void Malformed_raw_transactions_are_rejected(string hex)
    {
        Assert.Throws<TransactionFormatException>(() => SignedTransaction.Decode(hex));
    }

    [Fact]
    public void Fee_cap_below_tip_is_rejected()
    {
        var tx = new Transaction { ChainId = 1, MaxFeePerGas = 1, MaxPriorityFeePerGas = 2 };
        Assert.Throws<TransactionFormatException>(() => tx.SigningHash());
    }

    [Fact]
    public void Random_bytes_only_give_TransactionFormatException()
    {
        int seed = int.TryParse(Environment.GetEnvironmentVariable("PROVA_SEED"), out int fixedSeed) ? fixedSeed : Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        byte[] good = Eip155Example.Sign(s_eip155Key).RawBytes;
        for (int i = 0; i < 3000; i++)
        {
            byte[] bytes = (byte[])good.Clone();
            bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
            if (random.Next(4) == 0)
            {
                bytes = new byte[random.Next(0, 120)];
                random.NextBytes(bytes);
            }
            try
            {
                SignedTransaction.Decode(bytes).RecoverSender();
            }
            catch (TransactionFormatException)
            {
            }
        }
    }
}
