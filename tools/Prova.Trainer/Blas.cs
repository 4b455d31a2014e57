using System.Numerics;
using System.Runtime.InteropServices;

namespace Prova.Trainer;

/// <summary>The few vector loops training needs. (Training only: summation order follows the vector width.)</summary>
internal static class Blas
{
    public static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        int n = a.Length;
        int i = 0;
        var acc = Vector<float>.Zero;
        var va = MemoryMarshal.Cast<float, Vector<float>>(a);
        var vb = MemoryMarshal.Cast<float, Vector<float>>(b[..n]);
        for (int v = 0; v < va.Length; v++)
        {
            acc += va[v] * vb[v];
        }
        i = va.Length * Vector<float>.Count;
        float sum = Vector.Sum(acc);
        for (; i < n; i++)
        {
            sum += a[i] * b[i];
        }
        return sum;
    }

    /// <summary>y += alpha · x.</summary>
    public static void Axpy(float alpha, ReadOnlySpan<float> x, Span<float> y)
    {
        int n = x.Length;
        var vx = MemoryMarshal.Cast<float, Vector<float>>(x);
        var vy = MemoryMarshal.Cast<float, Vector<float>>(y[..n]);
        var va = new Vector<float>(alpha);
        for (int v = 0; v < vx.Length; v++)
        {
            vy[v] += va * vx[v];
        }
        for (int i = vx.Length * Vector<float>.Count; i < n; i++)
        {
            y[i] += alpha * x[i];
        }
    }

    /// <summary>Softmax cross-entropy: writes dL/dz = p - onehot(label) into <paramref name="dz"/>, returns the loss.</summary>
    public static float SoftmaxCrossEntropy(ReadOnlySpan<float> z, int label, Span<float> dz)
    {
        float max = float.NegativeInfinity;
        foreach (float v in z)
        {
            max = MathF.Max(max, v);
        }
        float sum = 0;
        for (int k = 0; k < z.Length; k++)
        {
            dz[k] = MathF.Exp(z[k] - max);
            sum += dz[k];
        }
        for (int k = 0; k < z.Length; k++)
        {
            dz[k] /= sum;
        }
        float loss = -MathF.Log(MathF.Max(dz[label], 1e-30f));
        dz[label] -= 1;
        return loss;
    }

    public static int ArgMax(ReadOnlySpan<float> z)
    {
        int best = 0;
        for (int k = 1; k < z.Length; k++)
        {
            if (z[k] > z[best])
            {
                best = k;
            }
        }
        return best;
    }
}
