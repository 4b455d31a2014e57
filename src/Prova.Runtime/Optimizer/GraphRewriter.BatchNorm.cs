using Prova.Core;
using Prova.Onnx;

namespace Prova.Runtime.Optimizer;

internal sealed partial class GraphRewriter
{
    /// <summary>
    /// Conv → BatchNormalization (inference) becomes one Conv with folded weights and bias. Per output
    /// channel m, in float32, each step rounded (no fma):
    /// s = scale[m] / sqrt(var[m] + epsilon); W'[m, …] = W[m, …] · s; B'[m] = (B[m] − mean[m]) · s + bias[m]
    /// (B[m] = 0 when the Conv has no bias).
    /// </summary>
    public void FoldBatchNorms()
    {
        for (int i = 0; i < _nodes.Count; i++)
        {
            if (Is(_nodes[i], "Conv"))
            {
                TryFoldBatchNorm(i);
            }
        }
    }

    private void TryFoldBatchNorm(int convSlot)
    {
        var conv = _nodes[convSlot]!;
        var bn = SoleConsumerOfType(conv.Outputs[0], "BatchNormalization", out int bnSlot);
        if (bn is null || bn.Input(0) != conv.Outputs[0] || bn.Inputs.Length != 5)
        {
            return;
        }
        // Extra outputs (running statistics) exist only in training mode.
        for (int k = 1; k < bn.Outputs.Length; k++)
        {
            if (bn.Outputs[k].Length > 0)
            {
                return;
            }
        }
        if (bn.Outputs.Length == 0 || bn.Outputs[0].Length == 0
            || !TryGetInt(bn, "training_mode", out long training) || training != 0
            || IntOr(bn, "spatial", 1) != 1
            || !TryGetFloat(bn, "epsilon", 1e-5f, out float epsilon))
        {
            return;
        }
        if (Constant(conv.Input(1)) is not { Type: DataType.Float32 } w || w.Rank < 3)
        {
            return;
        }
        int m = w.Shape[0];
        Tensor? b = null;
        if (conv.Inputs.Length > 2 && conv.Inputs[2].Length > 0)
        {
            b = Constant(conv.Inputs[2]);
            if (!IsVector(b, m))
            {
                return;
            }
        }
        var scale = Constant(bn.Inputs[1]);
        var bias = Constant(bn.Inputs[2]);
        var mean = Constant(bn.Inputs[3]);
        var variance = Constant(bn.Inputs[4]);
        if (!IsVector(scale, m) || !IsVector(bias, m) || !IsVector(mean, m) || !IsVector(variance, m))
        {
            return;
        }

        var (foldedW, foldedB) = Fold((float[])w.Data, w.Length / Math.Max(m, 1), b is null ? null : (float[])b.Data,
            (float[])scale!.Data, (float[])bias!.Data, (float[])mean!.Data, (float[])variance!.Data, epsilon);
        string stem = conv.Name.Length > 0 ? conv.Name : bn.Outputs[0];
        string wName = AddInitializer(stem + ".bn_folded.W", Tensor.Create<float>(w.Shape, foldedW));
        string bName = AddInitializer(stem + ".bn_folded.B", Tensor.Create<float>([m], foldedB));
        var folded = new OnnxNode
        {
            Name = conv.Name,
            OpType = conv.OpType,
            Domain = conv.Domain,
            Inputs = [conv.Inputs[0], wName, bName],
            Outputs = [bn.Outputs[0]],
            Attributes = CopyAttributes(conv),
        };
        Replace(bnSlot, folded, convSlot);
    }

    private static bool IsVector(Tensor? t, int length) => t is { Type: DataType.Float32, Rank: 1 } && t.Shape[0] == length;

    /// <summary>The fold, in the order docs/optimizer.md defines. <paramref name="perChannel"/> = W's elements per output channel.</summary>
    internal static (float[] W, float[] B) Fold(float[] w, int perChannel, float[]? b, float[] scale, float[] bias, float[] mean, float[] variance, float epsilon)
    {
        int m = scale.Length;
        var foldedW = new float[w.Length];
        var foldedB = new float[m];
        for (int c = 0; c < m; c++)
        {
            float denominator = MathF.Sqrt(variance[c] + epsilon);
            float s = scale[c] / denominator;
            int start = c * perChannel;
            for (int k = start; k < start + perChannel; k++)
            {
                foldedW[k] = w[k] * s;
            }
            float centred = (b is null ? 0f : b[c]) - mean[c];
            float scaled = centred * s;
            foldedB[c] = scaled + bias[c];
        }
        return (foldedW, foldedB);
    }
}
