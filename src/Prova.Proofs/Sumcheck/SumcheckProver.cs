// Sumcheck for Σ_{x ∈ {0,1}^n} [eq(z, x)] · Π_k f_k(x) with up to a handful of multilinear factors.
// Round j binds x_j (Mle's little-endian convention); the round polynomial has degree k (k+1 with
// the eq factor) and is sent as its evaluations at 0..degree. When the factors are tables over Fp,
// the first round is computed in Fp and folding lifts them into Fp2.
// Transcript: absorb "sumcheck/claim"; per round absorb "sumcheck/round" then draw "sumcheck/r";
// after the last round absorb the factor evaluations as "sumcheck/evals".
using Prova.Proofs.Field;
using Prova.Proofs.Polynomials;
using Prova.Proofs.Transcript;

namespace Prova.Proofs.Sumcheck;

public static class SumcheckProver
{
    /// <summary>Largest number of factors supported (the eq factor does not count).</summary>
    public const int MaxFactors = 8;

    private const int ParallelPairs = 1 << 14;

    /// <summary>
    /// Proves Σ_x eq(eqPoint, x)·Π_k factors[k](x) (without the eq term when eqPoint is empty).
    /// The tables are not modified.
    /// </summary>
    public static SumcheckProverResult ProveProduct(ProofTranscript transcript, IReadOnlyList<Fp[]> factors, ReadOnlySpan<Fp2> eqPoint = default)
    {
        int n = CheckShapes(factors.Select(f => f.Length).ToArray(), eqPoint.Length);
        bool withEq = eqPoint.Length > 0;
        int k = factors.Count;
        int degree = k + (withEq ? 1 : 0);
        Fp2[]? eq = withEq ? Mle.EqTable(eqPoint) : null;
        Fp2 claim = SumBase(factors, eq);
        transcript.AbsorbFp2("sumcheck/claim", claim);
        if (n == 0)
        {
            var evals0 = factors.Select(f => (Fp2)f[0]).ToArray();
            transcript.AbsorbFp2s("sumcheck/evals", evals0);
            return new SumcheckProverResult(new SumcheckProof([]), claim, [], evals0);
        }
        var rounds = new Fp2[n][];
        var point = new Fp2[n];

        // Round 0 over Fp.
        rounds[0] = RoundBase(factors, eq, degree);
        transcript.AbsorbFp2s("sumcheck/round", rounds[0]);
        Fp2 r = transcript.ChallengeFp2("sumcheck/r");
        point[0] = r;
        var tables = new Fp2[k + (withEq ? 1 : 0)][];
        for (int f = 0; f < k; f++)
        {
            tables[f] = new Fp2[factors[f].Length / 2];
            Mle.Fold(factors[f], r, tables[f]);
        }
        if (eq != null)
        {
            Mle.Fold(eq, r, eq);
            tables[k] = eq;
        }
        return Finish(transcript, tables, k, degree, rounds, point, 1, claim);
    }

    /// <summary>As <see cref="ProveProduct(ProofTranscript, IReadOnlyList{Fp[]}, ReadOnlySpan{Fp2})"/> for tables over Fp2.</summary>
    public static SumcheckProverResult ProveProduct(ProofTranscript transcript, IReadOnlyList<Fp2[]> factors, ReadOnlySpan<Fp2> eqPoint = default)
    {
        int n = CheckShapes(factors.Select(f => f.Length).ToArray(), eqPoint.Length);
        bool withEq = eqPoint.Length > 0;
        int k = factors.Count;
        int degree = k + (withEq ? 1 : 0);
        var tables = new Fp2[k + (withEq ? 1 : 0)][];
        for (int f = 0; f < k; f++)
        {
            tables[f] = (Fp2[])factors[f].Clone();
        }
        if (withEq)
        {
            tables[k] = Mle.EqTable(eqPoint);
        }
        Fp2 claim = SumExt(tables);
        transcript.AbsorbFp2("sumcheck/claim", claim);
        return Finish(transcript, tables, k, degree, new Fp2[n][], new Fp2[n], 0, claim);
    }

    private static SumcheckProverResult Finish(ProofTranscript transcript, Fp2[][] tables, int k, int degree, Fp2[][] rounds, Fp2[] point, int firstRound, Fp2 claim)
    {
        int n = point.Length;
        int len = n == 0 ? 1 : 1 << (n - firstRound);
        for (int j = firstRound; j < n; j++)
        {
            rounds[j] = RoundExt(tables, len, degree);
            transcript.AbsorbFp2s("sumcheck/round", rounds[j]);
            Fp2 r = transcript.ChallengeFp2("sumcheck/r");
            point[j] = r;
            foreach (var t in tables)
            {
                Mle.Fold(t.AsSpan(0, len), r, t);
            }
            len /= 2;
        }
        var evals = new Fp2[k];
        for (int f = 0; f < k; f++)
        {
            evals[f] = tables[f][0];
        }
        transcript.AbsorbFp2s("sumcheck/evals", evals);
        return new SumcheckProverResult(new SumcheckProof(rounds), claim, point, evals);
    }

    private static int CheckShapes(int[] lengths, int eqVars)
    {
        if (lengths.Length == 0 || lengths.Length > MaxFactors)
        {
            throw new ArgumentException($"product sumcheck takes 1..{MaxFactors} factors, got {lengths.Length}");
        }
        int n = Mle.NumVars(lengths[0]);
        foreach (int l in lengths)
        {
            if (l != lengths[0])
            {
                throw new ArgumentException($"all factors must have the same length, got {lengths[0]} and {l}");
            }
        }
        if (eqVars != 0 && eqVars != n)
        {
            throw new ArgumentException($"eq point has {eqVars} coordinates but the factors have {n} variables");
        }
        return n;
    }

    private static Fp2 SumBase(IReadOnlyList<Fp[]> factors, Fp2[]? eq)
    {
        int len = factors[0].Length;
        Fp2 acc = Fp2.Zero;
        for (int i = 0; i < len; i++)
        {
            Fp p = factors[0][i];
            for (int f = 1; f < factors.Count; f++)
            {
                p *= factors[f][i];
            }
            acc += eq != null ? eq[i] * p : (Fp2)p;
        }
        return acc;
    }

    private static Fp2 SumExt(Fp2[][] tables)
    {
        int len = tables[0].Length;
        Fp2 acc = Fp2.Zero;
        for (int i = 0; i < len; i++)
        {
            Fp2 p = tables[0][i];
            for (int f = 1; f < tables.Length; f++)
            {
                p *= tables[f][i];
            }
            acc += p;
        }
        return acc;
    }

    /// <summary>Round polynomial of the first round with base-field factors (and an optional Fp2 eq table).</summary>
    private static Fp2[] RoundBase(IReadOnlyList<Fp[]> factors, Fp2[]? eq, int degree)
    {
        int pairs = factors[0].Length / 2;
        var fs = factors.ToArray();
        return ParallelSum(pairs, degree, (begin, end, sums) =>
        {
            int k = fs.Length;
            Span<Fp> cur = stackalloc Fp[MaxFactors];
            Span<Fp> diff = stackalloc Fp[MaxFactors];
            for (int i = begin; i < end; i++)
            {
                for (int f = 0; f < k; f++)
                {
                    Fp a = fs[f][2 * i];
                    cur[f] = a;
                    diff[f] = fs[f][2 * i + 1] - a;
                }
                Fp2 e = default, de = default;
                if (eq != null)
                {
                    e = eq[2 * i];
                    de = eq[2 * i + 1] - e;
                }
                for (int t = 0; t <= degree; t++)
                {
                    Fp p = cur[0];
                    cur[0] += diff[0];
                    for (int f = 1; f < k; f++)
                    {
                        p *= cur[f];
                        cur[f] += diff[f];
                    }
                    if (eq != null)
                    {
                        sums[t] += e * p;
                        e += de;
                    }
                    else
                    {
                        sums[t] += p;
                    }
                }
            }
        });
    }

    private static Fp2[] RoundExt(Fp2[][] tables, int len, int degree)
    {
        int pairs = len / 2;
        return ParallelSum(pairs, degree, (begin, end, sums) =>
        {
            int k = tables.Length;
            Span<Fp2> cur = stackalloc Fp2[MaxFactors + 1];
            Span<Fp2> diff = stackalloc Fp2[MaxFactors + 1];
            for (int i = begin; i < end; i++)
            {
                for (int f = 0; f < k; f++)
                {
                    Fp2 a = tables[f][2 * i];
                    cur[f] = a;
                    diff[f] = tables[f][2 * i + 1] - a;
                }
                for (int t = 0; t <= degree; t++)
                {
                    Fp2 p = cur[0];
                    cur[0] += diff[0];
                    for (int f = 1; f < k; f++)
                    {
                        p *= cur[f];
                        cur[f] += diff[f];
                    }
                    sums[t] += p;
                }
            }
        });
    }

    private delegate void RangeSum(int begin, int end, Span<Fp2> sums);

    /// <summary>
    /// Σ over pairs split into fixed chunks; field addition is exact, so the result is identical for any
    /// thread count or schedule.
    /// </summary>
    private static Fp2[] ParallelSum(int pairs, int degree, RangeSum body)
    {
        var total = new Fp2[degree + 1];
        if (pairs < ParallelPairs)
        {
            body(0, pairs, total);
            return total;
        }
        int chunks = Math.Min(Environment.ProcessorCount * 4, pairs / (ParallelPairs / 4));
        var partial = new Fp2[chunks][];
        Parallel.For(0, chunks, c =>
        {
            var sums = new Fp2[degree + 1];
            int begin = (int)((long)pairs * c / chunks);
            int end = (int)((long)pairs * (c + 1) / chunks);
            body(begin, end, sums);
            partial[c] = sums;
        });
        foreach (var p in partial)
        {
            for (int t = 0; t <= degree; t++)
            {
                total[t] += p[t];
            }
        }
        return total;
    }
}
