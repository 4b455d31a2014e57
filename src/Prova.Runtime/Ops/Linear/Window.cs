using Prova.Onnx;

namespace Prova.Runtime.Ops.Linear;

/// <summary>
/// Sliding-window geometry shared by Conv and the pools, always as 2-D (a 1-D op has H = 1):
/// kernel, strides, dilations, begin/end pads and output size per axis, from the ONNX attributes
/// kernel_shape, strides, dilations, pads and auto_pad (NOTSET, SAME_UPPER, SAME_LOWER, VALID).
/// </summary>
internal sealed class Window
{
    public int InH;
    public int InW;
    public int KH = 1;
    public int KW = 1;
    public int SH = 1;
    public int SW = 1;
    public int DH = 1;
    public int DW = 1;
    public int PadTop;
    public int PadLeft;
    public int PadBottom;
    public int PadRight;
    public int OutH = 1;
    public int OutW = 1;

    public int OutSize => OutH * OutW;

    /// <summary>
    /// Reads the attributes for <paramref name="spatial"/> axes (1 or 2) with input sizes
    /// <paramref name="input"/> and kernel sizes <paramref name="kernel"/>.
    /// </summary>
    public static Window Create(OnnxNode node, ReadOnlySpan<int> input, ReadOnlySpan<int> kernel, bool ceilMode)
    {
        int n = input.Length;
        var strides = Ints(node, "strides", n, 1);
        var dilations = Ints(node, "dilations", n, 1);
        var pads = node.GetInts("pads");
        if (pads is not null && pads.Length != 2 * n)
        {
            throw ModelException.ForNode(node, $"pads has {pads.Length} values; expected {2 * n} for {n} spatial axes");
        }
        string autoPad = node.GetString("auto_pad", "NOTSET");
        var w = new Window();
        var ins = new int[2];
        var ks = new int[2];
        var ss = new int[2];
        var ds = new int[2];
        var pb = new int[2];
        var pe = new int[2];
        var outs = new int[2];
        for (int i = 0; i < 2; i++)
        {
            ins[i] = ks[i] = ss[i] = ds[i] = outs[i] = 1;
        }
        int off = 2 - n;
        for (int i = 0; i < n; i++)
        {
            int inSize = input[i];
            int k = kernel[i];
            int s = strides[i];
            int d = dilations[i];
            if (k < 1 || s < 1 || d < 1)
            {
                throw ModelException.ForNode(node, $"kernel sizes, strides and dilations must be positive (axis {i}: kernel {k}, stride {s}, dilation {d})");
            }
            long eff = (long)(k - 1) * d + 1;
            long begin;
            long end;
            long outSize;
            switch (autoPad)
            {
                case "NOTSET":
                case "":
                    begin = pads?[i] ?? 0;
                    end = pads?[i + n] ?? 0;
                    if (begin < 0 || end < 0)
                    {
                        throw ModelException.ForNode(node, $"pads must not be negative ([{string.Join(", ", pads!)}])");
                    }
                    outSize = ComputeOut(inSize + begin + end, eff, s, ceilMode);
                    if (ceilMode && outSize > 0 && (outSize - 1) * s >= inSize + begin)
                    {
                        outSize--;
                    }
                    break;
                case "VALID":
                    begin = 0;
                    end = 0;
                    outSize = ComputeOut(inSize, eff, s, ceilMode);
                    break;
                case "SAME_UPPER":
                case "SAME_LOWER":
                    outSize = (inSize + s - 1) / s;
                    long total = Math.Max(0, (outSize - 1) * s + eff - inSize);
                    begin = autoPad == "SAME_UPPER" ? total / 2 : total - total / 2;
                    end = total - begin;
                    break;
                default:
                    throw ModelException.ForNode(node, $"auto_pad '{autoPad}' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID");
            }
            if (outSize < 1 || outSize > int.MaxValue || begin > int.MaxValue / 4 || end > int.MaxValue / 4)
            {
                throw ModelException.ForNode(node, $"spatial axis {i}: input {inSize}, kernel {k}, dilation {d}, stride {s}, pads {begin}+{end} give an empty or too large output");
            }
            ins[off + i] = inSize;
            ks[off + i] = k;
            ss[off + i] = s;
            ds[off + i] = d;
            pb[off + i] = (int)begin;
            pe[off + i] = (int)end;
            outs[off + i] = (int)outSize;
        }
        w.InH = ins[0];
        w.InW = ins[1];
        w.KH = ks[0];
        w.KW = ks[1];
        w.SH = ss[0];
        w.SW = ss[1];
        w.DH = ds[0];
        w.DW = ds[1];
        w.PadTop = pb[0];
        w.PadLeft = pb[1];
        w.PadBottom = pe[0];
        w.PadRight = pe[1];
        w.OutH = outs[0];
        w.OutW = outs[1];
        return w;
    }

    private static long ComputeOut(long padded, long eff, long stride, bool ceilMode)
    {
        long span = padded - eff;
        if (span < 0)
        {
            return 0;
        }
        return (ceilMode ? (span + stride - 1) / stride : span / stride) + 1;
    }

    private static int[] Ints(OnnxNode node, string name, int n, int fallback)
    {
        var v = node.GetInts(name);
        var r = new int[n];
        if (v is null || v.Length == 0)
        {
            Array.Fill(r, fallback);
            return r;
        }
        if (v.Length != n)
        {
            throw ModelException.ForNode(node, $"{name} has {v.Length} values; expected {n}");
        }
        for (int i = 0; i < n; i++)
        {
            if (v[i] < 1 || v[i] > int.MaxValue / 4)
            {
                throw ModelException.ForNode(node, $"{name}[{i}] = {v[i]} is out of range");
            }
            r[i] = (int)v[i];
        }
        return r;
    }
}
