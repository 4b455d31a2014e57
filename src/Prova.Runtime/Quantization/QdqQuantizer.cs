using Prova.Core;
using Prova.Onnx;

namespace Prova.Runtime.Quantization;

/// <summary>What <see cref="QdqQuantizer.Quantize(OnnxModel, IReadOnlyDictionary{string, ValueTuple{float, float}})"/> did.</summary>
public sealed record QuantizationResult(OnnxModel Model, IReadOnlyList<string> QuantizedNodes, IReadOnlyDictionary<string, ActivationQuant> Activations);

/// <summary>
/// Static post-training quantization of a float ONNX model into the standard QDQ format, which ONNX
/// Runtime and Prova's integer path both run:
/// <list type="bullet">
/// <item>each MatMul, Gemm and Conv whose weight is an initializer gets its activation input through
/// QuantizeLinear → DequantizeLinear (int8, per-tensor scale and zero point from the calibrated range);</item>
/// <item>its weight becomes an int8 initializer with symmetric per-channel scales (output channels:
/// axis 0 of a Conv weight and of a Gemm weight with transB=1, axis 1 otherwise) behind a per-axis
/// DequantizeLinear;</item>
/// <item>its bias becomes int32 with scale input_scale · weight_scale[c] and zero point 0;</item>
/// <item>its output (after a Relu, when a Relu is its only consumer) gets QuantizeLinear → DequantizeLinear;</item>
/// <item>tensors that only pass through MaxPool, Flatten, Reshape, Transpose, Squeeze, Unsqueeze or
/// Identity reuse the quantization parameters of the tensor they come from (exact, no new range).</item>
/// </list>
/// The default-domain opset is raised to 13 when lower (per-axis DequantizeLinear needs 13).
/// </summary>
public static class QdqQuantizer
{
    public const int MinOpset = 13;

    private static readonly HashSet<string> s_passThrough = new(StringComparer.Ordinal)
    {
        "MaxPool", "Flatten", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Identity",
    };

    /// <summary>The tensors whose ranges calibration must measure (the others inherit theirs).</summary>
    public static IReadOnlyList<string> TensorsToCalibrate(OnnxModel model)
    {
        var plan = new Analysis(model);
        var result = new List<string>();
        foreach (var t in plan.Tensors)
        {
            if (plan.Root(t) == t)
            {
                result.Add(t);
            }
        }
        return result;
    }

    /// <summary>Calibrates on <paramref name="calibration"/> (min/max) and quantizes.</summary>
    public static QuantizationResult Quantize(OnnxModel model, IEnumerable<IReadOnlyDictionary<string, Tensor>> calibration, int threads = 1)
    {
        using var calibrator = new Calibrator(model, [.. TensorsToCalibrate(model)], threads);
        foreach (var inputs in calibration)
        {
            calibrator.Observe(inputs);
        }
        return Quantize(model, calibrator.Ranges);
    }

    /// <summary>Quantizes with the given activation ranges (every tensor of <see cref="TensorsToCalibrate"/> needs one).</summary>
    public static QuantizationResult Quantize(OnnxModel model, IReadOnlyDictionary<string, (float Min, float Max)> ranges)
    {
        var plan = new Analysis(model);
        if (plan.Targets.Count == 0)
        {
            throw new QuantizationException("the model has no MatMul, Gemm or Conv with a constant float weight to quantize");
        }
        var graph = model.Graph;
        var names = new NameSet(graph);

        // Quantization parameters of every tensor that gets Q/DQ, in graph order.
        var activations = new Dictionary<string, ActivationQuant>(StringComparer.Ordinal);
        foreach (var t in plan.Tensors)
        {
            string root = plan.Root(t);
            if (root != t)
            {
                activations[t] = activations[root];
            }
            else if (ranges.TryGetValue(t, out var range))
            {
                activations[t] = QuantMath.Activation(range.Min, range.Max);
            }
            else
            {
                throw new QuantizationException($"no calibrated range for tensor '{t}'");
            }
        }

        var initializers = new Dictionary<string, Tensor>(graph.Initializers, StringComparer.Ordinal);
        var nodes = new List<OnnxNode>(graph.Nodes.Count * 2);
        var rename = new Dictionary<string, string>(StringComparer.Ordinal);
        var graphOutputs = new HashSet<string>(graph.Outputs.Select(o => o.Name), StringComparer.Ordinal);

        // Tensors that inherit their parameters share the initializers too.
        var parameterNames = new Dictionary<string, (string Scale, string Zero)>(StringComparer.Ordinal);
        void EmitQdq(string tensor, string source)
        {
            var q = activations[tensor];
            if (!parameterNames.TryGetValue(plan.Root(tensor), out var p))
            {
                p = (names.Fresh(tensor + "_scale"), names.Fresh(tensor + "_zero_point"));
                initializers[p.Scale] = Tensor.Create([], new[] { q.Scale });
                initializers[p.Zero] = Tensor.Create([], new[] { q.ZeroPoint });
                parameterNames[tensor] = p;
            }
            var (scale, zero) = p;
            string quantized = names.Fresh(tensor + "_quantized");
            string dequantized = graphOutputs.Contains(tensor) ? tensor : names.Fresh(tensor + "_dequantized");
            nodes.Add(new OnnxNode { Name = names.Node(tensor + "_QuantizeLinear"), OpType = "QuantizeLinear", Inputs = [source, scale, zero], Outputs = [quantized] });
            nodes.Add(new OnnxNode { Name = names.Node(tensor + "_DequantizeLinear"), OpType = "DequantizeLinear", Inputs = [quantized, scale, zero], Outputs = [dequantized] });
            rename[tensor] = dequantized;
        }

        foreach (var input in graph.Inputs)
        {
            if (activations.ContainsKey(input.Name))
            {
                EmitQdq(input.Name, input.Name);
            }
        }

        var quantizedNodes = new List<string>();
        foreach (var node in graph.Nodes)
        {
            var inputs = new string[node.Inputs.Length];
            for (int i = 0; i < inputs.Length; i++)
            {
                inputs[i] = rename.GetValueOrDefault(node.Inputs[i], node.Inputs[i]);
            }
            if (plan.Targets.TryGetValue(node, out var target))
            {
                var inputScale = activations[node.Inputs[0]].Scale;
                var weight = graph.Initializers[node.Inputs[1]];
                var (qw, wScales) = QuantMath.PerChannelWeights(weight.Span<float>(), weight.Shape, target.WeightAxis);
                inputs[1] = EmitConstantDequantize(nodes, initializers, names, node, "weight",
                    Tensor.Create(weight.Shape, qw), wScales, new sbyte[wScales.Length], target.WeightAxis);
                if (target.HasBias)
                {
                    var bias = graph.Initializers[node.Inputs[2]];
                    var (qb, bScales) = QuantMath.Bias(bias.Span<float>(), inputScale, wScales);
                    inputs[2] = EmitConstantDequantize(nodes, initializers, names, node, "bias",
                        Tensor.Create([qb.Length], qb), bScales, new int[qb.Length], 0);
                }
                quantizedNodes.Add(node.DisplayName);
            }

            var outputs = (string[])node.Outputs.Clone();
            for (int i = 0; i < outputs.Length; i++)
            {
                // A graph output keeps its name on the DequantizeLinear; the float value is renamed.
                if (activations.ContainsKey(outputs[i]) && graphOutputs.Contains(outputs[i]))
                {
                    outputs[i] = names.Fresh(outputs[i] + "_float");
                }
            }
            nodes.Add(node.Rewired(inputs, outputs));
            for (int i = 0; i < outputs.Length; i++)
            {
                if (activations.ContainsKey(node.Outputs[i]))
                {
                    EmitQdq(node.Outputs[i], outputs[i]);
                }
            }
        }

        // Drop the float weights nothing reads any more.
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var n in nodes)
        {
            used.UnionWith(n.Inputs);
        }
        foreach (var name in initializers.Keys.ToArray())
        {
            if (!used.Contains(name) && !graphOutputs.Contains(name))
            {
                initializers.Remove(name);
            }
        }

        var opsets = new Dictionary<string, long>(model.Opsets, StringComparer.Ordinal);
        string key = opsets.ContainsKey("ai.onnx") && !opsets.ContainsKey("") ? "ai.onnx" : "";
        opsets[key] = Math.Max(model.Opset, MinOpset);
        var metadata = new Dictionary<string, string>(model.Metadata, StringComparer.Ordinal)
        {
            ["quantization"] = "prova model quantize: QDQ int8, symmetric per-channel weights, asymmetric per-tensor activations (min/max calibration), int32 bias",
        };
        var quantized = new OnnxModel
        {
            IrVersion = Math.Max(model.IrVersion, 7),
            ProducerName = "prova",
            Opsets = opsets,
            Metadata = metadata,
            Graph = new OnnxGraph
            {
                Name = graph.Name,
                Nodes = nodes,
                Inputs = [.. graph.Inputs],
                Outputs = [.. graph.Outputs],
                ValueInfos = [.. graph.ValueInfos],
                Initializers = initializers,
            },
        };
        return new QuantizationResult(quantized, quantizedNodes, activations);
    }

    private static string EmitConstantDequantize(List<OnnxNode> nodes, Dictionary<string, Tensor> initializers, NameSet names, OnnxNode node,
        string what, Tensor quantized, float[] scales, Array zeroPoints, int axis)
    {
        string baseName = node.Inputs[what == "weight" ? 1 : 2];
        string q = names.Fresh(baseName + "_quantized");
        string scale = names.Fresh(baseName + "_scale");
        string zero = names.Fresh(baseName + "_zero_point");
        string output = names.Fresh(baseName + "_dequantized");
        initializers[q] = quantized;
        initializers[scale] = Tensor.Create([scales.Length], scales);
        initializers[zero] = zeroPoints is sbyte[] z8 ? Tensor.Create([z8.Length], z8) : Tensor.Create([zeroPoints.Length], (int[])zeroPoints);
        nodes.Add(new OnnxNode
        {
            Name = names.Node($"{node.DisplayName}_{what}_DequantizeLinear"),
            OpType = "DequantizeLinear",
            Inputs = [q, scale, zero],
            Outputs = [output],
            Attributes = new(StringComparer.Ordinal) { ["axis"] = new OnnxAttribute { Name = "axis", Kind = AttributeKind.Int, Int = axis } },
        });
        return output;
    }

    private readonly record struct Target(int WeightAxis, bool HasBias);

    /// <summary>Which nodes get quantized and which tensors get Q/DQ.</summary>
    private sealed class Analysis
    {
        private readonly Dictionary<string, OnnxNode> _producer = new(StringComparer.Ordinal);
        private readonly HashSet<string> _tensorSet = new(StringComparer.Ordinal);

        public Analysis(OnnxModel model)
        {
            var graph = model.Graph;
            var consumers = new Dictionary<string, List<OnnxNode>>(StringComparer.Ordinal);
            foreach (var node in graph.Nodes)
            {
                foreach (var output in node.Outputs)
                {
                    _producer[output] = node;
                }
                foreach (var input in node.Inputs)
                {
                    if (input.Length > 0)
                    {
                        (consumers.TryGetValue(input, out var list) ? list : consumers[input] = []).Add(node);
                    }
                }
            }
            var graphOutputs = new HashSet<string>(graph.Outputs.Select(o => o.Name), StringComparer.Ordinal);
            foreach (var node in graph.Nodes)
            {
                if (node.Domain.Length > 0 && node.Domain != "ai.onnx" || Classify(node, graph) is not { } target)
                {
                    continue;
                }
                Targets[node] = target;
                Add(node.Inputs[0]);
                string output = node.Outputs[0];
                if (!graphOutputs.Contains(output) && consumers.TryGetValue(output, out var users) && users.Count == 1 && users[0].OpType == "Relu" && users[0].Domain.Length == 0)
                {
                    output = users[0].Outputs[0];
                }
                Add(output);
            }
            // Graph order (inputs first, then node outputs) so a tensor's root is handled before it.
            var order = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var input in graph.Inputs)
            {
                order[input.Name] = order.Count;
            }
            foreach (var node in graph.Nodes)
            {
                foreach (var output in node.Outputs)
                {
                    order.TryAdd(output, order.Count);
                }
            }
            Tensors.Sort((a, b) => order.GetValueOrDefault(a).CompareTo(order.GetValueOrDefault(b)));
        }

        public Dictionary<OnnxNode, Target> Targets { get; } = new(ReferenceEqualityComparer.Instance);

        public List<string> Tensors { get; } = [];

        /// <summary>The nearest tensor with Q/DQ that <paramref name="tensor"/> only passes through shape/max ops from, or itself.</summary>
        public string Root(string tensor)
        {
            string current = tensor;
            for (int guard = 0; guard < _producer.Count && _producer.TryGetValue(current, out var p) && s_passThrough.Contains(p.OpType) && p.Domain.Length == 0; guard++)
            {
                current = p.Inputs[0];
                if (_tensorSet.Contains(current))
                {
                    return current;
                }
            }
            return tensor;
        }

        private void Add(string tensor)
        {
            if (_tensorSet.Add(tensor))
            {
                Tensors.Add(tensor);
            }
        }

        private static Target? Classify(OnnxNode node, OnnxGraph graph)
        {
            if (node.Inputs.Length < 2 || node.Input(0) is not { } a || graph.Initializers.ContainsKey(a)
                || node.Input(1) is not { } w || !graph.Initializers.TryGetValue(w, out var weight) || weight.Type != DataType.Float32)
            {
                return null;
            }
            var bias = node.Input(2) is { } b && graph.Initializers.TryGetValue(b, out var bt) && bt.Type == DataType.Float32 ? bt : null;
            switch (node.OpType)
            {
                case "Conv" when weight.Rank >= 3:
                    if (node.Input(2) is not null && (bias is null || bias.Rank != 1 || bias.Length != weight.Shape[0]))
                    {
                        return null;
                    }
                    return new Target(0, bias is not null);
                case "Gemm" when weight.Rank == 2 && node.GetFloat("alpha", 1f) == 1f:
                    int axis = node.GetInt("transB", 0) != 0 ? 0 : 1;
                    if (node.Input(2) is not null && (bias is null || node.GetFloat("beta", 1f) != 1f || bias.Rank != 1 || bias.Length != weight.Shape[axis]))
                    {
                        return null;
                    }
                    return new Target(axis, bias is not null);
                case "MatMul" when weight.Rank == 2 && node.Inputs.Length == 2:
                    return new Target(1, false);
                default:
                    return null;
            }
        }
    }

    /// <summary>Unique value and node names next to the graph's existing ones.</summary>
    private sealed class NameSet
    {
        private readonly HashSet<string> _values = new(StringComparer.Ordinal);
        private readonly HashSet<string> _nodes = new(StringComparer.Ordinal);

        public NameSet(OnnxGraph graph)
        {
            _values.UnionWith(graph.Initializers.Keys);
            _values.UnionWith(graph.Inputs.Select(i => i.Name));
            foreach (var node in graph.Nodes)
            {
                _values.UnionWith(node.Outputs);
                _nodes.Add(node.Name);
            }
        }

        public string Fresh(string name) => Unique(_values, name);

        public string Node(string name) => Unique(_nodes, name);

        private static string Unique(HashSet<string> set, string name)
        {
            string candidate = name;
            for (int i = 1; !set.Add(candidate); i++)
            {
                candidate = $"{name}_{i}";
            }
            return candidate;
        }
    }
}
