using Prova.Proofs.Field;
using Xunit.Abstractions;

namespace Prova.Proofs.Tests;

/// <summary>Seeded randomness for property tests; the seed is printed so a failure can be replayed.</summary>
internal sealed class TestRandom
{
    private readonly Random _rng;

    public TestRandom(ITestOutputHelper output, int? seed = null)
    {
        string? env = Environment.GetEnvironmentVariable("PROVA_TEST_SEED");
        Seed = seed ?? (env != null ? int.Parse(env, System.Globalization.CultureInfo.InvariantCulture) : Random.Shared.Next());
        output.WriteLine($"seed = {Seed} (replay with PROVA_TEST_SEED={Seed})");
        _rng = new Random(Seed);
    }

    public int Seed { get; }

    public int Next(int max) => _rng.Next(max);

    public ulong NextUInt64()
    {
        // Mix in edge values near 0, p and 2^64 so the reduction's corner cases are hit often.
        return _rng.Next(8) switch
        {
            0 => (ulong)_rng.Next(4),
            1 => Fp.Modulus - 1 - (ulong)_rng.Next(4),
            2 => ulong.MaxValue - (ulong)_rng.Next(4),
            3 => Fp.Epsilon + (ulong)_rng.Next(-2, 3),
            _ => (ulong)_rng.NextInt64() ^ ((ulong)_rng.Next() << 63),
        };
    }

    public Fp NextFp() => Fp.FromUInt64(NextUInt64());

    public Fp2 NextFp2() => new(NextFp(), NextFp());

    public Fp[] Fps(int n)
    {
        var a = new Fp[n];
        for (int i = 0; i < n; i++)
        {
            a[i] = Fp.FromUInt64((ulong)_rng.NextInt64() ^ ((ulong)_rng.Next() << 63));
        }
        return a;
    }

    public Fp2[] Fp2s(int n)
    {
        var a = new Fp2[n];
        for (int i = 0; i < n; i++)
        {
            a[i] = NextFp2();
        }
        return a;
    }

    public void NextBytes(Span<byte> buffer) => _rng.NextBytes(buffer);
}
