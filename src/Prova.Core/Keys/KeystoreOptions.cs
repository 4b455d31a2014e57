namespace Prova.Core.Keys;

/// <summary>
/// scrypt cost parameters for new keystore files. The defaults are the Web3 Secret Storage /
/// geth "standard" ones (n = 2^18, r = 8, p = 1: about 256 MiB and a second or so per unlock).
/// </summary>
public sealed class KeystoreOptions
{
    /// <summary>scrypt N (CPU/memory cost): a power of two, at least 2.</summary>
    public int ScryptN { get; init; } = 262_144;

    /// <summary>scrypt r (block size).</summary>
    public int ScryptR { get; init; } = 8;

    /// <summary>scrypt p (parallelism).</summary>
    public int ScryptP { get; init; } = 1;

    public static KeystoreOptions Default { get; } = new();

    /// <summary>
    /// Cheap parameters (n = 2^12) for tests and throw-away devnet keys only: a stolen file with these
    /// parameters is about 64 times cheaper to brute-force than one with the defaults.
    /// </summary>
    public static KeystoreOptions Light { get; } = new() { ScryptN = 4_096, ScryptR = 8, ScryptP = 1 };

    internal void Validate()
    {
        if (!KeystoreLimits.ScryptParametersAllowed(ScryptN, ScryptR, ScryptP, out string? problem))
        {
            throw new ArgumentException($"KeystoreOptions: {problem}");
        }
    }
}

/// <summary>Bounds on the KDF cost a keystore file may ask for, so a hostile file cannot exhaust memory or time.</summary>
internal static class KeystoreLimits
{
    // 128 · n · r bytes of memory: allow up to 512 MiB (the standard parameters need 256 MiB).
    private const long MaxScryptNTimesR = 1L << 22;

    // Total work ∝ n · r · p: allow 4× the standard parameters.
    private const long MaxScryptWork = 1L << 23;

    public const int MaxPbkdf2Iterations = 10_000_000;

    public static bool ScryptParametersAllowed(long n, long r, long p, out string? problem)
    {
        problem = null;
        if (n < 2 || (n & (n - 1)) != 0)
        {
            problem = $"scrypt n must be a power of two >= 2, got {n}";
        }
        else if (r < 1 || p < 1)
        {
            problem = $"scrypt r and p must be >= 1, got r={r}, p={p}";
        }
        else if (r > 1024 || p > 1024 || n * r > MaxScryptNTimesR)
        {
            problem = $"scrypt n={n}, r={r} needs more than 512 MiB of memory";
        }
        else if (n * r * p > MaxScryptWork)
        {
            problem = $"scrypt n={n}, r={r}, p={p} is more than 4 times the standard cost";
        }
        return problem is null;
    }
}
