using Prova.Core;

namespace Prova.Runtime.Quantization;

/// <summary>Top-1 predictions of a classifier's output (the index of the largest value along the last axis).</summary>
public static class Top1
{
    /// <summary>The arg-max of each row of a float tensor of rank ≥ 1 (first index on ties).</summary>
    public static int[] Predictions(Tensor scores)
    {
        if (scores.Type != DataType.Float32 || scores.Rank == 0 || scores.Shape[^1] == 0)
        {
            throw new QuantizationException($"top-1 needs float32 scores with a non-empty last axis, got {scores}");
        }
        var data = (float[])scores.Data;
        int classes = scores.Shape[^1];
        var result = new int[data.Length / classes];
        for (int r = 0; r < result.Length; r++)
        {
            int best = 0;
            for (int k = 1; k < classes; k++)
            {
                if (data[r * classes + k] > data[r * classes + best])
                {
                    best = k;
                }
            }
            result[r] = best;
        }
        return result;
    }
}
