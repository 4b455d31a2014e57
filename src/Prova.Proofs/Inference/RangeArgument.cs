using Prova.Core;
using Prova.Proofs.Commitments;
using Prova.Proofs.Field;
using Prova.Proofs.Polynomials;
using Prova.Proofs.Sumcheck;
using Prova.Proofs.Transcript;
using Prova.Runtime;

namespace Prova.Proofs.Inference;

/// <summary>
/// Where each layer's limbs live in the one committed limb vector L (docs/proofs.md, "Limb vector"):
/// layer l has n_l = ⌈log M⌉ + ⌈log N⌉ element variables and an aligned slot of 2^(n_l+3) entries,
/// L[off_l + e + 2^n_l·k] = limb k of element e = i + 2^⌈log M⌉·j (k &lt; 4: bytes of d_lo, k ≥ 4: bytes
/// of d_hi). Slots are placed by size, largest first (ties in layer order), so every offset is a
/// multiple of its slot size and the slot is fixed by constant high coordinates.
/// </summary>
internal sealed class LimbLayout
{
    /// <summary>Limbs per element: four bytes of d_lo, four of d_hi.</summary>
    public const int Limbs = 8;

    public const int LimbVars = 3;

    public const int TableSize = 256;

    /// <summary>At most 2^24 limbs: the LogUp error (S + 256)/p² stays below 2^-103.9.</summary>
    public const int MaxVars = 24;

    private LimbLayout(int vars, long[] offsets, int[] elementVars, int[] rowVars)
    {
        Vars = vars;
        Offsets = offsets;
        ElementVars = elementVars;
        RowVars = rowVars;
    }

    /// <summary>σ: L has 2^σ entries.</summary>
    public int Vars { get; }

    public long Size => 1L << Vars;

    public long[] Offsets { get; }

    /// <summary>n_l per layer.</summary>
    public int[] ElementVars { get; }

    /// <summary>⌈log M⌉ per layer.</summary>
    public int[] RowVars { get; }

    public static LimbLayout Create(IReadOnlyList<(int Rows, int Columns)> layers)
    {
        int count = layers.Count;
        var n = new int[count];
        var a = new int[count];
        for (int l = 0; l < count; l++)
        {
            a[l] = Eq.Vars(layers[l].Rows);
            n[l] = a[l] + Eq.Vars(layers[l].Columns);
            if (n[l] + LimbVars > MaxVars)
            {
                throw Unsupported();
            }
        }
        var order = Enumerable.Range(0, count).OrderByDescending(l => n[l]).ThenBy(l => l).ToArray();
        var offsets = new long[count];
        long at = 0;
        foreach (int l in order)
        {
            offsets[l] = at;
            at += 1L << (n[l] + LimbVars);
        }
        int vars = Math.Max(1, Eq.Vars(at));
        if (vars > MaxVars)
        {
            throw Unsupported();
        }
        return new LimbLayout(vars, offsets, n, a);
    }

    /// <summary>The point of L at which layer l's limb claim Σ_k eq(τ, k)·e_k lives: (r ‖ τ ‖ slot bits).</summary>
    public Fp2[] Point(int layer, ReadOnlySpan<Fp2> r, ReadOnlySpan<Fp2> tau)
    {
        int n = ElementVars[layer];
        var point = new Fp2[Vars];
        r.CopyTo(point);
        tau.CopyTo(point.AsSpan(n));
        long slot = Offsets[layer] >> (n + LimbVars);
        for (int v = n + LimbVars; v < Vars; v++)
        {
            point[v] = ((slot >> (v - n - LimbVars)) & 1) != 0 ? Fp2.One : Fp2.Zero;
        }
        return point;
    }

    private static ProofException Unsupported() =>
        new(ProofErrorCode.Unsupported, $"the model's activations need more than 2^{MaxVars} range-checked limbs (the LogUp error bound)");
}

/// <summary>How a cheating prover (tests only) builds limbs for a difference d outside [0, 2^32).</summary>
internal enum CheatLimbs
{
    /// <summary>Bytes 0..2 of d mod p and the rest (≥ 256) in limb 3: the limb sums stay right modulo p.</summary>
    ModP,

    /// <summary>d clamped into [0, 2^32): every limb is a byte, the limb sums are wrong.</summary>
    Clamp,
}

/// <summary>Test hooks for a cheating prover (internal: never reachable from the public API).</summary>
internal sealed class ProverCheat
{
    /// <summary>Called per layer with the accumulators and the (mutable) row-major outputs before anything is committed.</summary>
    public Action<int, int[], int[]>? Outputs { get; init; }

    public CheatLimbs Limbs { get; init; } = CheatLimbs.ModP;

    public Action<uint[]>? Multiplicities { get; init; }

    /// <summary>Called per layer with the eight limb evaluations before they are sent.</summary>
    public Action<int, Fp2[]>? LimbEvaluations { get; init; }

    /// <summary>
    /// Makes the matmul sumcheck agree with the (changed) accumulators by editing the activation table
    /// a(k) (LayerProtocol.ForgeActivations): only the a* check sees it.
    /// </summary>
    public bool ForgeActivationTable { get; init; }

    /// <summary>Runs the model instead of the circuit's own session (a prover that skips the engine's input checks).</summary>
    public Func<IReadOnlyDictionary<string, Tensor>, (Dictionary<string, Tensor> Outputs, Witness Witness)>? Run { get; init; }

    /// <summary>Given α and L, the LogUp leaves' numerators (honest: all 1, never materialised).</summary>
    public Func<Fp2, Fp[], Fp2[]>? LeafNumerators { get; init; }
}

/// <summary>
/// The prover's side of the range argument (docs/proofs.md): commits the limb vector L, proves every
/// entry lies in [0, 256) with LogUp, records each layer's limb claim and finally reduces all claims
/// on L to one opening with a batching sumcheck.
/// </summary>
internal sealed class RangeProver
{
    private readonly LimbLayout _layout;
    private readonly Fp[] _limbs;
    private readonly ProverCheat? _cheat;
    private readonly List<(Fp2[] Point, Fp2 Value)> _claims = [];
    private LigeroCommitted? _limbCommitted;
    private RangeProof? _partial;

    public RangeProver(LimbLayout layout, Fp[] limbs, ProverCheat? cheat)
    {
        _layout = layout;
        _limbs = limbs;
        _cheat = cheat;
    }

    public static LigeroParameters Pcs => LayerProtocol.WeightPcs;

    /// <summary>
    /// Writes the eight limbs of every element of one layer into L: d_lo = acc − A_lo(y) and
    /// d_hi = A_hi(y) − acc, four bytes each. Padding elements stay 0.
    /// </summary>
    public static void FillLayer(Fp[] limbs, LimbLayout layout, int layer, QuantLayer q, int rows, int[] acc, int[] y, ProverCheat? cheat)
    {
        var tables = q.Tables;
        int a = layout.RowVars[layer];
        long stride = 1L << layout.ElementVars[layer];
        long off = layout.Offsets[layer];
        int n = q.N;
        for (int i = 0; i < rows; i++)
        {
            for (int j = 0; j < n; j++)
            {
                int c = i * n + j;
                var table = tables[j];
                long low = table.Reachable(y[c]) ? table.Low(y[c]) : 0;
                long width = table.Reachable(y[c]) ? table.Width(y[c]) : 0;
                long dLo = acc[c] - low;
                long dHi = width - dLo;
                long e = off + i + ((long)j << a);
                Split(limbs, e, stride, 0, dLo, cheat, q);
                Split(limbs, e, stride, 4, dHi, cheat, q);
            }
        }
    }

    private static void Split(Fp[] limbs, long e, long stride, int first, long d, ProverCheat? cheat, QuantLayer q)
    {
        if (d is < 0 or > uint.MaxValue)
        {
            if (cheat is null)
            {
                throw new ProofException(ProofErrorCode.Unsupported, $"layer '{q.Name}': an accumulator lies outside its output's requantisation interval");
            }
            if (cheat.Limbs == CheatLimbs.Clamp)
            {
                d = Math.Clamp(d, 0, uint.MaxValue);
            }
            else
            {
                ulong v = Fp.FromInt64(d).Value;
                for (int k = 0; k < 3; k++)
                {
                    limbs[e + stride * (first + k)] = Fp.FromUInt64((v >> (8 * k)) & 0xFF);
                }
                limbs[e + stride * (first + 3)] = Fp.FromUInt64(v >> 24);
                return;
            }
        }
        for (int k = 0; k < 4; k++)
        {
            limbs[e + stride * (first + k)] = Fp.FromUInt64(((ulong)d >> (8 * k)) & 0xFF);
        }
    }

    /// <summary>
    /// The limb commitment, the multiplicities, α and the LogUp fraction tree: proves
    /// Σ_x 1/(α − L(x)) = P/Q layer by layer down to one claim on L~(ρ) (recorded for the batch).
    /// </summary>
    public void Begin(ProofTranscript t)
    {
        var limbCommitted = LigeroPcs.Commit([_limbs], Pcs);
        _limbCommitted = limbCommitted;
        limbCommitted.Commitment.AbsorbInto(t);
        var counts = new uint[LimbLayout.TableSize];
        long inTable = 0;
        foreach (var v in _limbs)
        {
            if (v.Value < LimbLayout.TableSize)
            {
                counts[v.Value]++;
                inTable++;
            }
        }
        // A cheating prover's out-of-table limbs are not counted; topping up the count of 0 keeps the
        // total right, so the LogUp sum itself has to catch them.
        counts[0] += (uint)(_layout.Size - inTable);
        _cheat?.Multiplicities?.Invoke(counts);
        RangeArgument.AbsorbMultiplicities(t, counts);
        var alpha = t.ChallengeFp2("range/alpha");
        // Fraction tree: level σ holds p = 1, q = α − L(x); level k has 2^k entries,
        // p_k[x] = p_{k+1}[x]·q_{k+1}[x + 2^k] + p_{k+1}[x + 2^k]·q_{k+1}[x], q_k[x] = q_{k+1}[x]·q_{k+1}[x + 2^k].
        int vars = _layout.Vars;
        var p = new Fp2[]?[vars + 1];
        var q = new Fp2[vars + 1][];
        p[vars] = _cheat?.LeafNumerators?.Invoke(alpha, _limbs); // null: every numerator is 1
        q[vars] = new Fp2[_limbs.Length];
        for (int x = 0; x < _limbs.Length; x++)
        {
            q[vars][x] = alpha - _limbs[x];
        }
        for (int k = vars - 1; k >= 0; k--)
        {
            int h = 1 << k;
            var pk = p[k] = new Fp2[h];
            var qk = q[k] = new Fp2[h];
            var pn = p[k + 1];
            var qn = q[k + 1];
            RangeArgument.ParallelRange(h, (begin, end) =>
            {
                for (int x = begin; x < end; x++)
                {
                    pk[x] = pn is null ? qn[x + h] + qn[x] : pn[x] * qn[x + h] + pn[x + h] * qn[x];
                    qk[x] = qn[x] * qn[x + h];
                }
            });
        }
        var root = new[] { p[0]![0], q[0][0] };
        t.AbsorbFp2s("range/root", root);
        var values = new Fp2[vars][];
        var r = Array.Empty<Fp2>();
        Fp2 vp = root[0], vq = root[1];
        var logUpRounds = new Fp2[vars][][];
        for (int k = 0; k < vars; k++)
        {
            var lambda = t.ChallengeFp2("range/lambda");
            int h = 1 << k;
            var q0 = q[k + 1][..h];
            var q1 = q[k + 1][h..];
            var p0 = p[k + 1]?[..h];
            var p1 = p[k + 1]?[h..];
            (logUpRounds[k], var point) = LevelSumcheck(t, vp + lambda * vq, lambda, p0, p1, q0, q1, Mle.EqTable(r));
            values[k] = [p0?[0] ?? Fp2.One, p1?[0] ?? Fp2.One, q0[0], q1[0]];
            t.AbsorbFp2s("range/values", values[k]);
            var c = t.ChallengeFp2("range/c");
            r = [.. point, c];
            vp = values[k][0] + c * (values[k][1] - values[k][0]);
            vq = values[k][2] + c * (values[k][3] - values[k][2]);
        }
        _claims.Add((r, alpha - vq));
        _partial = new RangeProof
        {
            Limbs = limbCommitted.Commitment,
            Multiplicities = counts,
            Root = root,
            LogUpRounds = logUpRounds,
            LogUpValues = values,
            BatchRounds = [],
            LimbAtBatch = Fp2.Zero,
            LimbOpening = [],
        };
    }

    /// <summary>
    /// Layer l's limb evaluations at r = (r_i ‖ r_j): sends e_k = limb_k~(r), draws τ and records the
    /// claim L~(r ‖ τ ‖ slot) = Σ_k eq(τ, k)·e_k. Returns e.
    /// </summary>
    public Fp2[] LayerLimbs(ProofTranscript t, int layer, Fp2[] r)
    {
        var eqR = Eq.Table(r);
        long stride = 1L << _layout.ElementVars[layer];
        long off = _layout.Offsets[layer];
        var e = new Fp2[LimbLayout.Limbs];
        for (int k = 0; k < LimbLayout.Limbs; k++)
        {
            e[k] = Mle.InnerProduct(_limbs.AsSpan((int)(off + stride * k), (int)stride), eqR);
        }
        _cheat?.LimbEvaluations?.Invoke(layer, e);
        t.AbsorbFp2s("range/limbs", e);
        var tau = t.ChallengeFp2s("range/tau", LimbLayout.LimbVars);
        _claims.Add((_layout.Point(layer, r, tau), RangeArgument.Combine(tau, e)));
        return e;
    }

    /// <summary>Batching sumcheck over all claims on L, then the one opening.</summary>
    public RangeProof Finish(ProofTranscript t)
    {
        var partial = _partial ?? throw new InvalidOperationException("Begin first");
        var gamma = t.ChallengeFp2s("range/gamma", _claims.Count);
        int size = (int)_layout.Size;
        var g = new Fp2[size];
        for (int c = 0; c < _claims.Count; c++)
        {
            RangeArgument.AddEq(g, _claims[c].Point, gamma[c], _layout);
        }
        var (batchRounds, batchPoint, limbAtBatch) = BatchSumcheck(t, _limbs, g, ClaimSum(gamma));
        var limbOpening = LigeroPcs.Open(t, _limbCommitted!, [batchPoint], out _);
        return partial with
        {
            BatchRounds = batchRounds,
            LimbAtBatch = limbAtBatch,
            LimbOpening = limbOpening.ToBytes(),
        };
    }

    private Fp2 ClaimSum(Fp2[] gamma)
    {
        Fp2 sum = Fp2.Zero;
        for (int c = 0; c < _claims.Count; c++)
        {
            sum += gamma[c] * _claims[c].Value;
        }
        return sum;
    }

    /// <summary>
    /// Σ_x L(x)·G(x) = claim (degree 2): the first round reads L in the base field, then L is folded
    /// into Fp2; G is folded in place. Rounds at t = 0, 1, 2 (t = 1 from the running claim); transcript
    /// as <see cref="SumcheckVerifier.Verify"/> expects, ending with the evaluations L~(ρ'), G~(ρ').
    /// </summary>
    private static (Fp2[][] Rounds, Fp2[] Point, Fp2 LimbAtPoint) BatchSumcheck(ProofTranscript t, Fp[] limbs, Fp2[] g, Fp2 claim)
    {
        int vars = Eq.Vars(g.Length);
        t.AbsorbFp2("sumcheck/claim", claim);
        var rounds = new Fp2[vars][];
        var point = new Fp2[vars];
        Fp2[]? l = null;
        int len = g.Length;
        for (int round = 0; round < vars; round++)
        {
            int pairs = len / 2;
            Fp2 s0 = Fp2.Zero, s2 = Fp2.Zero;
            var gate = new Lock();
            var folded = l;
            RangeArgument.ParallelRange(pairs, (begin, end) =>
            {
                Fp2 a0 = Fp2.Zero, a2 = Fp2.Zero;
                for (int i = begin; i < end; i++)
                {
                    Fp2 g0 = g[2 * i], g2 = g[2 * i + 1] + g[2 * i + 1] - g0;
                    if (folded is null)
                    {
                        Fp l0 = limbs[2 * i], l2 = limbs[2 * i + 1] + limbs[2 * i + 1] - l0;
                        a0 += g0 * l0;
                        a2 += g2 * l2;
                    }
                    else
                    {
                        Fp2 l0 = folded[2 * i], l2 = folded[2 * i + 1] + folded[2 * i + 1] - l0;
                        a0 += g0 * l0;
                        a2 += g2 * l2;
                    }
                }
                lock (gate)
                {
                    s0 += a0;
                    s2 += a2;
                }
            });
            var sums = new[] { s0, claim - s0, s2 };
            rounds[round] = sums;
            t.AbsorbFp2s("sumcheck/round", sums);
            var r = t.ChallengeFp2("sumcheck/r");
            point[round] = r;
            claim = SumcheckVerifier.InterpolateAt(sums, r);
            if (l is null)
            {
                l = new Fp2[pairs];
                Mle.Fold(limbs.AsSpan(0, len), r, l);
            }
            else
            {
                Mle.Fold(l.AsSpan(0, len), r, l);
            }
            Mle.Fold(g.AsSpan(0, len), r, g);
            len = pairs;
        }
        var limbAtPoint = l is null ? (Fp2)limbs[0] : l[0];
        t.AbsorbFp2s("sumcheck/evals", [limbAtPoint, g[0]]);
        return (rounds, point, limbAtPoint);
    }

    /// <summary>
    /// One level of the fraction tree: Σ_x eq(r, x)·[P0·Q1 + P1·Q0 + λ·Q0·Q1](x) (degree 3 per
    /// variable; P0 = P1 = 1 when null, the leaves), round polynomials at t = 0..3 (t = 1 from the
    /// running claim), transcript as <see cref="SumcheckVerifier.Verify"/> expects. Folds the tables
    /// in place (their first entries end as the values at the point).
    /// </summary>
    private static (Fp2[][] Rounds, Fp2[] Point) LevelSumcheck(ProofTranscript t, Fp2 claim, Fp2 lambda, Fp2[]? p0, Fp2[]? p1, Fp2[] q0, Fp2[] q1, Fp2[] eq)
    {
        int vars = Eq.Vars(q0.Length);
        t.AbsorbFp2("sumcheck/claim", claim);
        var rounds = new Fp2[vars][];
        var point = new Fp2[vars];
        int len = q0.Length;
        for (int round = 0; round < vars; round++)
        {
            int pairs = len / 2;
            var sums = new Fp2[4];
            var gate = new Lock();
            RangeArgument.ParallelRange(pairs, (begin, end) =>
            {
                Fp2 s0 = Fp2.Zero, s2 = Fp2.Zero, s3 = Fp2.Zero;
                for (int i = begin; i < end; i++)
                {
                    Fp2 c0 = q0[2 * i], c1 = q0[2 * i + 1], dc = c1 - c0;
                    Fp2 d0 = q1[2 * i], d1 = q1[2 * i + 1], dd = d1 - d0;
                    Fp2 e0 = eq[2 * i], de = eq[2 * i + 1] - e0;
                    Fp2 c2 = c1 + dc, d2 = d1 + dd, e2 = eq[2 * i + 1] + de;
                    Fp2 c3 = c2 + dc, d3 = d2 + dd, e3 = e2 + de;
                    if (p0 is null)
                    {
                        s0 += e0 * (c0 + d0 + lambda * (c0 * d0));
                        s2 += e2 * (c2 + d2 + lambda * (c2 * d2));
                        s3 += e3 * (c3 + d3 + lambda * (c3 * d3));
                    }
                    else
                    {
                        Fp2 a0 = p0[2 * i], a1 = p0[2 * i + 1], da = a1 - a0;
                        Fp2 b0 = p1![2 * i], b1 = p1[2 * i + 1], db = b1 - b0;
                        Fp2 a2 = a1 + da, b2 = b1 + db;
                        s0 += e0 * (a0 * d0 + b0 * c0 + lambda * (c0 * d0));
                        s2 += e2 * (a2 * d2 + b2 * c2 + lambda * (c2 * d2));
                        s3 += e3 * ((a2 + da) * d3 + (b2 + db) * c3 + lambda * (c3 * d3));
                    }
                }
                lock (gate)
                {
                    sums[0] += s0;
                    sums[2] += s2;
                    sums[3] += s3;
                }
            });
            sums[1] = claim - sums[0];
            rounds[round] = sums;
            t.AbsorbFp2s("sumcheck/round", sums);
            var r = t.ChallengeFp2("sumcheck/r");
            point[round] = r;
            claim = SumcheckVerifier.InterpolateAt(sums, r);
            foreach (var table in new[] { p0, p1, q0, q1, eq })
            {
                if (table is not null)
                {
                    Mle.Fold(table.AsSpan(0, len), r, table);
                }
            }
            len = pairs;
        }
        return (rounds, point);
    }
}

/// <summary>The verifier's side of the range argument, in the prover's transcript order.</summary>
internal sealed class RangeVerifier
{
    private readonly LimbLayout _layout;
    private readonly RangeProof _proof;
    private readonly List<(Fp2[] Point, Fp2 Value)> _claims = [];

    public RangeVerifier(LimbLayout layout, RangeProof proof)
    {
        _layout = layout;
        _proof = proof;
    }

    public void Begin(ProofTranscript t)
    {
        var p = _proof;
        int vars = _layout.Vars;
        if ((p.Limbs.NumVars != vars || p.Limbs.PolynomialCount != 1) && VerifierMutation.Live(ProofCheck.LimbCommitmentShape))
        {
            throw Reject(ProofCheck.LimbCommitmentShape, $"the limb commitment has {p.Limbs.NumVars} variables; the model's limb vector has {vars}");
        }
        if ((p.Multiplicities.Length != LimbLayout.TableSize || p.Root.Length != 2 || p.LogUpRounds.Length != vars || p.LogUpValues.Length != vars
            || p.LogUpValues.Any(v => v.Length != 4)) && VerifierMutation.Live(ProofCheck.LogUpShape))
        {
            throw Reject(ProofCheck.LogUpShape, "the LogUp part has the wrong shape");
        }
        ulong total = 0;
        foreach (var m in p.Multiplicities)
        {
            total += m;
        }
        if (total != (ulong)_layout.Size && VerifierMutation.Live(ProofCheck.MultiplicityTotal))
        {
            throw Reject(ProofCheck.MultiplicityTotal, $"the lookup multiplicities add up to {total}, not to the {_layout.Size} limbs");
        }
        p.Limbs.AbsorbInto(t);
        RangeArgument.AbsorbMultiplicities(t, p.Multiplicities);
        var alpha = t.ChallengeFp2("range/alpha");
        // Σ_x 1/(α − L(x)) = P/Q must equal the table side T = Σ_t m_t/(α − t).
        var (rootP, rootQ) = (p.Root[0], p.Root[1]);
        if ((rootQ == Fp2.Zero || rootP != RangeArgument.TableSum(alpha, p.Multiplicities) * rootQ) && VerifierMutation.Live(ProofCheck.LogUpSum))
        {
            throw Reject(ProofCheck.LogUpSum, "the LogUp sums differ: a limb is outside [0, 256) or the multiplicities are wrong");
        }
        t.AbsorbFp2s("range/root", p.Root);
        var r = Array.Empty<Fp2>();
        Fp2 vp = rootP, vq = rootQ;
        for (int k = 0; k < vars; k++)
        {
            var lambda = t.ChallengeFp2("range/lambda");
            SumcheckClaim level;
            try
            {
                level = SumcheckVerifier.Verify(t, vp + lambda * vq, k, 3, new SumcheckProof(p.LogUpRounds[k]));
            }
            catch (ProofRejectedException ex) when (VerifierMutation.Live(ProofCheck.LogUpTreeSumcheck))
            {
                throw Reject(ProofCheck.LogUpTreeSumcheck, $"the LogUp fraction tree fails at level {k} ({ex.Code}: {ex.Message})");
            }
            var v = p.LogUpValues[k];
            if (Mle.Eq(r, level.Point) * (v[0] * v[3] + v[1] * v[2] + lambda * (v[2] * v[3])) != level.FinalClaim && VerifierMutation.Live(ProofCheck.LogUpTreeValues))
            {
                throw Reject(ProofCheck.LogUpTreeValues, $"the LogUp fraction tree's level {k} values do not match its sumcheck");
            }
            t.AbsorbFp2s("range/values", v);
            var c = t.ChallengeFp2("range/c");
            r = [.. level.Point, c];
            vp = v[0] + c * (v[1] - v[0]);
            vq = v[2] + c * (v[3] - v[2]);
        }
        if (vp != Fp2.One && VerifierMutation.Live(ProofCheck.LogUpLeaves))
        {
            throw Reject(ProofCheck.LogUpLeaves, "the LogUp fraction tree's numerators are not 1");
        }
        _claims.Add((r, alpha - vq));
    }

    /// <summary>Absorbs layer l's limb evaluations, draws τ and records its claim on L.</summary>
    public void LayerLimbs(ProofTranscript t, int layer, Fp2[] r, Fp2[] e)
    {
        t.AbsorbFp2s("range/limbs", e);
        var tau = t.ChallengeFp2s("range/tau", LimbLayout.LimbVars);
        _claims.Add((_layout.Point(layer, r, tau), RangeArgument.Combine(tau, e)));
    }

    public void Finish(ProofTranscript t)
    {
        var p = _proof;
        var gamma = t.ChallengeFp2s("range/gamma", _claims.Count);
        Fp2 claim = Fp2.Zero;
        for (int c = 0; c < _claims.Count; c++)
        {
            claim += gamma[c] * _claims[c].Value;
        }
        SumcheckClaim batch;
        try
        {
            batch = SumcheckVerifier.Verify(t, claim, _layout.Vars, 2, new SumcheckProof(p.BatchRounds));
        }
        catch (ProofRejectedException ex) when (VerifierMutation.Live(ProofCheck.BatchSumcheck))
        {
            throw Reject(ProofCheck.BatchSumcheck, $"the batching sumcheck over the limb claims fails ({ex.Code}: {ex.Message})");
        }
        Fp2 g = Fp2.Zero;
        for (int c = 0; c < _claims.Count; c++)
        {
            g += gamma[c] * Mle.Eq(_claims[c].Point, batch.Point);
        }
        if (p.LimbAtBatch * g != batch.FinalClaim && VerifierMutation.Live(ProofCheck.BatchFinal))
        {
            throw Reject(ProofCheck.BatchFinal, "the batching sumcheck's final claim does not match the limb evaluation");
        }
        t.AbsorbFp2s("sumcheck/evals", [p.LimbAtBatch, g]);
        Open(t, p.Limbs, [batch.Point], [p.LimbAtBatch], p.LimbOpening, "limb");
    }

    private static void Open(ProofTranscript t, LigeroCommitment commitment, Fp2[][] points, Fp2[] values, byte[] bytes, string what)
    {
        try
        {
            var opening = LigeroOpening.FromBytes(bytes);
            LigeroPcs.Verify(t, commitment, points, values, opening, RangeProver.Pcs);
        }
        catch (ProofFormatException ex) when (VerifierMutation.Live(ProofCheck.LimbOpeningMalformed))
        {
            throw Reject(ProofCheck.LimbOpeningMalformed, $"the {what} opening is malformed: {ex.Message}");
        }
        catch (ProofRejectedException ex) when (VerifierMutation.Live(ProofCheck.LimbOpening))
        {
            throw Reject(ProofCheck.LimbOpening, $"the {what} opening does not prove its claim ({ex.Code}: {ex.Message})");
        }
    }

    private static ProofException Reject(ProofCheck check, string why) => new(ProofErrorCode.Rejected, "range argument: " + why, check);
}

/// <summary>Helpers shared by <see cref="RangeProver"/> and <see cref="RangeVerifier"/>.</summary>
internal static class RangeArgument
{
    public static void AbsorbMultiplicities(ProofTranscript t, uint[] counts)
    {
        var bytes = new byte[counts.Length * 4];
        for (int i = 0; i < counts.Length; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4 * i), counts[i]);
        }
        t.AbsorbBytes("range/multiplicities", bytes);
    }

    /// <summary>1/(α − t) for t &lt; 256.</summary>
    public static Fp2[] TableInverses(Fp2 alpha)
    {
        var inv = new Fp2[LimbLayout.TableSize];
        for (int v = 0; v < inv.Length; v++)
        {
            inv[v] = alpha - Fp.FromUInt64((ulong)v);
        }
        Fp2.BatchInvert(inv);
        return inv;
    }

    /// <summary>T = Σ_t m_t/(α − t).</summary>
    public static Fp2 TableSum(Fp2 alpha, uint[] counts)
    {
        var inv = TableInverses(alpha);
        Fp2 sum = Fp2.Zero;
        for (int v = 0; v < inv.Length; v++)
        {
            sum += inv[v] * Fp.FromUInt64(counts[v]);
        }
        return sum;
    }

    /// <summary>Runs body over [0, count) in fixed chunks (in parallel when large); callers combine exactly.</summary>
    public static void ParallelRange(int count, Action<int, int> body)
    {
        int chunks = count >= 1 << 13 ? Math.Min(64, count >> 11) : 1;
        if (chunks == 1)
        {
            body(0, count);
            return;
        }
        Parallel.For(0, chunks, c => body((int)((long)count * c / chunks), (int)((long)count * (c + 1) / chunks)));
    }

    /// <summary>Σ_k eq(τ, k)·e_k.</summary>
    public static Fp2 Combine(Fp2[] tau, Fp2[] e)
    {
        var eq = Eq.Table(tau);
        Fp2 v = Fp2.Zero;
        for (int k = 0; k < e.Length; k++)
        {
            v += eq[k] * e[k];
        }
        return v;
    }

    /// <summary>g += scale·eq(point, ·), touching only the entries where point's constant 0/1 coordinates match.</summary>
    public static void AddEq(Fp2[] g, Fp2[] point, Fp2 scale, LimbLayout layout)
    {
        // Count the leading coordinates that are not 0/1 constants; the rest select one slot.
        int free = point.Length;
        while (free > 0 && (point[free - 1] == Fp2.Zero || point[free - 1] == Fp2.One))
        {
            free--;
        }
        long slot = 0;
        for (int v = free; v < point.Length; v++)
        {
            if (point[v] == Fp2.One)
            {
                slot |= 1L << (v - free);
            }
        }
        var eq = Mle.EqTable(point.AsSpan(0, free), scale);
        long off = slot << free;
        for (int x = 0; x < eq.Length; x++)
        {
            g[off + x] += eq[x];
        }
    }
}
