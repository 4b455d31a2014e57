using Prova.Onnx;
using Prova.Runtime.Ops.Shape;
using static Prova.Runtime.Ops.Shape.ShapeHelpers;

namespace Prova.Runtime.Ops.Reduce;

/// <summary>Shared plan-time checks of the normalisation ops (LayerNormalization, RMSNormalization and the contrib forms).</summary>
internal static class NormParams
{
    /// <summary>
    /// Checks that a scale or bias input broadcasts to the normalised shape; returns the copy that
    /// expands it to N contiguous floats, or null when it already has N elements laid out as normShape.
    /// </summary>
    public static StridedCopy? Broadcast(InferContext ctx, OnnxNode node, int input, string name, int[] normShape, int n)
    {
        var p = ctx.InputShape(input);
        if (p.Length > normShape.Length)
        {
            throw ModelException.ForNode(node, $"{name} of shape {Fmt(p)} has a higher rank than the normalised shape {Fmt(normShape)}");
        }
        var pStrides = Strides(p);
        var strides = new long[normShape.Length];
        bool exact = ctx.Input(input).ElementCount == n;
        for (int d = 0; d < normShape.Length; d++)
        {
            int k = d - (normShape.Length - p.Length);
            if (k >= 0 && p[k] != normShape[d] && p[k] != 1)
            {
                throw ModelException.ForNode(node, $"{name} of shape {Fmt(p)} cannot be broadcast to the normalised shape {Fmt(normShape)}");
            }
            strides[d] = k < 0 || p[k] == 1 ? 0 : pStrides[k];
        }
        return exact ? null : new StridedCopy(sizeof(float), normShape, strides, 0);
    }

    /// <summary>The shape of per-row statistics (Mean, InvStdDev): shape[:axis] followed by ones.</summary>
    public static int[] StatShape(int[] shape, int axis)
    {
        var statShape = new int[shape.Length];
        for (int d = 0; d < shape.Length; d++)
        {
            statShape[d] = d < axis ? shape[d] : 1;
        }
        return statShape;
    }

    /// <summary>Vector code may run (tests turn it off with SimdLevel.MaxVectorBits = 0 to compare with the scalar path).</summary>
    public static bool UseVectors => System.Numerics.Vector.IsHardwareAccelerated && Linear.SimdLevel.MaxVectorBits >= 128;
}
