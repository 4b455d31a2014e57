using Prova.Core;

namespace Prova.Onnx;

/// <summary>An ONNX model as Prova holds it: version info, opset imports and the main graph.</summary>
public sealed class OnnxModel
{
    public long IrVersion { get; init; }

    public string ProducerName { get; init; } = "";

    /// <summary>Operator-set versions by domain; "" is the default ONNX domain ("ai.onnx").</summary>
    public IReadOnlyDictionary<string, long> Opsets { get; init; } = new Dictionary<string, long>();

    public required OnnxGraph Graph { get; init; }

    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();

    /// <summary>The default-domain opset version (ONNX "ai.onnx").</summary>
    public long Opset => Opsets.TryGetValue("", out var v) ? v : Opsets.TryGetValue("ai.onnx", out v) ? v : 0;
}

/// <summary>A computation graph: nodes in topological order, initializers, declared inputs and outputs.</summary>
public sealed class OnnxGraph
{
    public string Name { get; init; } = "";

    public List<OnnxNode> Nodes { get; init; } = [];

    /// <summary>Graph inputs that are not initializers: what a caller must provide.</summary>
    public List<ValueInfo> Inputs { get; init; } = [];

    public List<ValueInfo> Outputs { get; init; } = [];

    /// <summary>Intermediate values with declared types (optional in ONNX).</summary>
    public List<ValueInfo> ValueInfos { get; init; } = [];

    /// <summary>Weights and other constants, by name.</summary>
    public Dictionary<string, Tensor> Initializers { get; init; } = new(StringComparer.Ordinal);
}

/// <summary>One node: an op applied to named inputs ("" marks an omitted optional input).</summary>
public sealed class OnnxNode
{
    public string Name { get; init; } = "";

    public required string OpType { get; init; }

    public string Domain { get; init; } = "";

    public string[] Inputs { get; init; } = [];

    public string[] Outputs { get; init; } = [];

    public Dictionary<string, OnnxAttribute> Attributes { get; init; } = new(StringComparer.Ordinal);

    /// <summary>
    /// This node (name, op type, domain) reading <paramref name="inputs"/> and writing <paramref name="outputs"/>, with
    /// <paramref name="attributes"/> or else a copy of its own: what graph rewrites that rename values build.
    /// </summary>
    public OnnxNode Rewired(string[] inputs, string[] outputs, Dictionary<string, OnnxAttribute>? attributes = null) => new()
    {
        Name = Name,
        OpType = OpType,
        Domain = Domain,
        Inputs = inputs,
        Outputs = outputs,
        Attributes = attributes ?? new Dictionary<string, OnnxAttribute>(Attributes, StringComparer.Ordinal),
    };

    /// <summary>The node name, or its first output when the node is unnamed.</summary>
    public string DisplayName => Name.Length > 0 ? Name : Outputs.Length > 0 ? Outputs[0] : "?";

    /// <summary>Input i's name, or null when the input is absent or omitted.</summary>
    public string? Input(int i) => i < Inputs.Length && Inputs[i].Length > 0 ? Inputs[i] : null;

    public bool HasAttribute(string name) => Attributes.ContainsKey(name);

    public long GetInt(string name, long fallback) => Get(name, AttributeKind.Int, out var a) ? a.Int : fallback;

    public float GetFloat(string name, float fallback) => Get(name, AttributeKind.Float, out var a) ? a.Float : fallback;

    public string GetString(string name, string fallback) => Get(name, AttributeKind.String, out var a) ? a.String : fallback;

    public long[]? GetInts(string name) => Get(name, AttributeKind.Ints, out var a) ? a.Ints : null;

    public float[]? GetFloats(string name) => Get(name, AttributeKind.Floats, out var a) ? a.Floats : null;

    public Tensor? GetTensor(string name) => Get(name, AttributeKind.Tensor, out var a) ? a.Tensor : null;

    private bool Get(string name, AttributeKind kind, out OnnxAttribute attribute)
    {
        if (!Attributes.TryGetValue(name, out attribute!))
        {
            return false;
        }
        if (attribute.Kind != kind)
        {
            // An empty INTS/FLOATS list is sometimes written with no type information.
            if (attribute.Kind == AttributeKind.Undefined)
            {
                return false;
            }
            throw ModelException.ForNode(this, $"attribute '{name}' should be {kind} but is {attribute.Kind}");
        }
        return true;
    }

    public override string ToString() => $"{OpType} '{DisplayName}'";
}

public enum AttributeKind
{
    Undefined = 0,
    Float = 1,
    Int = 2,
    String = 3,
    Tensor = 4,
    Graph = 5,
    Floats = 6,
    Ints = 7,
    Strings = 8,
    Tensors = 9,
    Graphs = 10,
}

/// <summary>A node attribute; only the member matching <see cref="Kind"/> is meaningful.</summary>
public sealed class OnnxAttribute
{
    public required string Name { get; init; }

    public AttributeKind Kind { get; init; }

    public float Float { get; init; }

    public long Int { get; init; }

    public string String { get; init; } = "";

    public Tensor? Tensor { get; init; }

    public float[] Floats { get; init; } = [];

    public long[] Ints { get; init; } = [];

    public string[] Strings { get; init; } = [];

    public OnnxGraph? Graph { get; init; }

    /// <summary>The tensors of a TENSORS attribute.</summary>
    public Tensor[] Tensors { get; init; } = [];

    /// <summary>The subgraphs of a GRAPHS attribute.</summary>
    public OnnxGraph[] Graphs { get; init; } = [];
}

/// <summary>A dimension: a fixed size, a symbolic name, or unknown.</summary>
public readonly record struct Dim(long? Value, string? Param)
{
    public static Dim Fixed(long value) => new(value, null);

    public static Dim Symbolic(string name) => new(null, name);

    public override string ToString() => Value?.ToString() ?? Param ?? "?";
}

/// <summary>A named value's declared type: element type and (optionally) shape.</summary>
public sealed class ValueInfo
{
    public required string Name { get; init; }

    public DataType ElementType { get; init; }

    /// <summary>Declared dims, or null when the shape is not declared at all.</summary>
    public Dim[]? Shape { get; init; }

    public override string ToString() => $"{Name}: {DataTypes.Name(ElementType)}" + (Shape is null ? "" : ErrorText.List<Dim>(Shape));
}
