// Verifier side of SumcheckProver (same transcript labels). Rounds: check h_j(0) + h_j(1) = claim_j,
// draw r_j, set claim_{j+1} = h_j(r_j) by Lagrange interpolation from the evaluations at 0..degree.
using Prova.Proofs.Field;
using Prova.Proofs.Polynomials;
using Prova.Proofs.Transcript;

namespace Prova.Proofs.Sumcheck;

public static class SumcheckVerifier
{
    /// <summary>
    /// Checks the rounds of a sumcheck for <paramref name="claim"/> over n variables with round polynomials
    /// of the given degree; returns the point and the claim left to check. Does not absorb final evaluations.
    /// Throws <see cref="ProofRejectedException"/>.
    /// </summary>
    public static SumcheckClaim Verify(ProofTranscript transcript, Fp2 claim, int numVars, int degree, SumcheckProof proof)
    {
        if (proof.Rounds.Length != numVars && VerifierMutation.Live("sumcheck-shape/rounds"))
        {
            throw new ProofRejectedException("sumcheck-shape", $"sumcheck proof has {proof.Rounds.Length} rounds, expected {numVars}");
        }
        transcript.AbsorbFp2("sumcheck/claim", claim);
        var point = new Fp2[numVars];
        Fp2 current = claim;
        for (int j = 0; j < numVars; j++)
        {
            var h = proof.Rounds[j];
            if (h is null || (h.Length != degree + 1 && VerifierMutation.Live("sumcheck-shape/degree")))
            {
                throw new ProofRejectedException("sumcheck-shape", $"sumcheck round {j} has {h?.Length ?? 0} evaluations, expected {degree + 1}");
            }
            if (h[0] + h[1] != current && VerifierMutation.Live("sumcheck-round-sum"))
            {
                throw new ProofRejectedException("sumcheck-round-sum", $"sumcheck round {j}: h(0) + h(1) does not equal the running claim");
            }
            transcript.AbsorbFp2s("sumcheck/round", h);
            Fp2 r = transcript.ChallengeFp2("sumcheck/r");
            point[j] = r;
            current = InterpolateAt(h, r);
        }
        return new SumcheckClaim(point, current);
    }

    /// <summary>
    /// Verifies a product sumcheck whose factor evaluations at the final point are claimed in
    /// <paramref name="factorEvaluations"/> (the caller must still check those against commitments).
    /// Returns the point.
    /// </summary>
    public static Fp2[] VerifyProduct(ProofTranscript transcript, Fp2 claim, int numVars, ReadOnlySpan<Fp2> eqPoint, SumcheckProof proof, ReadOnlySpan<Fp2> factorEvaluations)
    {
        if ((factorEvaluations.Length == 0 || factorEvaluations.Length > SumcheckProver.MaxFactors) && VerifierMutation.Live("sumcheck-shape/factors"))
        {
            throw new ProofRejectedException("sumcheck-shape", $"product sumcheck with {factorEvaluations.Length} factors");
        }
        if (eqPoint.Length != 0 && eqPoint.Length != numVars)
        {
            throw new ArgumentException($"eq point has {eqPoint.Length} coordinates, expected {numVars}");
        }
        int degree = factorEvaluations.Length + (eqPoint.Length > 0 ? 1 : 0);
        var result = Verify(transcript, claim, numVars, degree, proof);
        Fp2 expected = eqPoint.Length > 0 ? Mle.Eq(eqPoint, result.Point) : Fp2.One;
        foreach (var e in factorEvaluations)
        {
            expected *= e;
        }
        if (expected != result.FinalClaim && VerifierMutation.Live("sumcheck-final"))
        {
            throw new ProofRejectedException("sumcheck-final", "sumcheck final claim does not match the product of the factor evaluations");
        }
        transcript.AbsorbFp2s("sumcheck/evals", factorEvaluations);
        return result.Point;
    }

    /// <summary>The polynomial of degree ≤ d through (i, evals[i]) for i = 0..d, evaluated at x.</summary>
    public static Fp2 InterpolateAt(ReadOnlySpan<Fp2> evals, Fp2 x)
    {
        int d = evals.Length - 1;
        // Lagrange over nodes 0..d: L_i(x) = Π_{m≠i} (x - m) / (i - m).
        Span<Fp2> prefix = stackalloc Fp2[evals.Length + 1];
        Span<Fp2> suffix = stackalloc Fp2[evals.Length + 1];
        prefix[0] = Fp2.One;
        for (int i = 0; i <= d; i++)
        {
            prefix[i + 1] = prefix[i] * (x - Fp.FromUInt64((ulong)i));
        }
        suffix[d + 1] = Fp2.One;
        for (int i = d; i >= 0; i--)
        {
            suffix[i] = suffix[i + 1] * (x - Fp.FromUInt64((ulong)i));
        }
        Fp2 acc = Fp2.Zero;
        for (int i = 0; i <= d; i++)
        {
            // Denominator Π_{m≠i} (i - m) = i! · (d - i)! · (-1)^(d-i)
            Fp denom = Factorial(i) * Factorial(d - i);
            if (((d - i) & 1) != 0)
            {
                denom = -denom;
            }
            acc += evals[i] * (prefix[i] * suffix[i + 1]) * denom.Inverse();
        }
        return acc;
    }

    private static Fp Factorial(int n)
    {
        Fp f = Fp.One;
        for (int i = 2; i <= n; i++)
        {
            f *= Fp.FromUInt64((ulong)i);
        }
        return f;
    }
}
