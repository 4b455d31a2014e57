// Multilinear extensions given by their evaluation tables over {0,1}^n. Index convention (used by
// every part of Prova.Proofs): table[i] = f(x_0, …, x_{n-1}) with x_j = bit j of i (little-endian),
// and a point is (r_0, …, r_{n-1}) in that order. Binding ("folding") always fixes x_0 first:
// f'(x_1, …) = f(r, x_1, …), i.e. f'[i] = f[2i] + r·(f[2i+1] - f[2i]).
using System.Numerics;
using Prova.Proofs.Field;

namespace Prova.Proofs.Polynomials;

public static class Mle
{
    /// <summary>log2 of a table length; throws unless the length is a power of two (≥ 1).</summary>
    public static int NumVars(int tableLength)
    {
        if (tableLength <= 0 || !BitOperations.IsPow2(tableLength))
        {
            throw new ArgumentException($"an MLE table needs a power-of-two length, got {tableLength}");
        }
        return BitOperations.Log2((uint)tableLength);
    }

    /// <summary>Binds x_0 := r: destination[i] = table[2i] + r·(table[2i+1] - table[2i]) (length/2 entries).</summary>
    public static void Fold(ReadOnlySpan<Fp> table, Fp2 r, Span<Fp2> destination)
    {
        int half = table.Length / 2;
        CheckFold(table.Length, destination.Length);
        for (int i = 0; i < half; i++)
        {
            Fp f0 = table[2 * i];
            destination[i] = r * (table[2 * i + 1] - f0) + f0;
        }
    }

    /// <summary>Binds x_0 := r; destination may be the same memory as table (in-place fold).</summary>
    public static void Fold(ReadOnlySpan<Fp2> table, Fp2 r, Span<Fp2> destination)
    {
        int half = table.Length / 2;
        CheckFold(table.Length, destination.Length);
        for (int i = 0; i < half; i++)
        {
            Fp2 f0 = table[2 * i];
            destination[i] = r * (table[2 * i + 1] - f0) + f0;
        }
    }

    /// <summary>f(point) for a table over Fp.</summary>
    public static Fp2 Evaluate(ReadOnlySpan<Fp> table, ReadOnlySpan<Fp2> point)
    {
        CheckPoint(table.Length, point.Length);
        if (point.Length == 0)
        {
            return table[0];
        }
        var buf = new Fp2[table.Length / 2];
        Fold(table, point[0], buf);
        return FoldAll(buf, point[1..]);
    }

    /// <summary>f(point) for a table over Fp2.</summary>
    public static Fp2 Evaluate(ReadOnlySpan<Fp2> table, ReadOnlySpan<Fp2> point)
    {
        CheckPoint(table.Length, point.Length);
        if (point.Length == 0)
        {
            return table[0];
        }
        var buf = new Fp2[table.Length / 2];
        Fold(table, point[0], buf);
        return FoldAll(buf, point[1..]);
    }

    /// <summary>The table of eq(point, x) = Π_j (point_j·x_j + (1 - point_j)(1 - x_j)) over x ∈ {0,1}^n.</summary>
    public static Fp2[] EqTable(ReadOnlySpan<Fp2> point) => EqTable(point, Fp2.One);

    /// <summary>scale · eq(point, x) over x ∈ {0,1}^n.</summary>
    public static Fp2[] EqTable(ReadOnlySpan<Fp2> point, Fp2 scale)
    {
        var table = new Fp2[1 << point.Length];
        table[0] = scale;
        for (int j = 0; j < point.Length; j++)
        {
            int size = 1 << j;
            Fp2 r = point[j];
            for (int i = 0; i < size; i++)
            {
                Fp2 hi = table[i] * r;
                table[i + size] = hi;
                table[i] -= hi;
            }
        }
        return table;
    }

    /// <summary>eq(a, b) = Π_j (a_j b_j + (1 - a_j)(1 - b_j)).</summary>
    public static Fp2 Eq(ReadOnlySpan<Fp2> a, ReadOnlySpan<Fp2> b)
    {
        if (a.Length != b.Length)
        {
            throw new ArgumentException($"eq of points with {a.Length} and {b.Length} coordinates");
        }
        Fp2 acc = Fp2.One;
        for (int j = 0; j < a.Length; j++)
        {
            Fp2 ab = a[j] * b[j];
            // a b + (1 - a)(1 - b) = 1 - a - b + 2ab
            acc *= Fp2.One - a[j] - b[j] + ab + ab;
        }
        return acc;
    }

    /// <summary>Σ_i table[i] · weights[i] (e.g. an evaluation against an eq table).</summary>
    public static Fp2 InnerProduct(ReadOnlySpan<Fp> table, ReadOnlySpan<Fp2> weights)
    {
        if (table.Length != weights.Length)
        {
            throw new ArgumentException($"inner product of lengths {table.Length} and {weights.Length}");
        }
        Fp2 acc = Fp2.Zero;
        for (int i = 0; i < table.Length; i++)
        {
            acc += weights[i] * table[i];
        }
        return acc;
    }

    /// <summary>Σ_i table[i] · weights[i] over Fp2.</summary>
    public static Fp2 InnerProduct(ReadOnlySpan<Fp2> table, ReadOnlySpan<Fp2> weights)
    {
        if (table.Length != weights.Length)
        {
            throw new ArgumentException($"inner product of lengths {table.Length} and {weights.Length}");
        }
        Fp2 acc = Fp2.Zero;
        for (int i = 0; i < table.Length; i++)
        {
            acc += weights[i] * table[i];
        }
        return acc;
    }

    private static Fp2 FoldAll(Span<Fp2> buf, ReadOnlySpan<Fp2> point)
    {
        int len = buf.Length;
        for (int j = 0; j < point.Length; j++)
        {
            Fold(buf[..len], point[j], buf);
            len /= 2;
        }
        return buf[0];
    }

    private static void CheckFold(int tableLength, int destinationLength)
    {
        if (tableLength < 2 || !BitOperations.IsPow2(tableLength) || destinationLength < tableLength / 2)
        {
            throw new ArgumentException($"cannot fold a table of length {tableLength} into {destinationLength} entries");
        }
    }

    private static void CheckPoint(int tableLength, int pointLength)
    {
        int n = NumVars(tableLength);
        if (n != pointLength)
        {
            throw new ArgumentException($"a table of 2^{n} entries needs a point with {n} coordinates, got {pointLength}");
        }
    }
}
