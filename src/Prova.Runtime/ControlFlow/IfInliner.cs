using Prova.Core;
using Prova.Onnx;

namespace Prova.Runtime.ControlFlow;

/// <summary>
/// Replaces an <c>If</c> node whose condition is known before it runs by the nodes of the branch it takes
/// (docs/optimizer.md, "If"). The branch's initializers move to the enclosing graph, every value it defines
/// is renamed only where it would collide with a name of the enclosing graph, the branch output produced by a
/// branch node takes the If output's name (otherwise an Identity, a free view, links them), and references
/// that nested subgraphs make to renamed values follow the rename. The result is an ordinary graph, so the
/// optimizer's fusions and the planner's constant folding see through it.
/// </summary>
internal static class IfInliner
{
    /// <summary>True for the default-domain If op.</summary>
    public static bool IsIf(OnnxNode node) => node.OpType == "If" && KernelRegistry.IsDefaultDomain(node.Domain);

    /// <summary>
    /// Inlines every top-level If whose condition is an initializer, the tensor of a <c>Constant</c> node, or a
    /// graph input given in <paramref name="inputValues"/>, again and again (a taken branch may hold Ifs of its
    /// own). Returns <paramref name="model"/> itself when no If is inlined.
    /// </summary>
    public static OnnxModel Inline(OnnxModel model, IReadOnlyDictionary<string, Tensor>? inputValues)
    {
        var graph = model.Graph;
        bool changed = false;
        // Bounded: each pass removes one If node from the graph; nesting is bounded by the model's size.
        for (int pass = 0; pass < 1_000_000; pass++)
        {
            var known = KnownValues(graph, inputValues);
            int index = -1;
            bool taken = false;
            for (int i = 0; i < graph.Nodes.Count; i++)
            {
                var node = graph.Nodes[i];
                if (IsIf(node) && node.Input(0) is { } cond && known.TryGetValue(cond, out var value) && Condition(node, value) is { } c)
                {
                    (index, taken) = (i, c);
                    break;
                }
            }
            if (index < 0)
            {
                break;
            }
            var ifNode = graph.Nodes[index];
            var used = AllNames(graph);
            var (nodes, initializers, _) = Expand(ifNode, taken, used);
            var newNodes = new List<OnnxNode>(graph.Nodes.Count + nodes.Count);
            newNodes.AddRange(graph.Nodes.Take(index));
            newNodes.AddRange(nodes);
            newNodes.AddRange(graph.Nodes.Skip(index + 1));
            var newInitializers = new Dictionary<string, Tensor>(graph.Initializers, StringComparer.Ordinal);
            foreach (var (name, tensor) in initializers)
            {
                newInitializers[name] = tensor;
            }
            graph = new OnnxGraph
            {
                Name = graph.Name,
                Nodes = newNodes,
                Inputs = graph.Inputs,
                Outputs = graph.Outputs,
                ValueInfos = graph.ValueInfos,
                Initializers = newInitializers,
            };
            changed = true;
        }
        if (!changed)
        {
            return model;
        }
        return new OnnxModel
        {
            IrVersion = model.IrVersion,
            ProducerName = model.ProducerName,
            Opsets = model.Opsets,
            Metadata = model.Metadata,
            Graph = graph,
        };
    }

    /// <summary>
    /// The graph inputs that are the condition of a top-level If: a session specialises its plans on their
    /// values, so each value gets a graph with the taken branch inlined (and optimized).
    /// </summary>
    public static List<string> ConditionInputs(OnnxGraph graph)
    {
        var found = new List<string>();
        foreach (var node in graph.Nodes)
        {
            if (IsIf(node) && node.Input(0) is { } cond && graph.Inputs.Exists(i => i.Name == cond && i.ElementType == DataType.Bool) && !found.Contains(cond))
            {
                found.Add(cond);
            }
        }
        return found;
    }

    /// <summary>The value of an If condition: one bool element. Null when the tensor is not that (the planner then reports it).</summary>
    public static bool? Condition(OnnxNode node, Tensor value)
    {
        if (value.Type != DataType.Bool)
        {
            throw ModelException.ForNode(node, $"the condition must be a bool tensor but is {DataTypes.Name(value.Type)}");
        }
        if (Tensor.ElementCount(value.Shape) != 1)
        {
            throw ModelException.ForNode(node, $"the condition must hold exactly one element but has shape [{string.Join(", ", value.ShapeArray())}]");
        }
        return value.Bytes()[0] != 0;
    }

    /// <summary>The branch an If runs for this condition, checked against the node.</summary>
    public static OnnxGraph Branch(OnnxNode node, bool condition)
    {
        string attribute = condition ? "then_branch" : "else_branch";
        if (!node.Attributes.TryGetValue(attribute, out var a) || a.Kind != AttributeKind.Graph || a.Graph is null)
        {
            throw ModelException.ForNode(node, $"attribute '{attribute}' (a graph) is missing");
        }
        var branch = a.Graph;
        if (branch.Inputs.Count != 0)
        {
            throw ModelException.ForNode(node, $"{attribute} declares {branch.Inputs.Count} input(s); an If branch takes none (it reads outer values by name)");
        }
        if (branch.Outputs.Count != node.Outputs.Length)
        {
            throw ModelException.ForNode(node, $"{attribute} has {branch.Outputs.Count} output(s) but the node has {node.Outputs.Length}");
        }
        return branch;
    }

    /// <summary>
    /// The nodes and initializers that replace <paramref name="ifNode"/> when it takes the branch for
    /// <paramref name="condition"/>. <paramref name="used"/> holds every name of the enclosing graph; the
    /// names this expansion defines are added to it. With <paramref name="bindOutputs"/> false the branch's
    /// outputs keep (possibly renamed) names of their own, returned in order, and nothing defines the If's outputs.
    /// </summary>
    public static (List<OnnxNode> Nodes, Dictionary<string, Tensor> Initializers, string[] Outputs) Expand(OnnxNode ifNode, bool condition, HashSet<string> used, bool bindOutputs = true)
    {
        var branch = Branch(ifNode, condition);
        string suffix = "/" + ifNode.DisplayName + (condition ? "/then" : "/else");
        var rename = new Dictionary<string, string>(StringComparer.Ordinal);
        // A branch output a branch node produces takes the If output's name (first use only).
        var producedHere = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in branch.Nodes)
        {
            foreach (var output in node.Outputs)
            {
                if (output.Length > 0)
                {
                    producedHere.Add(output);
                }
            }
        }
        for (int i = 0; i < branch.Outputs.Count; i++)
        {
            string inner = branch.Outputs[i].Name;
            string outer = ifNode.Outputs[i];
            if (bindOutputs && outer.Length > 0 && producedHere.Contains(inner) && !rename.ContainsKey(inner))
            {
                rename[inner] = outer;
            }
        }
        string Define(string name)
        {
            if (rename.TryGetValue(name, out var target))
            {
                return target;
            }
            string fresh = name;
            for (int k = 1; used.Contains(fresh); k++)
            {
                fresh = k == 1 ? name + suffix : name + suffix + "_" + k;
            }
            used.Add(fresh);
            rename[name] = fresh;
            return fresh;
        }
        var initializers = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, tensor) in branch.Initializers)
        {
            initializers[Define(name)] = tensor;
        }
        // Define node outputs in order: a name is renamed before any later node reads it.
        var nodes = new List<OnnxNode>(branch.Nodes.Count + branch.Outputs.Count);
        foreach (var node in branch.Nodes)
        {
            var inputs = new string[node.Inputs.Length];
            for (int i = 0; i < inputs.Length; i++)
            {
                inputs[i] = node.Inputs[i].Length > 0 && rename.TryGetValue(node.Inputs[i], out var r) ? r : node.Inputs[i];
            }
            var outputs = new string[node.Outputs.Length];
            for (int i = 0; i < outputs.Length; i++)
            {
                outputs[i] = node.Outputs[i].Length > 0 ? Define(node.Outputs[i]) : "";
            }
            nodes.Add(node.Rewired(inputs, outputs, RenameAttributes(node.Attributes, rename)));
        }
        var sources = new string[branch.Outputs.Count];
        for (int i = 0; i < branch.Outputs.Count; i++)
        {
            string inner = branch.Outputs[i].Name;
            sources[i] = rename.TryGetValue(inner, out var r) ? r : inner;
        }
        for (int i = 0; bindOutputs && i < branch.Outputs.Count; i++)
        {
            string outer = ifNode.Outputs[i];
            string source = sources[i];
            if (outer.Length > 0 && source != outer)
            {
                nodes.Add(new OnnxNode
                {
                    Name = ifNode.DisplayName + "/output" + i,
                    OpType = "Identity",
                    Inputs = [source],
                    Outputs = [outer],
                });
            }
        }
        return (nodes, initializers, sources);
    }

    private static Dictionary<string, OnnxAttribute> RenameAttributes(Dictionary<string, OnnxAttribute> attributes, Dictionary<string, string> rename)
    {
        var result = new Dictionary<string, OnnxAttribute>(attributes.Count, StringComparer.Ordinal);
        foreach (var (name, a) in attributes)
        {
            if (a.Graph is null && a.Graphs.Length == 0)
            {
                result[name] = a;
                continue;
            }
            result[name] = new OnnxAttribute
            {
                Name = a.Name,
                Kind = a.Kind,
                Graph = a.Graph is null ? null : RenameFree(a.Graph, rename),
                Graphs = Array.ConvertAll(a.Graphs, g => RenameFree(g, rename)),
            };
        }
        return result;
    }

    /// <summary>A copy of a nested subgraph whose references to outer values follow <paramref name="rename"/>; names it defines itself shadow them.</summary>
    private static OnnxGraph RenameFree(OnnxGraph graph, Dictionary<string, string> rename)
    {
        var local = new Dictionary<string, string>(rename, StringComparer.Ordinal);
        foreach (var name in graph.Initializers.Keys)
        {
            local.Remove(name);
        }
        foreach (var input in graph.Inputs)
        {
            local.Remove(input.Name);
        }
        var nodes = new List<OnnxNode>(graph.Nodes.Count);
        foreach (var node in graph.Nodes)
        {
            var inputs = new string[node.Inputs.Length];
            for (int i = 0; i < inputs.Length; i++)
            {
                inputs[i] = node.Inputs[i].Length > 0 && local.TryGetValue(node.Inputs[i], out var r) ? r : node.Inputs[i];
            }
            nodes.Add(node.Rewired(inputs, node.Outputs, RenameAttributes(node.Attributes, local)));
            foreach (var output in node.Outputs)
            {
                local.Remove(output);
            }
        }
        var outputs = new List<ValueInfo>(graph.Outputs.Count);
        foreach (var o in graph.Outputs)
        {
            outputs.Add(local.TryGetValue(o.Name, out var r) ? new ValueInfo { Name = r, ElementType = o.ElementType, Shape = o.Shape } : o);
        }
        return new OnnxGraph
        {
            Name = graph.Name,
            Nodes = nodes,
            Inputs = graph.Inputs,
            Outputs = outputs,
            ValueInfos = graph.ValueInfos,
            Initializers = graph.Initializers,
        };
    }

    /// <summary>Every value name the graph defines: inputs, initializers, node outputs.</summary>
    public static HashSet<string> AllNames(OnnxGraph graph)
    {
        var names = new HashSet<string>(graph.Initializers.Keys, StringComparer.Ordinal);
        foreach (var input in graph.Inputs)
        {
            names.Add(input.Name);
        }
        foreach (var node in graph.Nodes)
        {
            foreach (var output in node.Outputs)
            {
                if (output.Length > 0)
                {
                    names.Add(output);
                }
            }
        }
        return names;
    }

    private static Dictionary<string, Tensor> KnownValues(OnnxGraph graph, IReadOnlyDictionary<string, Tensor>? inputValues)
    {
        var known = new Dictionary<string, Tensor>(graph.Initializers, StringComparer.Ordinal);
        if (inputValues is not null)
        {
            foreach (var input in graph.Inputs)
            {
                if (inputValues.TryGetValue(input.Name, out var value))
                {
                    known[input.Name] = value;
                }
            }
        }
        foreach (var node in graph.Nodes)
        {
            if (node.OpType == "Constant" && KernelRegistry.IsDefaultDomain(node.Domain) && node.Outputs.Length == 1
                && node.Attributes.TryGetValue("value", out var a) && a.Kind == AttributeKind.Tensor && a.Tensor is { } t)
            {
                known[node.Outputs[0]] = t;
            }
        }
        return known;
    }
}
