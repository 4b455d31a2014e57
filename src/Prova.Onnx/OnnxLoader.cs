using System.Text;
using Google.Protobuf;
using Prova.Core;
using Prova.Onnx.Protos;

namespace Prova.Onnx;

/// <summary>Limits that keep a hostile model from exhausting memory or time while loading.</summary>
public sealed class LoadOptions
{
    public static LoadOptions Default { get; } = new();

    /// <summary>Largest model file (protobuf bytes), default 2 GiB - 1 (protobuf's own limit).</summary>
    public long MaxModelBytes { get; init; } = int.MaxValue;

    /// <summary>Largest external-data total, default 16 GiB.</summary>
    public long MaxExternalDataBytes { get; init; } = 16L << 30;

    /// <summary>Largest element count of any one tensor (initializer or declared).</summary>
    public long MaxTensorElements { get; init; } = int.MaxValue;

    public int MaxNodes { get; init; } = 1_000_000;
}

/// <summary>
/// Reads ONNX files (ONNX IR specification, IR versions 3 and later) into <see cref="OnnxModel"/>
/// and checks their structure: every node input defined before use, single assignment of every
/// value, declared shapes and tensor sizes sane. Every problem is a <see cref="ModelException"/>.
/// </summary>
public static partial class OnnxLoader
{
    /// <summary>The newest IR version Prova knows of is 11; a little headroom for compatible revisions.</summary>
    public const long MaxIrVersion = 12;

    /// <summary>Loads a model file; external data is resolved next to it.</summary>
    public static OnnxModel Load(string path, LoadOptions? options = null)
    {
        options ??= LoadOptions.Default;
        byte[] bytes;
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists)
            {
                throw new ModelException($"model file '{path}' not found");
            }
            if (info.Length > options.MaxModelBytes)
            {
                throw new ModelException($"model file '{path}' is {info.Length} bytes, more than the limit of {options.MaxModelBytes}");
            }
            bytes = File.ReadAllBytes(path);
        }
        catch (IOException e)
        {
            throw new ModelException($"cannot read model file '{path}': {e.Message}", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new ModelException($"cannot read model file '{path}': {e.Message}", e);
        }
        string directory = Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";
        return Load(bytes, directory, options);
    }

    /// <summary>Loads model bytes; external data (if any) is resolved relative to <paramref name="baseDirectory"/>.</summary>
    public static OnnxModel Load(ReadOnlySpan<byte> bytes, string? baseDirectory = null, LoadOptions? options = null)
    {
        options ??= LoadOptions.Default;
        if (bytes.Length > options.MaxModelBytes)
        {
            throw new ModelException($"model is {bytes.Length} bytes, more than the limit of {options.MaxModelBytes}");
        }
        var proto = Parse(ModelProto.Parser, bytes);
        var model = Convert(proto, new TensorReader(baseDirectory, options), options);
        Validate(model.Graph, null);
        return model;
    }

    internal static T Parse<T>(MessageParser<T> parser, ReadOnlySpan<byte> bytes, string what = "ONNX model") where T : IMessage<T>
    {
        try
        {
            return parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new ModelException($"not a valid {what}: {e.Message}", e);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException or OverflowException)
        {
            // Defensive: the protobuf runtime should only throw InvalidProtocolBufferException on bad bytes.
            throw new ModelException($"not a valid {what}: {e.Message}", e);
        }
    }

    private static OnnxModel Convert(ModelProto proto, TensorReader tensors, LoadOptions options)
    {
        if (proto.Graph is null)
        {
            throw new ModelException("not a valid ONNX model: it has no graph");
        }
        if (!proto.HasIrVersion || proto.IrVersion < 1)
        {
            throw new ModelException($"not a valid ONNX model: ir_version is {(proto.HasIrVersion ? proto.IrVersion.ToString() : "missing")}");
        }
        if (proto.IrVersion > MaxIrVersion)
        {
            throw new ModelException($"model has ir_version {proto.IrVersion}; Prova reads ONNX IR versions up to {MaxIrVersion}", unsupported: true);
        }
        if (proto.OpsetImport.Count == 0)
        {
            throw new ModelException("not a valid ONNX model: it imports no operator set (opset_import is empty)");
        }
        var opsets = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var opset in proto.OpsetImport)
        {
            if (opset.Version < 1)
            {
                throw new ModelException($"not a valid ONNX model: opset_import for domain '{opset.Domain}' has version {opset.Version}");
            }
            if (!opsets.TryAdd(opset.Domain, opset.Version))
            {
                throw new ModelException($"not a valid ONNX model: opset_import lists domain '{opset.Domain}' twice");
            }
        }
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in proto.MetadataProps)
        {
            metadata[entry.Key] = entry.Value;
        }
        var converter = new GraphConverter(tensors, options);
        var graph = converter.Graph(proto.Graph, "main graph");
        return new OnnxModel
        {
            IrVersion = proto.IrVersion,
            ProducerName = proto.ProducerName,
            Opsets = opsets,
            Graph = graph,
            Metadata = metadata,
        };
    }

    /// <summary>Proto → IR for graphs, nodes, attributes and value infos.</summary>
    private sealed class GraphConverter(TensorReader tensors, LoadOptions options)
    {
        private int _nodes;

        public OnnxGraph Graph(GraphProto proto, string where)
        {
            _nodes += proto.Node.Count;
            if (_nodes > options.MaxNodes)
            {
                throw new ModelException($"model has more than {options.MaxNodes} nodes");
            }
            if (proto.SparseInitializer.Count > 0)
            {
                string name = proto.SparseInitializer[0].Values?.Name ?? "";
                throw new ModelException($"{where} has sparse initializer '{name}'; sparse tensors are not supported", unsupported: true);
            }
            var graph = new OnnxGraph { Name = proto.Name };
            foreach (var init in proto.Initializer)
            {
                if (init.Name.Length == 0)
                {
                    throw new ModelException($"{where} has an initializer without a name");
                }
                if (graph.Initializers.ContainsKey(init.Name))
                {
                    throw new ModelException($"{where} has two initializers named '{init.Name}'");
                }
                graph.Initializers[init.Name] = tensors.Read(init, $"initializer '{init.Name}'");
            }
            foreach (var input in proto.Input)
            {
                // Before IR 4 every initializer was also listed as a graph input; either way such an
                // input has a value already and is not something a caller must provide.
                if (graph.Initializers.ContainsKey(input.Name))
                {
                    continue;
                }
                graph.Inputs.Add(ValueInfo(input, "graph input", required: true)!);
            }
            foreach (var output in proto.Output)
            {
                graph.Outputs.Add(ValueInfo(output, "graph output", required: true)!);
            }
            foreach (var info in proto.ValueInfo)
            {
                var converted = ValueInfo(info, "value_info", required: false);
                if (converted is not null)
                {
                    graph.ValueInfos.Add(converted);
                }
            }
            foreach (var node in proto.Node)
            {
                graph.Nodes.Add(Node(node));
            }
            return graph;
        }

        private ValueInfo? ValueInfo(ValueInfoProto proto, string role, bool required)
        {
            if (proto.Name.Length == 0)
            {
                if (!required)
                {
                    return null;
                }
                throw new ModelException($"a {role} has no name");
            }
            string what = $"{role} '{proto.Name}'";
            var type = proto.Type;
            if (type is null || type.ValueCase == TypeProto.ValueOneofCase.None)
            {
                return new ValueInfo { Name = proto.Name };
            }
            if (type.ValueCase != TypeProto.ValueOneofCase.TensorType)
            {
                if (!required)
                {
                    return null;
                }
                string kind = type.ValueCase switch
                {
                    TypeProto.ValueOneofCase.SequenceType => "a sequence",
                    TypeProto.ValueOneofCase.MapType => "a map",
                    TypeProto.ValueOneofCase.OptionalType => "an optional",
                    _ => "a sparse tensor",
                };
                throw new ModelException($"{what} is {kind}; only dense tensors are supported", unsupported: true);
            }
            var tensorType = type.TensorType;
            int elem = tensorType.ElemType;
            if (elem < 0 || elem > 23)
            {
                throw new ModelException($"{what} has an undefined element type ({elem})");
            }
            Dim[]? shape = null;
            if (tensorType.Shape is { } shapeProto)
            {
                shape = new Dim[shapeProto.Dim.Count];
                long count = 1;
                for (int i = 0; i < shape.Length; i++)
                {
                    var d = shapeProto.Dim[i];
                    switch (d.ValueCase)
                    {
                        case TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue:
                            if (d.DimValue < 0 || d.DimValue > int.MaxValue)
                            {
                                throw new ModelException($"{what} declares an invalid dimension {d.DimValue} at axis {i}");
                            }
                            shape[i] = Dim.Fixed(d.DimValue);
                            count = Math.Min(count * d.DimValue, long.MaxValue / int.MaxValue);
                            break;
                        case TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam when d.DimParam.Length > 0:
                            shape[i] = Dim.Symbolic(d.DimParam);
                            break;
                        default:
                            shape[i] = new Dim(null, null);
                            break;
                    }
                }
                if (count > options.MaxTensorElements)
                {
                    throw new ModelException($"{what} declares shape {ErrorText.List<Dim>(shape)}, more than the limit of {options.MaxTensorElements} elements");
                }
            }
            return new ValueInfo { Name = proto.Name, ElementType = (DataType)elem, Shape = shape };
        }

        private OnnxNode Node(NodeProto proto)
        {
            var node = new OnnxNode
            {
                Name = proto.Name,
                OpType = proto.OpType,
                Domain = proto.Domain,
                Inputs = [.. proto.Input],
                Outputs = [.. proto.Output],
            };
            if (proto.OpType.Length == 0)
            {
                throw ModelException.ForNode(node, "op_type is empty");
            }
            foreach (var attribute in proto.Attribute)
            {
                var converted = Attribute(node, attribute);
                if (!node.Attributes.TryAdd(converted.Name, converted))
                {
                    throw ModelException.ForNode(node, $"attribute '{converted.Name}' is given twice");
                }
            }
            return node;
        }

        private OnnxAttribute Attribute(OnnxNode node, AttributeProto proto)
        {
            if (proto.Name.Length == 0)
            {
                throw ModelException.ForNode(node, "an attribute has no name");
            }
            if (proto.RefAttrName.Length > 0)
            {
                throw ModelException.ForNode(node, $"attribute '{proto.Name}' refers to a function attribute ('{proto.RefAttrName}') outside a function");
            }
            var type = proto.HasType ? proto.Type : InferType(proto);
            string what = $"attribute '{proto.Name}' of node '{node.DisplayName}' ({node.OpType})";
            switch (type)
            {
                case AttributeProto.Types.AttributeType.Float:
                    return new OnnxAttribute { Name = proto.Name, Kind = AttributeKind.Float, Float = proto.F };
                case AttributeProto.Types.AttributeType.Int:
                    return new OnnxAttribute { Name = proto.Name, Kind = AttributeKind.Int, Int = proto.I };
                case AttributeProto.Types.AttributeType.String:
                    return new OnnxAttribute { Name = proto.Name, Kind = AttributeKind.String, String = Utf8(proto.S) };
                case AttributeProto.Types.AttributeType.Tensor:
                    if (proto.T is null)
                    {
                        throw ModelException.ForNode(node, $"tensor attribute '{proto.Name}' has no tensor");
                    }
                    return new OnnxAttribute { Name = proto.Name, Kind = AttributeKind.Tensor, Tensor = tensors.Read(proto.T, what) };
                case AttributeProto.Types.AttributeType.Graph:
                    if (proto.G is null)
                    {
                        throw ModelException.ForNode(node, $"graph attribute '{proto.Name}' has no graph");
                    }
                    return new OnnxAttribute { Name = proto.Name, Kind = AttributeKind.Graph, Graph = Graph(proto.G, $"subgraph {what}") };
                case AttributeProto.Types.AttributeType.Floats:
                    return new OnnxAttribute { Name = proto.Name, Kind = AttributeKind.Floats, Floats = [.. proto.Floats] };
                case AttributeProto.Types.AttributeType.Ints:
                    return new OnnxAttribute { Name = proto.Name, Kind = AttributeKind.Ints, Ints = [.. proto.Ints] };
                case AttributeProto.Types.AttributeType.Strings:
                    {
                        var strings = new string[proto.Strings.Count];
                        for (int i = 0; i < strings.Length; i++)
                        {
                            strings[i] = Utf8(proto.Strings[i]);
                        }
                        return new OnnxAttribute { Name = proto.Name, Kind = AttributeKind.Strings, Strings = strings };
                    }
                case AttributeProto.Types.AttributeType.Tensors:
                    {
                        var list = new Tensor[proto.Tensors.Count];
                        for (int i = 0; i < list.Length; i++)
                        {
                            list[i] = tensors.Read(proto.Tensors[i], $"{what}[{i}]");
                        }
                        return new OnnxAttribute { Name = proto.Name, Kind = AttributeKind.Tensors, Tensors = list };
                    }
                case AttributeProto.Types.AttributeType.Graphs:
                    {
                        var list = new OnnxGraph[proto.Graphs.Count];
                        for (int i = 0; i < list.Length; i++)
                        {
                            list[i] = Graph(proto.Graphs[i], $"subgraph {what}[{i}]");
                        }
                        return new OnnxAttribute { Name = proto.Name, Kind = AttributeKind.Graphs, Graphs = list };
                    }
                case AttributeProto.Types.AttributeType.Undefined:
                    return new OnnxAttribute { Name = proto.Name, Kind = AttributeKind.Undefined };
                case AttributeProto.Types.AttributeType.SparseTensor:
                case AttributeProto.Types.AttributeType.SparseTensors:
                case AttributeProto.Types.AttributeType.TypeProto:
                case AttributeProto.Types.AttributeType.TypeProtos:
                    throw ModelException.Unsupported(node, $"attribute '{proto.Name}' has type {type}");
                default:
                    throw ModelException.ForNode(node, $"attribute '{proto.Name}' has an unknown type ({(int)type})");
            }
        }

        /// <summary>Very old files (IR 1) omit the attribute type; infer it from the field that is set.</summary>
        private static AttributeProto.Types.AttributeType InferType(AttributeProto p)
        {
            if (p.HasF) return AttributeProto.Types.AttributeType.Float;
            if (p.HasI) return AttributeProto.Types.AttributeType.Int;
            if (p.HasS) return AttributeProto.Types.AttributeType.String;
            if (p.T is not null) return AttributeProto.Types.AttributeType.Tensor;
            if (p.G is not null) return AttributeProto.Types.AttributeType.Graph;
            if (p.Floats.Count > 0) return AttributeProto.Types.AttributeType.Floats;
            if (p.Ints.Count > 0) return AttributeProto.Types.AttributeType.Ints;
            if (p.Strings.Count > 0) return AttributeProto.Types.AttributeType.Strings;
            if (p.Tensors.Count > 0) return AttributeProto.Types.AttributeType.Tensors;
            if (p.Graphs.Count > 0) return AttributeProto.Types.AttributeType.Graphs;
            return AttributeProto.Types.AttributeType.Undefined;
        }

        private static string Utf8(ByteString bytes) => Encoding.UTF8.GetString(bytes.Span);
    }
}
