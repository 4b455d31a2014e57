using Prova.Proofs.Field;

namespace Prova.Proofs.Inference;

/// <summary>
/// Multilinear-extension helpers of the layer protocol. Index convention: bit t of an index is
/// variable t (little-endian), so eq(r, i) = Π_t (r_t if bit t of i else 1 − r_t).
/// </summary>
internal static class Eq
{
    /// <summary>The number of variables of a dimension of the given size (ceil log2, at least 0).</summary>
    public static int Vars(long size)
    {
        int v = 0;
        while ((1L << v) < size)
        {
            v++;
        }
        return v;
    }

    /// <summary>eq(r, i) for every i &lt; 2^|r|.</summary>
    public static Fp2[] Table(ReadOnlySpan<Fp2> r)
    {
        var table = new Fp2[1 << r.Length];
        table[0] = Fp2.One;
        int size = 1;
        for (int t = 0; t < r.Length; t++)
        {
            var rt = r[t];
            for (int i = size - 1; i >= 0; i--)
            {
                var hi = table[i] * rt;
                table[i + size] = hi;
                table[i] -= hi;
            }
            size <<= 1;
        }
        return table;
    }

    /// <summary>Σ_{i &lt; count} eq(r, i): the MLE of the indicator of the first count indices.</summary>
    public static Fp2 PrefixSum(Fp2[] table, int count)
    {
        var sum = Fp2.Zero;
        for (int i = 0; i < count; i++)
        {
            sum += table[i];
        }
        return sum;
    }
}
