using Prova.Proofs.Field;

namespace Prova.Proofs.Sumcheck;

/// <summary>
/// The prover's messages: one univariate polynomial per round (round j binds x_j), each sent as its
/// evaluations at t = 0, 1, …, degree.
/// </summary>
public sealed class SumcheckProof
{
    public SumcheckProof(Fp2[][] rounds)
    {
        Rounds = rounds;
    }

    public Fp2[][] Rounds { get; }

    public int NumVars => Rounds.Length;

    /// <summary>Bytes on the wire: 16 per field element sent.</summary>
    public int ByteSize
    {
        get
        {
            int n = 0;
            foreach (var r in Rounds)
            {
                n += r.Length * Fp2.ByteLength;
            }
            return n;
        }
    }
}

/// <summary>What the prover hands back: the proof, the challenge point and each factor's MLE at it.</summary>
public sealed record SumcheckProverResult(SumcheckProof Proof, Fp2 Claim, Fp2[] Point, Fp2[] FactorEvaluations);

/// <summary>What the verifier is left with after the rounds: the claim f(point) = FinalClaim to check.</summary>
public sealed record SumcheckClaim(Fp2[] Point, Fp2 FinalClaim);
