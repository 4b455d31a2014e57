using Prova.Proofs.Field;
using Xunit.Abstractions;

namespace Prova.Proofs.Tests.Field;

public sealed class NttTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(8)]
    [InlineData(64)]
    public void ForwardMatchesNaiveEvaluation(int n)
    {
        var rng = new TestRandom(output);
        var coeffs = rng.Fps(n);
        var values = (Fp[])coeffs.Clone();
        Ntt.Forward(values);
        Fp w = Fp.RootOfUnity(System.Numerics.BitOperations.Log2((uint)n));
        Fp x = Fp.One;
        for (int i = 0; i < n; i++)
        {
            Fp acc = Fp.Zero;
            for (int j = n - 1; j >= 0; j--)
            {
                acc = acc * x + coeffs[j];
            }
            Assert.Equal(acc, values[i]);
            x *= w;
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(16)]
    [InlineData(4096)]
    public void InverseUndoesForward(int n)
    {
        var rng = new TestRandom(output);
        var coeffs = rng.Fps(n);
        var values = (Fp[])coeffs.Clone();
        Ntt.Forward(values);
        Ntt.Inverse(values);
        Assert.Equal(coeffs, values);
    }

    [Fact]
    public void CosetTransformEvaluatesOnShiftedDomain()
    {
        var rng = new TestRandom(output);
        var coeffs = rng.Fps(32);
        var values = (Fp[])coeffs.Clone();
        Ntt.ForwardCoset(values, Fp.MultiplicativeGenerator);
        Fp x = Fp.MultiplicativeGenerator * Fp.RootOfUnity(5).Pow(7);
        Fp acc = Fp.Zero;
        for (int j = 31; j >= 0; j--)
        {
            acc = acc * x + coeffs[j];
        }
        Assert.Equal(acc, values[7]);
    }

    [Fact]
    public void RejectsLengthsThatAreNotPowersOfTwo()
    {
        Assert.Throws<ArgumentException>(() => Ntt.Forward(new Fp[12]));
        Assert.Throws<ArgumentException>(() => Ntt.Inverse(Array.Empty<Fp>()));
    }
}
