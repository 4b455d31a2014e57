using Prova.Onnx;

namespace Prova.Runtime.Ops.Linear;

/// <summary>The batch and channel split of a convolution (Conv, FusedConv, ConvInteger, QLinearConv), checked once.</summary>
internal readonly record struct ConvChannels(int Batch, int C, int M, int Group, int Cg, int Mg)
{
    /// <summary>Checks that X and W are 1-D or 2-D convolution operands and that the group divides their channels.</summary>
    public static ConvChannels Check(OnnxNode node, int[] x, int[] w)
    {
        if (x.Length == 5)
        {
            throw ModelException.Unsupported(node, "3-D convolution");
        }
        if (x.Length < 3 || x.Length > 4)
        {
            throw ModelException.ForNode(node, $"X must be [N, C, W] or [N, C, H, W], got {Shapes.Format(x)}");
        }
        if (w.Length != x.Length)
        {
            throw ModelException.ForNode(node, $"W {Shapes.Format(w)} must have the same rank as X {Shapes.Format(x)}");
        }
        long group = node.GetInt("group", 1);
        if (group < 1 || x[1] % group != 0 || w[0] % group != 0)
        {
            throw ModelException.ForNode(node, $"group {group} must divide the input channels ({x[1]}) and output channels ({w[0]})");
        }
        int cg = x[1] / (int)group;
        if (w[1] != cg)
        {
            throw ModelException.ForNode(node, $"W {Shapes.Format(w)} has {w[1]} input channels per group, but X {Shapes.Format(x)} with group {group} has {cg}");
        }
        return new ConvChannels(x[0], x[1], w[0], (int)group, cg, w[0] / (int)group);
    }
}
