using Prova.Core;

namespace Prova.Compare;

/// <summary>Whether two engines' outputs agree: max |a - b| and numpy-style allclose (|a - b| ≤ atol + rtol·|b|).</summary>
public sealed record Agreement(bool Ok, double MaxAbsDiff, string? Problem)
{
    public const double Rtol = 1e-3;
    public const double Atol = 1e-4;

    public static Agreement Check(IReadOnlyDictionary<string, Tensor> prova, IReadOnlyDictionary<string, Tensor> reference)
    {
        double maxAbs = 0;
        bool ok = true;
        foreach (var (name, expected) in reference)
        {
            if (!prova.TryGetValue(name, out var actual))
            {
                return new Agreement(false, double.NaN, $"Prova has no output '{name}'");
            }
            if (!actual.Shape.SequenceEqual(expected.Shape))
            {
                return new Agreement(false, double.NaN, $"output '{name}': Prova shape {actual.ShapeString()} vs ORT {expected.ShapeString()}");
            }
            if (actual.Data is not float[] a || expected.Data is not float[] b)
            {
                return new Agreement(false, double.NaN, $"output '{name}': only float32 outputs are compared");
            }
            for (int i = 0; i < a.Length; i++)
            {
                double d = Math.Abs((double)a[i] - b[i]);
                if (double.IsNaN(d))
                {
                    // NaN only agrees with NaN.
                    if (!(float.IsNaN(a[i]) && float.IsNaN(b[i])))
                    {
                        ok = false;
                        maxAbs = double.NaN;
                    }
                    continue;
                }
                if (d > maxAbs || double.IsNaN(maxAbs))
                {
                    maxAbs = double.IsNaN(maxAbs) ? maxAbs : d;
                }
                if (d > Atol + (Rtol * Math.Abs(b[i])))
                {
                    ok = false;
                }
            }
        }
        return new Agreement(ok, maxAbs, null);
    }
}
