using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Google.Protobuf;
using Prova.Core;
using Prova.Onnx.Protos;

namespace Prova.Onnx;

/// <summary>Writes <see cref="OnnxModel"/>s as standard ONNX protobuf files.</summary>
public static class OnnxWriter
{
    public static byte[] Write(OnnxModel model) => ToProto(model, null).ToByteArray();

    /// <summary>
    /// Saves a model; initializers larger than <paramref name="externalDataThreshold"/> bytes (if given)
    /// go to an external data file "&lt;file name&gt;.data" beside it (e.g. "model.onnx.data").
    /// </summary>
    public static void Save(OnnxModel model, string path, long? externalDataThreshold = null)
    {
        if (externalDataThreshold is not long threshold)
        {
            File.WriteAllBytes(path, Write(model));
            return;
        }
        string dataName = Path.GetFileName(path) + ".data";
        string dataPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".", dataName);
        FileStream? data = null;
        try
        {
            var proto = ToProto(model, (name, tensor) =>
            {
                long size = (long)tensor.Length * DataTypes.SizeOf(tensor.Type);
                if (size <= threshold)
                {
                    return null;
                }
                data ??= new FileStream(dataPath, FileMode.Create, FileAccess.Write);
                long offset = data.Position;
                WriteBytes(data, tensor, size);
                var external = OnnxTensors.Header(name, tensor);
                external.DataLocation = TensorProto.Types.DataLocation.External;
                external.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = dataName });
                external.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString(CultureInfo.InvariantCulture) });
                external.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = size.ToString(CultureInfo.InvariantCulture) });
                return external;
            });
            File.WriteAllBytes(path, proto.ToByteArray());
        }
        finally
        {
            data?.Dispose();
        }
    }

    private static unsafe void WriteBytes(Stream stream, Tensor tensor, long size)
    {
        fixed (byte* p = &MemoryMarshal.GetArrayDataReference(tensor.Data))
        {
            for (long done = 0; done < size;)
            {
                int chunk = (int)Math.Min(size - done, 1 << 30);
                stream.Write(new ReadOnlySpan<byte>(p + done, chunk));
                done += chunk;
            }
        }
    }

    /// <summary>IR → proto; <paramref name="external"/> may replace an initializer by an external-data reference.</summary>
    internal static ModelProto ToProto(OnnxModel model, Func<string, Tensor, TensorProto?>? external)
    {
        var proto = new ModelProto
        {
            IrVersion = model.IrVersion,
            ProducerName = model.ProducerName,
            Graph = Graph(model.Graph, model.IrVersion, external),
        };
        foreach (var (domain, version) in model.Opsets)
        {
            proto.OpsetImport.Add(new OperatorSetIdProto { Domain = domain, Version = version });
        }
        foreach (var (key, value) in model.Metadata)
        {
            proto.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        }
        return proto;
    }

    private static GraphProto Graph(OnnxGraph graph, long irVersion, Func<string, Tensor, TensorProto?>? external)
    {
        var proto = new GraphProto { Name = graph.Name };
        foreach (var node in graph.Nodes)
        {
            proto.Node.Add(Node(node, irVersion));
        }
        foreach (var (name, tensor) in graph.Initializers)
        {
            proto.Initializer.Add(external?.Invoke(name, tensor) ?? OnnxTensors.ToProto(name, tensor));
        }
        foreach (var input in graph.Inputs)
        {
            proto.Input.Add(ValueInfo(input));
        }
        if (irVersion is > 0 and < 4)
        {
            // Before IR 4 every initializer must also be declared as a graph input.
            foreach (var (name, tensor) in graph.Initializers)
            {
                var shape = new Dim[tensor.Rank];
                for (int i = 0; i < shape.Length; i++)
                {
                    shape[i] = Dim.Fixed(tensor.Shape[i]);
                }
                proto.Input.Add(ValueInfo(new ValueInfo { Name = name, ElementType = tensor.Type, Shape = shape }));
            }
        }
        foreach (var output in graph.Outputs)
        {
            proto.Output.Add(ValueInfo(output));
        }
        foreach (var info in graph.ValueInfos)
        {
            proto.ValueInfo.Add(ValueInfo(info));
        }
        return proto;
    }

    private static NodeProto Node(OnnxNode node, long irVersion)
    {
        var proto = new NodeProto { OpType = node.OpType };
        if (node.Name.Length > 0)
        {
            proto.Name = node.Name;
        }
        if (node.Domain.Length > 0)
        {
            proto.Domain = node.Domain;
        }
        proto.Input.AddRange(node.Inputs);
        proto.Output.AddRange(node.Outputs);
        foreach (var attribute in node.Attributes.Values)
        {
            proto.Attribute.Add(Attribute(attribute, irVersion));
        }
        return proto;
    }

    private static AttributeProto Attribute(OnnxAttribute a, long irVersion)
    {
        var proto = new AttributeProto { Name = a.Name };
        switch (a.Kind)
        {
            case AttributeKind.Float:
                proto.Type = AttributeProto.Types.AttributeType.Float;
                proto.F = a.Float;
                break;
            case AttributeKind.Int:
                proto.Type = AttributeProto.Types.AttributeType.Int;
                proto.I = a.Int;
                break;
            case AttributeKind.String:
                proto.Type = AttributeProto.Types.AttributeType.String;
                proto.S = ByteString.CopyFrom(Encoding.UTF8.GetBytes(a.String));
                break;
            case AttributeKind.Tensor:
                proto.Type = AttributeProto.Types.AttributeType.Tensor;
                proto.T = OnnxTensors.ToProto("", a.Tensor ?? throw new ArgumentException($"attribute '{a.Name}' has no tensor"));
                break;
            case AttributeKind.Graph:
                proto.Type = AttributeProto.Types.AttributeType.Graph;
                proto.G = Graph(a.Graph ?? throw new ArgumentException($"attribute '{a.Name}' has no graph"), irVersion, null);
                break;
            case AttributeKind.Floats:
                proto.Type = AttributeProto.Types.AttributeType.Floats;
                proto.Floats.AddRange(a.Floats);
                break;
            case AttributeKind.Ints:
                proto.Type = AttributeProto.Types.AttributeType.Ints;
                proto.Ints.AddRange(a.Ints);
                break;
            case AttributeKind.Strings:
                proto.Type = AttributeProto.Types.AttributeType.Strings;
                foreach (var s in a.Strings)
                {
                    proto.Strings.Add(ByteString.CopyFrom(Encoding.UTF8.GetBytes(s)));
                }
                break;
            case AttributeKind.Tensors:
                proto.Type = AttributeProto.Types.AttributeType.Tensors;
                foreach (var t in a.Tensors)
                {
                    proto.Tensors.Add(OnnxTensors.ToProto("", t));
                }
                break;
            case AttributeKind.Graphs:
                proto.Type = AttributeProto.Types.AttributeType.Graphs;
                foreach (var g in a.Graphs)
                {
                    proto.Graphs.Add(Graph(g, irVersion, null));
                }
                break;
            default:
                // An untyped attribute (an empty list in an old file): written as it was read.
                break;
        }
        return proto;
    }

    private static ValueInfoProto ValueInfo(ValueInfo info)
    {
        var proto = new ValueInfoProto { Name = info.Name };
        if (info.ElementType == DataType.Undefined && info.Shape is null)
        {
            return proto;
        }
        var tensorType = new TypeProto.Types.Tensor { ElemType = (int)info.ElementType };
        if (info.Shape is not null)
        {
            var shape = new TensorShapeProto();
            foreach (var d in info.Shape)
            {
                var dim = new TensorShapeProto.Types.Dimension();
                if (d.Value is long v)
                {
                    dim.DimValue = v;
                }
                else if (d.Param is { Length: > 0 } p)
                {
                    dim.DimParam = p;
                }
                shape.Dim.Add(dim);
            }
            tensorType.Shape = shape;
        }
        proto.Type = new TypeProto { TensorType = tensorType };
        return proto;
    }
}
