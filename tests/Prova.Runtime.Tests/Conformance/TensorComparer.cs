using System.Globalization;
using Prova.Core;

namespace Prova.Runtime.Tests.Conformance;

/// <summary>
/// Compares an output with the ONNX reference output the way the ONNX backend tests do:
/// same element type and shape; floats within atol + rtol·|expected| (NaN matches NaN, ±inf must
/// match exactly); integers and booleans exactly.
/// </summary>
internal static class TensorComparer
{
    public const double RelativeTolerance = 1e-3;
    public const double AbsoluteTolerance = 1e-7;

    /// <summary>Null when the tensors match, else a one-line description of the first difference.</summary>
    public static string? Difference(Tensor expected, Tensor actual)
    {
        if (expected.Type != actual.Type)
        {
            return $"element type: expected {DataTypes.Name(expected.Type)}, got {DataTypes.Name(actual.Type)}";
        }
        if (!expected.Shape.SequenceEqual(actual.Shape))
        {
            return $"shape: expected {expected.ShapeString()}, got {actual.ShapeString()}";
        }
        return expected.Type switch
        {
            DataType.Float32 => CompareFloats(expected, actual, expected.Span<float>().Length, i => expected.Span<float>()[i], i => actual.Span<float>()[i]),
            DataType.Float64 => CompareFloats(expected, actual, expected.Span<double>().Length, i => expected.Span<double>()[i], i => actual.Span<double>()[i]),
            _ => CompareExact(expected, actual),
        };
    }

    private static string? CompareFloats(Tensor expected, Tensor actual, int count, Func<int, double> e, Func<int, double> a)
    {
        int bad = 0;
        int firstBad = -1;
        double worst = 0;
        for (int i = 0; i < count; i++)
        {
            double x = e(i);
            double y = a(i);
            bool ok;
            if (double.IsNaN(x))
            {
                ok = double.IsNaN(y);
            }
            else if (double.IsInfinity(x))
            {
                ok = x == y;
            }
            else
            {
                ok = Math.Abs(y - x) <= AbsoluteTolerance + RelativeTolerance * Math.Abs(x);
                if (!double.IsNaN(y))
                {
                    worst = Math.Max(worst, Math.Abs(y - x));
                }
            }
            if (!ok)
            {
                bad++;
                if (firstBad < 0)
                {
                    firstBad = i;
                }
            }
        }
        if (bad == 0)
        {
            return null;
        }
        return $"{bad} of {count} values differ; first at {Index(expected, firstBad)}: expected {Format(e(firstBad))}, got {Format(a(firstBad))}; largest |difference| {Format(worst)}";
    }

    private static string? CompareExact(Tensor expected, Tensor actual)
    {
        var x = expected.Bytes();
        var y = actual.Bytes();
        int size = DataTypes.SizeOf(expected.Type);
        int bad = 0;
        int firstBad = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            if (!x.Slice(i * size, size).SequenceEqual(y.Slice(i * size, size)))
            {
                bad++;
                if (firstBad < 0)
                {
                    firstBad = i;
                }
            }
        }
        if (bad == 0)
        {
            return null;
        }
        return $"{bad} of {expected.Length} values differ; first at {Index(expected, firstBad)}: expected {Element(expected, firstBad)}, got {Element(actual, firstBad)}";
    }

    private static string Index(Tensor t, int flat)
    {
        var shape = t.Shape;
        if (shape.Length == 0)
        {
            return "[]";
        }
        var index = new int[shape.Length];
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            int size = Math.Max(1, shape[d]);
            index[d] = flat % size;
            flat /= size;
        }
        return "[" + string.Join(", ", index) + "]";
    }

    private static string Element(Tensor t, int i) => Convert.ToString(t.Data.GetValue(i), CultureInfo.InvariantCulture) ?? "?";

    private static string Format(double v) => v.ToString("R", CultureInfo.InvariantCulture);
}
