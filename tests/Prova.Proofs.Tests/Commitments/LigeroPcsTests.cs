using Prova.Proofs.Commitments;
using Prova.Proofs.Field;
using Prova.Proofs.Polynomials;
using Prova.Proofs.Transcript;
using Xunit.Abstractions;

namespace Prova.Proofs.Tests.Commitments;

public sealed class LigeroPcsTests(ITestOutputHelper output)
{
    private sealed record Case(LigeroCommitment Commitment, Fp2[][] Points, Fp2[] Values, LigeroOpening Opening, Fp[][] Polys);

    private static Case Honest(TestRandom rng, int numVars, int count, LigeroParameters? prm = null)
    {
        var polys = Enumerable.Range(0, count).Select(_ => rng.Fps(1 << numVars)).ToArray();
        var committed = LigeroPcs.Commit(polys, prm);
        using var t = new ProofTranscript("pcs-test");
        committed.Commitment.AbsorbInto(t);
        var points = Enumerable.Range(0, count).Select(_ => t.ChallengeFp2s("z", numVars)).ToArray();
        var opening = LigeroPcs.Open(t, committed, points, out var values);
        return new Case(committed.Commitment, points, values, opening, polys);
    }

    private static void Verify(LigeroCommitment c, Fp2[][] points, Fp2[] values, LigeroOpening opening, LigeroParameters? prm = null)
    {
        using var t = new ProofTranscript("pcs-test");
        c.AbsorbInto(t);
        for (int p = 0; p < points.Length; p++)
        {
            var z = t.ChallengeFp2s("z", c.NumVars);
            // The verifier re-derives the points; a caller-supplied different point must also fail.
            Assert.Equal(c.NumVars, z.Length);
        }
        LigeroPcs.Verify(t, c, points, values, opening, prm);
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(1, 1)]
    [InlineData(4, 1)]
    [InlineData(10, 1)]
    [InlineData(9, 3)]
    [InlineData(14, 2)]
    public void HonestOpeningVerifiesAndValuesAreTheMleEvaluations(int numVars, int count)
    {
        var rng = new TestRandom(output);
        var c = Honest(rng, numVars, count);
        for (int p = 0; p < count; p++)
        {
            Assert.Equal(Mle.Evaluate(c.Polys[p], c.Points[p]), c.Values[p]);
        }
        Verify(c.Commitment, c.Points, c.Values, c.Opening);
        // Round trip through bytes.
        var back = LigeroOpening.FromBytes(c.Opening.ToBytes());
        Verify(LigeroCommitment.FromBytes(c.Commitment.ToBytes()), c.Points, c.Values, back);
        output.WriteLine($"2^{numVars} × {count}: opening {c.Opening.ByteSize} bytes");
    }

    [Fact]
    public void CommitmentIsDeterministic()
    {
        var rng = new TestRandom(output);
        var poly = rng.Fps(1 << 12);
        Assert.Equal(LigeroPcs.Commit([poly]).Commitment, LigeroPcs.Commit([poly]).Commitment);
        var other = (Fp[])poly.Clone();
        other[rng.Next(other.Length)] += Fp.One;
        Assert.NotEqual(LigeroPcs.Commit([poly]).Commitment.Root, LigeroPcs.Commit([other]).Commitment.Root);
    }

    [Fact]
    public void AnyChangedByteOfTheOpeningIsRejected()
    {
        var rng = new TestRandom(output);
        var c = Honest(rng, 6, 2, LigeroParameters.ForSecurity(40, 1));
        var bytes = c.Opening.ToBytes();
        output.WriteLine($"opening of {bytes.Length} bytes");
        int rejected = 0;
        for (int i = 0; i < bytes.Length; i++)
        {
            var changed = (byte[])bytes.Clone();
            changed[i] ^= (byte)(1 << rng.Next(8));
            try
            {
                Verify(c.Commitment, c.Points, c.Values, LigeroOpening.FromBytes(changed), LigeroParameters.ForSecurity(40, 1));
            }
            catch (ProofRejectedException)
            {
                rejected++;
                continue;
            }
            catch (ProofFormatException)
            {
                rejected++;
                continue;
            }
            Assert.Fail($"opening with byte {i} changed was accepted");
        }
        Assert.Equal(bytes.Length, rejected);
    }

    [Fact]
    public void ChangedCommitmentValueOrPointIsRejected()
    {
        var rng = new TestRandom(output);
        var c = Honest(rng, 8, 2);
        var cb = c.Commitment.ToBytes();
        for (int i = 0; i < 32; i++)
        {
            var changed = (byte[])cb.Clone();
            changed[i] ^= 1;
            Assert.Throws<ProofRejectedException>(() => Verify(LigeroCommitment.FromBytes(changed), c.Points, c.Values, c.Opening));
        }
        for (int p = 0; p < 2; p++)
        {
            var values = (Fp2[])c.Values.Clone();
            values[p] += Fp.One;
            Assert.Equal("pcs-value", Assert.Throws<ProofRejectedException>(() => Verify(c.Commitment, c.Points, values, c.Opening)).Code);
            for (int j = 0; j < 8; j++)
            {
                var points = c.Points.Select(z => (Fp2[])z.Clone()).ToArray();
                points[p][j] += Fp.One;
                Assert.Throws<ProofRejectedException>(() => Verify(c.Commitment, points, c.Values, c.Opening));
            }
        }
        // Shapes: a commitment presented as having another size or count.
        Assert.ThrowsAny<Exception>(() => Verify(c.Commitment with { NumVars = 7 }, c.Points.Select(z => z[..7]).ToArray(), c.Values, c.Opening));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public void CheatingProverWithWrongValueIsCaughtByTheColumns(int seedOffset)
    {
        // The prover claims f(z) + δ and sends an evaluation row v' consistent with that claim
        // (<v', eq(z_lo)> = f(z) + δ), then answers the transcript's column queries honestly.
        // Only the column checks can catch it: Enc(v') differs from the true combination in ≥ δ_code·K columns.
        var rng = new TestRandom(output);
        int numVars = 8 + seedOffset;
        var poly = rng.Fps(1 << numVars);
        var committed = LigeroPcs.Commit([poly]);
        using var t = new ProofTranscript("pcs-test");
        committed.Commitment.AbsorbInto(t);
        var z = t.ChallengeFp2s("z", numVars);
        var opening = LigeroPcs.Open(t, committed, [z], out var values, (vals, rows) =>
        {
            int b = System.Numerics.BitOperations.Log2((uint)rows[0].Length);
            var eqLo = Mle.EqTable(z[..b]);
            int j = rng.Next(rows[0].Length);
            rows[0][j] += eqLo[j].Inverse();
            vals[0] += Fp2.One;
        });
        Assert.Equal(Mle.Evaluate(poly, z) + Fp2.One, values[0]);
        var ex = Assert.Throws<ProofRejectedException>(() => Verify(committed.Commitment, [z], values, opening));
        Assert.Equal("pcs-evaluation", ex.Code);
    }

    [Fact]
    public void RowsOrColumnsOfTheWrongLengthAreAShapeRejection()
    {
        // Each caught by its own shape check before any arithmetic uses the lengths.
        var rng = new TestRandom(output);
        var c = Honest(rng, 9, 2);
        var o = c.Opening;
        var rows = o.EvaluationRows.Select(r => (Fp2[])r.Clone()).ToArray();
        rows[1] = rows[1][..^1];
        var ex = Assert.Throws<ProofRejectedException>(() => Verify(c.Commitment, c.Points, c.Values, new LigeroOpening(o.Combined, rows, o.Columns, o.Siblings)));
        Assert.Equal("pcs-shape", ex.Code);
        Assert.Contains("evaluation row of length", ex.Message);
        ex = Assert.Throws<ProofRejectedException>(() => Verify(c.Commitment, c.Points, c.Values, new LigeroOpening(o.Combined[..^1], o.EvaluationRows, o.Columns, o.Siblings)));
        Assert.Equal("pcs-shape", ex.Code);
        Assert.Contains("opening has rows of", ex.Message);
        ex = Assert.Throws<ProofRejectedException>(() => Verify(c.Commitment, c.Points, c.Values, new LigeroOpening(o.Combined, o.EvaluationRows[..1], o.Columns, o.Siblings)));
        Assert.Equal("pcs-shape", ex.Code);
        var cols = o.Columns.Select(col => (Fp[])col.Clone()).ToArray();
        cols[2] = cols[2][..^1];
        ex = Assert.Throws<ProofRejectedException>(() => Verify(c.Commitment, c.Points, c.Values, new LigeroOpening(o.Combined, o.EvaluationRows, cols, o.Siblings)));
        Assert.Equal("pcs-shape", ex.Code);
        Assert.Contains("opened column of", ex.Message);
    }

    [Fact]
    public void TruncatedOrPaddedOpeningIsAFormatError()
    {
        var rng = new TestRandom(output);
        var c = Honest(rng, 5, 1);
        var bytes = c.Opening.ToBytes();
        for (int cut = 0; cut < bytes.Length; cut += 7)
        {
            Assert.Throws<ProofFormatException>(() => LigeroOpening.FromBytes(bytes.AsSpan(0, cut)));
        }
        Assert.Throws<ProofFormatException>(() => LigeroOpening.FromBytes([.. bytes, 0]));
        Assert.Throws<ProofFormatException>(() => LigeroOpening.FromBytes([0xFF, 0xFF, 0xFF, 0x7F]));
    }

    [Fact]
    public void QueryCountGivesAtLeast100Bits()
    {
        var d = LigeroParameters.Default;
        Assert.Equal(2, d.LogBlowup);
        Assert.Equal(241, d.Queries);
        Assert.True(d.SecurityBits >= 100);
        Assert.True(LigeroParameters.ForSecurity(100, 1).SecurityBits >= 100);
        Assert.True(new LigeroParameters { Queries = 240 }.SecurityBits < 100);
    }
}
