using Prova.Proofs.Commitments;
using Prova.Proofs.Field;
using Prova.Proofs.Sumcheck;
using Prova.Proofs.Transcript;

namespace Prova.Proofs.Inference;

/// <summary>
/// A committed requantisation step (docs/proofs.md, "Requantisation argument"): for an M × N int32
/// accumulator matrix (index i + 2^a·j) and per-column Q31 multipliers M0_j and shifts s_j, proves that
/// the committed accumulators and the quotients/remainders derived from committed 8-bit limbs satisfy
/// acc·M0_j + 2^(s_j−1) = q·2^s_j + r with 0 ≤ r &lt; 2^s_j and |q| ≤ 2^(62−s_j) — i.e. q is exactly
/// floor((acc·M0 + 2^(s−1)) / 2^s), the round-half-up quotient. Range checks: every limb lies in the
/// table [0, 256), by a LogUp argument (Σ_x 1/(α − f(x)) = Σ_t m_t/(α − t)) with the inverses committed
/// and a zerocheck sumcheck h·(α − f) = 1. Standalone building block: not yet part of PRVP proofs.
/// </summary>
public static class RequantArgument
{
    /// <summary>Limbs per range-checked value (7 × 8 bits = 56 bits).</summary>
    public const int Limbs = 7;

    /// <summary>Range-checked values per element: r, 2^s − 1 − r, q + 2^(62−s), 2^(63−s) − 1 − (q + 2^(62−s)).</summary>
    public const int Values = 4;

    /// <summary>Limb polynomials padded to a power of two (28 → 32): 5 extra variables in the lookup vector.</summary>
    public const int LimbSlots = 32;

    public const int LimbSlotVars = 5;

    public const int TableSize = 256;

    /// <summary>At most 2^24 lookups (padded elements × 32 slots): the LogUp term (lookups + 256)/|Fp2| stays ≤ 2^-104.</summary>
    public const int MaxLookupVars = 24;

    /// <summary>Smallest and largest supported shift (the limbs cover 56 bits; 63 − s ≤ 55).</summary>
    public const int MinShift = 8;

    public const int MaxShift = 55;

    public static LigeroParameters Pcs => LayerProtocol.WeightPcs;

    /// <summary>Proves the relation for honest accumulators (computes q and r itself).</summary>
    public static RequantProof Prove(ProofTranscript t, int rows, int columns, int[] acc, int[] multipliers, int[] shifts)
        => Prove(t, rows, columns, acc, multipliers, shifts, null);

    /// <summary>
    /// Proves with an optional override of the (q, r) witness per element (tests: a cheating prover
    /// whose remainder is out of range). The top limb carries every bit above 48, so an out-of-range
    /// value shows up as a limb outside the table.
    /// </summary>
    internal static RequantProof Prove(ProofTranscript t, int rows, int columns, int[] acc, int[] multipliers, int[] shifts, Func<int, int, (long Q, long R)>? witness)
    {
        var shape = Check(rows, columns, multipliers, shifts);
        int a = shape.RowVars, n = shape.Vars;
        int size = 1 << n;
        var accTable = new Fp[size];
        var limbs = new Fp[LimbSlots][];
        for (int l = 0; l < LimbSlots; l++)
        {
            limbs[l] = new Fp[size];
        }
        for (int j = 0; j < columns; j++)
        {
            int s = shifts[j];
            for (int i = 0; i < rows; i++)
            {
                int x = i + (j << a);
                long v = acc[i * columns + j];
                accTable[x] = Fp.FromInt64(v);
                long tt = v * multipliers[j] + (1L << (s - 1));
                var (q, r) = witness?.Invoke(i, j) ?? (tt >> s, tt & ((1L << s) - 1));
                long qs = q + (1L << (62 - s));
                Fp[] values =
                [
                    Fp.FromInt64(r),
                    Fp.FromInt64((1L << s) - 1 - r),
                    Fp.FromInt64(qs),
                    Fp.FromInt64((1L << (63 - s)) - 1 - qs),
                ];
                for (int vIdx = 0; vIdx < Values; vIdx++)
                {
                    ulong u = values[vIdx].Value;
                    for (int l = 0; l < Limbs - 1; l++)
                    {
                        limbs[vIdx * Limbs + l][x] = Fp.FromUInt64((u >> (8 * l)) & 0xFF);
                    }
                    limbs[vIdx * Limbs + Limbs - 1][x] = Fp.FromUInt64(u >> (8 * (Limbs - 1)));
                }
            }
        }
        var polys = new Fp[1 + LimbSlots][];
        polys[0] = accTable;
        Array.Copy(limbs, 0, polys, 1, LimbSlots);
        var main = LigeroPcs.Commit(polys, Pcs);
        main.Commitment.AbsorbInto(t);
        // LogUp: f = the limb slots concatenated (slot in the high variables).
        var counts = new uint[TableSize];
        foreach (var limb in limbs)
        {
            foreach (var v in limb)
            {
                if (v.Value < TableSize)
                {
                    counts[v.Value]++;
                }
            }
        }
        // A cheating witness (limb outside the table) is not counted; top up the count of 0 so the
        // totals match and the LogUp sum itself must catch it.
        ulong counted = 0;
        foreach (var c in counts)
        {
            counted += c;
        }
        counts[0] += (uint)(((ulong)LimbSlots << n) - counted);
        t.AbsorbBytes("requant/multiplicities", CountBytes(counts));
        var alpha = t.ChallengeFp2("requant/alpha");
        var h = new Fp2[size * LimbSlots];
        var shifted = new Fp2[size * LimbSlots];
        for (int l = 0; l < LimbSlots; l++)
        {
            for (int x = 0; x < size; x++)
            {
                shifted[l * size + x] = alpha - limbs[l][x];
            }
        }
        Array.Copy(shifted, h, h.Length);
        Fp2.BatchInvert(h);
        var hParts = new Fp[2][];
        hParts[0] = h.Select(e => e.C0).ToArray();
        hParts[1] = h.Select(e => e.C1).ToArray();
        var inverses = LigeroPcs.Commit(hParts, Pcs);
        inverses.Commitment.AbsorbInto(t);
        // Per-column vectors at (z_i, ·), then z_j, then one opening at z = (z_i ‖ z_j).
        var zi = t.ChallengeFp2s("requant/z_i", a);
        var eqI = Eq.Table(zi);
        var columnsOut = new Fp2[1 + Values][];
        for (int p = 0; p <= Values; p++)
        {
            columnsOut[p] = new Fp2[columns];
        }
        for (int j = 0; j < columns; j++)
        {
            for (int i = 0; i < rows; i++)
            {
                int x = i + (j << a);
                columnsOut[0][j] += eqI[i] * accTable[x];
                for (int vIdx = 0; vIdx < Values; vIdx++)
                {
                    columnsOut[1 + vIdx][j] += eqI[i] * Compose(limbs, vIdx, x);
                }
            }
        }
        foreach (var c in columnsOut)
        {
            t.AbsorbFp2s("requant/columns", c);
        }
        var zj = t.ChallengeFp2s("requant/z_j", shape.ColumnVars);
        Fp2[] z = [.. zi, .. zj];
        var atZ = LigeroPcs.Open(t, main, Enumerable.Repeat(z, 1 + LimbSlots).ToList(), out var valuesZ);
        // Zerocheck Σ_x eq(w, x)·h(x)·(α − f(x)) = 1.
        var w = t.ChallengeFp2s("requant/w", n + LimbSlotVars);
        var sc = SumcheckProver.ProveProduct(t, [h, shifted], w);
        var rho = sc.Point;
        var rhoLow = rho[..n];
        var atRho = LigeroPcs.Open(t, main, Enumerable.Repeat(rhoLow, 1 + LimbSlots).ToList(), out var valuesRho);
        var invAtRho = LigeroPcs.Open(t, inverses, [rho, rho], out var invValuesRho);
        var half = HalfPoint(n + LimbSlotVars);
        var invAtHalf = LigeroPcs.Open(t, inverses, [half, half], out var invValuesHalf);
        return new RequantProof
        {
            Main = main.Commitment,
            Inverses = inverses.Commitment,
            Multiplicities = counts,
            ColumnValues = columnsOut,
            ValuesAtZ = valuesZ,
            OpeningAtZ = atZ,
            Sumcheck = sc.Proof,
            SumcheckEvaluations = sc.FactorEvaluations,
            ValuesAtRho = valuesRho,
            OpeningAtRho = atRho,
            InverseValuesAtRho = invValuesRho,
            InverseOpeningAtRho = invAtRho,
            InverseValuesAtHalf = invValuesHalf,
            InverseOpeningAtHalf = invAtHalf,
        };
    }

    /// <summary>Checks a requantisation proof; throws <see cref="ProofException"/> (Rejected) when it does not hold.</summary>
    public static void Verify(ProofTranscript t, int rows, int columns, int[] multipliers, int[] shifts, RequantProof proof)
    {
        var shape = Check(rows, columns, multipliers, shifts);
        int a = shape.RowVars, n = shape.Vars;
        int total = n + LimbSlotVars;
        if (proof.Main.NumVars != n || proof.Main.PolynomialCount != 1 + LimbSlots
            || proof.Inverses.NumVars != total || proof.Inverses.PolynomialCount != 2
            || proof.Multiplicities.Length != TableSize || proof.ColumnValues.Length != 1 + Values
            || proof.ColumnValues.Any(c => c.Length != columns) || proof.SumcheckEvaluations.Length != 2)
        {
            throw Reject("the proof's shape does not fit the layer");
        }
        ulong countSum = 0;
        foreach (var c in proof.Multiplicities)
        {
            countSum += c;
        }
        if (countSum != (ulong)LimbSlots << n)
        {
            throw Reject("the lookup multiplicities do not add up to the number of lookups");
        }
        proof.Main.AbsorbInto(t);
        t.AbsorbBytes("requant/multiplicities", CountBytes(proof.Multiplicities));
        var alpha = t.ChallengeFp2("requant/alpha");
        proof.Inverses.AbsorbInto(t);
        var zi = t.ChallengeFp2s("requant/z_i", a);
        var eqI = Eq.Table(zi);
        var rowSum = Eq.PrefixSum(eqI, rows);
        // Per column: the quotient/remainder relation and the two complements.
        var accC = proof.ColumnValues[0];
        var rC = proof.ColumnValues[1];
        var rComp = proof.ColumnValues[2];
        var qC = proof.ColumnValues[3];
        var qComp = proof.ColumnValues[4];
        for (int j = 0; j < columns; j++)
        {
            int s = shifts[j];
            var q = qC[j] - Fp.FromInt64(1L << (62 - s)) * rowSum;
            var lhs = accC[j] * Fp.FromInt64(multipliers[j]) + Fp.FromInt64(1L << (s - 1)) * rowSum;
            if (lhs != q * Fp.FromInt64(1L << s) + rC[j])
            {
                throw Reject($"column {j}: acc·M0 + 2^(s−1) ≠ q·2^s + r");
            }
            if (rC[j] + rComp[j] != Fp.FromInt64((1L << s) - 1) * rowSum)
            {
                throw Reject($"column {j}: the remainder's complement does not add up to 2^s − 1");
            }
            if (qC[j] + qComp[j] != Fp.FromInt64((1L << (63 - s)) - 1) * rowSum)
            {
                throw Reject($"column {j}: the quotient's complement does not add up");
            }
        }
        foreach (var c in proof.ColumnValues)
        {
            t.AbsorbFp2s("requant/columns", c);
        }
        var zj = t.ChallengeFp2s("requant/z_j", shape.ColumnVars);
        Fp2[] z = [.. zi, .. zj];
        Pcs.Validate();
        Open(t, proof.Main, Enumerable.Repeat(z, 1 + LimbSlots).ToList(), proof.ValuesAtZ, proof.OpeningAtZ, "the opening at z");
        var eqJ = Eq.Table(zj);
        if (Dot(eqJ, accC) != proof.ValuesAtZ[0])
        {
            throw Reject("the accumulator column values do not match the commitment");
        }
        for (int vIdx = 0; vIdx < Values; vIdx++)
        {
            if (Dot(eqJ, proof.ColumnValues[1 + vIdx]) != Compose(proof.ValuesAtZ.AsSpan(1), vIdx))
            {
                throw Reject($"the column values of range-checked value {vIdx} do not match the committed limbs");
            }
        }
        // LogUp zerocheck and sum.
        var w = t.ChallengeFp2s("requant/w", total);
        Fp2[] rho;
        try
        {
            rho = SumcheckVerifier.VerifyProduct(t, Fp2.One, total, w, proof.Sumcheck, proof.SumcheckEvaluations);
        }
        catch (ProofRejectedException ex)
        {
            throw Reject($"the lookup zerocheck fails ({ex.Code}: {ex.Message})");
        }
        var rhoLow = rho[..n];
        Open(t, proof.Main, Enumerable.Repeat(rhoLow, 1 + LimbSlots).ToList(), proof.ValuesAtRho, proof.OpeningAtRho, "the opening at ρ");
        var eqSlot = Eq.Table(rho[n..]);
        Fp2 f = Fp2.Zero;
        for (int l = 0; l < LimbSlots; l++)
        {
            f += eqSlot[l] * proof.ValuesAtRho[1 + l];
        }
        if (proof.SumcheckEvaluations[1] != alpha - f)
        {
            throw Reject("the lookup zerocheck's limb evaluation does not match the committed limbs");
        }
        var u = new Fp2(Fp.Zero, Fp.One);
        Open(t, proof.Inverses, [rho, rho], proof.InverseValuesAtRho, proof.InverseOpeningAtRho, "the inverse opening at ρ");
        if (proof.InverseValuesAtRho[0] + u * proof.InverseValuesAtRho[1] != proof.SumcheckEvaluations[0])
        {
            throw Reject("the lookup zerocheck's inverse evaluation does not match the committed inverses");
        }
        var half = HalfPoint(total);
        Open(t, proof.Inverses, [half, half], proof.InverseValuesAtHalf, proof.InverseOpeningAtHalf, "the inverse opening at ½");
        var lookupSum = (proof.InverseValuesAtHalf[0] + u * proof.InverseValuesAtHalf[1]) * Fp.FromUInt64((ulong)LimbSlots << n);
        var tableSide = new Fp2[TableSize];
        for (int v = 0; v < TableSize; v++)
        {
            tableSide[v] = alpha - Fp.FromUInt64((ulong)v);
        }
        Fp2.BatchInvert(tableSide);
        Fp2 tableSum = Fp2.Zero;
        for (int v = 0; v < TableSize; v++)
        {
            tableSum += tableSide[v] * Fp.FromUInt64(proof.Multiplicities[v]);
        }
        if (lookupSum != tableSum)
        {
            throw Reject("a range-checked limb is outside [0, 256) (LogUp sums differ)");
        }
    }

    private readonly record struct Shape(int RowVars, int ColumnVars)
    {
        public int Vars => RowVars + ColumnVars;
    }

    private static Shape Check(int rows, int columns, int[] multipliers, int[] shifts)
    {
        if (rows < 1 || columns < 1 || rows > (1 << 24) || columns > (1 << 24) || multipliers.Length != columns || shifts.Length != columns)
        {
            throw new ProofException(ProofErrorCode.BadInput, "requantisation: bad dimensions");
        }
        foreach (var s in shifts)
        {
            if (s < MinShift || s > MaxShift)
            {
                throw new ProofException(ProofErrorCode.Unsupported, $"requantisation: shift {s} outside [{MinShift}, {MaxShift}]");
            }
        }
        foreach (var m in multipliers)
        {
            if (m < 0)
            {
                throw new ProofException(ProofErrorCode.Unsupported, "requantisation: negative multiplier");
            }
        }
        var shape = new Shape(Eq.Vars(rows), Eq.Vars(columns));
        if (shape.Vars + LimbSlotVars > MaxLookupVars)
        {
            throw new ProofException(ProofErrorCode.Unsupported, $"requantisation: more than 2^{MaxLookupVars} lookups (the LogUp error would exceed 2^-104)");
        }
        return shape;
    }

    private static Fp Compose(Fp[][] limbs, int value, int x)
    {
        Fp acc = Fp.Zero;
        for (int l = Limbs - 1; l >= 0; l--)
        {
            acc = acc * Fp.FromUInt64(256) + limbs[value * Limbs + l][x];
        }
        return acc;
    }

    private static Fp2 Compose(ReadOnlySpan<Fp2> limbValues, int value)
    {
        Fp2 acc = Fp2.Zero;
        for (int l = Limbs - 1; l >= 0; l--)
        {
            acc = acc * Fp.FromUInt64(256) + limbValues[value * Limbs + l];
        }
        return acc;
    }

    private static Fp2 Dot(Fp2[] eq, Fp2[] v)
    {
        Fp2 acc = Fp2.Zero;
        for (int j = 0; j < v.Length; j++)
        {
            acc += eq[j] * v[j];
        }
        return acc;
    }

    private static Fp2[] HalfPoint(int vars)
    {
        var half = new Fp2(Fp.FromUInt64(2).Inverse(), Fp.Zero);
        return Enumerable.Repeat(half, vars).ToArray();
    }

    private static byte[] CountBytes(uint[] counts)
    {
        var bytes = new byte[4 * counts.Length];
        for (int v = 0; v < counts.Length; v++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4 * v), counts[v]);
        }
        return bytes;
    }

    private static void Open(ProofTranscript t, LigeroCommitment c, IReadOnlyList<Fp2[]> points, Fp2[] values, LigeroOpening opening, string what)
    {
        if (values.Length != c.PolynomialCount)
        {
            throw Reject($"{what} claims {values.Length} values");
        }
        try
        {
            LigeroPcs.Verify(t, c, points, values, opening, Pcs);
        }
        catch (ProofRejectedException ex)
        {
            throw Reject($"{what} does not verify ({ex.Code}: {ex.Message})");
        }
    }

    private static ProofException Reject(string why) => new(ProofErrorCode.Rejected, "requantisation: " + why);
}

/// <summary>The prover's messages of <see cref="RequantArgument"/> (in memory; no wire format yet).</summary>
public sealed class RequantProof
{
    public required LigeroCommitment Main { get; init; }

    public required LigeroCommitment Inverses { get; init; }

    public required uint[] Multiplicities { get; init; }

    /// <summary>acc~(z_i, j), then for r, 2^s−1−r, q', its complement: value~(z_i, j), j &lt; N.</summary>
    public required Fp2[][] ColumnValues { get; init; }

    public required Fp2[] ValuesAtZ { get; init; }

    public required LigeroOpening OpeningAtZ { get; init; }

    public required SumcheckProof Sumcheck { get; init; }

    public required Fp2[] SumcheckEvaluations { get; init; }

    public required Fp2[] ValuesAtRho { get; init; }

    public required LigeroOpening OpeningAtRho { get; init; }

    public required Fp2[] InverseValuesAtRho { get; init; }

    public required LigeroOpening InverseOpeningAtRho { get; init; }

    public required Fp2[] InverseValuesAtHalf { get; init; }

    public required LigeroOpening InverseOpeningAtHalf { get; init; }

    /// <summary>Bytes the messages would take on the wire (commitments 40 each, Fp2 16 each, counts 4 each, openings as encoded).</summary>
    public int ByteSize =>
        2 * LigeroCommitment.ByteLength + 4 * Multiplicities.Length
        + Fp2.ByteLength * (ColumnValues.Sum(c => c.Length) + ValuesAtZ.Length + ValuesAtRho.Length + InverseValuesAtRho.Length + InverseValuesAtHalf.Length + SumcheckEvaluations.Length)
        + Sumcheck.ByteSize + OpeningAtZ.ByteSize + OpeningAtRho.ByteSize + InverseOpeningAtRho.ByteSize + InverseOpeningAtHalf.ByteSize;
}
