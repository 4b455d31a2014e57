// Ligero-style transparent multilinear polynomial commitment (Ames–Hazay–Ishai–Venkitasubramaniam 2017,
// as a multilinear PCS in Brakedown, Golovnev et al. 2021 §4). Each polynomial's 2^n evaluations form an
// m × k matrix (row = high variables, column = low variables, matching Mle's little-endian index
// i = row·k + col). Every row is Reed–Solomon encoded (the row as coefficients, evaluated on the
// K = k·2^LogBlowup-th roots of unity) and the K columns of all rows of all polynomials are leaves of
// one SHA-256 Merkle tree. Opening at z = (z_lo ‖ z_hi): f(z) = eq(z_hi)^T · M · eq(z_lo).
// Transcript: "pcs/commitment", "pcs/points", "pcs/values", challenges "pcs/gamma" (one Fp2 per row),
// "pcs/combined", "pcs/rows", then t indices "pcs/columns".
using System.Numerics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Prova.Core.Crypto;
using Prova.Proofs.Field;
using Prova.Proofs.Polynomials;
using Prova.Proofs.Transcript;

namespace Prova.Proofs.Commitments;

public static class LigeroPcs
{
    /// <summary>Commits to one or more polynomials, all with the same number of variables.</summary>
    public static LigeroCommitted Commit(IReadOnlyList<Fp[]> polynomials, LigeroParameters? parameters = null)
    {
        var prm = parameters ?? LigeroParameters.Default;
        prm.Validate();
        if (polynomials.Count == 0)
        {
            throw new ArgumentException("nothing to commit: no polynomials");
        }
        int n = Mle.NumVars(polynomials[0].Length);
        foreach (var p in polynomials)
        {
            if (p.Length != polynomials[0].Length)
            {
                throw new ArgumentException($"all committed polynomials must have the same size, got {polynomials[0].Length} and {p.Length}");
            }
        }
        var shape = new Shape(n, polynomials.Count, prm);
        if ((long)shape.TotalRows * shape.CodewordLength > 1L << 30)
        {
            throw new ArgumentException($"commitment too large: {polynomials.Count} × 2^{n} evaluations at blowup 2^{prm.LogBlowup} exceed 2^30 encoded entries");
        }
        var tables = polynomials.ToArray();
        int rows = shape.TotalRows;
        int K = shape.CodewordLength;
        // Column-major encoded matrix: column j occupies [j·rows, (j+1)·rows).
        var columns = new Fp[(long)rows * K];
        const int RowBlock = 8;
        int blocks = (rows + RowBlock - 1) / RowBlock;
        Parallel.For(0, blocks, () => new Fp[RowBlock * K], (b, _, scratch) =>
        {
            int r0 = b * RowBlock;
            int rn = Math.Min(RowBlock, rows - r0);
            for (int r = 0; r < rn; r++)
            {
                var dst = scratch.AsSpan(r * K, K);
                RowOf(tables, shape, r0 + r).CopyTo(dst);
                dst[shape.RowLength..].Clear();
                Ntt.Forward(dst);
            }
            for (int j = 0; j < K; j++)
            {
                var col = columns.AsSpan(j * rows + r0, rn);
                for (int r = 0; r < rn; r++)
                {
                    col[r] = scratch[r * K + j];
                }
            }
            return scratch;
        }, _ => { });
        var leaves = new byte[K * Hash256.Length];
        int chunks = Math.Min(K, 64);
        Parallel.For(0, chunks, c =>
        {
            int begin = (int)((long)K * c / chunks), end = (int)((long)K * (c + 1) / chunks);
            for (int j = begin; j < end; j++)
            {
                HashColumn(columns.AsSpan(j * rows, rows), leaves.AsSpan(j * Hash256.Length, Hash256.Length));
            }
        });
        var tree = MerkleTree.FromLeafDigests(leaves);
        var commitment = new LigeroCommitment(tree.Root, n, polynomials.Count);
        return new LigeroCommitted(commitment, prm, tables, columns, tree);
    }

    /// <summary>
    /// Opens polynomial p at points[p] (one point per committed polynomial); returns the opening and
    /// writes f_p(points[p]) to <paramref name="values"/>. The caller must have absorbed the commitment
    /// (e.g. <see cref="LigeroCommitment.AbsorbInto"/>) before drawing the points.
    /// </summary>
    public static LigeroOpening Open(ProofTranscript transcript, LigeroCommitted committed, IReadOnlyList<Fp2[]> points, out Fp2[] values) =>
        Open(transcript, committed, points, out values, tamper: null);

    /// <summary>Open with a hook that may alter the claimed values and evaluation rows (tests: a cheating prover).</summary>
    internal static LigeroOpening Open(ProofTranscript transcript, LigeroCommitted committed, IReadOnlyList<Fp2[]> points, out Fp2[] values, Action<Fp2[], Fp2[][]>? tamper)
    {
        var shape = new Shape(committed.Commitment.NumVars, committed.Commitment.PolynomialCount, committed.Parameters);
        CheckPoints(shape, points);
        int k = shape.RowLength, m = shape.RowsPerPolynomial;
        values = new Fp2[shape.Count];
        var evalRows = new Fp2[shape.Count][];
        for (int p = 0; p < shape.Count; p++)
        {
            var (lo, hi) = Split(shape, points[p]);
            var left = Mle.EqTable(hi);
            evalRows[p] = Combine(committed.Tables, shape, left, p * m);
            values[p] = Mle.InnerProduct(evalRows[p], Mle.EqTable(lo));
        }
        tamper?.Invoke(values, evalRows);
        AbsorbStatement(transcript, committed.Commitment, points, values);
        var gamma = transcript.ChallengeFp2s("pcs/gamma", shape.TotalRows);
        var combined = Combine(committed.Tables, shape, gamma, 0);
        transcript.AbsorbFp2s("pcs/combined", combined);
        foreach (var v in evalRows)
        {
            transcript.AbsorbFp2s("pcs/rows", v);
        }
        var indices = QueryIndices(transcript, shape);
        var cols = new Fp[indices.Length][];
        for (int q = 0; q < indices.Length; q++)
        {
            cols[q] = committed.Column(indices[q]).ToArray();
        }
        return new LigeroOpening(combined, evalRows, cols, committed.Tree.Open(indices));
    }

    /// <summary>Checks that the committed polynomial p evaluates to values[p] at points[p]; throws <see cref="ProofRejectedException"/>.</summary>
    public static void Verify(ProofTranscript transcript, LigeroCommitment commitment, IReadOnlyList<Fp2[]> points, ReadOnlySpan<Fp2> values, LigeroOpening opening, LigeroParameters? parameters = null)
    {
        var prm = parameters ?? LigeroParameters.Default;
        prm.Validate();
        var shape = new Shape(commitment.NumVars, commitment.PolynomialCount, prm);
        CheckPoints(shape, points);
        if (values.Length != shape.Count)
        {
            throw new ArgumentException($"{values.Length} claimed values for {shape.Count} committed polynomials");
        }
        int k = shape.RowLength, m = shape.RowsPerPolynomial, K = shape.CodewordLength;
        if ((opening.Combined.Length != k || opening.EvaluationRows.Length != shape.Count) && VerifierMutation.Live("pcs-shape/rows"))
        {
            throw new ProofRejectedException("pcs-shape", $"opening has rows of {opening.Combined.Length} and {opening.EvaluationRows.Length} evaluation rows; expected {k} and {shape.Count}");
        }
        foreach (var v in opening.EvaluationRows)
        {
            if (v.Length != k && VerifierMutation.Live("pcs-shape/row-length"))
            {
                throw new ProofRejectedException("pcs-shape", $"evaluation row of length {v.Length}, expected {k}");
            }
        }
        var lefts = new Fp2[shape.Count][];
        for (int p = 0; p < shape.Count; p++)
        {
            var (lo, hi) = Split(shape, points[p]);
            lefts[p] = Mle.EqTable(hi);
            if (Mle.InnerProduct(opening.EvaluationRows[p], Mle.EqTable(lo)) != values[p] && VerifierMutation.Live("pcs-value"))
            {
                throw new ProofRejectedException("pcs-value", $"the evaluation row of polynomial {p} does not give the claimed value");
            }
        }
        AbsorbStatement(transcript, commitment, points, values);
        var gamma = transcript.ChallengeFp2s("pcs/gamma", shape.TotalRows);
        transcript.AbsorbFp2s("pcs/combined", opening.Combined);
        foreach (var v in opening.EvaluationRows)
        {
            transcript.AbsorbFp2s("pcs/rows", v);
        }
        var indices = QueryIndices(transcript, shape);
        if (opening.Columns.Length != indices.Length && VerifierMutation.Live("pcs-shape/columns"))
        {
            throw new ProofRejectedException("pcs-shape", $"opening has {opening.Columns.Length} columns, expected {indices.Length}");
        }
        var leafDigests = new Hash256[indices.Length];
        Span<byte> digest = stackalloc byte[Hash256.Length];
        for (int q = 0; q < indices.Length; q++)
        {
            if (opening.Columns[q].Length != shape.TotalRows && VerifierMutation.Live("pcs-shape/column-length"))
            {
                throw new ProofRejectedException("pcs-shape", $"opened column of {opening.Columns[q].Length} entries, expected {shape.TotalRows}");
            }
            HashColumn(opening.Columns[q], digest);
            leafDigests[q] = new Hash256(digest);
        }
        if (!MerkleTree.Verify(commitment.Root, BitOperations.Log2((uint)K), indices, leafDigests, opening.Siblings) && VerifierMutation.Live("pcs-merkle"))
        {
            throw new ProofRejectedException("pcs-merkle", "opened columns do not match the commitment's Merkle root");
        }
        var encodedU = EncodeExt(opening.Combined, K);
        var encodedV = new Fp2[shape.Count][];
        for (int p = 0; p < shape.Count; p++)
        {
            encodedV[p] = EncodeExt(opening.EvaluationRows[p], K);
        }
        for (int q = 0; q < indices.Length; q++)
        {
            var col = opening.Columns[q];
            int j = indices[q];
            if (Mle.InnerProduct(col, gamma) != encodedU[j] && VerifierMutation.Live("pcs-proximity"))
            {
                throw new ProofRejectedException("pcs-proximity", $"column {j} is inconsistent with the combined row (proximity test)");
            }
            for (int p = 0; p < shape.Count; p++)
            {
                if (Mle.InnerProduct(col.AsSpan(p * m, m), lefts[p]) != encodedV[p][j] && VerifierMutation.Live("pcs-evaluation"))
                {
                    throw new ProofRejectedException("pcs-evaluation", $"column {j} is inconsistent with the evaluation row of polynomial {p}");
                }
            }
        }
    }

    internal static void HashColumn(ReadOnlySpan<Fp> column, Span<byte> digest)
    {
        // leaf = SHA-256(0x00 ‖ column as little-endian u64s); Fp's memory is that encoding on LE hosts.
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("Prova.Proofs requires a little-endian host");
        }
        var bytes = MemoryMarshal.AsBytes(column);
        Span<byte> buf = bytes.Length + 1 <= 4096 ? stackalloc byte[bytes.Length + 1] : new byte[bytes.Length + 1];
        buf[0] = 0x00;
        bytes.CopyTo(buf[1..]);
        SHA256.HashData(buf, digest);
    }

    private static void AbsorbStatement(ProofTranscript transcript, LigeroCommitment commitment, IReadOnlyList<Fp2[]> points, ReadOnlySpan<Fp2> values)
    {
        transcript.AbsorbBytes("pcs/commitment", commitment.ToBytes());
        foreach (var z in points)
        {
            transcript.AbsorbFp2s("pcs/points", z);
        }
        transcript.AbsorbFp2s("pcs/values", values);
    }

    private static int[] QueryIndices(ProofTranscript transcript, Shape shape)
    {
        var raw = transcript.ChallengeIndices("pcs/columns", shape.Parameters.Queries, shape.CodewordLength);
        Array.Sort(raw);
        int distinct = 0;
        for (int i = 0; i < raw.Length; i++)
        {
            if (i == 0 || raw[i] != raw[i - 1])
            {
                raw[distinct++] = raw[i];
            }
        }
        return raw[..distinct];
    }

    /// <summary>Σ_i weights[i] · row_{firstRow + i} (length k).</summary>
    private static Fp2[] Combine(Fp[][] tables, Shape shape, ReadOnlySpan<Fp2> weights, int firstRow)
    {
        int k = shape.RowLength;
        var acc = new Fp2[k];
        var w = weights.ToArray();
        // Split the columns across threads: each thread owns a slice of acc, so the sum is exact and ordered.
        int chunks = Math.Clamp(k / 1024, 1, 16);
        Parallel.For(0, chunks, c =>
        {
            int begin = (int)((long)k * c / chunks), end = (int)((long)k * (c + 1) / chunks);
            var a = acc.AsSpan(begin, end - begin);
            for (int i = 0; i < w.Length; i++)
            {
                Fp2 wi = w[i];
                var row = RowOf(tables, shape, firstRow + i).Slice(begin, end - begin);
                for (int j = 0; j < row.Length; j++)
                {
                    a[j] += wi * row[j];
                }
            }
        });
        return acc;
    }

    private static ReadOnlySpan<Fp> RowOf(Fp[][] tables, Shape shape, int row)
    {
        int p = row / shape.RowsPerPolynomial;
        int i = row % shape.RowsPerPolynomial;
        return tables[p].AsSpan(i * shape.RowLength, shape.RowLength);
    }

    private static Fp2[] EncodeExt(ReadOnlySpan<Fp2> message, int K)
    {
        var c0 = new Fp[K];
        var c1 = new Fp[K];
        for (int i = 0; i < message.Length; i++)
        {
            c0[i] = message[i].C0;
            c1[i] = message[i].C1;
        }
        Ntt.Forward(c0);
        Ntt.Forward(c1);
        var result = new Fp2[K];
        for (int i = 0; i < K; i++)
        {
            result[i] = new Fp2(c0[i], c1[i]);
        }
        return result;
    }

    private static (Fp2[] Lo, Fp2[] Hi) Split(Shape shape, Fp2[] point)
    {
        int b = shape.NumVars - shape.LogRows;
        return (point[..b], point[b..]);
    }

    private static void CheckPoints(Shape shape, IReadOnlyList<Fp2[]> points)
    {
        if (points.Count != shape.Count)
        {
            throw new ArgumentException($"{points.Count} opening points for {shape.Count} committed polynomials");
        }
        foreach (var z in points)
        {
            if (z.Length != shape.NumVars)
            {
                throw new ArgumentException($"opening point has {z.Length} coordinates, the polynomials have {shape.NumVars} variables");
            }
        }
    }

    internal readonly struct Shape
    {
        public Shape(int numVars, int count, LigeroParameters parameters)
        {
            if (numVars is < 0 or > 28 || count < 1)
            {
                throw new ArgumentOutOfRangeException(nameof(numVars), $"cannot commit {count} polynomials of {numVars} variables");
            }
            NumVars = numVars;
            Count = count;
            Parameters = parameters;
            LogRows = parameters.LogRows(numVars, count);
            RowsPerPolynomial = 1 << LogRows;
            RowLength = 1 << (numVars - LogRows);
            CodewordLength = RowLength << parameters.LogBlowup;
        }

        public int NumVars { get; }

        public int Count { get; }

        public LigeroParameters Parameters { get; }

        public int LogRows { get; }

        public int RowsPerPolynomial { get; }

        public int RowLength { get; }

        public int CodewordLength { get; }

        public int TotalRows => RowsPerPolynomial * Count;
    }
}
