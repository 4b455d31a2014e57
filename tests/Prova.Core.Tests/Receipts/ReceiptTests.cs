using System.Text.Json;
using System.Text.Json.Nodes;
using Prova.Core.Content;
using Prova.Core.Crypto;
using Prova.Core.Keys;
using Prova.Core.Receipts;

namespace Prova.Core.Tests.Receipts;

public class ReceiptTests
{
    private static readonly PrivateKey s_node = PrivateKey.FromHex("0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318");
    private static readonly PrivateKey s_other = PrivateKey.FromHex("0x0000000000000000000000000000000000000000000000000000000000000001");

    private static readonly Dictionary<string, Tensor> s_inputs = new() { ["x"] = Tensor.Create([1, 3], new float[] { 1, 2, 3 }) };
    private static readonly Dictionary<string, Tensor> s_outputs = new() { ["y"] = Tensor.Create([1, 2], new float[] { 0.25f, 0.75f }) };
    private static readonly Cid s_model = Cid.ForBytes("model manifest"u8);

    private static Receipt Signed() => new Receipt
    {
        Model = s_model,
        InputHash = Receipt.HashTensors(s_inputs),
        OutputHash = Receipt.HashTensors(s_outputs),
        RequestId = Hash256.Parse("0x" + new string('a', 64)),
        Timestamp = 1_700_000_000,
        ChainId = 31337,
    }.SignWith(s_node);

    [Fact]
    public void Type_string_is_the_documented_one()
    {
        Assert.Equal(
            "Receipt(bytes32 model,bytes32 inputHash,bytes32 outputHash,string mode,bytes32 requestId,address node,uint64 timestamp,uint256 chainId)",
            Receipt.TypeString);
        Assert.Equal("ModelPublication(string name,string version,bytes32 model,address owner,uint64 timestamp)", ModelPublication.TypeString);
    }

    [Fact]
    public void A_signed_receipt_verifies_against_everything_it_names()
    {
        var r = Signed();
        Assert.Equal(s_node.Address, r.Node);
        var result = r.Verify(s_inputs, s_outputs, s_model, s_node.Address, 31337, r.RequestId, "attested");
        Assert.True(result.IsValid, result.ToString());
        Assert.Equal(s_node.Address, Eip712.Recover(r.ToTypedData(), r.Signature));
    }

    [Fact]
    public void Expectation_mismatches_have_their_own_reasons()
    {
        var r = Signed();
        Assert.Equal(VerificationReason.SignerMismatch, r.Verify(signer: s_other.Address).Reason);
        Assert.Equal(VerificationReason.ChainMismatch, r.Verify(chainId: 1).Reason);
        Assert.Equal(VerificationReason.ModelMismatch, r.Verify(model: Cid.ForBytes("other"u8)).Reason);
        Assert.Equal(VerificationReason.ModeMismatch, r.Verify(mode: "proof").Reason);
        Assert.Equal(VerificationReason.RequestMismatch, r.Verify(requestId: Hash256.Zero).Reason);
        var otherInputs = new Dictionary<string, Tensor> { ["x"] = Tensor.Create([1, 3], new float[] { 1, 2, 4 }) };
        Assert.Equal(VerificationReason.InputHashMismatch, r.Verify(inputs: otherInputs).Reason);
        var renamed = new Dictionary<string, Tensor> { ["z"] = s_outputs["y"] };
        Assert.Equal(VerificationReason.OutputHashMismatch, r.Verify(outputs: renamed).Reason);
    }

    [Fact]
    public void Changing_any_signed_field_breaks_the_signature()
    {
        var r = Signed();
        Receipt[] tampered =
        [
            r with { Model = Cid.ForBytes("x"u8) },
            r with { InputHash = Hash256.Zero },
            r with { OutputHash = Hash256.Zero },
            r with { Mode = "quorum:2" },
            r with { RequestId = Hash256.Zero },
            r with { Node = s_other.Address },
            r with { Timestamp = r.Timestamp + 1 },
            r with { ChainId = 1 },
            r with { VerifyingContract = s_other.Address },
            r with { Signature = default },
        ];
        foreach (var t in tampered)
        {
            Assert.Equal(VerificationReason.BadSignature, t.Verify().Reason);
        }
    }

    [Fact]
    public void Json_round_trips_and_flipping_any_character_of_it_never_verifies()
    {
        var r = Signed();
        string json = r.ToJson();
        var back = Receipt.FromJson(json);
        Assert.Equal(r, back);
        Assert.True(back.Verify(s_inputs, s_outputs).IsValid);

        int seed = Environment.TickCount;
        var rng = new Random(seed);
        var node = JsonNode.Parse(json)!.AsObject();
        foreach (var (key, value) in node.ToArray())
        {
            if (value!.GetValueKind() != JsonValueKind.String)
            {
                continue;
            }
            string text = value.GetValue<string>();
            int at = rng.Next(2, text.Length);
            char c = text[at] == '1' ? '2' : '1';
            var copy = JsonNode.Parse(json)!.AsObject();
            copy[key] = text[..at] + c + text[(at + 1)..];
            try
            {
                var parsed = Receipt.FromJson(copy.ToJsonString());
                Assert.False(parsed.Verify(s_inputs, s_outputs).IsValid, $"seed {seed}: changing {key} still verifies");
            }
            catch (ReceiptFormatException)
            {
            }
        }
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("{}")]
    [InlineData("{\"model\": 3}")]
    [InlineData("not json")]
    public void Malformed_json_is_the_typed_error(string json)
    {
        Assert.Throws<ReceiptFormatException>(() => Receipt.FromJson(json));
    }

    [Fact]
    public void Publication_signature_verifies_only_for_the_owner_and_the_same_fields()
    {
        var p = new ModelPublication("mnist", "1.0.0", s_model, s_node.Address, 1_700_000_000);
        var sig = p.Sign(s_node, 31337);
        Assert.True(p.Verify(sig, 31337).IsValid);
        Assert.False(p.Verify(sig, 1).IsValid);
        Assert.False((p with { Version = "1.0.1" }).Verify(sig, 31337).IsValid);
        Assert.False((p with { Owner = s_other.Address }).Verify(sig, 31337).IsValid);
        Assert.False(p.Verify(s_other.Sign(p.ToTypedData(31337).SigningHash()), 31337).IsValid);
        Assert.Throws<ArgumentException>(() => p.Sign(s_other, 31337));
    }
}
