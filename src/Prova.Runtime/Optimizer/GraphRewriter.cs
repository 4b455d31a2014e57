using Prova.Core;
using Prova.Onnx;

namespace Prova.Runtime.Optimizer;

/// <summary>
/// The working copy of one graph while rewrites run. Nodes are kept in their original slots
/// (a removed node leaves null); a rewritten chain's replacement takes the slot of the chain's
/// last node, whose output it produces, so every input it reads is defined earlier and the
/// order stays topological. Each rewrite updates the use counts for the nodes it removes and adds
/// (not a rebuild of the whole index: a graph of many fusable chains would take quadratic time).
/// </summary>
internal sealed partial class GraphRewriter
{
    private readonly OnnxGraph _source;
    private readonly Func<string, bool> _fusedKernelAvailable;
    private readonly List<OnnxNode?> _nodes;
    private readonly Dictionary<string, Tensor> _initializers;
    private readonly HashSet<string> _graphInputs = new(StringComparer.Ordinal);
    private readonly HashSet<string> _graphOutputs = new(StringComparer.Ordinal);
    // Every name in the graph, so generated initializer names never collide.
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _uses = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _producer = new(StringComparer.Ordinal);
    // The sum of the slots of a value's consumers, once per use: its only consumer when _uses is 1.
    private readonly Dictionary<string, long> _consumerSum = new(StringComparer.Ordinal);

    public GraphRewriter(OnnxGraph graph, Func<string, bool> fusedKernelAvailable)
    {
        _source = graph;
        _fusedKernelAvailable = fusedKernelAvailable;
        _nodes = new List<OnnxNode?>(graph.Nodes);
        _initializers = new Dictionary<string, Tensor>(graph.Initializers, StringComparer.Ordinal);
        foreach (var input in graph.Inputs)
        {
            _graphInputs.Add(input.Name);
            _names.Add(input.Name);
        }
        foreach (var output in graph.Outputs)
        {
            _graphOutputs.Add(output.Name);
        }
        _names.UnionWith(graph.Initializers.Keys);
        foreach (var node in graph.Nodes)
        {
            _names.UnionWith(node.Inputs);
            _names.UnionWith(node.Outputs);
        }
        Reindex();
    }

    public bool Changed { get; private set; }

    public bool UsesInternalDomain { get; private set; }

    private void Reindex()
    {
        _uses.Clear();
        _producer.Clear();
        _consumerSum.Clear();
        for (int i = 0; i < _nodes.Count; i++)
        {
            Index(i, +1);
        }
    }

    /// <summary>Adds (<paramref name="sign"/> +1) or removes (-1) the node in <paramref name="slot"/> from the use counts and producers.</summary>
    private void Index(int slot, int sign)
    {
        if (_nodes[slot] is not { } node)
        {
            return;
        }
        foreach (var input in node.Inputs)
        {
            if (input.Length == 0)
            {
                continue;
            }
            _uses[input] = _uses.GetValueOrDefault(input) + sign;
            _consumerSum[input] = _consumerSum.GetValueOrDefault(input) + (sign * (long)slot);
        }
        foreach (var output in node.Outputs)
        {
            if (output.Length == 0)
            {
                continue;
            }
            if (sign > 0)
            {
                _producer[output] = slot;
            }
            else if (_producer.TryGetValue(output, out int p) && p == slot)
            {
                _producer.Remove(output);
            }
        }
    }

    /// <summary>
    /// The slot of the only node that reads <paramref name="value"/>, if exactly one node reads it
    /// exactly once and it is not a graph output; -1 otherwise.
    /// </summary>
    private int SoleConsumer(string value)
    {
        if (_graphOutputs.Contains(value) || _uses.GetValueOrDefault(value) != 1)
        {
            return -1;
        }
        return (int)_consumerSum[value];
    }

    /// <summary>The sole consumer of <paramref name="value"/> if it is a default-domain <paramref name="opType"/> node with one output.</summary>
    private OnnxNode? SoleConsumerOfType(string value, string opType, out int slot)
    {
        slot = SoleConsumer(value);
        if (slot < 0 || _nodes[slot] is not { } node || node.OpType != opType || !KernelRegistry.IsDefaultDomain(node.Domain) || !HasSingleOutput(node))
        {
            slot = -1;
            return null;
        }
        return node;
    }

    private static bool HasSingleOutput(OnnxNode node) => node.Outputs.Length == 1 && node.Outputs[0].Length > 0;

    private static bool Is(OnnxNode? node, string opType)
        => node is not null && node.OpType == opType && KernelRegistry.IsDefaultDomain(node.Domain) && HasSingleOutput(node);

    /// <summary>
    /// The value of a constant: an initializer no graph input overrides, or the output of a
    /// Constant node with a tensor 'value'.
    /// </summary>
    private Tensor? Constant(string? name)
    {
        if (name is null || _graphInputs.Contains(name))
        {
            return null;
        }
        if (_initializers.TryGetValue(name, out var tensor))
        {
            return tensor;
        }
        if (_producer.TryGetValue(name, out int slot) && _nodes[slot] is { } node && Is(node, "Constant")
            && node.Attributes.TryGetValue("value", out var value) && value.Kind == AttributeKind.Tensor)
        {
            return value.Tensor;
        }
        return null;
    }

    /// <summary>A float32 constant of shape [] (rank 0).</summary>
    private bool IsScalarConstant(string? name, out float value)
    {
        value = 0;
        if (Constant(name) is not { Type: DataType.Float32, Rank: 0 } tensor)
        {
            return false;
        }
        value = ((float[])tensor.Data)[0];
        return true;
    }

    private string AddInitializer(string baseName, Tensor value)
    {
        string name = baseName;
        for (int k = 1; _names.Contains(name); k++)
        {
            name = baseName + "_" + k;
        }
        _names.Add(name);
        _initializers[name] = value;
        return name;
    }

    /// <summary>Replaces a chain: <paramref name="replacement"/> takes slot <paramref name="last"/>, the other slots are emptied.</summary>
    private void Replace(int last, OnnxNode replacement, params ReadOnlySpan<int> removed)
    {
        foreach (int slot in removed)
        {
            if (slot != last)
            {
                Index(slot, -1);
                _nodes[slot] = null;
            }
        }
        Index(last, -1);
        _nodes[last] = replacement;
        Index(last, +1);
        UsesInternalDomain |= replacement.Domain == KernelRegistry.InternalDomain;
        Changed = true;
    }

    private static bool TryGetInt(OnnxNode node, string name, out long value)
    {
        value = 0;
        if (!node.Attributes.TryGetValue(name, out var a))
        {
            return true;
        }
        value = a.Int;
        return a.Kind == AttributeKind.Int;
    }

    private static long IntOr(OnnxNode node, string name, long fallback)
        => node.Attributes.TryGetValue(name, out var a) && a.Kind == AttributeKind.Int ? a.Int : fallback;

    private static bool TryGetFloat(OnnxNode node, string name, float fallback, out float value)
    {
        value = fallback;
        if (!node.Attributes.TryGetValue(name, out var a))
        {
            return true;
        }
        value = a.Float;
        return a.Kind == AttributeKind.Float;
    }

    private static Dictionary<string, OnnxAttribute> CopyAttributes(OnnxNode node)
        => new(node.Attributes, StringComparer.Ordinal);

    /// <summary>
    /// The rewritten graph. Initializers and Constant nodes that only removed nodes read are
    /// dropped; those the original graph never read are kept as they were.
    /// </summary>
    public OnnxGraph Build()
    {
        var readBefore = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in _source.Nodes)
        {
            readBefore.UnionWith(node.Inputs);
        }
        var readNow = new HashSet<string>(_graphOutputs, StringComparer.Ordinal);
        foreach (var node in _nodes)
        {
            if (node is not null)
            {
                readNow.UnionWith(node.Inputs);
            }
        }
        bool Orphaned(string name) => readBefore.Contains(name) && !readNow.Contains(name);

        var nodes = new List<OnnxNode>(_nodes.Count);
        var defined = new HashSet<string>(_graphInputs, StringComparer.Ordinal);
        foreach (var node in _nodes)
        {
            if (node is null || (Is(node, "Constant") && Orphaned(node.Outputs[0])))
            {
                continue;
            }
            nodes.Add(node);
            defined.UnionWith(node.Outputs);
        }
        var initializers = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, tensor) in _initializers)
        {
            if (!Orphaned(name))
            {
                initializers[name] = tensor;
                defined.Add(name);
            }
        }
        var valueInfos = new List<ValueInfo>();
        foreach (var info in _source.ValueInfos)
        {
            if (defined.Contains(info.Name))
            {
                valueInfos.Add(info);
            }
        }
        return new OnnxGraph
        {
            Name = _source.Name,
            Nodes = nodes,
            Inputs = [.. _source.Inputs],
            Outputs = [.. _source.Outputs],
            ValueInfos = valueInfos,
            Initializers = initializers,
        };
    }
}
