using Prova.Core;

namespace Prova.Onnx;

/// <summary>
/// Builds ONNX models from C# (tests, benchmarks and the demo use it; no Python needed).
/// <code>
/// var b = new ModelBuilder(opset: 17);
/// var x = b.Input("x", DataType.Float32, 1, 784);
/// var w = b.Initializer("w", Tensor.Create([784, 10], weights));
/// var y = b.Node("MatMul", [x, w]);
/// b.Output(b.Node("Relu", [y], name: "relu"), "y");   // renames the value to the graph output name
/// OnnxWriter.Save(b.Build(), "model.onnx");
/// </code>
/// Attribute values: long/int → INT, float/double → FLOAT, string → STRING, long[]/int[] → INTS,
/// float[] → FLOATS, string[] → STRINGS, Tensor → TENSOR (also bool → INT 0/1, double[] → FLOATS,
/// OnnxGraph → GRAPH, Tensor[] → TENSORS).
/// Built models use IR version 8 (up to opset 18; the IR version released with the opset above), an opset import for the default domain (the given version) and one
/// for each other domain a node uses (e.g. "com.microsoft", version 1 unless <see cref="DomainOpset"/>
/// says otherwise), and producer "prova", which ONNX Runtime accepts.
/// </summary>
public sealed partial class ModelBuilder
{
    private readonly int _opset;
    private readonly string _graphName;
    private readonly List<OnnxNode> _nodes = [];
    private readonly List<ValueInfo> _inputs = [];
    private readonly List<ValueInfo> _outputs = [];
    private readonly Dictionary<string, Tensor> _initializers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _metadata = new(StringComparer.Ordinal);
    private readonly HashSet<string> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _nodeNames = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _domains = new(StringComparer.Ordinal);

    // Set for a subgraph builder: its nodes may read the parent's values; names are unique across both.
    private readonly ModelBuilder? _parent;

    // A value renamed by Output keeps working under its old name in later calls.
    private readonly Dictionary<string, string> _renamed = new(StringComparer.Ordinal);
    private int _counter;

    public ModelBuilder(int opset = 17, string graphName = "main")
    {
        if (opset < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(opset), opset, "opset must be at least 1");
        }
        _opset = opset;
        _graphName = graphName;
    }

    private ModelBuilder(ModelBuilder parent, string graphName)
    {
        _parent = parent;
        _opset = parent._opset;
        _graphName = graphName;
    }

    /// <summary>
    /// A builder for a subgraph (an If branch): its nodes may read this builder's values (and its ancestors')
    /// by name, and the names it generates or claims never collide with theirs. Turn it into the GRAPH
    /// attribute value with <see cref="BuildGraph"/>; a node domain it uses is imported by the root model.
    /// </summary>
    public ModelBuilder Subgraph(string graphName) => new(this, graphName);

    /// <summary>The graph built so far (a snapshot), e.g. a subgraph for an If's then_branch / else_branch attribute.</summary>
    public OnnxGraph BuildGraph() => Build().Graph;

    private ModelBuilder Root => _parent is null ? this : _parent.Root;

    /// <summary>True when the name is a value of this builder or of an enclosing one.</summary>
    private bool Visible(string name) => _values.Contains(name) || (_parent is not null && _parent.Visible(name));

    /// <summary>True when the name is used anywhere in the builder tree that this builder can see.</summary>
    private bool Taken(string name) => _values.Contains(name) || _renamed.ContainsKey(name) || (_parent is not null && _parent.Taken(name));

    /// <summary>
    /// Declares a graph input; a negative dim becomes a symbolic dim: -1 → "N", -2 → "N1",
    /// -3 → "N2", ... (equal negative numbers give the same symbol across inputs).
    /// </summary>
    public string Input(string name, DataType type, params int[] shape)
    {
        Claim(name);
        _inputs.Add(new ValueInfo { Name = name, ElementType = type, Shape = Dims(shape) });
        return name;
    }

    /// <summary>Adds a named initializer (weights); returns its name.</summary>
    public string Initializer(string name, Tensor value)
    {
        ArgumentNullException.ThrowIfNull(value);
        Claim(name);
        _initializers[name] = value;
        return name;
    }

    /// <summary>Adds an initializer with a generated unique name; returns the name.</summary>
    public string Constant(Tensor value)
    {
        ArgumentNullException.ThrowIfNull(value);
        string name = Fresh("const");
        _initializers[name] = value;
        return name;
    }

    /// <summary>Adds a node with one output (a generated unique name unless <paramref name="output"/> is given); returns the output name.</summary>
    public string Node(string opType, string[] inputs, (string Name, object Value)[]? attributes = null, string? name = null, string? output = null, string domain = "")
    {
        if (output is not null)
        {
            Claim(output);
        }
        else
        {
            output = Fresh(opType);
        }
        Add(opType, inputs, attributes, name, [output], domain);
        return output;
    }

    /// <summary>Adds a node with several outputs; returns their generated names.</summary>
    public string[] NodeMulti(string opType, string[] inputs, int outputCount, (string Name, object Value)[]? attributes = null, string? name = null, string domain = "")
    {
        ArgumentOutOfRangeException.ThrowIfNegative(outputCount);
        var outputs = new string[outputCount];
        for (int i = 0; i < outputCount; i++)
        {
            outputs[i] = Fresh(opType);
        }
        Add(opType, inputs, attributes, name, outputs, domain);
        return outputs;
    }

    /// <summary>
    /// Declares <paramref name="value"/> as a graph output named <paramref name="name"/>. The
    /// producing node's output is renamed (later references to <paramref name="value"/> follow the
    /// rename); when the value is a graph input, an initializer or already an output, an Identity
    /// node is inserted instead. The element type is always declared; the shape only when
    /// <paramref name="shape"/> is given (negative dims become symbolic as in <see cref="Input"/>).
    /// </summary>
    public void Output(string value, string name, DataType type = DataType.Float32, int[]? shape = null)
    {
        value = Resolve(value);
        if (!Visible(value))
        {
            throw new ArgumentException($"value '{value}' is not defined", nameof(value));
        }
        bool isOutput = _outputs.Exists(o => o.Name == value);
        if (value != name || isOutput)
        {
            var producer = isOutput ? null : _nodes.FindLast(n => Array.IndexOf(n.Outputs, value) >= 0);
            if (producer is null)
            {
                Node("Identity", [value], output: name);
            }
            else
            {
                Claim(name);
                producer.Outputs[Array.IndexOf(producer.Outputs, value)] = name;
                foreach (var node in _nodes)
                {
                    for (int i = 0; i < node.Inputs.Length; i++)
                    {
                        if (node.Inputs[i] == value)
                        {
                            node.Inputs[i] = name;
                        }
                    }
                }
                _values.Remove(value);
                _renamed[value] = name;
            }
        }
        _outputs.Add(new ValueInfo { Name = name, ElementType = type, Shape = shape is null ? null : Dims(shape) });
    }

    /// <summary>
    /// Sets the opset version imported for another domain (e.g. "com.microsoft"). A domain used by a
    /// node (see the <c>domain</c> parameter of <see cref="Node"/>) is imported with version 1 unless set here.
    /// </summary>
    public void DomainOpset(string domain, long version)
    {
        ArgumentException.ThrowIfNullOrEmpty(domain);
        ArgumentOutOfRangeException.ThrowIfLessThan(version, 1);
        _domains[domain] = version;
    }

    /// <summary>Sets a model metadata entry (ONNX metadata_props).</summary>
    public void Metadata(string key, string value) => _metadata[key] = value;

    /// <summary>A snapshot of the model built so far (later builder calls do not change it).</summary>
    public OnnxModel Build()
    {
        var nodes = new List<OnnxNode>(_nodes.Count);
        foreach (var n in _nodes)
        {
            nodes.Add(new OnnxNode
            {
                Name = n.Name,
                OpType = n.OpType,
                Domain = n.Domain,
                Inputs = (string[])n.Inputs.Clone(),
                Outputs = (string[])n.Outputs.Clone(),
                Attributes = new Dictionary<string, OnnxAttribute>(n.Attributes, StringComparer.Ordinal),
            });
        }
        return new OnnxModel
        {
            IrVersion = IrVersionFor(_opset),
            ProducerName = "prova",
            Opsets = Opsets(),
            Metadata = new Dictionary<string, string>(_metadata, StringComparer.Ordinal),
            Graph = new OnnxGraph
            {
                Name = _graphName,
                Nodes = nodes,
                Inputs = [.. _inputs],
                Outputs = [.. _outputs],
                Initializers = new Dictionary<string, Tensor>(_initializers, StringComparer.Ordinal),
            },
        };
    }

    /// <summary>The IR version ONNX released with the opset (8 up to opset 18), so ONNX Runtime accepts the model.</summary>
    private static long IrVersionFor(int opset) => opset switch
    {
        <= 18 => 8,
        <= 20 => 9,
        <= 22 => 10,
        _ => 11,
    };

    private Dictionary<string, long> Opsets()
    {
        var opsets = new Dictionary<string, long>(StringComparer.Ordinal) { [""] = _opset };
        foreach (var (domain, version) in _domains)
        {
            opsets[domain] = version;
        }
        return opsets;
    }

    private void Add(string opType, string[] inputs, (string Name, object Value)[]? attributes, string? name, string[] outputs, string domain)
    {
        ArgumentException.ThrowIfNullOrEmpty(opType);
        var resolved = new string[inputs.Length];
        for (int i = 0; i < inputs.Length; i++)
        {
            resolved[i] = inputs[i].Length == 0 ? "" : Resolve(inputs[i]);
        }
        if (name is null)
        {
            name = _parent is null ? $"{opType}_{_nodes.Count}" : $"{_graphName}/{opType}_{_nodes.Count}";
            while (!_nodeNames.Add(name))
            {
                name = $"{opType}_{_nodes.Count}_{_counter++}";
            }
        }
        else
        {
            _nodeNames.Add(name);
        }
        var node = new OnnxNode { Name = name, OpType = opType, Domain = domain, Inputs = resolved, Outputs = outputs };
        if (domain.Length > 0 && domain != "ai.onnx")
        {
            Root._domains.TryAdd(domain, 1);
        }
        foreach (var (attributeName, value) in attributes ?? [])
        {
            node.Attributes[attributeName] = Attribute(attributeName, value);
        }
        _nodes.Add(node);
    }

    private static OnnxAttribute Attribute(string name, object value) => value switch
    {
        long v => new OnnxAttribute { Name = name, Kind = AttributeKind.Int, Int = v },
        int v => new OnnxAttribute { Name = name, Kind = AttributeKind.Int, Int = v },
        bool v => new OnnxAttribute { Name = name, Kind = AttributeKind.Int, Int = v ? 1 : 0 },
        float v => new OnnxAttribute { Name = name, Kind = AttributeKind.Float, Float = v },
        double v => new OnnxAttribute { Name = name, Kind = AttributeKind.Float, Float = (float)v },
        string v => new OnnxAttribute { Name = name, Kind = AttributeKind.String, String = v },
        long[] v => new OnnxAttribute { Name = name, Kind = AttributeKind.Ints, Ints = (long[])v.Clone() },
        int[] v => new OnnxAttribute { Name = name, Kind = AttributeKind.Ints, Ints = Array.ConvertAll(v, x => (long)x) },
        float[] v => new OnnxAttribute { Name = name, Kind = AttributeKind.Floats, Floats = (float[])v.Clone() },
        double[] v => new OnnxAttribute { Name = name, Kind = AttributeKind.Floats, Floats = Array.ConvertAll(v, x => (float)x) },
        string[] v => new OnnxAttribute { Name = name, Kind = AttributeKind.Strings, Strings = (string[])v.Clone() },
        Tensor v => new OnnxAttribute { Name = name, Kind = AttributeKind.Tensor, Tensor = v },
        Tensor[] v => new OnnxAttribute { Name = name, Kind = AttributeKind.Tensors, Tensors = (Tensor[])v.Clone() },
        OnnxGraph v => new OnnxAttribute { Name = name, Kind = AttributeKind.Graph, Graph = v },
        _ => throw new ArgumentException($"attribute '{name}': values of type {value?.GetType().Name ?? "null"} are not supported", nameof(value)),
    };

    private string Resolve(string value)
    {
        // Follow renames (bounded: each rename removes the old name for good).
        for (int i = 0; i <= _renamed.Count && _renamed.TryGetValue(value, out var next); i++)
        {
            value = next;
        }
        return value;
    }

    private void Claim(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if ((_parent is not null && _parent.Taken(name)) || !_values.Add(name) || _renamed.ContainsKey(name))
        {
            throw new ArgumentException($"the name '{name}' is already used", nameof(name));
        }
    }

    private string Fresh(string prefix)
    {
        string name;
        do
        {
            name = $"{prefix}_{Root._counter++}";
        }
        while (Taken(name));
        _values.Add(name);
        return name;
    }

    private static Dim[] Dims(int[] shape)
    {
        var dims = new Dim[shape.Length];
        for (int i = 0; i < shape.Length; i++)
        {
            dims[i] = shape[i] >= 0 ? Dim.Fixed(shape[i]) : Dim.Symbolic(shape[i] == -1 ? "N" : "N" + (-shape[i] - 1));
        }
        return dims;
    }
}
