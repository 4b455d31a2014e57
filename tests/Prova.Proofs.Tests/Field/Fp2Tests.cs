using System.Numerics;
using Prova.Proofs.Field;
using Xunit.Abstractions;

namespace Prova.Proofs.Tests.Field;

public sealed class Fp2Tests(ITestOutputHelper output)
{
    private static readonly BigInteger s_p = new(Fp.Modulus);

    [Fact]
    public void SevenIsAQuadraticNonResidue()
    {
        // Euler's criterion: 7^((p-1)/2) = -1.
        Assert.Equal(s_p - 1, BigInteger.ModPow(7, (s_p - 1) / 2, s_p));
        Assert.Equal(-Fp.One, Fp.FromUInt64(Fp2.NonResidue).Pow((Fp.Modulus - 1) / 2));
    }

    [Fact]
    public void MultiplicationMatchesSchoolbookOverBigInteger()
    {
        var rng = new TestRandom(output);
        for (int i = 0; i < 5_000; i++)
        {
            Fp2 a = rng.NextFp2(), b = rng.NextFp2();
            BigInteger a0 = a.C0.ToBigInteger(), a1 = a.C1.ToBigInteger(), b0 = b.C0.ToBigInteger(), b1 = b.C1.ToBigInteger();
            var c = a * b;
            Assert.Equal((a0 * b0 + 7 * a1 * b1) % s_p, c.C0.ToBigInteger());
            Assert.Equal((a0 * b1 + a1 * b0) % s_p, c.C1.ToBigInteger());
            Assert.Equal(a * b, b * a);
            Assert.Equal((a + b) - b, a);
            Assert.Equal(a * new Fp2(b.C0, Fp.Zero), a * b.C0);
        }
    }

    [Fact]
    public void InverseAndFieldLaws()
    {
        var rng = new TestRandom(output);
        for (int i = 0; i < 1_000; i++)
        {
            Fp2 a = rng.NextFp2(), b = rng.NextFp2(), c = rng.NextFp2();
            Assert.Equal(a * (b + c), a * b + a * c);
            Assert.Equal((a * b) * c, a * (b * c));
            if (!a.IsZero)
            {
                Assert.Equal(Fp2.One, a * a.Inverse());
            }
        }
        // X^2 = 7
        var x = new Fp2(Fp.Zero, Fp.One);
        Assert.Equal(Fp2.FromBase(Fp.FromUInt64(7)), x * x);
        // |Fp2*| = p^2 - 1, so y^((p-1)(p+1)) = 1.
        Fp2 y = rng.NextFp2();
        Assert.Equal(Fp2.One, y.Pow(Fp.Modulus - 1).Pow(Fp.Modulus + 1));
        Assert.Throws<DivideByZeroException>(() => Fp2.Zero.Inverse());
    }

    [Fact]
    public void BatchInvertMatchesSingleInversion()
    {
        var rng = new TestRandom(output);
        var values = rng.Fp2s(100);
        // The edge-biased draws give 0 about once in 1,000 values; zero has no inverse (checked above).
        for (int i = 0; i < values.Length; i++)
        {
            while (values[i].IsZero)
            {
                values[i] = rng.NextFp2();
            }
        }
        var inv = (Fp2[])values.Clone();
        Fp2.BatchInvert(inv);
        for (int i = 0; i < values.Length; i++)
        {
            Assert.Equal(values[i].Inverse(), inv[i]);
        }
    }

    [Fact]
    public void EncodingRoundTripsAndRejectsNonCanonicalLimbs()
    {
        var rng = new TestRandom(output);
        Span<byte> buf = stackalloc byte[Fp2.ByteLength];
        var a = rng.NextFp2();
        a.WriteTo(buf);
        Assert.True(Fp2.TryRead(buf, out var back));
        Assert.Equal(a, back);
        buf[8..].Fill(0xFF);
        Assert.False(Fp2.TryRead(buf, out _));
    }
}
