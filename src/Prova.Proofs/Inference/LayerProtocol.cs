using Prova.Proofs.Commitments;
using Prova.Proofs.Field;
using Prova.Proofs.Transcript;

namespace Prova.Proofs.Inference;

/// <summary>
/// The per-layer argument (docs/proofs.md): challenges r_i, r_j (drawn after the outputs and both
/// limb commitments are bound); the prover sends the limb evaluations e_k, from which the verifier
/// gets Acc~(r_i, r_j) = A_lo~(r) + Σ_{k&lt;4} 256^k·e_k; the claim c = Acc~(r_i, r_j) − B~(r_j)·Rows~(r_i)
/// is proven by a sumcheck over k,
/// c = Σ_k a(k)·w(k) with a(k) = X'~(r_i, k) and w(k) = W'~(k, r_j), ending at a random ρ where the
/// verifier evaluates X'~(r_i, ρ) from the activations and W'~(ρ, r_j) from the weights.
/// </summary>
internal static class LayerProtocol
{
    /// <summary>
    /// The weight and limb commitments' parameters (protocol constants): rate 1/4 and t = 275 queries,
    /// 114 bits per opening, so that up to 4096 layers keep ≥ 100 bits overall (docs/proofs.md).
    /// </summary>
    public static LigeroParameters WeightPcs { get; } = LigeroParameters.ForSecurity(114, 2);

    public static LayerProof Prove(ProofTranscript t, QuantLayer layer, LigeroCommitted weights, int[] xc, LayerGeometry g, RangeProver range, int index, byte[] outputs, int[] outputShape, int[] acc, ProverCheat? cheat)
    {
        var (ri, rj) = Begin(t, layer, g);
        var limbs = range.LayerLimbs(t, index, [.. ri, .. rj]);
        int kVars = Eq.Vars(layer.K);
        var eqI = Eq.Table(ri);
        var eqJ = Eq.Table(rj);
        var a = new Fp2[1 << kVars];
        layer.ForEachEntry(xc, g, (i, k, v) => a[k] += eqI[i] * Fp.FromInt64(v));
        var w = WeightRow(layer, eqJ, 1 << kVars);
        if (cheat?.ForgeActivationTable == true)
        {
            ForgeActivations(layer, g, acc, eqI, eqJ, a, w);
        }
        var rounds = new Fp2[3 * kVars];
        var rhoAll = new Fp2[kVars];
        int size = a.Length;
        for (int round = 0; round < kVars; round++)
        {
            Fp2 g0 = Fp2.Zero;
            Fp2 g1 = Fp2.Zero;
            Fp2 g2 = Fp2.Zero;
            int half = size / 2;
            for (int m = 0; m < half; m++)
            {
                var a0 = a[2 * m];
                var a1 = a[2 * m + 1];
                var w0 = w[2 * m];
                var w1 = w[2 * m + 1];
                g0 += a0 * w0;
                g1 += a1 * w1;
                g2 += (a1 + a1 - a0) * (w1 + w1 - w0);
            }
            rounds[3 * round] = g0;
            rounds[3 * round + 1] = g1;
            rounds[3 * round + 2] = g2;
            t.AbsorbFp2s("round", rounds.AsSpan(3 * round, 3));
            var rho = t.ChallengeFp2("rho");
            rhoAll[round] = rho;
            for (int m = 0; m < half; m++)
            {
                a[m] = a[2 * m] + rho * (a[2 * m + 1] - a[2 * m]);
                w[m] = w[2 * m] + rho * (w[2 * m + 1] - w[2 * m]);
            }
            size = half;
        }
        t.AbsorbFp2("a", a[0]);
        t.AbsorbFp2("w", w[0]);
        var opening = LigeroPcs.Open(t, weights, [WeightPoint(rhoAll, rj)], out var opened);
        if (opened[0] != w[0])
        {
            throw new ProofException(ProofErrorCode.Unsupported, $"layer '{layer.Name}': the committed weights do not evaluate to the sumcheck's weight claim");
        }
        return new LayerProof
        {
            Rows = g.M,
            Columns = layer.N,
            Outputs = outputs,
            OutputShape = outputShape,
            LimbEvaluations = limbs,
            Rounds = rounds,
            InputClaim = a[0],
            WeightClaim = w[0],
            Opening = opening.ToBytes(),
        };
    }

    /// <summary>
    /// Checks one layer given its outputs y (row-major, already checked to lie in [lo, hi] with a
    /// non-empty interval); throws <see cref="ProofException"/> (Rejected) when it does not hold.
    /// </summary>
    public static void Verify(ProofTranscript t, QuantLayer layer, LigeroCommitment weights, int[] xc, LayerGeometry g, LayerProof proof, int[] y, RangeVerifier range, int index)
    {
        int kVars = Eq.Vars(layer.K);
        if (proof.Rounds.Length != 3 * kVars && VerifierMutation.Live(ProofCheck.LayerSumcheckShape))
        {
            throw Reject(layer, ProofCheck.LayerSumcheckShape, $"the sumcheck has {proof.Rounds.Length / 3} rounds; expected {kVars}");
        }
        if (proof.LimbEvaluations.Length != LimbLayout.Limbs && VerifierMutation.Live(ProofCheck.LimbEvaluationCount))
        {
            throw Reject(layer, ProofCheck.LimbEvaluationCount, $"{proof.LimbEvaluations.Length} limb evaluations; expected {LimbLayout.Limbs}");
        }
        var (ri, rj) = Begin(t, layer, g);
        var eqI = Eq.Table(ri);
        var eqJ = Eq.Table(rj);
        // A_lo~(r) and Width~(r) from the outputs and the requantisation intervals.
        var tables = layer.Tables;
        int n = layer.N;
        Fp2 lowEval = Fp2.Zero;
        Fp2 widthEval = Fp2.Zero;
        for (int i = 0; i < g.M; i++)
        {
            Fp2 lowRow = Fp2.Zero;
            Fp2 widthRow = Fp2.Zero;
            for (int j = 0; j < n; j++)
            {
                var table = tables[j];
                int v = y[i * n + j];
                lowRow += eqJ[j] * Fp.FromInt64(table.Low(v));
                widthRow += eqJ[j] * Fp.FromInt64(table.Width(v));
            }
            lowEval += eqI[i] * lowRow;
            widthEval += eqI[i] * widthRow;
        }
        var e = proof.LimbEvaluations;
        Fp2 dLo = Fp2.Zero;
        Fp2 dHi = Fp2.Zero;
        for (int k = 3; k >= 0; k--)
        {
            dLo = dLo * Fp.FromUInt64(256) + e[k];
            dHi = dHi * Fp.FromUInt64(256) + e[k + 4];
        }
        if (dLo + dHi != widthEval && VerifierMutation.Live(ProofCheck.LimbWidths))
        {
            throw Reject(layer, ProofCheck.LimbWidths, "the limbs of acc − A_lo(y) and A_hi(y) − acc do not add up to the requantisation intervals' widths");
        }
        range.LayerLimbs(t, index, [.. ri, .. rj], e);
        Fp2 biasEval = Fp2.Zero;
        for (int j = 0; j < n; j++)
        {
            biasEval += eqJ[j] * Fp.FromInt64(layer.Bias[j]);
        }
        // c = Acc~(r_i, r_j) − B~(r_j)·Rows~(r_i) with Acc~ = A_lo~ + d_lo~.
        var claim = lowEval + dLo - biasEval * Eq.PrefixSum(eqI, g.M);
        var rho = new Fp2[kVars];
        for (int round = 0; round < kVars; round++)
        {
            var g0 = proof.Rounds[3 * round];
            var g1 = proof.Rounds[3 * round + 1];
            var g2 = proof.Rounds[3 * round + 2];
            if (g0 + g1 != claim && VerifierMutation.Live(ProofCheck.LayerSumcheckRound))
            {
                throw Reject(layer, ProofCheck.LayerSumcheckRound, $"sumcheck round {round} does not add up");
            }
            t.AbsorbFp2s("round", proof.Rounds.AsSpan(3 * round, 3));
            var r = t.ChallengeFp2("rho");
            rho[round] = r;
            // Degree-2 interpolation through (0, g0), (1, g1), (2, g2) at r.
            var inv2 = new Fp2(Fp.FromUInt64(2).Inverse(), Fp.Zero);
            var l0 = (r - Fp.One) * (r - Fp.FromUInt64(2)) * inv2;
            var l1 = -(r * (r - Fp.FromUInt64(2)));
            var l2 = r * (r - Fp.One) * inv2;
            claim = g0 * l0 + g1 * l1 + g2 * l2;
        }
        if (proof.InputClaim * proof.WeightClaim != claim && VerifierMutation.Live(ProofCheck.LayerSumcheckFinal))
        {
            throw Reject(layer, ProofCheck.LayerSumcheckFinal, "the final sumcheck claim does not match");
        }
        t.AbsorbFp2("a", proof.InputClaim);
        t.AbsorbFp2("w", proof.WeightClaim);
        var eqK = Eq.Table(rho);
        Fp2 xEval = Fp2.Zero;
        layer.ForEachEntry(xc, g, (i, k, v) => xEval += eqI[i] * eqK[k] * Fp.FromInt64(v));
        if (xEval != proof.InputClaim && VerifierMutation.Live(ProofCheck.ActivationClaim))
        {
            throw Reject(layer, ProofCheck.ActivationClaim, "the activations do not match the sumcheck's input claim");
        }
        // W'~(ρ, r_j) from the key's commitment to the weights.
        LigeroOpening opening;
        try
        {
            opening = LigeroOpening.FromBytes(proof.Opening);
        }
        catch (ProofFormatException ex) when (VerifierMutation.Live(ProofCheck.WeightOpeningMalformed))
        {
            throw Reject(layer, ProofCheck.WeightOpeningMalformed, "the weight opening is malformed: " + ex.Message);
        }
        try
        {
            LigeroPcs.Verify(t, weights, [WeightPoint(rho, rj)], [proof.WeightClaim], opening, WeightPcs);
        }
        catch (ProofRejectedException ex) when (VerifierMutation.Live(ProofCheck.WeightOpening))
        {
            throw Reject(layer, ProofCheck.WeightOpening, $"the weight opening does not prove the sumcheck's weight claim ({ex.Code}: {ex.Message})");
        }
    }

    /// <summary>
    /// A cheating prover (tests only) whose accumulators are not X'·W' + bias: it changes one entry of
    /// the activation table a(k) so that Σ_k a(k)·w(k) is the claim its accumulators give. The sumcheck,
    /// a*·w* and the weight opening then all hold; only a* = X'~(r_i, ρ) can tell.
    /// </summary>
    private static void ForgeActivations(QuantLayer layer, LayerGeometry g, int[] acc, Fp2[] eqI, Fp2[] eqJ, Fp2[] a, Fp2[] w)
    {
        int n = layer.N;
        Fp2 target = Fp2.Zero;
        for (int i = 0; i < g.M; i++)
        {
            for (int j = 0; j < n; j++)
            {
                target += eqI[i] * eqJ[j] * Fp.FromInt64((long)acc[i * n + j] - layer.Bias[j]);
            }
        }
        Fp2 sum = Fp2.Zero;
        for (int k = 0; k < a.Length; k++)
        {
            sum += a[k] * w[k];
        }
        int k0 = Array.FindIndex(w, v => v != Fp2.Zero);
        a[k0] += (target - sum) * w[k0].Inverse();
    }

    /// <summary>The point (ρ ‖ r_j) at which the committed W' table is opened.</summary>
    private static Fp2[] WeightPoint(Fp2[] rho, Fp2[] rj) => [.. rho, .. rj];

    private static (Fp2[] Ri, Fp2[] Rj) Begin(ProofTranscript t, QuantLayer layer, LayerGeometry g)
    {
        var ri = t.ChallengeFp2s("r_i", Eq.Vars(g.M));
        var rj = t.ChallengeFp2s("r_j", Eq.Vars(layer.N));
        return (ri, rj);
    }

    /// <summary>w(k) = Σ_j eq(r_j, j)·W'[k, j] for k &lt; K (zero beyond).</summary>
    private static Fp2[] WeightRow(QuantLayer layer, Fp2[] eqJ, int length)
    {
        var w = new Fp2[length];
        int n = layer.N;
        var weights = layer.Weights;
        for (int k = 0; k < layer.K; k++)
        {
            w[k] = SmallDot(eqJ, weights.AsSpan(k * n, n));
        }
        return w;
    }

    /// <summary>Σ_j eq[j]·v[j] for small integers v (|v| &lt; 2^15): 128-bit accumulation, one reduction.</summary>
    private static Fp2 SmallDot(Fp2[] eq, ReadOnlySpan<short> v)
    {
        UInt128 pos0 = 0;
        UInt128 pos1 = 0;
        UInt128 neg0 = 0;
        UInt128 neg1 = 0;
        for (int j = 0; j < v.Length; j++)
        {
            int x = v[j];
            if (x > 0)
            {
                pos0 += Wide(eq[j].C0.Value, (ulong)x);
                pos1 += Wide(eq[j].C1.Value, (ulong)x);
            }
            else if (x < 0)
            {
                neg0 += Wide(eq[j].C0.Value, (ulong)-x);
                neg1 += Wide(eq[j].C1.Value, (ulong)-x);
            }
        }
        return new Fp2(Reduce(pos0) - Reduce(neg0), Reduce(pos1) - Reduce(neg1));
    }

    private static UInt128 Wide(ulong a, ulong b)
    {
        ulong hi = Math.BigMul(a, b, out ulong lo);
        return new UInt128(hi, lo);
    }

    private static Fp Reduce(UInt128 x) => Fp.FromUInt64((ulong)(x % Fp.Modulus));

    private static ProofException Reject(QuantLayer layer, ProofCheck check, string why) => new(ProofErrorCode.Rejected, $"layer '{layer.Name}': {why}", check);
}
