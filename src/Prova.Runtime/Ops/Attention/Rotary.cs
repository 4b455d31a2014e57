namespace Prova.Runtime.Ops.Attention;

/// <summary>
/// Rotary position embedding of one head vector (RoFormer, arXiv 2104.09864), the arithmetic shared by
/// RotaryEmbedding (ONNX-23 and com.microsoft) and GroupQueryAttention's do_rotary. The first
/// <c>rd</c> elements rotate in pairs, the rest pass through. Pair i (i &lt; rd/2) is (x[i], x[i + rd/2])
/// (half split) or (x[2i], x[2i+1]) (interleaved); with c = cos[i], s = sin[i] and both products rounded:
/// <c>y1 = x1·c − x2·s</c>, <c>y2 = x2·c + x1·s</c>. Safe in place (each pair is read before it is written).
/// </summary>
internal static unsafe class Rotary
{
    public static void Apply(float* x, float* y, int headSize, int rd, float* cos, float* sin, bool interleaved)
    {
        int half = rd / 2;
        if (interleaved)
        {
            for (int i = 0; i < half; i++)
            {
                float x1 = x[2 * i];
                float x2 = x[2 * i + 1];
                float c = cos[i];
                float s = sin[i];
                y[2 * i] = (x1 * c) - (x2 * s);
                y[2 * i + 1] = (x2 * c) + (x1 * s);
            }
        }
        else
        {
            for (int i = 0; i < half; i++)
            {
                float x1 = x[i];
                float x2 = x[i + half];
                float c = cos[i];
                float s = sin[i];
                y[i] = (x1 * c) - (x2 * s);
                y[i + half] = (x2 * c) + (x1 * s);
            }
        }
        if (x != y)
        {
            for (int i = rd; i < headSize; i++)
            {
                y[i] = x[i];
            }
        }
    }
}
