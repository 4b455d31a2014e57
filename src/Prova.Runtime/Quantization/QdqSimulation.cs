using Prova.Core;
using Prova.Onnx;

namespace Prova.Runtime.Quantization;

/// <summary>
/// Rewrites a QDQ model into an equivalent float-only model ("fake quantization") for engines without
/// QuantizeLinear/DequantizeLinear: constant DequantizeLinear nodes (weights, biases) are folded into
/// float initializers, and each activation QuantizeLinear becomes float ops computing exactly
/// saturate(round_half_even(x / scale) + zero_point) on integer-valued floats, each DequantizeLinear
/// (q - zero_point) · scale. The matrix products themselves then run in float on dequantized values,
/// so results match integer execution up to float rounding of the accumulation.
/// </summary>
public static class QdqSimulation
{
    // Adding and subtracting 1.5·2^23 rounds a float32 of magnitude below 2^22 to an integer, ties to even.
    private const float RoundingMagic = 12582912f;
    private const float Bound = 4194304f;

    public static OnnxModel Lower(OnnxModel model)
    {
        var graph = model.Graph;
        var initializers = new Dictionary<string, Tensor>(graph.Initializers, StringComparer.Ordinal);
        var nodes = new List<OnnxNode>(graph.Nodes.Count * 3);
        int counter = 0;
        string Const(float value)
        {
            string name = $"qdq_sim_const_{counter++}";
            initializers[name] = Tensor.Create([], new[] { value });
            return name;
        }
        string Temp() => $"qdq_sim_value_{counter++}";
        void Add(string op, string[] inputs, string output)
            => nodes.Add(new OnnxNode { Name = $"qdq_sim_{op}_{counter++}", OpType = op, Inputs = inputs, Outputs = [output] });

        foreach (var node in graph.Nodes)
        {
            bool isQ = node.OpType == "QuantizeLinear" && node.Domain.Length == 0;
            bool isDq = node.OpType == "DequantizeLinear" && node.Domain.Length == 0;
            if (!isQ && !isDq)
            {
                nodes.Add(node);
                continue;
            }
            var (scale, zero) = Parameters(node, initializers);
            if (isDq && initializers.TryGetValue(node.Inputs[0], out var constant))
            {
                initializers[node.Outputs[0]] = Dequantize(node, constant, scale, zero);
                continue;
            }
            if (scale.Length != 1)
            {
                throw ModelException.Unsupported(node, "per-axis quantization of a computed tensor (the simulation handles per-tensor activations)");
            }
            string s = Const(scale[0]);
            string z = Const(zero[0]);
            if (isQ)
            {
                var (lo, hi) = Saturation(node, initializers);
                string t1 = Temp(), t2 = Temp(), t3 = Temp(), t4 = Temp(), t5 = Temp();
                Add("Div", [node.Inputs[0], s], t1);
                Add("Clip", [t1, Const(-Bound), Const(Bound)], t2);
                Add("Add", [t2, Const(RoundingMagic)], t3);
                Add("Sub", [t3, Const(RoundingMagic)], t4);
                Add("Add", [t4, z], t5);
                Add("Clip", [t5, Const(lo), Const(hi)], node.Outputs[0]);
            }
            else
            {
                string t1 = Temp();
                Add("Sub", [node.Inputs[0], z], t1);
                Add("Mul", [t1, s], node.Outputs[0]);
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
                Initializers = initializers,
            },
        };
    }

    private static (float[] Scale, float[] Zero) Parameters(OnnxNode node, Dictionary<string, Tensor> initializers)
    {
        if (node.Input(1) is not { } s || !initializers.TryGetValue(s, out var scale) || scale.Type != DataType.Float32)
        {
            throw ModelException.Unsupported(node, "a scale that is not a float32 initializer");
        }
        var scales = (float[])scale.Data;
        var zeros = new float[scales.Length];
        if (node.Input(2) is { } z)
        {
            if (!initializers.TryGetValue(z, out var zero) || zero.Length != scales.Length)
            {
                throw ModelException.Unsupported(node, "a zero point that is not an initializer shaped like the scale");
            }
            for (int i = 0; i < zeros.Length; i++)
            {
                zeros[i] = zero.Data switch
                {
                    sbyte[] d => d[i],
                    byte[] d => d[i],
                    int[] d => d[i],
                    _ => throw ModelException.Unsupported(node, $"zero point type {zero.Type}"),
                };
            }
        }
        return (scales, zeros);
    }

    private static (float Lo, float Hi) Saturation(OnnxNode node, Dictionary<string, Tensor> initializers)
    {
        var type = node.Input(2) is { } z ? initializers[z].Type : DataType.UInt8;
        return type switch
        {
            DataType.Int8 => (-128f, 127f),
            DataType.UInt8 => (0f, 255f),
            _ => throw ModelException.Unsupported(node, $"quantizing to {type}"),
        };
    }

    private static Tensor Dequantize(OnnxNode node, Tensor x, float[] scale, float[] zero)
    {
        var shape = x.Shape;
        int inner = 1;
        int channels = 1;
        if (scale.Length > 1)
        {
            int axis = (int)node.GetInt("axis", 1);
            axis = axis < 0 ? axis + shape.Length : axis;
            if (axis < 0 || axis >= shape.Length || shape[axis] != scale.Length)
            {
                throw ModelException.ForNode(node, $"{scale.Length} scales do not match axis {axis} of shape [{string.Join(",", shape.ToArray())}]");
            }
            channels = scale.Length;
            for (int i = axis + 1; i < shape.Length; i++)
            {
                inner *= shape[i];
            }
        }
        var result = new float[x.Length];
        for (int i = 0; i < result.Length; i++)
        {
            int c = i / inner % channels;
            int q = x.Data switch
            {
                sbyte[] d => d[i],
                byte[] d => d[i],
                int[] d => d[i],
                _ => throw ModelException.Unsupported(node, $"dequantizing {x.Type}"),
            };
            result[i] = (float)(q - (int)zero[c]) * scale[c];
        }
        return Tensor.Create(shape, result);
    }
}
