using Prova.Proofs.Field;
using Prova.Proofs.Polynomials;
using Xunit.Abstractions;

namespace Prova.Proofs.Tests.Polynomials;

public sealed class MleTests(ITestOutputHelper output)
{
    /// <summary>Brute force: Σ_i table[i]·Π_j (x_j ? r_j : 1 - r_j).</summary>
    private static Fp2 Naive(ReadOnlySpan<Fp> table, ReadOnlySpan<Fp2> r)
    {
        Fp2 acc = Fp2.Zero;
        for (int i = 0; i < table.Length; i++)
        {
            Fp2 w = Fp2.One;
            for (int j = 0; j < r.Length; j++)
            {
                w *= ((i >> j) & 1) == 1 ? r[j] : Fp2.One - r[j];
            }
            acc += w * table[i];
        }
        return acc;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(5)]
    public void EvaluateMatchesBruteForceAndAgreesOnTheHypercube(int n)
    {
        var rng = new TestRandom(output);
        var table = rng.Fps(1 << n);
        var r = rng.Fp2s(n);
        Assert.Equal(Naive(table, r), Mle.Evaluate(table, r));
        Assert.Equal(Naive(table, r), Mle.Evaluate(table.Select(x => (Fp2)x).ToArray(), r));
        Assert.Equal(Naive(table, r), Mle.InnerProduct(table, Mle.EqTable(r)));
        int idx = rng.Next(1 << n);
        var corner = Enumerable.Range(0, n).Select(j => ((idx >> j) & 1) == 1 ? Fp2.One : Fp2.Zero).ToArray();
        Assert.Equal((Fp2)table[idx], Mle.Evaluate(table, corner));
    }

    [Fact]
    public void EqTableMatchesEqAndSumsToOne()
    {
        var rng = new TestRandom(output);
        var r = rng.Fp2s(6);
        var eq = Mle.EqTable(r);
        Fp2 sum = Fp2.Zero;
        for (int i = 0; i < eq.Length; i++)
        {
            var x = Enumerable.Range(0, 6).Select(j => ((i >> j) & 1) == 1 ? Fp2.One : Fp2.Zero).ToArray();
            Assert.Equal(Mle.Eq(r, x), eq[i]);
            sum += eq[i];
        }
        Assert.Equal(Fp2.One, sum);
        var s = rng.Fp2s(6);
        Assert.Equal(Mle.Evaluate(eq, s), Mle.Eq(r, s));
    }

    [Fact]
    public void FoldBindsTheLowestVariable()
    {
        var rng = new TestRandom(output);
        var table = rng.Fps(16);
        var r = rng.Fp2s(4);
        var folded = new Fp2[8];
        Mle.Fold(table, r[0], folded);
        Assert.Equal(Mle.Evaluate(table, r), Mle.Evaluate(folded, r.AsSpan(1)));
    }

    [Fact]
    public void RejectsBadShapes()
    {
        Assert.Throws<ArgumentException>(() => Mle.Evaluate(new Fp[6], new Fp2[3]));
        Assert.Throws<ArgumentException>(() => Mle.Evaluate(new Fp[8], new Fp2[2]));
        Assert.Throws<ArgumentException>(() => Mle.Eq(new Fp2[2], new Fp2[3]));
    }
}
