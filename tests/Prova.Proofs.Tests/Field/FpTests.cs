using System.Numerics;
using Prova.Proofs.Field;
using Xunit.Abstractions;

namespace Prova.Proofs.Tests.Field;

public sealed class FpTests(ITestOutputHelper output)
{
    private static readonly BigInteger s_p = new(Fp.Modulus);

    private static BigInteger Mod(BigInteger v) => ((v % s_p) + s_p) % s_p;

    [Fact]
    public void ArithmeticMatchesBigInteger()
    {
        var rng = new TestRandom(output);
        for (int i = 0; i < 20_000; i++)
        {
            ulong x = rng.NextUInt64(), y = rng.NextUInt64();
            Fp a = Fp.FromUInt64(x), b = Fp.FromUInt64(y);
            BigInteger A = Mod(x), B = Mod(y);
            Assert.Equal(A, a.ToBigInteger());
            Assert.Equal(Mod(A + B), (a + b).ToBigInteger());
            Assert.Equal(Mod(A - B), (a - b).ToBigInteger());
            Assert.Equal(Mod(-A), (-a).ToBigInteger());
            Assert.Equal(Mod(A * B), (a * b).ToBigInteger());
            Assert.Equal(Mod(A * A), a.Square().ToBigInteger());
            Assert.True((a * b).Value < Fp.Modulus);
        }
    }

    [Fact]
    public void Reduce128MatchesBigIntegerOnFullRange()
    {
        var rng = new TestRandom(output);
        for (int i = 0; i < 20_000; i++)
        {
            ulong hi = rng.NextUInt64(), lo = rng.NextUInt64();
            var full = (new BigInteger(hi) << 64) + lo;
            Assert.Equal(Mod(full), new BigInteger(Fp.Reduce128(hi, lo)));
        }
    }

    [Fact]
    public void FromInt64HandlesNegatives()
    {
        foreach (long v in new[] { 0L, 1L, -1L, 127L, -128L, long.MinValue, long.MaxValue })
        {
            Assert.Equal(Mod(v), Fp.FromInt64(v).ToBigInteger());
        }
    }

    [Fact]
    public void PowAndInverseMatchBigInteger()
    {
        var rng = new TestRandom(output);
        for (int i = 0; i < 500; i++)
        {
            Fp a = rng.NextFp();
            ulong e = rng.NextUInt64();
            Assert.Equal(BigInteger.ModPow(a.ToBigInteger(), e, s_p), a.Pow(e).ToBigInteger());
            if (!a.IsZero)
            {
                Assert.Equal(Fp.One, a * a.Inverse());
            }
        }
        Assert.Throws<DivideByZeroException>(() => Fp.Zero.Inverse());
    }

    [Fact]
    public void BatchInvertMatchesSingleInversion()
    {
        var rng = new TestRandom(output);
        var values = rng.Fps(257);
        values[3] = Fp.One;
        var inv = (Fp[])values.Clone();
        Fp.BatchInvert(inv);
        for (int i = 0; i < values.Length; i++)
        {
            Assert.Equal(values[i].Inverse(), inv[i]);
        }
    }

    [Fact]
    public void FromCanonicalAndTryReadRejectNonCanonical()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Fp.FromCanonical(Fp.Modulus));
        Span<byte> buf = stackalloc byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(buf, Fp.Modulus);
        Assert.False(Fp.TryRead(buf, out _));
        Fp.FromUInt64(Fp.Modulus - 1).WriteTo(buf);
        Assert.True(Fp.TryRead(buf, out var back));
        Assert.Equal(Fp.Modulus - 1, back.Value);
    }

    [Fact]
    public void RootsOfUnityHaveExactOrder()
    {
        for (int k = 0; k <= Fp.TwoAdicity; k++)
        {
            Fp w = Fp.RootOfUnity(k);
            Assert.Equal(Fp.One, w.Pow(1UL << k));
            if (k > 0)
            {
                Assert.NotEqual(Fp.One, w.Pow(1UL << (k - 1)));
                Assert.Equal(Fp.RootOfUnity(k - 1), w.Square());
            }
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => Fp.RootOfUnity(33));
    }

    [Fact]
    public void SevenGeneratesTheMultiplicativeGroup()
    {
        // p - 1 = 2^32 · 3 · 5 · 17 · 257 · 65537: g generates iff g^((p-1)/q) ≠ 1 for every prime q.
        foreach (ulong q in new ulong[] { 2, 3, 5, 17, 257, 65537 })
        {
            Assert.Equal(0UL, (Fp.Modulus - 1) % q);
            Assert.NotEqual(Fp.One, Fp.MultiplicativeGenerator.Pow((Fp.Modulus - 1) / q));
        }
        Assert.Equal((BigInteger)(Fp.Modulus - 1), (BigInteger.One << 32) * 3 * 5 * 17 * 257 * 65537);
    }
}
