using Prova.Core;
using Prova.Proofs.Commitments;
using Prova.Proofs.Field;
using Prova.Proofs.Inference;
using Xunit.Abstractions;

namespace Prova.Proofs.Tests.Inference;

public sealed class VerifyingKeyTests(ModelFixtures models, ITestOutputHelper output) : IClassFixture<ModelFixtures>
{
    private static void AssertRejected(ProofCircuit circuit, IReadOnlyDictionary<string, Tensor> inputs, IReadOnlyDictionary<string, Tensor> outputs, byte[] proof, string because, ProofCheck check)
    {
        var ex = Assert.Throws<ProofException>(() => InferenceVerifier.Verify(circuit, inputs, outputs, proof));
        Assert.True(ex.Code is ProofErrorCode.Rejected, because + ": " + ex.Message);
        Assert.True(check == ex.Check, $"{because}: expected {check}, rejected by {ex.Check}: {ex.Message}");
    }

    [Theory]
    [InlineData("mlp", 0)]
    [InlineData("cnn", 3)]
    public void AKeyWithoutTheWeightsVerifiesAnHonestProof(string which, int image)
    {
        var full = which == "mlp" ? models.Mlp : models.Cnn;
        var modelBytes = which == "mlp" ? models.MlpBytes : models.CnnBytes;
        var key = full.VerifyingKey;
        output.WriteLine($"{which}: key {key.Length} bytes, model {modelBytes.Length} bytes");
        using var verifier = ProofCircuit.FromVerifyingKey(key);
        Assert.Equal(full.KeyDigest, verifier.KeyDigest);
        Assert.Equal(full.ModelCid, verifier.ModelCid);
        Assert.Equal(key, verifier.VerifyingKey);
        var inputs = models.Image(image);
        var (outputs, proof) = InferenceProver.Prove(full, inputs);
        var bytes = ProofFormat.Write(proof);
        InferenceVerifier.Verify(verifier, inputs, outputs, bytes);
        // The key holds no weights: it cannot prove, and the MLP's key is far smaller than its weights.
        var ex = Assert.Throws<ProofException>(() => InferenceProver.Prove(verifier, inputs));
        Assert.Equal(ProofErrorCode.Unsupported, ex.Code);
        if (which == "mlp")
        {
            Assert.True(key.Length < modelBytes.Length / 10, $"key {key.Length} bytes vs model {modelBytes.Length}");
        }
    }

    [Fact]
    public void TheKeyIsDeterministicAndMatchesOnlyItsModel()
    {
        using var again = ProofCircuit.FromModelBytes(models.CnnBytes);
        Assert.Equal(models.Cnn.VerifyingKey, again.VerifyingKey);
        using var cnnKey = ProofCircuit.FromVerifyingKey(models.Cnn.VerifyingKey);
        Assert.True(cnnKey.MatchesModel(models.CnnBytes));
        Assert.False(cnnKey.MatchesModel(models.MlpBytes));
        Assert.False(cnnKey.MatchesModel(ModelFixtures.WithOneWeightChanged(models.CnnBytes, "fc.weight_quantized", 10)));
    }

    [Fact]
    public void OneModelsKeyRejectsAnothersProof()
    {
        using var mlpKey = ProofCircuit.FromVerifyingKey(models.Mlp.VerifyingKey);
        using var cnnKey = ProofCircuit.FromVerifyingKey(models.Cnn.VerifyingKey);
        var inputs = models.Image(1);
        var (mlpOut, mlpProof) = InferenceProver.Prove(models.Mlp, inputs);
        var (cnnOut, cnnProof) = InferenceProver.Prove(models.Cnn, inputs);
        AssertRejected(cnnKey, inputs, mlpOut, ProofFormat.Write(mlpProof), "MLP proof under the CNN key", ProofCheck.KeyDigest);
        AssertRejected(mlpKey, inputs, cnnOut, ProofFormat.Write(cnnProof), "CNN proof under the MLP key", ProofCheck.KeyDigest);
        // A proof re-labelled with the other key's digest: the layer count differs.
        var relabelled = new InferenceProof { KeyDigest = cnnKey.KeyDigest, Layers = mlpProof.Layers, Range = mlpProof.Range };
        AssertRejected(cnnKey, inputs, mlpOut, ProofFormat.Write(relabelled), "MLP proof relabelled with the CNN digest", ProofCheck.LayerCount);
    }

    [Fact]
    public void ATamperedKeyRejectsHonestProofs()
    {
        var key = models.Cnn.VerifyingKey;
        var inputs = models.Image(2);
        var (outputs, proof) = InferenceProver.Prove(models.Cnn, inputs);
        var bytes = ProofFormat.Write(proof);
        // The last 40 bytes are the last layer's weight commitment: change its Merkle root.
        var forged = (byte[])key.Clone();
        forged[^40] ^= 1;
        using var tampered = ProofCircuit.FromVerifyingKey(forged);
        Assert.False(tampered.MatchesModel(models.CnnBytes));
        AssertRejected(tampered, inputs, outputs, bytes, "weight commitment changed in the key", ProofCheck.KeyDigest);
    }

    [Fact]
    public void ATamperedWeightOpeningIsRejected()
    {
        var inputs = models.Image(5);
        var (outputs, proof) = InferenceProver.Prove(models.Cnn, inputs);
        for (int layer = 0; layer < proof.Layers.Count; layer++)
        {
            var lp = proof.Layers[layer];
            var o = LigeroOpening.FromBytes(lp.Opening);
            var tampers = new List<(string What, LigeroOpening Opening)>();
            var cols = o.Columns.Select(c => (Fp[])c.Clone()).ToArray();
            cols[0][0] += Fp.One;
            tampers.Add(("opened column entry", new LigeroOpening(o.Combined, o.EvaluationRows, cols, o.Siblings)));
            var rows = o.EvaluationRows.Select(r => (Fp2[])r.Clone()).ToArray();
            rows[0][^1] += Fp2.One;
            tampers.Add(("evaluation row", new LigeroOpening(o.Combined, rows, o.Columns, o.Siblings)));
            var combined = (Fp2[])o.Combined.Clone();
            combined[0] += Fp2.One;
            tampers.Add(("combined row", new LigeroOpening(combined, o.EvaluationRows, o.Columns, o.Siblings)));
            if (o.Siblings.Length > 0)
            {
                var sib = (Prova.Core.Crypto.Hash256[])o.Siblings.Clone();
                var b = sib[0].ToArray();
                b[3] ^= 0x10;
                sib[0] = new Prova.Core.Crypto.Hash256(b);
                tampers.Add(("Merkle sibling", new LigeroOpening(o.Combined, o.EvaluationRows, o.Columns, sib)));
            }
            foreach (var (what, opening) in tampers)
            {
                var layers = proof.Layers.ToArray();
                layers[layer] = new LayerProof { Rows = lp.Rows, Columns = lp.Columns, OutputShape = lp.OutputShape, Outputs = lp.Outputs, LimbEvaluations = lp.LimbEvaluations, Rounds = lp.Rounds, InputClaim = lp.InputClaim, WeightClaim = lp.WeightClaim, Opening = opening.ToBytes() };
                var forged = ProofFormat.Write(new InferenceProof { KeyDigest = proof.KeyDigest, Layers = layers, Range = proof.Range });
                var ex = Assert.Throws<ProofException>(() => InferenceVerifier.Verify(models.Cnn, inputs, outputs, forged));
                Assert.Equal(ProofErrorCode.Rejected, ex.Code);
                Assert.Equal(ProofCheck.WeightOpening, ex.Check);
                Assert.Contains("weight opening", ex.Message);
                output.WriteLine($"layer {layer}, {what}: {ex.Message}");
            }
        }
    }

    [Fact]
    public void MutatedOrRandomKeyBytesGiveOnlyTypedErrors()
    {
        var rng = new TestRandom(output);
        var key = models.Mlp.VerifyingKey;
        for (int n = 0; n < 300; n++)
        {
            byte[] bytes;
            switch (n % 3)
            {
                case 0:
                    bytes = key[..rng.Next(key.Length)];
                    break;
                case 1:
                    bytes = (byte[])key.Clone();
                    for (int m = 0; m < 1 + rng.Next(4); m++)
                    {
                        bytes[rng.Next(bytes.Length)] ^= (byte)(1 + rng.Next(255));
                    }
                    if (bytes.AsSpan().SequenceEqual(key))
                    {
                        bytes[0] ^= 1; // two changes at one place cancelled out: the case must still be a mutation
                    }
                    break;
                default:
                    bytes = (byte[])key.Clone();
                    if (bytes.Length > 16)
                    {
                        BitConverter.TryWriteBytes(bytes.AsSpan(8 + rng.Next(bytes.Length - 12)), (uint)(0x7FFF_FFF0 + rng.Next(15)));
                    }
                    break;
            }
            try
            {
                using var c = ProofCircuit.FromVerifyingKey(bytes);
                Assert.False(c.KeyDigest.AsSpan().SequenceEqual(models.Mlp.KeyDigest));
            }
            catch (ProofException ex)
            {
                Assert.True(ex.Code is ProofErrorCode.Malformed or ProofErrorCode.Unsupported, ex.Message);
            }
        }
    }
}
