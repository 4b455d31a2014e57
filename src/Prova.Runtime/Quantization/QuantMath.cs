namespace Prova.Runtime.Quantization;

/// <summary>Quantization parameters of an activation tensor: q = saturate(round(x / Scale) + ZeroPoint) in int8.</summary>
public readonly record struct ActivationQuant(float Scale, sbyte ZeroPoint);

/// <summary>
/// The arithmetic of Prova's post-training quantization (docs/quantization.md, "prova model quantize").
/// Rounding is round-half-to-even everywhere, as ONNX QuantizeLinear specifies.
/// </summary>
public static class QuantMath
{
    /// <summary>
    /// Asymmetric int8 parameters covering [min, max] widened to include 0 (so 0 is exact, as zero
    /// padding needs): scale = (max - min) / 255, zero point = round(-128 - min / scale) clamped to int8.
    /// A range of width 0 gives scale 1, zero point 0.
    /// </summary>
    public static ActivationQuant Activation(float min, float max)
    {
        if (!float.IsFinite(min) || !float.IsFinite(max) || min > max)
        {
            throw new QuantizationException($"activation range [{min}, {max}] is not a finite interval");
        }
        double lo = Math.Min(0.0, min);
        double hi = Math.Max(0.0, max);
        if (hi == lo)
        {
            return new ActivationQuant(1f, 0);
        }
        float scale = (float)((hi - lo) / 255.0);
        double zero = Math.Round(-128.0 - lo / scale, MidpointRounding.ToEven);
        return new ActivationQuant(scale, (sbyte)Math.Clamp(zero, -128, 127));
    }

    /// <summary>
    /// Symmetric per-channel int8 weights: for each slice along <paramref name="axis"/>,
    /// scale = max|w| / 127 (1 for an all-zero channel) and q = clamp(round(w / scale), -127, 127).
    /// </summary>
    public static (sbyte[] Quantized, float[] Scales) PerChannelWeights(ReadOnlySpan<float> weights, ReadOnlySpan<int> shape, int axis)
    {
        int channels = shape[axis];
        int inner = 1;
        for (int i = axis + 1; i < shape.Length; i++)
        {
            inner *= shape[i];
        }
        var scales = new float[channels];
        for (int i = 0; i < weights.Length; i++)
        {
            float w = weights[i];
            if (!float.IsFinite(w))
            {
                throw new QuantizationException($"weight {i} is {w}; only finite weights can be quantized");
            }
            int c = i / inner % channels;
            scales[c] = MathF.Max(scales[c], MathF.Abs(w));
        }
        for (int c = 0; c < channels; c++)
        {
            scales[c] = scales[c] > 0 ? scales[c] / 127f : 1f;
        }
        var q = new sbyte[weights.Length];
        for (int i = 0; i < weights.Length; i++)
        {
            q[i] = (sbyte)Math.Clamp(MathF.Round(weights[i] / scales[i / inner % channels], MidpointRounding.ToEven), -127, 127);
        }
        return (q, scales);
    }

    /// <summary>
    /// Bias as int32 with scale[c] = inputScale · weightScales[c] (float32 product) and zero point 0,
    /// so it adds directly to the int32 accumulator of the integer product.
    /// </summary>
    public static (int[] Quantized, float[] Scales) Bias(ReadOnlySpan<float> bias, float inputScale, ReadOnlySpan<float> weightScales)
    {
        if (bias.Length != weightScales.Length)
        {
            throw new QuantizationException($"the bias has {bias.Length} values but the weight {weightScales.Length} output channels");
        }
        var scales = new float[bias.Length];
        var q = new int[bias.Length];
        for (int c = 0; c < bias.Length; c++)
        {
            float scale = inputScale * weightScales[c];
            if (!(scale > 0) || !float.IsFinite(scale) || !float.IsFinite(bias[c]))
            {
                throw new QuantizationException($"bias {c} ({bias[c]}) cannot be quantized with scale {inputScale} × {weightScales[c]}");
            }
            scales[c] = scale;
            q[c] = (int)Math.Clamp(Math.Round((double)bias[c] / scale, MidpointRounding.ToEven), int.MinValue, int.MaxValue);
        }
        return (q, scales);
    }

    /// <summary>ONNX QuantizeLinear to int8 of one value.</summary>
    public static sbyte Quantize(float x, ActivationQuant q)
        => (sbyte)Math.Clamp(MathF.Round(x / q.Scale, MidpointRounding.ToEven) + q.ZeroPoint, -128f, 127f);
}
