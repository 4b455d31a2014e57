using System.Text.Json;
using Prova.Core;

namespace Prova.Compare;

/// <summary>
/// Prova's tensor JSON (<c>{"dtype": "float32", "shape": [...], "data": [...]}</c>, flat row-major) for the
/// files exchanged with the ONNX Runtime runner. Floats are written as the exact double they widen to, so
/// the peer reads back the very same float32 values.
/// </summary>
public static class TensorJson
{
    public static void WriteFile(string path, string rootKey, IReadOnlyDictionary<string, Tensor> tensors)
    {
        using var stream = File.Create(path);
        using var writer = new Utf8JsonWriter(stream);
        writer.WriteStartObject();
        writer.WriteStartObject(rootKey);
        foreach (var (name, tensor) in tensors)
        {
            writer.WritePropertyName(name);
            Write(writer, tensor);
        }
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    public static void Write(Utf8JsonWriter writer, Tensor tensor)
    {
        writer.WriteStartObject();
        writer.WriteString("dtype", DataTypes.Name(tensor.Type));
        writer.WriteStartArray("shape");
        foreach (int d in tensor.Shape)
        {
            writer.WriteNumberValue(d);
        }
        writer.WriteEndArray();
        writer.WriteStartArray("data");
        switch (tensor.Data)
        {
            case float[] f:
                foreach (float v in f)
                {
                    writer.WriteNumberValue((double)v);
                }
                break;
            case long[] l:
                foreach (long v in l)
                {
                    writer.WriteNumberValue(v);
                }
                break;
            case int[] i:
                foreach (int v in i)
                {
                    writer.WriteNumberValue(v);
                }
                break;
            case bool[] bs:
                foreach (bool v in bs)
                {
                    writer.WriteBooleanValue(v);
                }
                break;
            default:
                throw new NotSupportedException($"tensor JSON for {DataTypes.Name(tensor.Type)} is not needed by the comparison");
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    /// <summary>Reads the tensors under <paramref name="rootKey"/> ("inputs" or "outputs").</summary>
    public static Dictionary<string, Tensor> ReadFile(string path, string rootKey)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var property in doc.RootElement.GetProperty(rootKey).EnumerateObject())
        {
            result[property.Name] = Read(property.Value);
        }
        return result;
    }

    public static Tensor Read(JsonElement e)
    {
        var dtypeName = e.GetProperty("dtype").GetString() ?? "";
        if (!DataTypes.TryParse(dtypeName, out var dtype))
        {
            throw new FormatException($"unknown dtype '{dtypeName}'");
        }
        var shapeElement = e.GetProperty("shape");
        var shape = new int[shapeElement.GetArrayLength()];
        int k = 0;
        foreach (var d in shapeElement.EnumerateArray())
        {
            shape[k++] = d.GetInt32();
        }
        var data = e.GetProperty("data");
        int n = data.GetArrayLength();
        int i = 0;
        switch (dtype)
        {
            case DataType.Float32:
                var f = new float[n];
                foreach (var v in data.EnumerateArray())
                {
                    f[i++] = (float)v.GetDouble();
                }
                return Tensor.Create(shape, f);
            case DataType.Int64:
                var l = new long[n];
                foreach (var v in data.EnumerateArray())
                {
                    l[i++] = v.GetInt64();
                }
                return Tensor.Create(shape, l);
            case DataType.Int32:
                var ints = new int[n];
                foreach (var v in data.EnumerateArray())
                {
                    ints[i++] = v.GetInt32();
                }
                return Tensor.Create(shape, ints);
            case DataType.Bool:
                var bs = new bool[n];
                foreach (var v in data.EnumerateArray())
                {
                    bs[i++] = v.ValueKind == JsonValueKind.True || (v.ValueKind == JsonValueKind.Number && v.GetDouble() != 0);
                }
                return Tensor.Create(shape, bs);
            default:
                throw new NotSupportedException($"tensor JSON for {dtypeName} is not needed by the comparison");
        }
    }
}
