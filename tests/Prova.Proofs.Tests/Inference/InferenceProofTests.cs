using Prova.Core;
using Prova.Proofs.Inference;
using Xunit.Abstractions;

namespace Prova.Proofs.Tests.Inference;

public sealed class InferenceProofTests(ModelFixtures models, ITestOutputHelper output) : IClassFixture<ModelFixtures>
{
    private (Dictionary<string, Tensor> Inputs, Dictionary<string, Tensor> Outputs, byte[] Proof) Honest(ProofCircuit circuit, int image)
    {
        var inputs = models.Image(image);
        var (outputs, proof) = InferenceProver.Prove(circuit, inputs);
        var bytes = ProofFormat.Write(proof);
        output.WriteLine($"proof: {bytes.Length} bytes, {proof.Layers.Count} layers");
        return (inputs, outputs, bytes);
    }

    /// <summary>Rejected by <paramref name="check"/> when given; otherwise malformed, or rejected by some named check.</summary>
    private static ProofException AssertRejected(ProofCircuit circuit, IReadOnlyDictionary<string, Tensor> inputs, IReadOnlyDictionary<string, Tensor> outputs, byte[] proof, string because, ProofCheck? check = null)
    {
        var ex = Assert.Throws<ProofException>(() => InferenceVerifier.Verify(circuit, inputs, outputs, proof));
        Assert.True(ex.Code is ProofErrorCode.Rejected or ProofErrorCode.Malformed, because + ": " + ex.Message);
        // A parse error names no check; every rejection names the one that refused.
        Assert.True((ex.Code == ProofErrorCode.Malformed) == (ex.Check == ProofCheck.None), $"{because}: {ex.Code}/{ex.Check}: {ex.Message}");
        if (check is { } expected)
        {
            Assert.True(expected == ex.Check, $"{because}: expected {expected}, rejected by {ex.Check}: {ex.Message}");
        }
        return ex;
    }

    [Theory]
    [InlineData("mlp", 0)]
    [InlineData("mlp", 3)]
    [InlineData("cnn", 0)]
    [InlineData("cnn", 5)]
    public void HonestProofVerifiesAndOutputsMatchThePlainRun(string which, int image)
    {
        var circuit = which == "mlp" ? models.Mlp : models.Cnn;
        var (inputs, outputs, proof) = Honest(circuit, image);
        using var plain = Prova.Runtime.InferenceSession.Load(Path.Combine(models.Root, "models", $"fashion-{which}.int8.onnx"));
        var expected = plain.Run(inputs);
        Assert.Equal(TensorEncoding.Hash(expected), TensorEncoding.Hash(outputs));
        InferenceVerifier.Verify(circuit, inputs, outputs, proof);
        Assert.True(proof.Length < 2 << 20);
    }

    [Theory]
    [InlineData("mlp")]
    [InlineData("cnn")]
    public void ChangedOutputElementIsRejected(string which)
    {
        var circuit = which == "mlp" ? models.Mlp : models.Cnn;
        var (inputs, outputs, proof) = Honest(circuit, 1);
        var name = outputs.Keys.Single();
        var logits = (float[])outputs[name].Data.Clone();
        for (int i = 0; i < logits.Length; i++)
        {
            var changed = (float[])logits.Clone();
            changed[i] = BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(changed[i]) ^ 1);
            var forged = new Dictionary<string, Tensor> { [name] = Tensor.Create(outputs[name].Shape, changed) };
            AssertRejected(circuit, inputs, forged, proof, $"output {i} changed", ProofCheck.ModelOutputs);
        }
    }

    [Theory]
    [InlineData("mlp")]
    [InlineData("cnn")]
    public void ChangedInputElementIsRejected(string which)
    {
        var circuit = which == "mlp" ? models.Mlp : models.Cnn;
        var (inputs, outputs, proof) = Honest(circuit, 2);
        var name = inputs.Keys.Single();
        var pixels = (float[])inputs[name].Data;
        // A pixel change that moves its quantized value, and one that only moves the float bits.
        foreach (var (index, value) in new[] { (400, pixels[400] + 0.5f), (401, BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(pixels[401]) ^ 1)) })
        {
            var changed = (float[])pixels.Clone();
            changed[index] = value;
            var forged = new Dictionary<string, Tensor> { [name] = Tensor.Create(inputs[name].Shape, changed) };
            // The inputs are in the transcript: every challenge moves, LogUp's root identity refuses first.
            AssertRejected(circuit, forged, outputs, proof, $"input {index} changed", ProofCheck.LogUpSum);
        }
    }

    [Fact]
    public void ProofForAnotherModelIsRejected()
    {
        var (inputs, outputs, mlpProof) = Honest(models.Mlp, 0);
        AssertRejected(models.Cnn, inputs, outputs, mlpProof, "MLP proof presented for the CNN", ProofCheck.KeyDigest);
        var (cnnInputs, cnnOutputs, cnnProof) = Honest(models.Cnn, 0);
        AssertRejected(models.Mlp, cnnInputs, cnnOutputs, cnnProof, "CNN proof presented for the MLP", ProofCheck.KeyDigest);
    }

    [Theory]
    [InlineData("mlp", "fc2.weight_quantized", 17)]
    [InlineData("cnn", "conv1.weight_quantized", 4)]
    [InlineData("cnn", "fc.weight_quantized", 300)]
    public void ModelWithOneWeightChangedRejectsTheProof(string which, string initializer, int index)
    {
        var bytes = which == "mlp" ? models.MlpBytes : models.CnnBytes;
        var circuit = which == "mlp" ? models.Mlp : models.Cnn;
        using var changed = ProofCircuit.FromModelBytes(ModelFixtures.WithOneWeightChanged(bytes, initializer, index));
        Assert.NotEqual(circuit.ModelCid, changed.ModelCid);
        var (inputs, outputs, proof) = Honest(circuit, 4);
        AssertRejected(changed, inputs, outputs, proof, "proof of the original presented for the changed model", ProofCheck.KeyDigest);
        // And the other way: the changed model's proof does not verify for the original.
        var (_, changedOutputs, changedProof) = Honest(changed, 4);
        AssertRejected(circuit, inputs, changedOutputs, changedProof, "proof of the changed model presented for the original", ProofCheck.KeyDigest);
    }

    [Fact]
    public void EveryChangedByteOfAnMlpProofIsRejected()
    {
        // Every byte of the header and the layers' outputs, every 5th byte of the rest outside the
        // openings (commitments, multiplicities, sumchecks, claims, opening lengths: every 8-byte field
        // limb is hit) and every 1009th byte inside the openings (large; each kind has its own tamper
        // test). Fewer than v2's every byte: a v3 verification costs more and the suite must stay fast.
        var (inputs, outputs, proof) = Honest(models.Mlp, 6);
        var openings = OpeningRanges(proof);
        int statementEnd = 96 + ProofFormat.Read(proof).Layers.Sum(l => 9 + 4 * l.OutputShape.Length + l.Outputs.Length);
        for (int i = 0; i < proof.Length; i++)
        {
            bool inOpening = openings.Any(r => i >= r.Start && i < r.End);
            if (i >= statementEnd && (inOpening ? i % 1009 != 0 : i % 5 != 0))
            {
                continue;
            }
            var forged = (byte[])proof.Clone();
            forged[i] ^= (byte)(1 << (i % 8));
            AssertRejected(models.Mlp, inputs, outputs, forged, $"byte {i} flipped");
        }
        AssertRejected(models.Mlp, inputs, outputs, [.. proof, 0], "a trailing byte");
        AssertRejected(models.Mlp, inputs, outputs, proof[..^1], "truncated");
    }

    [Fact]
    public void RandomChangedBytesOfACnnProofAreRejected()
    {
        var rng = new TestRandom(output);
        var (inputs, outputs, proof) = Honest(models.Cnn, 7);
        for (int n = 0; n < 150; n++)
        {
            int i = rng.Next(proof.Length);
            var forged = (byte[])proof.Clone();
            forged[i] ^= (byte)(1 + rng.Next(255));
            AssertRejected(models.Cnn, inputs, outputs, forged, $"byte {i} changed");
        }
    }

    [Fact]
    public void RandomAndMutatedBytesGiveOnlyTypedErrors()
    {
        var rng = new TestRandom(output);
        var (inputs, outputs, proof) = Honest(models.Mlp, 9);
        for (int n = 0; n < 400; n++)
        {
            byte[] bytes;
            switch (n % 4)
            {
                case 0:
                    bytes = new byte[rng.Next(200)];
                    for (int i = 0; i < bytes.Length; i++)
                    {
                        bytes[i] = (byte)rng.Next(256);
                    }
                    break;
                case 1:
                    // A v4 header with a truncated or random body.
                    bytes = [.. "PRVP"u8, 4, 0, 0, 0, .. proof.AsSpan(8, Math.Min(proof.Length - 8, rng.Next(2000)))];
                    if (n % 8 == 1)
                    {
                        for (int i = 8; i < bytes.Length; i++)
                        {
                            bytes[i] = (byte)rng.Next(256);
                        }
                    }
                    break;
                case 2:
                    bytes = (byte[])proof.Clone();
                    for (int m = 0; m < 1 + rng.Next(8); m++)
                    {
                        bytes[rng.Next(bytes.Length)] ^= (byte)(1 + rng.Next(255)); // always a change
                    }
                    break;
                default:
                    bytes = proof[..rng.Next(proof.Length)];
                    // Large counts in the headers must not allocate: set a random 4-byte field to a huge value.
                    if (bytes.Length > 48)
                    {
                        int at = 8 + rng.Next(bytes.Length - 12);
                        BitConverter.TryWriteBytes(bytes.AsSpan(at), (uint)(0x7FFF_FFF0 + rng.Next(15)));
                    }
                    break;
            }
            AssertRejected(models.Mlp, inputs, outputs, bytes, $"case {n % 4}");
        }
    }

    [Fact]
    public void AnOutputShapeWithHugeDimensionsIsATypedRejection()
    {
        // The MLP's first layer has output shape [1, 128] (rank at byte 104, dims from 105): claim [2^24, …, 2^24, 128].
        var (inputs, outputs, proof) = Honest(models.Mlp, 2);
        var parsed = ProofFormat.Read(proof);
        var l0 = parsed.Layers[0];
        var forgedLayer = new LayerProof
        {
            Rows = l0.Rows,
            Columns = l0.Columns,
            Outputs = l0.Outputs,
            OutputShape = [1 << 24, 1 << 24, 1 << 24, 1 << 24, 1 << 24, 1 << 24, 1 << 24, 128],
            LimbEvaluations = l0.LimbEvaluations,
            Rounds = l0.Rounds,
            InputClaim = l0.InputClaim,
            WeightClaim = l0.WeightClaim,
            Opening = l0.Opening,
        };
        var forged = ProofFormat.Write(new InferenceProof { KeyDigest = parsed.KeyDigest, Layers = [forgedLayer, .. parsed.Layers.Skip(1)], Range = parsed.Range });
        AssertRejected(models.Mlp, inputs, outputs, forged, "an output shape with 2^168 elements", ProofCheck.OutputShape);
    }

    /// <summary>[start, end) of every opening in a PRVP v4 proof (the layers' weight openings and the limb opening).</summary>
    internal static List<(int Start, int End)> OpeningRanges(byte[] proof)
    {
        var parsed = ProofFormat.Read(proof);
        var ranges = new List<(int, int)>();
        int at = 4 + 4 + 32 + 32 + 20 + 4;
        foreach (var l in parsed.Layers)
        {
            at += 8 + 1 + 4 * l.OutputShape.Length + l.Outputs.Length;
        }
        var r = parsed.Range;
        at += 40 + 4 * 256 + 1 + 32 + r.LogUpRounds.Sum(level => 64 * level.Length + 64);
        foreach (var l in parsed.Layers)
        {
            at += 16 * 8 + 1 + 16 * l.Rounds.Length + 32 + 4;
            ranges.Add((at, at + l.Opening.Length));
            at += l.Opening.Length;
        }
        at += 1 + 48 * r.BatchRounds.Length + 16 + 4;
        ranges.Add((at, at + r.LimbOpening.Length));
        at += r.LimbOpening.Length;
        Assert.Equal(proof.Length, at);
        return ranges;
    }
}
