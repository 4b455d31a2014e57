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
/// float[] → FLOATS, string[] → STRINGS, Tensor → TENSOR.
/// </summary>
public sealed partial class ModelBuilder
{
    public ModelBuilder(int opset = 17, string graphName = "main") => throw new NotImplementedException();

    /// <summary>Declares a graph input; a negative dim becomes a symbolic dim ("N", "N1", ...).</summary>
    public string Input(string name, DataType type, params int[] shape) => throw new NotImplementedException();

    /// <summary>Adds a named initializer (weights); returns its name.</summary>
    public string Initializer(string name, Tensor value) => throw new NotImplementedException();

    /// <summary>Adds an initializer with a generated unique name; returns the name.</summary>
    public string Constant(Tensor value) => throw new NotImplementedException();

    /// <summary>Adds a node with one output (a generated unique name unless <paramref name="output"/> is given); returns the output name.</summary>
    public string Node(string opType, string[] inputs, (string Name, object Value)[]? attributes = null, string? name = null, string? output = null)
        => throw new NotImplementedException();

    /// <summary>Adds a node with several outputs; returns their generated names.</summary>
    public string[] NodeMulti(string opType, string[] inputs, int outputCount, (string Name, object Value)[]? attributes = null, string? name = null)
        => throw new NotImplementedException();

    /// <summary>
    /// Declares <paramref name="value"/> as a graph output named <paramref name="name"/> (the producing
    /// node's output is renamed); element type and shape are taken from shape inference when omitted.
    /// </summary>
    public void Output(string value, string name, DataType type = DataType.Float32, int[]? shape = null) => throw new NotImplementedException();

    /// <summary>Sets model metadata (doc string, producer, key/value metadata_props).</summary>
    public void Metadata(string key, string value) => throw new NotImplementedException();

    public OnnxModel Build() => throw new NotImplementedException();
}

/// <summary>Writes <see cref="OnnxModel"/>s as standard ONNX protobuf files.</summary>
public static class OnnxWriter
{
    public static byte[] Write(OnnxModel model) => throw new NotImplementedException();

    /// <summary>
    /// Saves a model; initializers larger than <paramref name="externalDataThreshold"/> bytes (if given)
    /// go to an external data file "&lt;name&gt;.data" beside it.
    /// </summary>
    public static void Save(OnnxModel model, string path, long? externalDataThreshold = null) => throw new NotImplementedException();
}

/// <summary>Conversion between ONNX TensorProto bytes (e.g. the backend tests' .pb files) and <see cref="Tensor"/>.</summary>
public static class OnnxTensors
{
    /// <summary>Parses a serialized TensorProto; returns its name and value. Throws <see cref="ModelException"/> when malformed.</summary>
    public static (string Name, Tensor Value) ParseTensorProto(ReadOnlySpan<byte> bytes) => throw new NotImplementedException();

    public static byte[] WriteTensorProto(string name, Tensor value) => throw new NotImplementedException();
}
