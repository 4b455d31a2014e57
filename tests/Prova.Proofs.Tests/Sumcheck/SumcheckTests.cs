using Prova.Proofs.Field;
using Prova.Proofs.Polynomials;
using Prova.Proofs.Sumcheck;
using Prova.Proofs.Transcript;
using Xunit.Abstractions;

namespace Prova.Proofs.Tests.Sumcheck;

public sealed class SumcheckTests(ITestOutputHelper output)
{
    private static Fp2 BruteForce(Fp[][] factors, Fp2[]? eqPoint)
    {
        var eq = eqPoint is { Length: > 0 } ? Mle.EqTable(eqPoint) : null;
        Fp2 acc = Fp2.Zero;
        for (int i = 0; i < factors[0].Length; i++)
        {
            Fp2 p = eq?[i] ?? Fp2.One;
            foreach (var f in factors)
            {
                p *= f[i];
            }
            acc += p;
        }
        return acc;
    }

    [Theory]
    [InlineData(1, 4, false)]
    [InlineData(2, 6, false)]
    [InlineData(3, 5, true)]
    [InlineData(4, 3, true)]
    [InlineData(2, 0, false)]
    [InlineData(2, 1, true)]
    [InlineData(2, 16, false)]
    public void HonestProofVerifiesAndMatchesBruteForce(int k, int n, bool withEq)
    {
        var rng = new TestRandom(output);
        var factors = Enumerable.Range(0, k).Select(_ => rng.Fps(1 << n)).ToArray();
        var eqPoint = withEq ? rng.Fp2s(n) : [];
        using var pt = new ProofTranscript("sumcheck-test");
        var result = SumcheckProver.ProveProduct(pt, factors, eqPoint);
        Assert.Equal(BruteForce(factors, eqPoint), result.Claim);
        for (int f = 0; f < k; f++)
        {
            Assert.Equal(Mle.Evaluate(factors[f], result.Point), result.FactorEvaluations[f]);
        }

        using var vt = new ProofTranscript("sumcheck-test");
        var point = SumcheckVerifier.VerifyProduct(vt, result.Claim, n, eqPoint, result.Proof, result.FactorEvaluations);
        Assert.Equal(result.Point, point);
        // Both transcripts are in the same state afterwards.
        Assert.Equal(pt.ChallengeFp2("next"), vt.ChallengeFp2("next"));
    }

    [Fact]
    public void ExtensionFieldFactorsGiveTheSameProofAsBaseFieldFactors()
    {
        var rng = new TestRandom(output);
        var factors = Enumerable.Range(0, 3).Select(_ => rng.Fps(1 << 7)).ToArray();
        var eqPoint = rng.Fp2s(7);
        using var a = new ProofTranscript("x");
        var ra = SumcheckProver.ProveProduct(a, factors, eqPoint);
        using var b = new ProofTranscript("x");
        var rb = SumcheckProver.ProveProduct(b, factors.Select(f => f.Select(x => (Fp2)x).ToArray()).ToArray(), eqPoint);
        Assert.Equal(ra.Claim, rb.Claim);
        Assert.Equal(ra.Point, rb.Point);
        Assert.Equal(ra.FactorEvaluations, rb.FactorEvaluations);
        for (int j = 0; j < 7; j++)
        {
            Assert.Equal(ra.Proof.Rounds[j], rb.Proof.Rounds[j]);
        }
    }

    private static (SumcheckProverResult Result, Fp2[] EqPoint) Honest(TestRandom rng, int n)
    {
        var factors = new[] { rng.Fps(1 << n), rng.Fps(1 << n) };
        var eqPoint = rng.Fp2s(n);
        using var pt = new ProofTranscript("sumcheck-test");
        return (SumcheckProver.ProveProduct(pt, factors, eqPoint), eqPoint);
    }

    private static void Verify(Fp2 claim, int n, Fp2[] eqPoint, SumcheckProof proof, Fp2[] evals)
    {
        using var vt = new ProofTranscript("sumcheck-test");
        SumcheckVerifier.VerifyProduct(vt, claim, n, eqPoint, proof, evals);
    }

    [Fact]
    public void WrongClaimedSumIsRejected()
    {
        var rng = new TestRandom(output);
        var (r, eq) = Honest(rng, 6);
        var ex = Assert.Throws<ProofRejectedException>(() => Verify(r.Claim + Fp.One, 6, eq, r.Proof, r.FactorEvaluations));
        Assert.Equal("sumcheck-round-sum", ex.Code);
    }

    [Fact]
    public void EveryChangedRoundEvaluationIsRejected()
    {
        var rng = new TestRandom(output);
        var (r, eq) = Honest(rng, 5);
        for (int j = 0; j < r.Proof.Rounds.Length; j++)
        {
            for (int t = 0; t < r.Proof.Rounds[j].Length; t++)
            {
                var rounds = r.Proof.Rounds.Select(x => (Fp2[])x.Clone()).ToArray();
                rounds[j][t] += new Fp2(Fp.Zero, Fp.One);
                Assert.Throws<ProofRejectedException>(() => Verify(r.Claim, 5, eq, new SumcheckProof(rounds), r.FactorEvaluations));
            }
        }
    }

    [Fact]
    public void ConsistentlyForgedRoundIsCaughtByTheFinalCheck()
    {
        // Shift h(0) up and h(1) down in the last round: its sum still holds, so only the final check catches it.
        var rng = new TestRandom(output);
        var (r, eq) = Honest(rng, 5);
        var rounds = r.Proof.Rounds.Select(x => (Fp2[])x.Clone()).ToArray();
        rounds[4][0] += Fp.One;
        rounds[4][1] -= Fp.One;
        var ex = Assert.Throws<ProofRejectedException>(() => Verify(r.Claim, 5, eq, new SumcheckProof(rounds), r.FactorEvaluations));
        Assert.Equal("sumcheck-final", ex.Code);
    }

    [Fact]
    public void WrongFinalEvaluationOrShapeIsRejected()
    {
        var rng = new TestRandom(output);
        var (r, eq) = Honest(rng, 5);
        for (int f = 0; f < r.FactorEvaluations.Length; f++)
        {
            var evals = (Fp2[])r.FactorEvaluations.Clone();
            evals[f] += Fp.One;
            var ex = Assert.Throws<ProofRejectedException>(() => Verify(r.Claim, 5, eq, r.Proof, evals));
            Assert.Equal("sumcheck-final", ex.Code);
        }
        var wrongEq = (Fp2[])eq.Clone();
        wrongEq[2] += Fp.One;
        Assert.Throws<ProofRejectedException>(() => Verify(r.Claim, 5, wrongEq, r.Proof, r.FactorEvaluations));
        Assert.Equal("sumcheck-shape", Assert.Throws<ProofRejectedException>(() => Verify(r.Claim, 5, eq, new SumcheckProof(r.Proof.Rounds[..4]), r.FactorEvaluations)).Code);
        // One factor fewer: the round polynomials have one evaluation too many for the degree.
        var fewer = Assert.Throws<ProofRejectedException>(() => Verify(r.Claim, 5, eq, r.Proof, r.FactorEvaluations[..1]));
        Assert.Equal("sumcheck-shape", fewer.Code);
        Assert.Contains("evaluations, expected", fewer.Message);
        // A round with an evaluation left out, and a product of no factors.
        var rounds = r.Proof.Rounds.Select(h => (Fp2[])h.Clone()).ToArray();
        rounds[3] = rounds[3][..^1];
        var shortRound = Assert.Throws<ProofRejectedException>(() => Verify(r.Claim, 5, eq, new SumcheckProof(rounds), r.FactorEvaluations));
        Assert.Equal("sumcheck-shape", shortRound.Code);
        Assert.Contains("round 3 has", shortRound.Message);
        var none = Assert.Throws<ProofRejectedException>(() => Verify(r.Claim, 5, eq, r.Proof, []));
        Assert.Equal("sumcheck-shape", none.Code);
        Assert.Contains("with 0 factors", none.Message);
    }

    [Fact]
    public void InterpolationMatchesThePolynomial()
    {
        var rng = new TestRandom(output);
        var coeffs = rng.Fp2s(5);
        Fp2 P(Fp2 x)
        {
            Fp2 acc = Fp2.Zero;
            for (int i = coeffs.Length - 1; i >= 0; i--)
            {
                acc = acc * x + coeffs[i];
            }
            return acc;
        }
        var evals = Enumerable.Range(0, 5).Select(i => P(Fp.FromUInt64((ulong)i))).ToArray();
        var x = rng.NextFp2();
        Assert.Equal(P(x), SumcheckVerifier.InterpolateAt(evals, x));
    }
}
