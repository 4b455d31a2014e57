using Prova.Core;
using Prova.Proofs.Commitments;
using Prova.Proofs.Field;
using Prova.Proofs.Inference;
using Prova.Runtime.Ops.Quant;
using Xunit.Abstractions;

namespace Prova.Proofs.Tests.Inference;

/// <summary>PRVP v3's requantisation proof: engine-derived intervals, limb range checks (LogUp) and a cheating prover.</summary>
public sealed class RangeArgumentTests(ModelFixtures models, ITestOutputHelper output) : IClassFixture<ModelFixtures>
{
    private const byte HiddenZero = 40;

    private void AssertRejected(ProofCircuit circuit, IReadOnlyDictionary<string, Tensor> inputs, IReadOnlyDictionary<string, Tensor> outputs, byte[] proof, string because, ProofCheck check, string? expected = null)
    {
        var ex = Assert.Throws<ProofException>(() => InferenceVerifier.Verify(circuit, inputs, outputs, proof));
        output.WriteLine($"{because}: {ex.Check}: {ex.Message}");
        Assert.True(ex.Code == ProofErrorCode.Rejected, because + ": " + ex.Message);
        Assert.Equal(check, ex.Check);
        if (expected is not null)
        {
            Assert.Contains(expected, ex.Message);
        }
    }

    /// <summary>A cheating proof: the prover's statement (outputs) and proof; verification must reject it.</summary>
    private (Dictionary<string, Tensor> Outputs, byte[] Proof) Cheat(ProofCircuit circuit, Dictionary<string, Tensor> inputs, ProverCheat cheat)
    {
        var (outputs, proof) = InferenceProver.Prove(circuit, inputs, cheat);
        var bytes = ProofFormat.Write(proof);
        output.WriteLine($"cheating proof: {bytes.Length} bytes");
        return (outputs, bytes);
    }

    [Theory]
    [InlineData(1, 1, true)]
    [InlineData(2, 3, true)]
    [InlineData(3, 4, false)]
    public void SeededModelsWithAFusedReluAndPerChannelScalesProveAndVerify(int seed, int batch, bool perChannel)
    {
        var bytes = TestModels.Mlp(seed, batch, perChannel, HiddenZero);
        using var circuit = ProofCircuit.FromModelBytes(bytes);
        Assert.Equal(2, circuit.Layers.Count);
        Assert.Equal(HiddenZero, circuit.Layers[0].Lo); // the fused Relu clamps at the zero point
        Assert.Equal(perChannel, circuit.Layers[0].Requant.Distinct().Count() > 1);
        var inputs = TestModels.Input(seed + 100, batch);
        var (outputs, proof) = InferenceProver.Prove(circuit, inputs);
        using var plain = new Prova.Runtime.InferenceSession(Prova.Onnx.OnnxLoader.Load(bytes));
        Assert.Equal(TensorEncoding.Hash(plain.Run(inputs)), TensorEncoding.Hash(outputs));
        var proofBytes = ProofFormat.Write(proof);
        output.WriteLine($"seed {seed}: proof {proofBytes.Length} bytes, limb vector 2^{proof.Range.BatchRounds.Length}");
        InferenceVerifier.Verify(circuit, inputs, outputs, proofBytes);
        using var keyOnly = ProofCircuit.FromVerifyingKey(circuit.VerifyingKey);
        InferenceVerifier.Verify(keyOnly, inputs, outputs, proofBytes);
        // Both clamps occur in these runs, so the proof covers clamped outputs too.
        var hidden = proof.Layers[0].Outputs;
        Assert.Contains(HiddenZero, hidden);
    }

    [Fact]
    public void TiesAreRoundedToEvenAndProven()
    {
        using var circuit = ProofCircuit.FromModelBytes(TestModels.Mlp(7, 2, perChannel: false, hiddenZero: 0, tie: true));
        var layer = circuit.Layers[0];
        Assert.Equal(new Requant(1 << 30, 31), layer.Requant[0]); // exactly acc / 2
        var inputs = TestModels.Input(8, 2, integers: true);
        var (outputs, proof) = InferenceProver.Prove(circuit, inputs);
        InferenceVerifier.Verify(circuit, inputs, outputs, ProofFormat.Write(proof));
        // Some accumulator is an odd number whose half is rounded down to even (2k + 0.5 → 2k), where
        // round-half-up would differ: the proof covers the engine's tie rule.
        int ties = 0;
        var acc = Accumulators(circuit, inputs, 0);
        var y = proof.Layers[0].Outputs;
        for (int c = 0; c < acc.Length; c++)
        {
            if (acc[c] > 0 && acc[c] % 4 == 1 && acc[c] / 2 < 255)
            {
                Assert.Equal(acc[c] / 2, y[c]);
                ties++;
            }
        }
        output.WriteLine($"{ties} ties rounded down to even");
        Assert.True(ties > 0);
    }

    [Theory]
    [InlineData(+1, true, "range argument", ProofCheck.LogUpSum)]
    [InlineData(-1, true, "range argument", ProofCheck.LogUpSum)]
    [InlineData(+1, false, "intervals' widths", ProofCheck.LimbWidths)]
    [InlineData(-1, false, "intervals' widths", ProofCheck.LimbWidths)]
    public void AnOutputChangedByOneIsRejected(int delta, bool modP, string expected, ProofCheck check)
    {
        // The cheating prover changes one output of the hidden layer by ±1 and carries it through the
        // rest of the graph (the statement is consistent); the limbs are made to fit modulo p (a limb
        // leaves [0, 256): LogUp) or clamped into range (the limb sums are wrong: relation / sumcheck).
        using var circuit = ProofCircuit.FromModelBytes(TestModels.Mlp(11, 2, perChannel: true, HiddenZero));
        var inputs = TestModels.Input(12, 2);
        var layer = circuit.Layers[0];
        bool changed = false;
        var cheat = new ProverCheat
        {
            Limbs = modP ? CheatLimbs.ModP : CheatLimbs.Clamp,
            Outputs = (l, acc, y) =>
            {
                if (l != 0)
                {
                    return;
                }
                int c = Array.FindIndex(y, v => v + delta > layer.Lo && v + delta < layer.Hi);
                y[c] += delta;
                changed = true;
            },
        };
        var (outputs, proof) = Cheat(circuit, inputs, cheat);
        Assert.True(changed);
        AssertRejected(circuit, inputs, outputs, proof, $"output changed by {delta}", check, expected);
    }

    [Fact]
    public void ATieRoundedHalfUpIsRejected()
    {
        using var circuit = ProofCircuit.FromModelBytes(TestModels.Mlp(7, 2, perChannel: false, hiddenZero: 0, tie: true));
        var inputs = TestModels.Input(8, 2, integers: true);
        bool changed = false;
        var cheat = new ProverCheat
        {
            Outputs = (l, acc, y) =>
            {
                int c = Array.FindIndex(acc, a => a > 0 && a % 4 == 1 && a / 2 < 254);
                if (l == 0 && c >= 0)
                {
                    Assert.Equal(acc[c] / 2, y[c]);
                    y[c] = acc[c] / 2 + 1; // half up
                    changed = true;
                }
            },
        };
        var (outputs, proof) = Cheat(circuit, inputs, cheat);
        Assert.True(changed);
        AssertRejected(circuit, inputs, outputs, proof, "tie rounded half up", ProofCheck.LogUpSum, "range argument");
    }

    [Fact]
    public void UnclampedValuesAreRejected()
    {
        using var circuit = ProofCircuit.FromModelBytes(TestModels.Mlp(13, 4, perChannel: true, HiddenZero, outputScale: 0.002f));
        var inputs = TestModels.Input(14, 4);
        // Beyond hi: an output layer value whose unclamped requantisation exceeds 255, claimed without
        // the clamp (it wraps in the byte, as an engine that forgot the clamp would produce).
        var top = circuit.Layers[1];
        bool wrapped = false;
        var (outputs, proof) = Cheat(circuit, inputs, new ProverCheat
        {
            Outputs = (l, acc, y) =>
            {
                if (l != 1)
                {
                    return;
                }
                for (int c = 0; c < acc.Length && !wrapped; c++)
                {
                    long raw = Requant.RoundShift((long)acc[c] * top.Requant[c % top.N].Multiplier, top.Requant[c % top.N].Shift) + top.YZero;
                    if (raw > top.Hi)
                    {
                        Assert.Equal(top.Hi, y[c]);
                        y[c] = (byte)raw;
                        wrapped = true;
                    }
                }
            },
        });
        Assert.True(wrapped, "no output saturates at hi");
        AssertRejected(circuit, inputs, outputs, proof, "unclamped value above hi", ProofCheck.LogUpSum, "range argument");
        // Below lo: the fused Relu clamps at the zero point; claiming the unclamped value is refused
        // because no accumulator requantises below lo.
        var hidden = circuit.Layers[0];
        bool below = false;
        (outputs, proof) = Cheat(circuit, inputs, new ProverCheat
        {
            Outputs = (l, acc, y) =>
            {
                for (int c = 0; c < acc.Length && l == 0 && !below; c++)
                {
                    long raw = Requant.RoundShift((long)acc[c] * hidden.Requant[c % hidden.N].Multiplier, hidden.Requant[c % hidden.N].Shift) + hidden.YZero;
                    if (raw < hidden.Lo && raw >= 0)
                    {
                        y[c] = (int)raw;
                        below = true;
                    }
                }
            },
        });
        Assert.True(below, "no hidden output is clamped by the Relu");
        AssertRejected(circuit, inputs, outputs, proof, "unclamped value below lo", ProofCheck.OutputReachable, "no int32 accumulator requantises to");
    }

    [Fact]
    public void LeafNumeratorsOtherThanOneAreRejected()
    {
        // A prover whose out-of-range limb (an output changed by one, limbs fitted modulo p) gets the
        // numerator (α − L(x))/α after α is known, so that it counts as a 0 in the table: the root
        // identity P = T·Q and every level of the tree hold, only the leaves' check v_p = 1 fails.
        using var circuit = ProofCircuit.FromModelBytes(TestModels.Mlp(19, 2, perChannel: true, HiddenZero));
        var inputs = TestModels.Input(20, 2);
        int outOfRange = 0;
        var (outputs, proof) = Cheat(circuit, inputs, CheatingProverTests.LeafNumeratorsAfterAlpha(circuit.Layers[0], () => outOfRange++));
        Assert.Equal(1, outOfRange);
        AssertRejected(circuit, inputs, outputs, proof, "a leaf numerator chosen after α", ProofCheck.LogUpLeaves, "numerators are not 1");
    }

    [Fact]
    public void TamperedMultiplicitiesAreRejected()
    {
        // The cheating prover moves one count and then carries on honestly with the moved counts.
        using var circuit = ProofCircuit.FromModelBytes(TestModels.Mlp(15, 3, perChannel: true, HiddenZero));
        var inputs = TestModels.Input(16, 3);
        foreach (var (from, to) in new[] { (0, 1), (0, 255), (1, 0) })
        {
            var (outputs, proof) = Cheat(circuit, inputs, new ProverCheat
            {
                Multiplicities = m =>
                {
                    Assert.True(m[from] > 0);
                    m[from]--;
                    m[to]++;
                },
            });
            AssertRejected(circuit, inputs, outputs, proof, $"a count moved from {from} to {to}", ProofCheck.LogUpSum, "LogUp");
        }
        var (cnnOutputs, cnnProof) = Cheat(models.Cnn, models.Image(3), new ProverCheat { Multiplicities = m => (m[0], m[7]) = (m[0] - 1, m[7] + 1) });
        AssertRejected(models.Cnn, models.Image(3), cnnOutputs, cnnProof, "a count moved in the CNN", ProofCheck.LogUpSum, "LogUp");
    }

    [Fact]
    public void WrongLimbEvaluationsAreRejected()
    {
        using var circuit = ProofCircuit.FromModelBytes(TestModels.Mlp(17, 3, perChannel: true, HiddenZero));
        var inputs = TestModels.Input(18, 3);
        // e_0 + 1 and e_4 − 1: the widths still add up, the accumulator claim is off by one → the layer's sumcheck.
        var (outputs, proof) = Cheat(circuit, inputs, new ProverCheat
        {
            LimbEvaluations = (l, e) =>
            {
                e[0] += Fp2.One;
                e[4] -= Fp2.One;
            },
        });
        AssertRejected(circuit, inputs, outputs, proof, "acc claim off by one", ProofCheck.LayerSumcheckRound, "sumcheck round 0");
        // e_1 + 1 and e_0 − 256: widths and accumulator claim unchanged, only the commitment to L can
        // tell (both slots of the MLP — the second at a nonzero offset — and the CNN's first layer).
        foreach (var (c, l, image) in new[] { (circuit, 0, inputs), (circuit, 1, inputs), (models.Cnn, 0, models.Image(4)) })
        {
            (outputs, proof) = Cheat(c, image, new ProverCheat
            {
                LimbEvaluations = (layer, e) =>
                {
                    if (layer == l)
                    {
                        e[1] += Fp2.One;
                        e[0] -= Fp.FromUInt64(256);
                    }
                },
            });
            AssertRejected(c, image, outputs, proof, $"layer {l}: limbs moved between e_0 and e_1", ProofCheck.BatchFinal, "batching sumcheck");
        }
    }

    [Fact]
    public void TamperedLimbOpeningAndFractionTreeAreRejected()
    {
        var inputs = models.Image(6);
        var (outputs, proof) = InferenceProver.Prove(models.Cnn, inputs);
        var range = proof.Range;
        var o = LigeroOpening.FromBytes(range.LimbOpening);
        var cols = o.Columns.Select(c => (Fp[])c.Clone()).ToArray();
        cols[^1][0] += Fp.One;
        var rows = o.EvaluationRows.Select(r => (Fp2[])r.Clone()).ToArray();
        rows[0][0] += Fp2.One;
        var values = range.LogUpValues.Select(v => (Fp2[])v.Clone()).ToArray();
        values[^1][2] += Fp2.One;
        var rounds = range.LogUpRounds.Select(level => level.Select(r => (Fp2[])r.Clone()).ToArray()).ToArray();
        rounds[^1][^1][3] += Fp2.One;
        var cases = new (string What, string Expected, ProofCheck Check, RangeProof Proof)[]
        {
            ("opened limb column", "the limb opening", ProofCheck.LimbOpening, With(range, opening: new LigeroOpening(o.Combined, o.EvaluationRows, cols, o.Siblings).ToBytes())),
            ("limb evaluation row", "the limb opening", ProofCheck.LimbOpening, With(range, opening: new LigeroOpening(o.Combined, rows, o.Columns, o.Siblings).ToBytes())),
            ("fraction tree leaf value", "fraction tree", ProofCheck.LogUpTreeValues, With(range, values: values)),
            ("fraction tree round", "fraction tree", ProofCheck.LogUpTreeValues, With(range, rounds: rounds)),
            ("root numerator", "LogUp sums differ", ProofCheck.LogUpSum, With(range, root: [range.Root[0] + Fp2.One, range.Root[1]])),
        };
        foreach (var (what, expected, check, forged) in cases)
        {
            var bytes = ProofFormat.Write(new InferenceProof { KeyDigest = proof.KeyDigest, Layers = proof.Layers, Range = forged });
            AssertRejected(models.Cnn, inputs, outputs, bytes, what, check, expected);
        }
    }

    private static RangeProof With(RangeProof r, byte[]? opening = null, Fp2[][]? values = null, Fp2[][][]? rounds = null, Fp2[]? root = null) => new()
    {
        Limbs = r.Limbs,
        Multiplicities = r.Multiplicities,
        Root = root ?? r.Root,
        LogUpRounds = rounds ?? r.LogUpRounds,
        LogUpValues = values ?? r.LogUpValues,
        BatchRounds = r.BatchRounds,
        LimbAtBatch = r.LimbAtBatch,
        LimbOpening = opening ?? r.LimbOpening,
    };

    [Fact]
    public void ProofsAreDeterministicAcrossThreadCounts()
    {
        // The range argument's parallel sums are exact field additions: the same run gives the same bytes.
        var inputs = models.Image(9);
        using var twoThreads = ProofCircuit.FromModelBytes(models.CnnBytes, threads: 2);
        var a = ProofFormat.Write(InferenceProver.Prove(models.Cnn, inputs).Proof);
        var b = ProofFormat.Write(InferenceProver.Prove(twoThreads, inputs).Proof);
        Assert.Equal(a, b);
    }

    [Fact]
    public void AVersion2ProofIsRefusedByName()
    {
        var (_, proof) = InferenceProver.Prove(models.Mlp, models.Image(0));
        var bytes = ProofFormat.Write(proof);
        bytes[4] = 2;
        var ex = Assert.Throws<ProofException>(() => ProofFormat.Read(bytes));
        Assert.Equal(ProofErrorCode.Malformed, ex.Code);
        Assert.Equal("proof-malformed", ex.StableCode);
        Assert.Contains("version 2 not supported", ex.Message);
    }

    [Fact]
    public void RequantIntervalsMatchTheEngineEverywhere()
    {
        var rng = new TestRandom(output);
        for (int n = 0; n < 60; n++)
        {
            // Engine-derived multipliers and shifts, plus extreme shifts (saturating, or always 0).
            var rq = n switch
            {
                0 => new Requant(1 << 30, 0),
                1 => new Requant(int.MaxValue, 63),
                2 => new Requant(1 << 30, 31),
                _ => Requant.Derive(0.001f + rng.Next(1000) / 10000f, 0.0005f + rng.Next(1000) / 100000f, 0.01f + rng.Next(1000) / 1000f),
            };
            int zp = rng.Next(256) - 128;
            int lo = rng.Next(2) == 0 ? -128 : Math.Max(-128, zp);
            var table = RequantTable.Create(rq, zp, lo, 127);
            Assert.Equal(int.MinValue, table.Low(lo));
            long covered = 0;
            for (int v = lo; v <= 127; v++)
            {
                if (table.Reachable(v))
                {
                    covered += table.Width(v) + 1;
                    Assert.True(table.Width(v) <= uint.MaxValue);
                }
            }
            Assert.Equal(1L << 32, covered); // the intervals partition int32
            for (int s = 0; s < 200; s++)
            {
                int acc = s < 4 ? new[] { int.MinValue, int.MaxValue, 0, -1 }[s] : (int)(rng.NextUInt64() >> 32);
                int y = rq.Apply(acc, zp, lo, 127);
                Assert.True(table.Reachable(y));
                Assert.InRange(acc, table.Low(y), table.Low(y) + table.Width(y));
            }
        }
    }

    /// <summary>The honest accumulators of layer l (row-major), from the engine's own run.</summary>
    private static int[] Accumulators(ProofCircuit circuit, Dictionary<string, Tensor> inputs, int l)
    {
        int[]? result = null;
        InferenceProver.Prove(circuit, inputs, new ProverCheat { Outputs = (layer, acc, _) => result ??= layer == l ? (int[])acc.Clone() : null });
        return result!;
    }
}
