using Prova.Core;
using Prova.Core.Crypto;
using Prova.Proofs.Commitments;
using Prova.Proofs.Field;
using Prova.Proofs.Inference;
using Prova.Runtime;
using Xunit.Abstractions;

namespace Prova.Proofs.Tests.Inference;

/// <summary>
/// One cheating prover per verifier check (<see cref="ProofCheck"/>): each test builds a proof whose
/// lie only that check can catch and asserts the verifier refuses it with that check. The mutation run
/// (scripts/proof-mutations.sh) disables each check in turn; these are the tests that must then fail.
/// </summary>
public sealed class CheatingProverTests(ModelFixtures models, ITestOutputHelper output) : IClassFixture<ModelFixtures>
{
    private const byte HiddenZero = 40;

    /// <summary>Verifies the proof object and, where the format can carry it, its bytes; both must name <paramref name="expected"/>.</summary>
    private void AssertRejectedBy(ProofCheck expected, ProofCircuit circuit, IReadOnlyDictionary<string, Tensor> inputs, IReadOnlyDictionary<string, Tensor> outputs, InferenceProof proof, string because, bool viaBytes = true, ProofBinding binding = default, string? detail = null)
    {
        var ex = Assert.Throws<ProofException>(() => InferenceVerifier.Verify(circuit, inputs, outputs, proof, binding));
        output.WriteLine($"{because}: {ex.Check}: {ex.Message}");
        Assert.Equal(expected, ex.Check);
        Assert.Equal(expected == ProofCheck.InputSignature ? ProofErrorCode.BadInput : ProofErrorCode.Rejected, ex.Code);
        if (detail is not null)
        {
            Assert.Contains(detail, ex.Message);
        }
        if (viaBytes)
        {
            var bytes = ProofFormat.Write(proof);
            var fromBytes = Assert.Throws<ProofException>(() => InferenceVerifier.Verify(circuit, inputs, outputs, bytes, binding));
            Assert.Equal(expected, fromBytes.Check);
        }
    }

    private static (Dictionary<string, Tensor> Outputs, InferenceProof Proof) Prove(ProofCircuit circuit, Dictionary<string, Tensor> inputs, ProverCheat? cheat = null)
        => InferenceProver.Prove(circuit, inputs, cheat);

    private static InferenceProof With(InferenceProof p, IReadOnlyList<LayerProof>? layers = null, RangeProof? range = null, byte[]? digest = null) => new()
    {
        KeyDigest = digest ?? p.KeyDigest,
        Binding = p.Binding,
        Layers = layers ?? p.Layers,
        Range = range ?? p.Range,
    };

    private static InferenceProof WithLayer(InferenceProof p, int index, LayerProof layer) => With(p, layers: p.Layers.Select((l, i) => i == index ? layer : l).ToArray());

    private static LayerProof Copy(LayerProof l, int? rows = null, int? columns = null, byte[]? outputs = null, int[]? shape = null, Fp2[]? limbs = null, Fp2[]? rounds = null, Fp2? a = null, Fp2? w = null, byte[]? opening = null) => new()
    {
        Rows = rows ?? l.Rows,
        Columns = columns ?? l.Columns,
        Outputs = outputs ?? l.Outputs,
        OutputShape = shape ?? l.OutputShape,
        LimbEvaluations = limbs ?? l.LimbEvaluations,
        Rounds = rounds ?? l.Rounds,
        InputClaim = a ?? l.InputClaim,
        WeightClaim = w ?? l.WeightClaim,
        Opening = opening ?? l.Opening,
    };

    // ---- The statement ----

    [Fact]
    public void KeyDigestOfAnotherModel()
    {
        var inputs = models.Image(0);
        var (outputs, proof) = Prove(models.Mlp, inputs);
        AssertRejectedBy(ProofCheck.KeyDigest, models.Cnn, inputs, outputs, proof, "an MLP proof presented for the CNN");
        var digest = (byte[])proof.KeyDigest.Clone();
        digest[31] ^= 1;
        AssertRejectedBy(ProofCheck.KeyDigest, models.Mlp, inputs, outputs, With(proof, digest: digest), "one bit of the digest flipped");
    }

    [Fact]
    public void ProofForAnotherRequestOrNode()
    {
        var inputs = models.Image(1);
        var request = Hash256.Parse("0x" + new string('1', 64));
        var node = Address.Parse("0x" + new string('2', 40));
        var made = new ProofBinding(request, node);
        var (outputs, proof) = InferenceProver.Prove(models.Mlp, inputs, made);
        var bytes = ProofFormat.Write(proof);
        InferenceVerifier.Verify(models.Mlp, inputs, outputs, bytes, made);
        var otherRequest = made with { RequestId = Hash256.Parse("0x" + new string('3', 64)) };
        var otherNode = made with { Node = Address.Parse("0x" + new string('4', 40)) };
        AssertRejectedBy(ProofCheck.Binding, models.Mlp, inputs, outputs, proof, "replayed for another request", binding: otherRequest, detail: "not for request 0x3333");
        AssertRejectedBy(ProofCheck.Binding, models.Mlp, inputs, outputs, proof, "claimed by another node", binding: otherNode);
        AssertRejectedBy(ProofCheck.Binding, models.Mlp, inputs, outputs, proof, "verified without a binding", binding: ProofBinding.None);
        // Rewriting the header to the other request does not help: the binding is in the transcript,
        // so every challenge moves and the first cryptographic check (LogUp's root identity) refuses.
        var replayed = new InferenceProof { KeyDigest = proof.KeyDigest, Binding = otherRequest, Layers = proof.Layers, Range = proof.Range };
        AssertRejectedBy(ProofCheck.LogUpSum, models.Mlp, inputs, outputs, replayed, "header rewritten to the other request", binding: otherRequest);
        var claimed = new InferenceProof { KeyDigest = proof.KeyDigest, Binding = otherNode, Layers = proof.Layers, Range = proof.Range };
        AssertRejectedBy(ProofCheck.LogUpSum, models.Mlp, inputs, outputs, claimed, "header rewritten to the other node", binding: otherNode);
    }

    [Fact]
    public void ALayerLeftOut()
    {
        var inputs = models.Image(2);
        var (outputs, proof) = Prove(models.Mlp, inputs);
        AssertRejectedBy(ProofCheck.LayerCount, models.Mlp, inputs, outputs, With(proof, layers: proof.Layers.Skip(1).ToArray()), "the first layer dropped");
    }

    [Fact]
    public void StatementOutputsMissingOrExtra()
    {
        var inputs = models.Image(3);
        var (outputs, proof) = Prove(models.Mlp, inputs);
        var (name, logits) = outputs.Single();
        AssertRejectedBy(ProofCheck.OutputMissing, models.Mlp, inputs, new Dictionary<string, Tensor> { [name + "_renamed"] = logits }, proof, "the output renamed");
        AssertRejectedBy(ProofCheck.OutputExtra, models.Mlp, inputs, new Dictionary<string, Tensor> { [name] = logits, ["extra"] = logits }, proof, "an extra output");
    }

    [Fact]
    public void AProofForAnInputOfAnotherShapeThanTheModelDeclares()
    {
        // The audit's case: the model declares x: uint8[1, 8] and x feeds the proven layer directly
        // (the light graph, which would check the declaration, never sees it). A prover that skips the
        // engine's input checks (it runs the same model declaring [3, 8]) proves a batch of three:
        // every proof check holds, only the statement's input against the declaration refuses it.
        using var circuit = ProofCircuit.FromModelBytes(TestModels.DirectInput(45, 1));
        Assert.Equal("uint8[1, 8]", circuit.Inputs.Single().ToString());
        using var three = new InferenceSession(Prova.Onnx.OnnxLoader.Load(TestModels.DirectInput(45, 3)), new SessionOptions { CaptureWitness = true });
        var batch = TestModels.DirectInputValues(46, 3);
        var (outputs, proof) = Prove(circuit, batch, new ProverCheat { Run = three.RunWithWitness });
        Assert.Equal([3, 4], outputs["y"].Shape.ToArray());
        AssertRejectedBy(ProofCheck.InputSignature, circuit, batch, outputs, proof, "a proof for a [3, 8] input", detail: "the model declares uint8[1, 8]");
        var asInt8 = new Dictionary<string, Tensor> { ["x"] = Tensor.Create([1, 8], new sbyte[8]) };
        AssertRejectedBy(ProofCheck.InputSignature, circuit, asInt8, outputs, proof, "an int8 input");
        AssertRejectedBy(ProofCheck.InputSignature, circuit, new Dictionary<string, Tensor> { ["z"] = batch["x"] }, outputs, proof, "the input renamed");
        var one = TestModels.DirectInputValues(47, 1);
        var (oneOutputs, oneProof) = Prove(circuit, one);
        InferenceVerifier.Verify(circuit, one, oneOutputs, ProofFormat.Write(oneProof));
        AssertRejectedBy(ProofCheck.InputSignature, circuit, new Dictionary<string, Tensor> { ["x"] = one["x"], ["z"] = one["x"] }, oneOutputs, oneProof, "an extra input");
    }

    [Fact]
    public void AnInputTheLightGraphTakesIsCheckedAgainstTheDeclarationToo()
    {
        // A float input that goes through QuantizeLinear: the light graph's own run would refuse it
        // too (and does, in the cheating prover), but the declaration check comes first and names it.
        using var circuit = ProofCircuit.FromModelBytes(TestModels.Mlp(21, 1, perChannel: true, HiddenZero));
        Assert.Equal("float32[1, 24]", circuit.Inputs.Single().ToString());
        var batch = TestModels.Input(22, 3);
        using var three = new InferenceSession(Prova.Onnx.OnnxLoader.Load(TestModels.Mlp(21, 3, perChannel: true, HiddenZero)), new SessionOptions { CaptureWitness = true });
        var refused = Assert.Throws<ProofException>(() => Prove(circuit, batch, new ProverCheat { Run = three.RunWithWitness }));
        Assert.Equal(ProofErrorCode.BadInput, refused.Code);
        var (outputs, proof) = Prove(circuit, TestModels.Input(22, 1));
        AssertRejectedBy(ProofCheck.InputSignature, circuit, batch, outputs, proof, "a [3, 24] input with a [1, 24] proof", detail: "float32[1, 24]");
        var asDouble = new Dictionary<string, Tensor> { ["x"] = Tensor.Create([1, 24], new double[24]) };
        AssertRejectedBy(ProofCheck.InputSignature, circuit, asDouble, outputs, proof, "a float64 input");
    }

    // ---- The layers' public outputs ----

    [Fact]
    public void LayerDimensionsThatDoNotHoldTheOutputs()
    {
        var inputs = models.Image(4);
        var (outputs, proof) = Prove(models.Mlp, inputs);
        var l0 = proof.Layers[0];
        AssertRejectedBy(ProofCheck.LayerDimensions, models.Mlp, inputs, outputs, WithLayer(proof, 0, Copy(l0, columns: l0.Columns + 1)), "one column more than the layer has", viaBytes: false);
        AssertRejectedBy(ProofCheck.LayerDimensions, models.Mlp, inputs, outputs, WithLayer(proof, 0, Copy(l0, outputs: l0.Outputs[..^1])), "one output fewer", viaBytes: false);
    }

    [Fact]
    public void AnOutputNoAccumulatorGives()
    {
        // The hidden layer's fused Relu clamps at its zero point (40): 39 is no requantised value.
        using var circuit = ProofCircuit.FromModelBytes(TestModels.Mlp(23, 2, perChannel: true, HiddenZero));
        var inputs = TestModels.Input(24, 2);
        var (outputs, proof) = Prove(circuit, inputs, new ProverCheat
        {
            Outputs = (l, acc, y) =>
            {
                if (l == 0)
                {
                    y[Array.IndexOf(y, HiddenZero)] = HiddenZero - 1;
                }
            },
        });
        AssertRejectedBy(ProofCheck.OutputReachable, circuit, inputs, outputs, proof, "an output below the Relu's clamp");
    }

    [Fact]
    public void AnOutputShapeThatDoesNotHoldTheOutputs()
    {
        var inputs = models.Image(5);
        var (outputs, proof) = Prove(models.Mlp, inputs);
        var l0 = proof.Layers[0];
        AssertRejectedBy(ProofCheck.OutputShape, models.Mlp, inputs, outputs, WithLayer(proof, 0, Copy(l0, shape: [1, l0.Columns - 1])), "shape [1, N − 1] for N outputs");
    }

    [Fact]
    public void ForgedModelOutputs()
    {
        var inputs = models.Image(6);
        var (outputs, proof) = Prove(models.Cnn, inputs);
        var (name, logits) = outputs.Single();
        var forged = (float[])((float[])logits.Data).Clone();
        forged[0] += 1;
        AssertRejectedBy(ProofCheck.ModelOutputs, models.Cnn, inputs, new Dictionary<string, Tensor> { [name] = Tensor.Create(logits.Shape, forged) }, proof, "a logit raised by one");
    }

    [Fact]
    public void LayerRowsThatDoNotFollowFromTheInput()
    {
        // The first layer claims two rows (its outputs twice, shape [2, 128]) for a one-row input.
        var inputs = models.Image(7);
        var (outputs, proof) = Prove(models.Mlp, inputs);
        var l0 = proof.Layers[0];
        var doubled = Copy(l0, rows: 2, outputs: [.. l0.Outputs, .. l0.Outputs], shape: [2, l0.Columns]);
        var ex = Assert.Throws<ProofException>(() => InferenceVerifier.Verify(models.Mlp, inputs, outputs, WithLayer(proof, 0, doubled)));
        output.WriteLine($"{ex.Check}: {ex.Message}");
        Assert.True(ex.Check is ProofCheck.LayerGeometry or ProofCheck.ModelOutputs, ex.Message);
        // The same on the seeded MLP, whose second layer takes the first's output directly.
        using var circuit = ProofCircuit.FromModelBytes(TestModels.Mlp(25, 1, perChannel: true, HiddenZero));
        var x = TestModels.Input(26, 1);
        var (y, p) = Prove(circuit, x);
        var h = p.Layers[0];
        AssertRejectedBy(ProofCheck.LayerGeometry, circuit, x, y, WithLayer(p, 0, Copy(h, rows: 2, outputs: [.. h.Outputs, .. h.Outputs], shape: [2, h.Columns])), "two rows claimed for a one-row input");
    }

    // ---- The range argument ----

    [Fact]
    public void ALimbCommitmentOfAnotherSize()
    {
        var inputs = models.Image(8);
        var (outputs, proof) = Prove(models.Mlp, inputs);
        var r = proof.Range;
        var bigger = r with { Limbs = r.Limbs with { NumVars = r.Limbs.NumVars + 1 } };
        AssertRejectedBy(ProofCheck.LimbCommitmentShape, models.Mlp, inputs, outputs, With(proof, range: bigger), "a limb commitment twice the size", viaBytes: false);
    }

    [Fact]
    public void ALogUpPartOfTheWrongShape()
    {
        var inputs = models.Image(9);
        var (outputs, proof) = Prove(models.Mlp, inputs);
        var r = proof.Range;
        AssertRejectedBy(ProofCheck.LogUpShape, models.Mlp, inputs, outputs, With(proof, range: r with { Multiplicities = r.Multiplicities[..^1] }), "255 counts", viaBytes: false);
        AssertRejectedBy(ProofCheck.LogUpShape, models.Mlp, inputs, outputs, With(proof, range: r with { LogUpValues = [.. r.LogUpValues[..^1], r.LogUpValues[^1][..3]] }), "three leaf values", viaBytes: false);
    }

    [Fact]
    public void MultiplicitiesThatDoNotCountEveryLimb()
    {
        using var circuit = ProofCircuit.FromModelBytes(TestModels.Mlp(27, 2, perChannel: true, HiddenZero));
        var inputs = TestModels.Input(28, 2);
        var (outputs, proof) = Prove(circuit, inputs, new ProverCheat { Multiplicities = m => m[0]++ });
        AssertRejectedBy(ProofCheck.MultiplicityTotal, circuit, inputs, outputs, proof, "one count too many");
    }

    [Fact]
    public void ALimbOutsideTheTable()
    {
        // An output moved by one with its limbs fitted modulo p: one limb leaves [0, 256).
        using var circuit = ProofCircuit.FromModelBytes(TestModels.Mlp(29, 2, perChannel: true, HiddenZero));
        var inputs = TestModels.Input(30, 2);
        var layer = circuit.Layers[0];
        var (outputs, proof) = Prove(circuit, inputs, new ProverCheat
        {
            Limbs = CheatLimbs.ModP,
            Outputs = (l, acc, y) =>
            {
                if (l == 0)
                {
                    y[Array.FindIndex(y, v => v + 1 > layer.Lo && v + 1 < layer.Hi)] += 1;
                }
            },
        });
        AssertRejectedBy(ProofCheck.LogUpSum, circuit, inputs, outputs, proof, "a limb outside [0, 256)");
    }

    [Fact]
    public void TamperedFractionTree()
    {
        var inputs = models.Image(10);
        var (outputs, proof) = Prove(models.Cnn, inputs);
        var r = proof.Range;
        var rounds = r.LogUpRounds.Select(level => level.Select(x => (Fp2[])x.Clone()).ToArray()).ToArray();
        rounds[^1][^1][3] += Fp2.One; // the last round's h(2): the round sums still hold
        AssertRejectedBy(ProofCheck.LogUpTreeValues, models.Cnn, inputs, outputs, With(proof, range: r with { LogUpRounds = rounds }), "the last round's h(2) of the last level");
        rounds = r.LogUpRounds.Select(level => level.Select(x => (Fp2[])x.Clone()).ToArray()).ToArray();
        rounds[^1][0][0] += Fp2.One;
        AssertRejectedBy(ProofCheck.LogUpTreeSumcheck, models.Cnn, inputs, outputs, With(proof, range: r with { LogUpRounds = rounds }), "the first round's h(0) of the last level", detail: "sumcheck-round-sum");
        var values = r.LogUpValues.Select(v => (Fp2[])v.Clone()).ToArray();
        values[3][1] += Fp2.One;
        AssertRejectedBy(ProofCheck.LogUpTreeValues, models.Cnn, inputs, outputs, With(proof, range: r with { LogUpValues = values }), "a child value of level 3");
        var rounds3 = r.LogUpRounds.Select(level => level.Select(x => (Fp2[])x.Clone()).ToArray()).ToArray();
        rounds3[2] = rounds3[2][..^1];
        AssertRejectedBy(ProofCheck.LogUpTreeSumcheck, models.Cnn, inputs, outputs, With(proof, range: r with { LogUpRounds = rounds3 }), "level 2 with a round missing", viaBytes: false, detail: "sumcheck-shape");
    }

    /// <summary>
    /// A prover that raises one output of layer 0 by one (its limbs fitted modulo p, so one limb is out of range) and,
    /// once α is known, gives that limb the numerator (α − L(x))/α so it counts as a 0 in the table: every LogUp
    /// identity holds except the leaves' v_p = 1. <paramref name="outOfRange"/> is called for each such limb.
    /// </summary>
    internal static ProverCheat LeafNumeratorsAfterAlpha(QuantLayer layer, Action? outOfRange = null) => new()
    {
        Outputs = (l, acc, y) =>
        {
            if (l == 0)
            {
                y[Array.FindIndex(y, v => v + 1 > layer.Lo && v + 1 < layer.Hi)] += 1;
            }
        },
        LeafNumerators = (alpha, limbs) =>
        {
            var p = new Fp2[limbs.Length];
            for (int x = 0; x < limbs.Length; x++)
            {
                p[x] = limbs[x].Value < 256 ? Fp2.One : (alpha - limbs[x]) * alpha.Inverse();
                if (limbs[x].Value >= 256)
                {
                    outOfRange?.Invoke();
                }
            }
            return p;
        },
    };

    [Fact]
    public void LeafNumeratorsChosenAfterAlpha()
    {
        using var circuit = ProofCircuit.FromModelBytes(TestModels.Mlp(31, 2, perChannel: true, HiddenZero));
        var inputs = TestModels.Input(32, 2);
        var (outputs, proof) = Prove(circuit, inputs, LeafNumeratorsAfterAlpha(circuit.Layers[0]));
        AssertRejectedBy(ProofCheck.LogUpLeaves, circuit, inputs, outputs, proof, "a leaf numerator picked after α");
    }

    [Fact]
    public void LimbEvaluationsMovedBetweenLimbs()
    {
        // e_1 + 1, e_0 − 256: widths and accumulator claim intact; only the batch against L refuses.
        using var circuit = ProofCircuit.FromModelBytes(TestModels.Mlp(33, 3, perChannel: true, HiddenZero));
        var inputs = TestModels.Input(34, 3);
        var (outputs, proof) = Prove(circuit, inputs, new ProverCheat
        {
            LimbEvaluations = (l, e) =>
            {
                if (l == 1)
                {
                    e[1] += Fp2.One;
                    e[0] -= Fp.FromUInt64(256);
                }
            },
        });
        AssertRejectedBy(ProofCheck.BatchFinal, circuit, inputs, outputs, proof, "limb value moved from e_0 to e_1");
    }

    [Fact]
    public void TamperedBatchingSumcheck()
    {
        var inputs = models.Image(11);
        var (outputs, proof) = Prove(models.Mlp, inputs);
        var r = proof.Range;
        var rounds = r.BatchRounds.Select(x => (Fp2[])x.Clone()).ToArray();
        rounds[0][1] += Fp2.One;
        AssertRejectedBy(ProofCheck.BatchSumcheck, models.Mlp, inputs, outputs, With(proof, range: r with { BatchRounds = rounds }), "h(1) of the first batching round", detail: "sumcheck-round-sum");
        AssertRejectedBy(ProofCheck.BatchFinal, models.Mlp, inputs, outputs, With(proof, range: r with { LimbAtBatch = r.LimbAtBatch + Fp2.One }), "L~(ρ') + 1");
    }

    [Fact]
    public void TamperedLimbOpening()
    {
        var inputs = models.Image(12);
        var (outputs, proof) = Prove(models.Mlp, inputs);
        var r = proof.Range;
        AssertRejectedBy(ProofCheck.LimbOpeningMalformed, models.Mlp, inputs, outputs, With(proof, range: r with { LimbOpening = r.LimbOpening[..^1] }), "a truncated limb opening");
        var o = LigeroOpening.FromBytes(r.LimbOpening);
        foreach (var (what, forged, code) in Tamper(o))
        {
            AssertRejectedBy(ProofCheck.LimbOpening, models.Mlp, inputs, outputs, With(proof, range: r with { LimbOpening = forged.ToBytes() }), "limb opening: " + what, detail: code);
        }
    }

    /// <summary>Openings with one part changed, each caught by one check of the PCS (named in the message).</summary>
    private static IEnumerable<(string What, LigeroOpening Opening, string Code)> Tamper(LigeroOpening o)
    {
        var cols = o.Columns.Select(c => (Fp[])c.Clone()).ToArray();
        cols[^1][0] += Fp.One;
        yield return ("an opened column", new LigeroOpening(o.Combined, o.EvaluationRows, cols, o.Siblings), "pcs-merkle");
        var rows = o.EvaluationRows.Select(x => (Fp2[])x.Clone()).ToArray();
        rows[0][0] += Fp2.One;
        yield return ("the evaluation row", new LigeroOpening(o.Combined, rows, o.Columns, o.Siblings), "pcs-value");
        if (o.Siblings.Length > 0)
        {
            // (None when the queries cover every column.)
            var siblings = (Hash256[])o.Siblings.Clone();
            siblings[0] = Hash256.Zero;
            yield return ("a Merkle sibling", new LigeroOpening(o.Combined, o.EvaluationRows, o.Columns, siblings), "pcs-merkle");
        }
        yield return ("a Merkle sibling too many", new LigeroOpening(o.Combined, o.EvaluationRows, o.Columns, [.. o.Siblings, Hash256.Zero]), "merkle-shape");
        yield return ("a column left out", new LigeroOpening(o.Combined, o.EvaluationRows, o.Columns[..^1], o.Siblings), "pcs-shape");
    }

    // ---- Per layer ----

    [Fact]
    public void LayerSumcheckAndLimbCountsOfTheWrongShape()
    {
        var inputs = models.Image(13);
        var (outputs, proof) = Prove(models.Mlp, inputs);
        var l1 = proof.Layers[1];
        AssertRejectedBy(ProofCheck.LayerSumcheckShape, models.Mlp, inputs, outputs, WithLayer(proof, 1, Copy(l1, rounds: l1.Rounds[..^3])), "a round left out");
        AssertRejectedBy(ProofCheck.LimbEvaluationCount, models.Mlp, inputs, outputs, WithLayer(proof, 1, Copy(l1, limbs: l1.LimbEvaluations[..^1])), "seven limb evaluations", viaBytes: false);
    }

    [Fact]
    public void LimbsThatDoNotAddUpToTheWidths()
    {
        // An output moved by one with its limbs clamped into bytes: d_lo + d_hi ≠ width.
        using var circuit = ProofCircuit.FromModelBytes(TestModels.Mlp(35, 2, perChannel: true, HiddenZero));
        var inputs = TestModels.Input(36, 2);
        var layer = circuit.Layers[0];
        var (outputs, proof) = Prove(circuit, inputs, new ProverCheat
        {
            Limbs = CheatLimbs.Clamp,
            Outputs = (l, acc, y) =>
            {
                if (l == 0)
                {
                    y[Array.FindIndex(y, v => v + 1 > layer.Lo && v + 1 < layer.Hi)] += 1;
                }
            },
        });
        AssertRejectedBy(ProofCheck.LimbWidths, circuit, inputs, outputs, proof, "limbs clamped into bytes");
    }

    [Fact]
    public void AnAccumulatorClaimOffByOne()
    {
        // e_0 + 1, e_4 − 1: the widths still add up, acc~(r) is one too large → the sumcheck's first round.
        using var circuit = ProofCircuit.FromModelBytes(TestModels.Mlp(37, 2, perChannel: true, HiddenZero));
        var inputs = TestModels.Input(38, 2);
        var (outputs, proof) = Prove(circuit, inputs, new ProverCheat
        {
            LimbEvaluations = (l, e) =>
            {
                e[0] += Fp2.One;
                e[4] -= Fp2.One;
            },
        });
        AssertRejectedBy(ProofCheck.LayerSumcheckRound, circuit, inputs, outputs, proof, "acc claim off by one", detail: "sumcheck round 0");
    }

    [Fact]
    public void AFinalClaimThatIsNotAStarTimesWStar()
    {
        var inputs = models.Image(14);
        var (outputs, proof) = Prove(models.Mlp, inputs);
        var l0 = proof.Layers[0];
        var rounds = (Fp2[])l0.Rounds.Clone();
        rounds[^1] += Fp2.One; // h(2) of the last round: every round sum holds, the final claim moves
        AssertRejectedBy(ProofCheck.LayerSumcheckFinal, models.Mlp, inputs, outputs, WithLayer(proof, 0, Copy(l0, rounds: rounds)), "the last round's h(2)");
        AssertRejectedBy(ProofCheck.LayerSumcheckFinal, models.Mlp, inputs, outputs, WithLayer(proof, 0, Copy(l0, a: l0.InputClaim + Fp2.One)), "a* + 1");
        AssertRejectedBy(ProofCheck.LayerSumcheckFinal, models.Mlp, inputs, outputs, WithLayer(proof, 0, Copy(l0, w: l0.WeightClaim + Fp2.One)), "w* + 1");
    }

    [Theory]
    [InlineData(41, 1)]
    [InlineData(43, 3)]
    public void AForgedClassWhoseActivationTableWasEdited(int seed, int batch)
    {
        // The audit's attack: the prover raises a losing class's logit to the top (its accumulator set
        // to the low end of the forged value's interval, limbs honest for it) and edits the activation
        // table of the output layer's sumcheck so that Σ a(k)·w(k) matches. Sumcheck, a*·w*, weight
        // opening and range argument all hold: only a* = X'~(r_i, ρ) catches the forged class.
        using var circuit = ProofCircuit.FromModelBytes(TestModels.Mlp(seed, batch, perChannel: true, HiddenZero));
        var inputs = TestModels.Input(seed + 1, batch);
        var (honest, _) = Prove(circuit, inputs);
        var top = circuit.Layers[1];
        int forgedClass = -1;
        var (outputs, proof) = Prove(circuit, inputs, new ProverCheat
        {
            ForgeActivationTable = true,
            Outputs = (l, acc, y) =>
            {
                if (l != 1)
                {
                    return;
                }
                int n = top.N;
                int best = Array.IndexOf(y[..n], y[..n].Max());
                forgedClass = best == 0 ? 1 : 0;
                int value = Math.Min(top.Hi, y[best] + 2);
                while (!top.Tables[forgedClass].Reachable(value))
                {
                    value--;
                }
                y[forgedClass] = value;
                acc[forgedClass] = (int)top.Tables[forgedClass].Low(value);
            },
        });
        var honestLogits = (float[])honest["y"].Data;
        var forgedLogits = (float[])outputs["y"].Data;
        Assert.True(forgedLogits[forgedClass] > honestLogits[forgedClass], "the forged logit was raised");
        Assert.Equal(forgedClass, Array.IndexOf(forgedLogits[..top.N], forgedLogits[..top.N].Max()));
        Assert.NotEqual(forgedClass, Array.IndexOf(honestLogits[..top.N], honestLogits[..top.N].Max()));
        AssertRejectedBy(ProofCheck.ActivationClaim, circuit, inputs, outputs, proof, $"class {forgedClass} forged");
    }

    [Fact]
    public void TamperedOrSwappedWeightOpenings()
    {
        var inputs = models.Image(15);
        var (outputs, proof) = Prove(models.Cnn, inputs);
        var l1 = proof.Layers[1];
        AssertRejectedBy(ProofCheck.WeightOpeningMalformed, models.Cnn, inputs, outputs, WithLayer(proof, 1, Copy(l1, opening: l1.Opening[..^1])), "a truncated weight opening");
        foreach (var (what, forged, code) in Tamper(LigeroOpening.FromBytes(l1.Opening)))
        {
            AssertRejectedBy(ProofCheck.WeightOpening, models.Cnn, inputs, outputs, WithLayer(proof, 1, Copy(l1, opening: forged.ToBytes())), "weight opening: " + what, detail: code);
        }
        // Layer 2's opening in layer 1's place (another commitment, another point).
        AssertRejectedBy(ProofCheck.WeightOpening, models.Cnn, inputs, outputs, WithLayer(proof, 1, Copy(l1, opening: proof.Layers[2].Opening)), "layer 2's opening for layer 1");
    }
}
