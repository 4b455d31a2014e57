namespace Prova.Proofs.Commitments;

/// <summary>
/// Code rate and query count of the Ligero-style commitment. The default (rate 1/4, 241 queries)
/// gives ≥ 100 bits of soundness under the conservative e &lt; δ/3 proximity bound; see docs/proofs-core.md.
/// </summary>
public sealed record LigeroParameters
{
    /// <summary>log2 of the inverse code rate: codewords are 2^LogBlowup times longer than rows.</summary>
    public int LogBlowup { get; init; } = 2;

    /// <summary>Columns opened (t). Repeated indices are opened once.</summary>
    public int Queries { get; init; } = QueriesFor(100, 2);

    public static LigeroParameters Default { get; } = new();

    /// <summary>
    /// t = ⌈bits / -log2(1 - e)⌉ with e = δ/3, δ = 1 - 2^-logBlowup the code's relative distance: a
    /// committed matrix that passes the proximity test is within e of the code, and any inconsistent
    /// column set survives one uniformly random query with probability at most 1 - e.
    /// </summary>
    public static LigeroParameters ForSecurity(int bits, int logBlowup)
    {
        if (bits is < 1 or > 256 || logBlowup is < 1 or > 4)
        {
            throw new ArgumentOutOfRangeException(nameof(bits), "security bits must be in 1..256 and logBlowup in 1..4");
        }
        return new LigeroParameters { LogBlowup = logBlowup, Queries = QueriesFor(bits, logBlowup) };
    }

    public static int QueriesFor(int bits, int logBlowup)
    {
        double delta = 1 - Math.Pow(2, -logBlowup);
        double e = delta / 3;
        return (int)Math.Ceiling(bits / -Math.Log2(1 - e));
    }

    /// <summary>Bits of soundness of the query phase with these parameters.</summary>
    public double SecurityBits => Queries * -Math.Log2(1 - (1 - Math.Pow(2, -LogBlowup)) / 3);

    /// <summary>
    /// log2 of rows per polynomial: minimises the estimated opening size
    /// 16·(1 + count)·k (the combined rows) + t·(8·count·m + 32·log2(K)) (columns and Merkle paths).
    /// </summary>
    public int LogRows(int numVars, int polynomialCount)
    {
        int best = 0;
        double bestSize = double.MaxValue;
        for (int a = 0; a <= numVars; a++)
        {
            double k = Math.Pow(2, numVars - a);
            double m = Math.Pow(2, a);
            double logK = numVars - a + LogBlowup;
            double cols = Math.Min(Queries, k * Math.Pow(2, LogBlowup));
            double size = 16.0 * (1 + polynomialCount) * k + cols * (8.0 * polynomialCount * m + 32 * logK);
            if (size < bestSize)
            {
                bestSize = size;
                best = a;
            }
        }
        return best;
    }

    internal void Validate()
    {
        if (LogBlowup is < 1 or > 4 || Queries is < 1 or > 10_000)
        {
            throw new ArgumentOutOfRangeException(nameof(LogBlowup), $"Ligero parameters out of range (LogBlowup {LogBlowup} ∉ 1..4 or Queries {Queries} ∉ 1..10000)");
        }
    }
}
