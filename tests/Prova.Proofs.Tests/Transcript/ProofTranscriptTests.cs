using Prova.Core.Crypto;
using Prova.Proofs.Field;
using Prova.Proofs.Transcript;
using Xunit.Abstractions;

namespace Prova.Proofs.Tests.Transcript;

public sealed class ProofTranscriptTests(ITestOutputHelper output)
{
    private static Fp2[] Run(byte[] bytes, Fp[] fps, Fp2 ext, Hash256 digest, string label = "msg")
    {
        using var t = new ProofTranscript("test/v1");
        t.AbsorbBytes(label, bytes);
        var c1 = t.ChallengeFp2("c1");
        t.AbsorbFps("fps", fps);
        t.AbsorbFp2("ext", ext);
        t.AbsorbDigest("root", digest);
        var rest = t.ChallengeFp2s("c2", 3);
        return [c1, .. rest];
    }

    [Fact]
    public void IsDeterministicAndChallengesAreDistinct()
    {
        var rng = new TestRandom(output);
        var bytes = new byte[40];
        rng.NextBytes(bytes);
        var fps = rng.Fps(5);
        var ext = rng.NextFp2();
        var digest = new Hash256(new byte[32]);
        var a = Run(bytes, fps, ext, digest);
        var b = Run(bytes, fps, ext, digest);
        Assert.Equal(a, b);
        Assert.Equal(4, a.Distinct().Count());
        Assert.All(a, c => Assert.False(c.IsBase));
    }

    [Fact]
    public void ChangingAnyAbsorbedByteChangesLaterChallenges()
    {
        var rng = new TestRandom(output);
        var bytes = new byte[24];
        rng.NextBytes(bytes);
        var fps = rng.Fps(3);
        var ext = rng.NextFp2();
        var digestBytes = new byte[32];
        rng.NextBytes(digestBytes);
        var baseline = Run(bytes, fps, ext, new Hash256(digestBytes));

        for (int i = 0; i < bytes.Length; i++)
        {
            var changed = (byte[])bytes.Clone();
            changed[i] ^= (byte)(1 << rng.Next(8));
            var r = Run(changed, fps, ext, new Hash256(digestBytes));
            Assert.NotEqual(baseline[0], r[0]);
            Assert.NotEqual(baseline[1], r[1]);
        }
        for (int i = 0; i < fps.Length; i++)
        {
            var changed = (Fp[])fps.Clone();
            changed[i] += Fp.One;
            var r = Run(bytes, changed, ext, new Hash256(digestBytes));
            Assert.Equal(baseline[0], r[0]);
            Assert.NotEqual(baseline[1], r[1]);
        }
        Assert.NotEqual(baseline[1], Run(bytes, fps, ext + Fp.One, new Hash256(digestBytes))[1]);
        Assert.NotEqual(baseline[1], Run(bytes, fps, new Fp2(ext.C0, ext.C1 + Fp.One), new Hash256(digestBytes))[1]);
        for (int i = 0; i < 32; i++)
        {
            var changed = (byte[])digestBytes.Clone();
            changed[i] ^= 0x80;
            Assert.NotEqual(baseline[1], Run(bytes, fps, ext, new Hash256(changed))[1]);
        }
        // Labels and framing are bound too: same bytes under another label, or split differently.
        Assert.NotEqual(baseline[0], Run(bytes, fps, ext, new Hash256(digestBytes), "msh")[0]);
    }

    [Fact]
    public void FramingSeparatesMessageBoundaries()
    {
        using var a = new ProofTranscript("p");
        a.AbsorbBytes("m", [1, 2, 3]);
        a.AbsorbBytes("m", [4]);
        using var b = new ProofTranscript("p");
        b.AbsorbBytes("m", [1, 2]);
        b.AbsorbBytes("m", [3, 4]);
        using var c = new ProofTranscript("q");
        c.AbsorbBytes("m", [1, 2, 3]);
        c.AbsorbBytes("m", [4]);
        var ca = a.ChallengeFp2("x");
        Assert.NotEqual(ca, b.ChallengeFp2("x"));
        Assert.NotEqual(ca, c.ChallengeFp2("x"));
    }

    [Fact]
    public void IndicesAreInRangeAndDeterministic()
    {
        using var a = new ProofTranscript("p");
        using var b = new ProofTranscript("p");
        var ia = a.ChallengeIndices("q", 500, 37);
        Assert.Equal(ia, b.ChallengeIndices("q", 500, 37));
        Assert.All(ia, i => Assert.InRange(i, 0, 36));
        Assert.Equal(37, ia.Distinct().Count());
        Assert.Throws<ArgumentOutOfRangeException>(() => a.ChallengeIndices("q", 1, 0));
    }

    [Fact]
    public void ChallengeLimbsAreRoughlyUniform()
    {
        // Each bit of 4000 limbs should be set about half the time (|deviation| < 6 sigma).
        using var t = new ProofTranscript("uniform");
        var cs = t.ChallengeFp2s("c", 2000);
        for (int bit = 0; bit < 63; bit++)
        {
            int ones = cs.Count(c => ((c.C0.Value >> bit) & 1) != 0) + cs.Count(c => ((c.C1.Value >> bit) & 1) != 0);
            Assert.InRange(ones, 2000 - 190, 2000 + 190);
        }
    }
}
