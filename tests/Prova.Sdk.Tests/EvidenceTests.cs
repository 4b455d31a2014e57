using System.Numerics;
using System.Text;
using Prova.Core;
using Prova.Core.Content;
using Prova.Core.Crypto;
using Prova.Core.Keys;
using Prova.Core.Receipts;
using Prova.Onnx;
using Prova.Runtime;

namespace Prova.Sdk.Tests;

/// <summary>Evidence files and quorum result files, built from real model runs and real secp256k1 receipts.</summary>
public sealed class EvidenceTests
{
    private static readonly byte[] s_model = OnnxWriter.Write(TestModels.Mlp(inputs: 16, hidden: 8, seed: 3));
    private static readonly Cid s_cid = ModelManifest.Build(s_model, ModelManifest.DefaultChunkSize).Cid;
    private static readonly Dictionary<string, Tensor> s_inputs = TestModels.Input(inputs: 16, seed: 5);
    private static readonly Dictionary<string, Tensor> s_outputs = Run(s_inputs);
    private static readonly PrivateKey[] s_keys = [PrivateKey.Generate(), PrivateKey.Generate(), PrivateKey.Generate()];
    private static readonly Hash256 s_request = new(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());

    private static Dictionary<string, Tensor> Run(IReadOnlyDictionary<string, Tensor> inputs)
    {
        using var session = new InferenceSession(OnnxLoader.Load(s_model), new SessionOptions { Threads = 1 });
        return session.Run(inputs);
    }

    private static Dictionary<string, Tensor> Flipped(IReadOnlyDictionary<string, Tensor> outputs)
    {
        var y = outputs["y"];
        var data = (float[])((float[])y.Data).Clone();
        data[0] = BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(data[0]) ^ 1);
        return new Dictionary<string, Tensor> { ["y"] = Tensor.Create(y.Shape.ToArray(), data) };
    }

    private static Receipt Sign(PrivateKey key, IReadOnlyDictionary<string, Tensor> outputs, string mode = "quorum:3", Hash256? request = null) => new Receipt
    {
        Model = s_cid,
        InputHash = Receipt.HashTensors(s_inputs),
        OutputHash = Receipt.HashTensors(outputs),
        Mode = mode,
        RequestId = request ?? s_request,
        Timestamp = 1_700_000_000,
        ChainId = new BigInteger(31337),
    }.SignWith(key);

    private static InferenceResult Answer(PrivateKey key, IReadOnlyDictionary<string, Tensor> outputs) => new()
    {
        Model = s_cid,
        Mode = "quorum:3",
        RequestId = s_request,
        Inputs = s_inputs,
        Outputs = outputs,
        Receipt = Sign(key, outputs),
        Verification = VerificationResult.Valid,
    };

    private static EvidenceFile Disagreement() => EvidenceFile.FromAnswers(s_cid, s_inputs,
        [Answer(s_keys[0], s_outputs), Answer(s_keys[1], Flipped(s_outputs)), Answer(s_keys[2], s_outputs)]);

    [Fact]
    public void EvidenceRoundTripsInTheAgreedFormat()
    {
        var evidence = Disagreement();
        byte[] json = evidence.ToJsonBytes();
        string text = Encoding.UTF8.GetString(json);
        Assert.Contains("\"kind\": \"prova-evidence/v1\"", text);
        Assert.Contains("\"reason\": \"quorum-disagreement\"", text);
        Assert.True(EvidenceFile.IsEvidence(json));
        var back = EvidenceFile.Parse(json);
        Assert.Equal(evidence.Model, back.Model);
        Assert.Equal(evidence.InputHash, back.InputHash);
        Assert.Equal(evidence.Receipts, back.Receipts);
        Assert.Equal(evidence.Outputs, back.Outputs);
        Assert.Equal(s_keys[1].Address, back.Outputs[1].Node);
    }

    [Fact]
    public void ReExecutionNamesTheLyingNode()
    {
        var v = EvidenceVerifier.Verify(Disagreement().ToJsonBytes(), new ResultVerifierOptions { ModelBytes = s_model });
        Assert.True(v.IsValid, v.Failure?.Message);
        Assert.Equal([s_keys[1].Address], v.Liars);
        Assert.Equal([s_keys[0].Address, s_keys[2].Address], v.Honest);
        Assert.Equal(Receipt.HashTensors(s_outputs), v.RecomputedOutputHash);
    }

    [Fact]
    public void WithoutTheModelTheConflictIsProvenButNoOneIsNamed()
    {
        var v = EvidenceVerifier.Verify(Disagreement());
        Assert.True(v.IsValid, v.Failure?.Message);
        Assert.Empty(v.Liars);
        Assert.Contains(v.Checks, c => c.Name == "conflict" && c.Passed);
    }

    [Fact]
    public void ForgedOrInconsistentEvidenceIsRejected()
    {
        var good = Disagreement();
        // A receipt whose output hash was changed after signing.
        var forged = good with { Receipts = [good.Receipts[0], good.Receipts[1] with { OutputHash = Receipt.HashTensors(s_outputs) }, good.Receipts[2]] };
        Assert.Equal("signatures", EvidenceVerifier.Verify(forged).Failure?.Name);
        // The same node twice.
        var twice = EvidenceFile.FromAnswers(s_cid, s_inputs, [Answer(s_keys[0], s_outputs), Answer(s_keys[0], Flipped(s_outputs))]);
        Assert.Equal("nodes", EvidenceVerifier.Verify(twice).Failure?.Name);
        // No disagreement at all.
        var agree = EvidenceFile.FromAnswers(s_cid, s_inputs, [Answer(s_keys[0], s_outputs), Answer(s_keys[1], s_outputs)]);
        Assert.Equal("conflict", EvidenceVerifier.Verify(agree).Failure?.Name);
        // Receipts for different requests.
        var other = good with { Receipts = [good.Receipts[0], Sign(s_keys[1], Flipped(s_outputs), request: Hash256.Zero), good.Receipts[2]] };
        Assert.Equal("request", EvidenceVerifier.Verify(other).Failure?.Name);
        // Inputs that are not the ones the receipts name.
        var inputs = good with { Inputs = TestModels.Input(inputs: 16, seed: 6) };
        Assert.Equal("request", EvidenceVerifier.Verify(inputs).Failure?.Name);
        // An outputs list that does not match the receipts.
        var outputs = good with { Outputs = [good.Outputs[0], good.Outputs[0], good.Outputs[2]] };
        Assert.Equal("outputs", EvidenceVerifier.Verify(outputs).Failure?.Name);
        // The wrong model file.
        byte[] otherModel = OnnxWriter.Write(TestModels.Mlp(inputs: 16, hidden: 8, seed: 4));
        Assert.Equal("model", EvidenceVerifier.Verify(good, new ResultVerifierOptions { ModelBytes = otherModel }).Failure?.Name);
    }

    [Fact]
    public void MutatedEvidenceBytesNeverCrashTheParser()
    {
        int seed = Environment.TickCount;
        var rng = new Random(seed);
        byte[] json = Disagreement().ToJsonBytes();
        for (int i = 0; i < 300; i++)
        {
            byte[] copy = (byte[])json.Clone();
            int edits = rng.Next(1, 4);
            for (int e = 0; e < edits; e++)
            {
                copy[rng.Next(copy.Length)] = (byte)rng.Next(32, 127);
            }
            try
            {
                var v = EvidenceVerifier.Verify(copy);
                Assert.NotEmpty(v.Checks);
            }
            catch (EvidenceFormatException)
            {
            }
            catch (Exception ex)
            {
                Assert.Fail($"seed {seed}, iteration {i}: {ex.GetType().Name}: {ex.Message}");
            }
        }
    }

    [Fact]
    public void QuorumResultFilesNeedKReceiptsFromKDistinctNodes()
    {
        ResultFile File(params PrivateKey[] keys) => new()
        {
            Model = s_cid,
            Mode = "quorum:3",
            RequestId = s_request,
            Inputs = s_inputs,
            Outputs = s_outputs,
            Receipts = keys.Select(k => Sign(k, s_outputs)).ToList(),
        };
        var ok = ResultVerifier.Verify(File(s_keys).ToJsonBytes(), new ResultVerifierOptions { ModelBytes = s_model });
        Assert.True(ok.IsValid, ok.Failure?.Message);
        Assert.Contains(ok.Checks, c => c.Name == "quorum" && c.Passed);
        Assert.Contains(ok.Checks, c => c.Name == "re-execution" && c.Passed);

        Assert.Equal("quorum", ResultVerifier.Verify(File(s_keys[0], s_keys[1]).ToJsonBytes()).Failure?.Name);
        Assert.Equal("quorum", ResultVerifier.Verify(File(s_keys[0], s_keys[1], s_keys[1]).ToJsonBytes()).Failure?.Name);
        // One member's receipt signs other outputs than the file's: the file does not verify.
        var mixed = File(s_keys) with { Receipts = [Sign(s_keys[0], s_outputs), Sign(s_keys[1], Flipped(s_outputs)), Sign(s_keys[2], s_outputs)] };
        Assert.Equal("outputs", ResultVerifier.Verify(mixed.ToJsonBytes()).Failure?.Name);
    }

    [Theory]
    [InlineData("quorum:3", true, 3)]
    [InlineData("quorum:2", true, 2)]
    [InlineData("quorum:16", true, 16)]
    [InlineData("quorum:1", false, 0)]
    [InlineData("quorum:17", false, 0)]
    [InlineData("quorum:03", false, 0)]
    [InlineData("quorum:+3", false, 0)]
    [InlineData("quorum:", false, 0)]
    [InlineData("attested", false, 0)]
    [InlineData("Quorum:3", false, 0)]
    public void QuorumModesParseStrictly(string mode, bool valid, int k)
    {
        Assert.Equal(valid, QuorumMode.TryParse(mode, out int parsed));
        Assert.Equal(k, parsed);
    }

    [Fact]
    public void PeerRecordsAreSignedOverTheAgreedText()
    {
        var key = PrivateKey.Generate();
        var record = PeerRecord.Create(key, "http://127.0.0.1:4000", [s_cid], 1_700_000_123);
        Assert.Equal($"prova-peer\n{key.Address}\nhttp://127.0.0.1:4000\n1700000123\n{s_cid}", record.SigningText("http://127.0.0.1:4000"));
        Assert.True(record.IsSignatureValid());
        Assert.False((record with { UrlText = "http://127.0.0.1:4001" }).IsSignatureValid());
        Assert.False((record with { Models = [] }).IsSignatureValid());
        Assert.False((record with { Timestamp = 1 }).IsSignatureValid());
    }
}
