using System.Numerics;
using Prova.Core;
using Prova.Onnx;

namespace Prova.Runtime.Ops.Quant;

/// <summary>
/// Plan-time rewrite of the QDQ pattern into integer nodes (docs/quantization.md, "QDQ execution"):
///
///   DequantizeLinear(xq) ─┐
///   DequantizeLinear(wq) ─┼─ MatMul | Gemm | Conv ─ [Relu] ─ QuantizeLinear → yq
///   [bias: DequantizeLinear(int32) or float constant] ┘
///
/// becomes one prova.internal:QLinearMatMul or prova.internal:QLinearConv node (int32 accumulation,
/// <see cref="Requant"/> requantization, Relu as a clamp at the output zero point). It applies when
/// the weights, every scale and zero point and the bias are constant initializers; the activation and
/// output scales and zero points are per-tensor (weights may be per output channel); the float
/// values between DequantizeLinear and QuantizeLinear feed nothing else; Gemm has alpha = beta = 1,
/// transA = 0 and a bias of N elements. Other nodes are left to the float kernels.
/// </summary>
public static class QdqRewriter
{
    /// <summary>The rewritten model, or the same instance when no pattern matched.</summary>
    public static OnnxModel Rewrite(OnnxModel model)
    {
        var graph = model.Graph;
        var producer = new Dictionary<string, OnnxNode>(StringComparer.Ordinal);
        var uses = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var node in graph.Nodes)
        {
            foreach (var o in node.Outputs)
            {
                if (o.Length > 0)
                {
                    producer[o] = node;
                }
            }
            foreach (var i in node.Inputs)
            {
                if (i.Length > 0)
                {
                    uses[i] = uses.GetValueOrDefault(i) + 1;
                }
            }
        }
        foreach (var o in graph.Outputs)
        {
            uses[o.Name] = uses.GetValueOrDefault(o.Name) + 1;
        }

        var initializers = new Dictionary<string, Tensor>(graph.Initializers, StringComparer.Ordinal);
        var removed = new HashSet<OnnxNode>();
        var replacement = new Dictionary<OnnxNode, OnnxNode>();
        int opset = (int)model.Opset;
        foreach (var q in graph.Nodes)
        {
            if (q.OpType != "QuantizeLinear" || !KernelRegistry.IsDefaultDomain(q.Domain))
            {
                continue;
            }
            var match = Match(q, producer, uses, initializers, opset);
            if (match is null)
            {
                continue;
            }
            replacement[q] = match.Value.Node;
            foreach (var n in match.Value.Removed)
            {
                removed.Add(n);
                foreach (var i in n.Inputs)
                {
                    if (i.Length > 0)
                    {
                        uses[i]--;
                    }
                }
            }
            foreach (var i in match.Value.Node.Inputs)
            {
                if (i.Length > 0)
                {
                    uses[i] = uses.GetValueOrDefault(i) + 1;
                }
            }
            foreach (var i in q.Inputs)
            {
                if (i.Length > 0)
                {
                    uses[i]--;
                }
            }
        }
        if (replacement.Count == 0)
        {
            return model;
        }

        // Dequantize nodes whose outputs nothing uses any more go too.
        bool changed = true;
        while (changed)
        {
            changed = false;
            foreach (var node in graph.Nodes)
            {
                if (node.OpType == "DequantizeLinear" && !removed.Contains(node) && !replacement.ContainsKey(node)
                    && node.Outputs.All(o => o.Length == 0 || uses.GetValueOrDefault(o) == 0))
                {
                    removed.Add(node);
                    foreach (var i in node.Inputs)
                    {
                        if (i.Length > 0)
                        {
                            uses[i]--;
                        }
                    }
                    changed = true;
                }
            }
        }

        var nodes = new List<OnnxNode>(graph.Nodes.Count);
        foreach (var node in graph.Nodes)
        {
            if (replacement.TryGetValue(node, out var r))
            {
                nodes.Add(r);
            }
            else if (!removed.Contains(node))
            {
                nodes.Add(node);
            }
        }
        return new OnnxModel
        {
            IrVersion = model.IrVersion,
            ProducerName = model.ProducerName,
            Opsets = model.Opsets,
            Metadata = model.Metadata,
            Graph = new OnnxGraph
            {
                Name = graph.Name,
                Nodes = nodes,
                Inputs = graph.Inputs,
                Outputs = graph.Outputs,
                ValueInfos = graph.ValueInfos,
                Initializers = initializers,
            },
        };
    }

    private readonly record struct Dq(OnnxNode Node, string Input, Tensor Scale, Tensor? ZeroPoint, DataType Type);

    private static (OnnxNode Node, List<OnnxNode> Removed)? Match(OnnxNode q, Dictionary<string, OnnxNode> producer,
        Dictionary<string, int> uses, Dictionary<string, Tensor> init, int opset)
    {
        if (q.Inputs.Length < 2 || q.GetInt("block_size", 0) != 0
            || Const(init, q.Inputs[1]) is not { Type: DataType.Float32 } ys || ys.Data.Length != 1 || !Requant.IsValidScale(((float[])ys.Data)[0]))
        {
            return null;
        }
        Tensor? yz = q.Input(2) is { } yzName ? Const(init, yzName) : null;
        if (q.Input(2) is not null && yz is null)
        {
            return null;
        }
        var yType = yz?.Type ?? (q.GetInt("output_dtype", 0) is var dt && dt != 0 ? (DataType)dt : DataType.UInt8);
        if (!QuantTypes.IsEightBit(yType) || (yz is not null && yz.Data.Length != 1))
        {
            return null;
        }
        var removed = new List<OnnxNode>();
        if (!SingleUse(q.Inputs[0], uses, producer, out var prev))
        {
            return null;
        }
        bool relu = false;
        if (prev.OpType == "Relu" && KernelRegistry.IsDefaultDomain(prev.Domain))
        {
            relu = true;
            removed.Add(prev);
            if (!SingleUse(prev.Inputs[0], uses, producer, out prev))
            {
                return null;
            }
        }
        var core = prev;
        if (!KernelRegistry.IsDefaultDomain(core.Domain) || core.OpType is not ("MatMul" or "Gemm" or "Conv"))
        {
            return null;
        }
        removed.Add(core);
        if (core.Inputs.Length < 2 || GetDq(core.Inputs[0], producer, init, opset) is not { } x || GetDq(core.Inputs[1], producer, init, opset) is not { } w)
        {
            return null;
        }
        if (!QuantTypes.IsEightBit(x.Type) || !QuantTypes.IsEightBit(w.Type) || x.Scale.Data.Length != 1
            || (x.ZeroPoint is { } xzp && xzp.Data.Length != 1) || Const(init, w.Input) is not { } wq)
        {
            return null;
        }
        float sx = ((float[])x.Scale.Data)[0];
        var wScales = (float[])w.Scale.Data;
        int outChannels;
        Tensor wTensor = wq;
        bool transposed = false;
        int wAxis;
        switch (core.OpType)
        {
            case "MatMul":
                if (wq.Rank != 2)
                {
                    return null;
                }
                outChannels = wq.Shape[1];
                wAxis = 1;
                break;
            case "Gemm":
                if (wq.Rank != 2 || core.GetFloat("alpha", 1f) != 1f || core.GetFloat("beta", 1f) != 1f || core.GetInt("transA", 0) != 0)
                {
                    return null;
                }
                transposed = core.GetInt("transB", 0) != 0;
                outChannels = transposed ? wq.Shape[0] : wq.Shape[1];
                wAxis = transposed ? 0 : 1;
                break;
            default:
                if (wq.Rank < 3)
                {
                    return null;
                }
                outChannels = wq.Shape[0];
                wAxis = 0;
                break;
        }
        if (wScales.Length != 1)
        {
            long axis = w.Node.GetInt("axis", 1);
            if (axis < 0)
            {
                axis += wq.Rank;
            }
            if (axis != wAxis || wScales.Length != outChannels)
            {
                return null;
            }
        }
        foreach (var s in wScales)
        {
            if (!Requant.IsValidScale(s))
            {
                return null;
            }
        }
        if (!Requant.IsValidScale(sx))
        {
            return null;
        }

        // Bias onto the accumulator scale sx·sw[j].
        Tensor? bias = null;
        string? biasName = core.OpType == "Conv" ? core.Input(2) : core.OpType == "Gemm" ? core.Input(2) : null;
        if (biasName is not null)
        {
            bias = BiasToInt(biasName, outChannels, sx, wScales, producer, init, opset);
            if (bias is null)
            {
                return null;
            }
        }

        string baseName = "prova_qdq_" + (core.Name.Length > 0 ? core.Name : core.Outputs[0]);
        string Add(string suffix, Tensor t)
        {
            string name = baseName + "_" + suffix;
            while (init.ContainsKey(name))
            {
                name += "_";
            }
            init[name] = t;
            return name;
        }
        string wName = w.Input;
        if (transposed)
        {
            wName = Add("w_t", Transpose(wq));
        }
        string xz = x.ZeroPoint is not null ? x.Node.Inputs[2] : Add("x_zero_point", Tensor.Zeros(x.Type, []));
        string wz = w.ZeroPoint is not null ? w.Node.Inputs[2] : Add("w_zero_point", Tensor.Zeros(w.Type, []));
        string yzName2 = yz is not null ? q.Inputs[2] : Add("y_zero_point", Tensor.Zeros(yType, []));
        var inputs = new List<string> { x.Input, x.Node.Inputs[1], xz, wName, w.Node.Inputs[1], wz, q.Inputs[1], yzName2 };
        if (bias is not null)
        {
            inputs.Add(Add("bias", bias));
        }
        var attributes = new Dictionary<string, OnnxAttribute>(StringComparer.Ordinal)
        {
            ["relu"] = new OnnxAttribute { Name = "relu", Kind = AttributeKind.Int, Int = relu ? 1 : 0 },
        };
        if (core.OpType == "Conv")
        {
            foreach (var (k, v) in core.Attributes)
            {
                attributes[k] = v;
            }
        }
        var fused = new OnnxNode
        {
            Name = baseName,
            OpType = core.OpType == "Conv" ? "QLinearConv" : "QLinearMatMul",
            Domain = KernelRegistry.InternalDomain,
            Inputs = [.. inputs],
            Outputs = [q.Outputs[0]],
            Attributes = attributes,
        };
        return (fused, removed);
    }

    private static bool SingleUse(string value, Dictionary<string, int> uses, Dictionary<string, OnnxNode> producer, out OnnxNode node)
    {
        node = null!;
        return value.Length > 0 && uses.GetValueOrDefault(value) == 1 && producer.TryGetValue(value, out node!) && node.Outputs.Length >= 1
            && node.Outputs.Skip(1).All(o => o.Length == 0 || uses.GetValueOrDefault(o) == 0);
    }

    private static Tensor? Const(Dictionary<string, Tensor> init, string name) => name.Length > 0 && init.TryGetValue(name, out var t) ? t : null;

    private static Dq? GetDq(string value, Dictionary<string, OnnxNode> producer, Dictionary<string, Tensor> init, int opset)
    {
        if (!producer.TryGetValue(value, out var dq) || dq.OpType != "DequantizeLinear" || !KernelRegistry.IsDefaultDomain(dq.Domain)
            || dq.Inputs.Length < 2 || dq.GetInt("block_size", 0) != 0)
        {
            return null;
        }
        if (Const(init, dq.Inputs[1]) is not { Type: DataType.Float32, Rank: <= 1 } scale)
        {
            return null;
        }
        Tensor? zp = null;
        if (dq.Input(2) is { } zpName)
        {
            zp = Const(init, zpName);
            if (zp is null || zp.Data.Length != scale.Data.Length)
            {
                return null;
            }
        }
        DataType type;
        if (Const(init, dq.Inputs[0]) is { } c)
        {
            type = c.Type;
        }
        else if (zp is not null)
        {
            type = zp.Type;
        }
        else
        {
            return null; // activation type unknown without a zero point
        }
        if (zp is not null && zp.Type != type)
        {
            return null;
        }
        _ = opset;
        return new Dq(dq, dq.Inputs[0], scale, zp, type);
    }

    private static Tensor? BiasToInt(string name, int channels, float sx, float[] sw, Dictionary<string, OnnxNode> producer,
        Dictionary<string, Tensor> init, int opset)
    {
        var result = new int[channels];
        var (nx, dx) = Requant.Exact(sx);
        if (Const(init, name) is { Type: DataType.Float32 } fb)
        {
            if (fb.Data.Length != channels || fb.Rank > 2)
            {
                return null;
            }
            var values = (float[])fb.Data;
            for (int j = 0; j < channels; j++)
            {
                var (nw, dw) = Requant.Exact(sw[sw.Length == 1 ? 0 : j]);
                var (nb, db) = Requant.Exact(values[j]);
                result[j] = Requant.RoundRational(nb * dx * dw, db * nx * nw);
            }
            return Tensor.Create([channels], result);
        }
        if (GetDq(name, producer, init, opset) is not { Type: DataType.Int32 } dq || Const(init, dq.Input) is not { } bq
            || bq.Data.Length != channels || bq.Rank > 2)
        {
            return null;
        }
        var q = (int[])bq.Data;
        var scales = (float[])dq.Scale.Data;
        var zps = dq.ZeroPoint is null ? null : (int[])dq.ZeroPoint.Data;
        if (scales.Length != 1 && scales.Length != channels)
        {
            return null;
        }
        for (int j = 0; j < channels; j++)
        {
            float sb = scales[scales.Length == 1 ? 0 : j];
            int zb = zps is null ? 0 : zps[zps.Length == 1 ? 0 : j];
            float swj = sw[sw.Length == 1 ? 0 : j];
            if (!Requant.IsValidScale(sb))
            {
                return null;
            }
            if (zb == 0 && BitConverter.SingleToUInt32Bits(sb) == BitConverter.SingleToUInt32Bits(sx * swj))
            {
                result[j] = q[j];
                continue;
            }
            var (nw, dw) = Requant.Exact(swj);
            var (nb, db) = Requant.Exact(sb);
            BigInteger value = (BigInteger)q[j] - zb;
            result[j] = Requant.RoundRational(value * nb * dx * dw, db * nx * nw);
        }
        return Tensor.Create([channels], result);
    }

    private static Tensor Transpose(Tensor w)
    {
        int rows = w.Shape[0];
        int cols = w.Shape[1];
        var bytes = w.Bytes();
        var dst = new byte[bytes.Length];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < cols; c++)
            {
                dst[(long)c * rows + r] = bytes[r * cols + c];
            }
        }
        return Tensor.FromBytes(w.Type, [cols, rows], dst);
    }
}
