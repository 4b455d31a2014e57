using Prova.Proofs.Field;
using Prova.Proofs.Inference;
using Prova.Proofs.Transcript;
using Prova.Runtime.Ops.Quant;
using Xunit.Abstractions;

namespace Prova.Proofs.Tests.Inference;

public sealed class RequantArgumentTests(ITestOutputHelper output)
{
    private sealed record Layer(int Rows, int Columns, int[] Acc, int[] M0, int[] Shift);

    private static Layer Random(TestRandom rng, int rows, int columns)
    {
        var acc = new int[rows * columns];
        for (int i = 0; i < acc.Length; i++)
        {
            acc[i] = rng.Next(4) switch
            {
                0 => rng.Next(64) - 32,
                1 => int.MinValue + 1 + rng.Next(8),
                2 => int.MaxValue - rng.Next(8),
                _ => rng.Next(1 << 20) - (1 << 19),
            };
        }
        var m0 = new int[columns];
        var shift = new int[columns];
        for (int j = 0; j < columns; j++)
        {
            m0[j] = (1 << 30) + rng.Next(1 << 30);
            shift[j] = 31 + rng.Next(RequantArgument.MaxShift - 31 + 1);
        }
        return new Layer(rows, columns, acc, m0, shift);
    }

    private static RequantProof Prove(Layer l, Func<int, int, (long Q, long R)>? witness = null)
    {
        using var t = new ProofTranscript("requant-test");
        return RequantArgument.Prove(t, l.Rows, l.Columns, l.Acc, l.M0, l.Shift, witness);
    }

    private static void Verify(Layer l, RequantProof proof)
    {
        using var t = new ProofTranscript("requant-test");
        RequantArgument.Verify(t, l.Rows, l.Columns, l.M0, l.Shift, proof);
    }

    private void AssertRejected(Layer l, RequantProof proof, string because)
    {
        var ex = Assert.Throws<ProofException>(() => Verify(l, proof));
        Assert.Equal(ProofErrorCode.Rejected, ex.Code);
        Assert.StartsWith("requantisation: ", ex.Message);
        output.WriteLine($"{because}: {ex.Message}");
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(5, 3)]
    [InlineData(16, 10)]
    public void HonestRequantisationVerifiesAndQuotientIsTheEngineRounding(int rows, int columns)
    {
        var rng = new TestRandom(output);
        var l = Random(rng, rows, columns);
        var proof = Prove(l);
        output.WriteLine($"{rows}×{columns}: {proof.ByteSize} bytes");
        Verify(l, proof);
        // The proven quotient q = floor((acc·M0 + 2^(s−1)) / 2^s) is the engine's round-half-even result
        // except on exact ties with odd q (what the tie bit, not yet proven, corrects).
        for (int i = 0; i < rows; i++)
        {
            for (int j = 0; j < columns; j++)
            {
                long p = (long)l.Acc[i * columns + j] * l.M0[j];
                long q = (p + (1L << (l.Shift[j] - 1))) >> l.Shift[j];
                long engine = Requant.RoundShift(p, l.Shift[j]);
                Assert.True(q == engine || (q - 1 == engine && (p & ((1L << l.Shift[j]) - 1)) == 1L << (l.Shift[j] - 1)));
            }
        }
    }

    [Fact]
    public void RemainderOutOfRangeIsRejected()
    {
        // r' = r + 2^s, q' = q − 1: the relation acc·M0 + 2^(s−1) = q'·2^s + r' still holds, but r' ≥ 2^s.
        var rng = new TestRandom(output);
        var l = Random(rng, 4, 3);
        int bi = rng.Next(4), bj = rng.Next(3);
        var proof = Prove(l, (i, j) =>
        {
            long tt = (long)l.Acc[i * l.Columns + j] * l.M0[j] + (1L << (l.Shift[j] - 1));
            long q = tt >> l.Shift[j], r = tt & ((1L << l.Shift[j]) - 1);
            return i == bi && j == bj ? (q - 1, r + (1L << l.Shift[j])) : (q, r);
        });
        AssertRejected(l, proof, "remainder ≥ 2^s");
    }

    [Fact]
    public void NegativeRemainderIsRejected()
    {
        var rng = new TestRandom(output);
        var l = Random(rng, 3, 2);
        var proof = Prove(l, (i, j) =>
        {
            long tt = (long)l.Acc[i * l.Columns + j] * l.M0[j] + (1L << (l.Shift[j] - 1));
            long q = tt >> l.Shift[j], r = tt & ((1L << l.Shift[j]) - 1);
            return i == 0 && j == 1 ? (q + 1, r - (1L << l.Shift[j])) : (q, r);
        });
        AssertRejected(l, proof, "remainder < 0");
    }

    [Fact]
    public void WrongQuotientIsRejected()
    {
        var rng = new TestRandom(output);
        var l = Random(rng, 4, 4);
        var proof = Prove(l, (i, j) =>
        {
            long tt = (long)l.Acc[i * l.Columns + j] * l.M0[j] + (1L << (l.Shift[j] - 1));
            long q = tt >> l.Shift[j], r = tt & ((1L << l.Shift[j]) - 1);
            return i == 2 && j == 3 ? (q + 1, r) : (q, r);
        });
        AssertRejected(l, proof, "q off by one");
    }

    [Fact]
    public void ProofForOtherAccumulatorsOrShiftsIsRejected()
    {
        var rng = new TestRandom(output);
        var l = Random(rng, 4, 2);
        var proof = Prove(l);
        var shifts = (int[])l.Shift.Clone();
        shifts[1] = shifts[1] == RequantArgument.MaxShift ? shifts[1] - 1 : shifts[1] + 1;
        AssertRejected(l with { Shift = shifts }, proof, "other shift");
        var m0 = (int[])l.M0.Clone();
        m0[0]--;
        AssertRejected(l with { M0 = m0 }, proof, "other multiplier");
        // A tampered column value (prover message) breaks the commitment link.
        proof.ColumnValues[1][0] += Fp2.One;
        AssertRejected(l, proof, "tampered remainder column");
    }

    [Fact]
    public void LayersBeyondTheSoundnessBoundAreRefused()
    {
        // 2^20 elements + 5 slot variables = 2^25 lookups: the LogUp term would exceed 2^-104.
        using var t = new ProofTranscript("requant-test");
        var ex = Assert.Throws<ProofException>(() => RequantArgument.Verify(t, 1 << 10, 1 << 10, new int[1 << 10], Enumerable.Repeat(31, 1 << 10).ToArray(), null!));
        Assert.Equal(ProofErrorCode.Unsupported, ex.Code);
    }

    [Fact]
    public void TamperedMultiplicitiesAreRejected()
    {
        var rng = new TestRandom(output);
        var l = Random(rng, 2, 2);
        var proof = Prove(l);
        int from = Enumerable.Range(0, 256).First(v => proof.Multiplicities[v] > 0);
        proof.Multiplicities[from]--;
        proof.Multiplicities[(from + 1) % 256]++;
        AssertRejected(l, proof, "moved multiplicity");
    }
}
