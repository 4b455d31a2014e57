using Prova.Core;
using Prova.Onnx;

namespace Prova.Lm.Export;

/// <summary>
/// Writes a decoder in the layout of Hugging Face Optimum's merged decoder (<c>decoder_model_merged.onnx</c>):
/// the inputs of the decoder with past plus a bool [1] <c>use_cache_branch</c>, and a single top-level
/// <c>If</c> on it whose then_branch is the decoder with past and whose else_branch is the decoder without
/// past (which ignores the past inputs). Initializers both decoders hold with equal bytes are stored once, in
/// the outer graph, and read by both branches as outer-scope values; the outputs are the with-past decoder's.
/// </summary>
public static class OptimumMerge
{
    /// <summary>The name Optimum gives the branch input.</summary>
    public const string UseCacheBranch = "use_cache_branch";

    /// <summary>
    /// The decoder without past that Optimum exports as <c>decoder_model.onnx</c>, derived from a decoder with
    /// past by feeding every <c>past_key_values.*</c> input an empty cache [batch, heads, 0, head_dim]
    /// (ConstantOfShape on input_ids' batch size, named <c>past_key_values.*_empty</c> so that, as a merged
    /// decoder's else_branch, it does not shadow the outer past inputs); the past inputs disappear from the graph.
    /// </summary>
    public static OnnxModel WithoutPast(OnnxModel withPast)
    {
        ArgumentNullException.ThrowIfNull(withPast);
        var graph = withPast.Graph;
        var inputs = new List<ValueInfo>();
        var nodes = new List<OnnxNode>();
        var initializers = new Dictionary<string, Tensor>(graph.Initializers, StringComparer.Ordinal);
        var empties = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!graph.Inputs.Exists(i => i.Name == "input_ids"))
        {
            throw new LmException("merged export: the decoder has no input_ids input");
        }
        const string batch = "without_past.batch";
        initializers["without_past.zero"] = Tensor.Create([1], new long[] { 0 });
        nodes.Add(new OnnxNode { Name = "without_past/Shape", OpType = "Shape", Inputs = ["input_ids"], Outputs = ["without_past.ids_shape"] });
        nodes.Add(new OnnxNode { Name = "without_past/Gather", OpType = "Gather", Inputs = ["without_past.ids_shape", "without_past.zero"], Outputs = [batch] });
        foreach (var input in graph.Inputs)
        {
            if (!input.Name.StartsWith("past_key_values.", StringComparison.Ordinal))
            {
                inputs.Add(input);
                continue;
            }
            if (input.Shape is not { Length: 4 } dims || dims[1].Value is not { } heads || dims[3].Value is not { } headDim)
            {
                throw new LmException($"merged export: cache input '{input.Name}' must be [batch, heads, past, head_dim] with fixed heads and head_dim");
            }
            empties[input.Name] = input.Name + "_empty";
            string rest = input.Name + ".empty_dims";
            string shape = input.Name + ".empty_shape";
            initializers[rest] = Tensor.Create([3], new long[] { heads, 0, headDim });
            nodes.Add(new OnnxNode { Name = input.Name + "/Concat", OpType = "Concat", Inputs = [batch, rest], Outputs = [shape], Attributes = { ["axis"] = new OnnxAttribute { Name = "axis", Kind = AttributeKind.Int, Int = 0 } } });
            nodes.Add(new OnnxNode
            {
                Name = input.Name + "/ConstantOfShape",
                OpType = "ConstantOfShape",
                Inputs = [shape],
                Outputs = [input.Name + "_empty"],
                Attributes = { ["value"] = new OnnxAttribute { Name = "value", Kind = AttributeKind.Tensor, Tensor = Tensor.Create([1], new float[] { 0f }) } },
            });
        }
        foreach (var node in graph.Nodes)
        {
            nodes.Add(node.Rewired(Array.ConvertAll(node.Inputs, n => empties.GetValueOrDefault(n, n)), node.Outputs));
        }
        return new OnnxModel
        {
            IrVersion = withPast.IrVersion,
            ProducerName = withPast.ProducerName,
            Opsets = withPast.Opsets,
            Metadata = withPast.Metadata,
            Graph = new OnnxGraph { Name = graph.Name, Nodes = nodes, Inputs = inputs, Outputs = graph.Outputs, ValueInfos = graph.ValueInfos, Initializers = initializers },
        };
    }

    /// <summary>Merges a decoder with past and one without past (same outputs) into Optimum's merged layout.</summary>
    public static OnnxModel Merge(OnnxModel withPast, OnnxModel withoutPast)
    {
        ArgumentNullException.ThrowIfNull(withPast);
        ArgumentNullException.ThrowIfNull(withoutPast);
        var then = withPast.Graph;
        var otherwise = withoutPast.Graph;
        if (then.Outputs.Count != otherwise.Outputs.Count || then.Outputs.Where((o, i) => o.Name != otherwise.Outputs[i].Name).Any())
        {
            throw new LmException("merged export: the two decoders must have the same outputs in the same order");
        }
        foreach (var input in otherwise.Inputs)
        {
            if (!then.Inputs.Exists(i => i.Name == input.Name))
            {
                throw new LmException($"merged export: input '{input.Name}' of the decoder without past is not an input of the decoder with past");
            }
        }
        var shared = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, tensor) in then.Initializers)
        {
            if (otherwise.Initializers.TryGetValue(name, out var other) && other.Type == tensor.Type
                && other.Shape.SequenceEqual(tensor.Shape) && other.Bytes().SequenceEqual(tensor.Bytes()))
            {
                shared[name] = tensor;
            }
        }
        var outputs = then.Outputs.Select(o => new ValueInfo { Name = o.Name, ElementType = o.ElementType, Shape = o.Shape }).ToList();
        var inputs = new List<ValueInfo>(then.Inputs)
        {
            new() { Name = UseCacheBranch, ElementType = DataType.Bool, Shape = [Dim.Fixed(1)] },
        };
        var ifNode = new OnnxNode
        {
            Name = "optimum::if",
            OpType = "If",
            Inputs = [UseCacheBranch],
            Outputs = [.. outputs.Select(o => o.Name)],
            Attributes =
            {
                ["then_branch"] = new OnnxAttribute { Name = "then_branch", Kind = AttributeKind.Graph, Graph = Branch(then, shared, "with_past") },
                ["else_branch"] = new OnnxAttribute { Name = "else_branch", Kind = AttributeKind.Graph, Graph = Branch(otherwise, shared, "without_past") },
            },
        };
        return new OnnxModel
        {
            IrVersion = withPast.IrVersion,
            ProducerName = withPast.ProducerName,
            Opsets = withPast.Opsets,
            Metadata = withPast.Metadata,
            Graph = new OnnxGraph { Name = "merged_decoder", Nodes = [ifNode], Inputs = inputs, Outputs = outputs, Initializers = shared },
        };
    }

    /// <summary>A decoder as a branch: no inputs (it reads the outer ones), its own initializers minus the shared ones, outputs renamed apart from the If's.</summary>
    private static OnnxGraph Branch(OnnxGraph graph, Dictionary<string, Tensor> shared, string suffix)
    {
        var rename = graph.Outputs.ToDictionary(o => o.Name, o => o.Name + "_" + suffix, StringComparer.Ordinal);
        string Map(string name) => rename.TryGetValue(name, out var r) ? r : name;
        var nodes = graph.Nodes.Select(n => new OnnxNode
        {
            Name = n.Name,
            OpType = n.OpType,
            Domain = n.Domain,
            Inputs = Array.ConvertAll(n.Inputs, Map),
            Outputs = Array.ConvertAll(n.Outputs, Map),
            Attributes = n.Attributes,
        }).ToList();
        var initializers = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, tensor) in graph.Initializers)
        {
            if (!shared.ContainsKey(name))
            {
                initializers[name] = tensor;
            }
        }
        return new OnnxGraph
        {
            Name = suffix,
            Nodes = nodes,
            Outputs = graph.Outputs.Select(o => new ValueInfo { Name = Map(o.Name), ElementType = o.ElementType, Shape = o.Shape }).ToList(),
            Initializers = initializers,
        };
    }
}
