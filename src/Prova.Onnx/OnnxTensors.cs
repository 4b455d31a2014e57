using Google.Protobuf;
using Prova.Core;
using Prova.Onnx.Protos;

namespace Prova.Onnx;

/// <summary>Conversion between ONNX TensorProto bytes (e.g. the backend tests' .pb files) and <see cref="Tensor"/>.</summary>
public static class OnnxTensors
{
    /// <summary>Parses a serialized TensorProto; returns its name and value. Throws <see cref="ModelException"/> when malformed.</summary>
    public static (string Name, Tensor Value) ParseTensorProto(ReadOnlySpan<byte> bytes)
        => ParseTensorProto(bytes, null, null);

    /// <summary>
    /// Parses a serialized TensorProto whose external data (if any) lives in <paramref name="baseDirectory"/>.
    /// </summary>
    public static (string Name, Tensor Value) ParseTensorProto(ReadOnlySpan<byte> bytes, string? baseDirectory, LoadOptions? options = null)
    {
        var proto = OnnxLoader.Parse(TensorProto.Parser, bytes, "ONNX TensorProto");
        string what = proto.Name.Length > 0 ? $"tensor '{proto.Name}'" : "tensor";
        var tensor = new TensorReader(baseDirectory, options ?? LoadOptions.Default).Read(proto, what);
        return (proto.Name, tensor);
    }

    public static byte[] WriteTensorProto(string name, Tensor value) => ToProto(name, value).ToByteArray();

    /// <summary>A TensorProto with the elements as little-endian raw_data (what ONNX tools write).</summary>
    internal static TensorProto ToProto(string name, Tensor value)
    {
        var proto = Header(name, value);
        proto.RawData = ByteString.CopyFrom(value.Bytes());
        return proto;
    }

    internal static TensorProto Header(string name, Tensor value)
    {
        var proto = new TensorProto { DataType = (int)value.Type };
        if (name.Length > 0)
        {
            proto.Name = name;
        }
        foreach (int d in value.Shape)
        {
            proto.Dims.Add(d);
        }
        return proto;
    }
}
