using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Prova.Core;

/// <summary>
/// The human-facing JSON form of tensors (specified in docs/formats.md):
/// <c>{"dtype": "float32", "shape": [1, 784], "data": [...]}</c> with the data flat in row-major
/// order or nested to match the shape; request files are <c>{"inputs": {"&lt;name&gt;": tensor, ...}}</c>.
/// Floats are written in their shortest round-trip form, so write → read is bit-exact; NaN and the
/// infinities are the strings "NaN", "Infinity", "-Infinity". Every malformed document raises a
/// <see cref="TensorFormatException"/> naming the tensor and the problem.
/// </summary>
public static class TensorJson
{
    /// <summary>Largest JSON file read by default (1 GiB).</summary>
    public const long DefaultMaxBytes = 1L << 30;

    private const int MaxDepth = 128;

    /// <summary>The float32 that "NaN" reads as: the positive quiet NaN 0x7FC00000 (not .NET's float.NaN, 0xFFC00000).</summary>
    public static readonly float CanonicalNaN = BitConverter.Int32BitsToSingle(0x7FC00000);

    /// <summary>The float64 that "NaN" reads as: 0x7FF8000000000000.</summary>
    public static readonly double CanonicalNaN64 = BitConverter.Int64BitsToDouble(0x7FF8000000000000);

    private static readonly JsonReaderOptions s_readerOptions = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        MaxDepth = MaxDepth,
    };

    // ---------------------------------------------------------------- reading

    /// <summary>Reads one tensor object; <paramref name="name"/> is used in error messages.</summary>
    public static Tensor ReadTensor(ReadOnlySpan<byte> utf8, string name = "tensor")
    {
        utf8 = SkipBom(utf8);
        try
        {
            var reader = new Utf8JsonReader(utf8, s_readerOptions);
            Read(ref reader, name);
            var tensor = ReadTensor(ref reader, name, utf8.Length);
            ExpectEnd(ref reader);
            return tensor;
        }
        catch (JsonException ex)
        {
            throw Invalid(ex);
        }
        catch (InvalidOperationException ex)
        {
            // Utf8JsonReader.GetString on a string that is not valid UTF-8.
            throw new TensorFormatException($"invalid JSON: {ex.Message.TrimEnd('.')}", ex);
        }
    }

    public static Tensor ReadTensor(string json, string name = "tensor") => ReadTensor(Encoding.UTF8.GetBytes(json), name);

    /// <summary>
    /// Called with a tensor's name, dtype and shape once they are read and before its data is: it may throw to refuse
    /// the tensor before any memory is taken for it (a server checks a request against the model's declared inputs).
    /// </summary>
    public delegate void TensorCheck(string name, DataType type, int[] shape);

    /// <summary>
    /// Reads a document <c>{"&lt;property&gt;": {"&lt;name&gt;": tensor, ...}, ...}</c> (by default a request
    /// file's "inputs"); other top-level properties are ignored.
    /// </summary>
    public static Dictionary<string, Tensor> ReadNamedTensors(ReadOnlySpan<byte> utf8, string property = "inputs")
        => ReadNamedTensors(utf8, property, null);

    /// <summary>As <see cref="ReadNamedTensors(ReadOnlySpan{byte}, string)"/>, with <paramref name="check"/> run on each tensor before its data is read.</summary>
    public static Dictionary<string, Tensor> ReadNamedTensors(ReadOnlySpan<byte> utf8, string property, TensorCheck? check)
    {
        utf8 = SkipBom(utf8);
        try
        {
            var reader = new Utf8JsonReader(utf8, s_readerOptions);
            Read(ref reader, "document");
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                throw new TensorFormatException($"the document should be a JSON object {{\"{property}\": {{...}}}} but starts with {Describe(reader.TokenType)}");
            }
            Dictionary<string, Tensor>? result = null;
            while (true)
            {
                Read(ref reader, "document");
                if (reader.TokenType == JsonTokenType.EndObject)
                {
                    break;
                }
                string key = reader.GetString()!;
                Read(ref reader, "document");
                if (key != property)
                {
                    reader.Skip();
                    continue;
                }
                if (result is not null)
                {
                    throw new TensorFormatException($"the document has \"{property}\" twice");
                }
                result = ReadTensorMap(ref reader, property, utf8.Length, check);
            }
            ExpectEnd(ref reader);
            return result ?? throw new TensorFormatException($"the document has no \"{property}\" object");
        }
        catch (JsonException ex)
        {
            throw Invalid(ex);
        }
        catch (InvalidOperationException ex)
        {
            // Utf8JsonReader.GetString on a string that is not valid UTF-8.
            throw new TensorFormatException($"invalid JSON: {ex.Message.TrimEnd('.')}", ex);
        }
    }

    public static Dictionary<string, Tensor> ReadNamedTensors(string json, string property = "inputs")
        => ReadNamedTensors(Encoding.UTF8.GetBytes(json), property);

    /// <summary>Reads a request file <c>{"inputs": {...}}</c>, refusing files larger than <paramref name="maxBytes"/>.</summary>
    public static Dictionary<string, Tensor> ReadRequestFile(string path, long maxBytes = DefaultMaxBytes)
        => ReadNamedTensors(ReadFile(path, maxBytes), "inputs");

    /// <summary>Reads a file holding one tensor object, refusing files larger than <paramref name="maxBytes"/>.</summary>
    public static Tensor ReadTensorFile(string path, long maxBytes = DefaultMaxBytes)
        => ReadTensor(ReadFile(path, maxBytes), Path.GetFileName(path));

    private static byte[] ReadFile(string path, long maxBytes)
    {
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists)
            {
                throw new TensorFormatException($"file '{path}' does not exist");
            }
            if (info.Length > maxBytes)
            {
                throw new TensorFormatException($"file '{path}' is {info.Length} bytes, more than the limit of {maxBytes} bytes for a JSON tensor file");
            }
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            var bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
            return bytes;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new TensorFormatException($"cannot read '{path}': {ex.Message}", ex);
        }
    }

    private static Dictionary<string, Tensor> ReadTensorMap(ref Utf8JsonReader reader, string property, int documentBytes, TensorCheck? check)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw new TensorFormatException($"\"{property}\" should be an object of named tensors but is {Describe(reader.TokenType)}");
        }
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        while (true)
        {
            Read(ref reader, property);
            if (reader.TokenType == JsonTokenType.EndObject)
            {
                return result;
            }
            string name = reader.GetString()!;
            if (result.ContainsKey(name))
            {
                throw new TensorFormatException($"tensor '{name}' appears twice in \"{property}\"");
            }
            Read(ref reader, name);
            result[name] = ReadTensor(ref reader, name, documentBytes, check);
        }
    }

    private static Tensor ReadTensor(ref Utf8JsonReader reader, string name, int documentBytes, TensorCheck? check = null)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw Bad(name, $"should be an object {{\"dtype\", \"shape\", \"data\"}} but is {Describe(reader.TokenType)}");
        }
        DataType type = DataType.Undefined;
        int[]? shape = null;
        bool haveData = false;
        Utf8JsonReader data = default;
        while (true)
        {
            Read(ref reader, name);
            if (reader.TokenType == JsonTokenType.EndObject)
            {
                break;
            }
            string key = reader.GetString()!;
            Read(ref reader, name);
            switch (key)
            {
                case "dtype":
                    if (type != DataType.Undefined)
                    {
                        throw Bad(name, "has \"dtype\" twice");
                    }
                    type = ReadDataType(ref reader, name);
                    break;
                case "shape":
                    if (shape is not null)
                    {
                        throw Bad(name, "has \"shape\" twice");
                    }
                    shape = ReadShape(ref reader, name);
                    break;
                case "data":
                    if (haveData)
                    {
                        throw Bad(name, "has \"data\" twice");
                    }
                    // The reader is a struct: a copy remembers this position, so the data can be
                    // parsed once dtype and shape are known, whatever the key order.
                    data = reader;
                    haveData = true;
                    reader.Skip();
                    break;
                default:
                    throw Bad(name, $"has an unknown property \"{key}\" (expected \"dtype\", \"shape\" and \"data\")");
            }
        }
        if (type == DataType.Undefined)
        {
            throw Bad(name, "has no \"dtype\"");
        }
        if (shape is null)
        {
            throw Bad(name, "has no \"shape\"");
        }
        if (!haveData)
        {
            throw Bad(name, "has no \"data\"");
        }
        long count;
        try
        {
            count = Tensor.ElementCount(shape);
        }
        catch (TensorFormatException ex)
        {
            throw Bad(name, ex.Message);
        }
        check?.Invoke(name, type, shape);
        var array = ReadData(ref data, name, type, shape, count, documentBytes);
        return new Tensor(type, shape, array);
    }

    private static DataType ReadDataType(ref Utf8JsonReader reader, string name)
    {
        if (reader.TokenType != JsonTokenType.String)
        {
            throw Bad(name, $"\"dtype\" should be a string such as \"float32\" but is {Describe(reader.TokenType)}");
        }
        string text = reader.GetString()!;
        if (!DataTypes.TryParse(text, out var type))
        {
            throw Bad(name, $"has unknown dtype \"{Shorten(text)}\" (known: float32, float64, int8, uint8, int16, uint16, int32, uint32, int64, uint64, bool)");
        }
        return type;
    }

    private static int[] ReadShape(ref Utf8JsonReader reader, string name)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            throw Bad(name, $"\"shape\" should be an array of dimensions but is {Describe(reader.TokenType)}");
        }
        var dims = new List<int>();
        while (true)
        {
            Read(ref reader, name);
            if (reader.TokenType == JsonTokenType.EndArray)
            {
                return [.. dims];
            }
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out long d))
            {
                throw Bad(name, $"\"shape\" entry {dims.Count} should be a non-negative integer but is {Token(ref reader)}");
            }
            if (d < 0)
            {
                throw Bad(name, $"\"shape\" entry {dims.Count} is negative ({d})");
            }
            if (d > int.MaxValue)
            {
                throw Bad(name, $"\"shape\" entry {dims.Count} is {d}, more than the {Tensor.MaxElements} elements a tensor may have");
            }
            if (dims.Count >= MaxDepth)
            {
                throw Bad(name, $"\"shape\" has more than {MaxDepth} dimensions");
            }
            dims.Add((int)d);
        }
    }

    private static Array ReadData(ref Utf8JsonReader reader, string name, DataType type, int[] shape, long count, int documentBytes)
        => type switch
        {
            DataType.Float32 => ReadTyped<float, FloatParser>(ref reader, name, shape, count, documentBytes, new FloatParser()),
            DataType.Float64 => ReadTyped<double, DoubleParser>(ref reader, name, shape, count, documentBytes, new DoubleParser()),
            DataType.Int8 => ReadTyped<sbyte, IntegerParser<sbyte>>(ref reader, name, shape, count, documentBytes, new IntegerParser<sbyte>("int8")),
            DataType.UInt8 => ReadTyped<byte, IntegerParser<byte>>(ref reader, name, shape, count, documentBytes, new IntegerParser<byte>("uint8")),
            DataType.Int16 => ReadTyped<short, IntegerParser<short>>(ref reader, name, shape, count, documentBytes, new IntegerParser<short>("int16")),
            DataType.UInt16 => ReadTyped<ushort, IntegerParser<ushort>>(ref reader, name, shape, count, documentBytes, new IntegerParser<ushort>("uint16")),
            DataType.Int32 => ReadTyped<int, IntegerParser<int>>(ref reader, name, shape, count, documentBytes, new IntegerParser<int>("int32")),
            DataType.UInt32 => ReadTyped<uint, IntegerParser<uint>>(ref reader, name, shape, count, documentBytes, new IntegerParser<uint>("uint32")),
            DataType.Int64 => ReadTyped<long, IntegerParser<long>>(ref reader, name, shape, count, documentBytes, new IntegerParser<long>("int64")),
            DataType.UInt64 => ReadTyped<ulong, IntegerParser<ulong>>(ref reader, name, shape, count, documentBytes, new IntegerParser<ulong>("uint64")),
            DataType.Bool => ReadTyped<bool, BoolParser>(ref reader, name, shape, count, documentBytes, new BoolParser()),
            _ => throw Bad(name, $"dtype {DataTypes.Name(type)} cannot be held in a tensor"),
        };

    private static T[] ReadTyped<T, TParser>(ref Utf8JsonReader reader, string name, int[] shape, long count, int documentBytes, TParser parser)
        where TParser : IElementParser<T>
    {
        // Every element takes at least one byte of the document, so a short document cannot make
        // us allocate a huge array for an absurd shape: grow as elements actually arrive.
        var values = new T[(int)Math.Min(count, documentBytes + 1L)];
        int n = 0;
        string shapeText = ShapeText(shape);
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            // A bare scalar is accepted for a rank-0 (or one-element) tensor.
            if (count != 1)
            {
                throw Bad(name, $"\"data\" should be an array of {count} elements for shape {shapeText} but is {Describe(reader.TokenType)}");
            }
            values[0] = parser.Parse(ref reader, name, 0);
            return values;
        }
        // Peek at the first element: an array means data nested to match the shape.
        var peek = reader;
        Read(ref peek, name);
        bool nested = peek.TokenType == JsonTokenType.StartArray;
        if (!nested)
        {
            while (true)
            {
                Read(ref reader, name);
                if (reader.TokenType == JsonTokenType.EndArray)
                {
                    break;
                }
                if (n == count)
                {
                    reader.Skip();
                    long extra = n + 1;
                    while (true)
                    {
                        Read(ref reader, name);
                        if (reader.TokenType == JsonTokenType.EndArray)
                        {
                            break;
                        }
                        reader.Skip();
                        extra++;
                    }
                    throw Bad(name, $"shape {shapeText} needs {count} elements but \"data\" has {extra}");
                }
                if (n == values.Length)
                {
                    Array.Resize(ref values, (int)Math.Min(count, 2L * values.Length));
                }
                values[n] = parser.Parse(ref reader, name, n);
                n++;
            }
            if (n != count)
            {
                throw Bad(name, $"shape {shapeText} needs {count} elements but \"data\" has {n}");
            }
            return values;
        }
        if (shape.Length < 2)
        {
            throw Bad(name, $"\"data\" is nested deeper than shape {shapeText} allows");
        }
        ReadNested(ref reader, name, shape, 0, [], ref values, ref n, count, parser);
        return values;
    }

    private static void ReadNested<T, TParser>(ref Utf8JsonReader reader, string name, int[] shape, int depth, List<int> index,
        ref T[] values, ref int n, long count, TParser parser)
        where TParser : IElementParser<T>
    {
        // reader is on the StartArray of the sub-array at `index` (depth = index.Count).
        int length = 0;
        while (true)
        {
            Read(ref reader, name);
            if (reader.TokenType == JsonTokenType.EndArray)
            {
                break;
            }
            if (length == shape[depth])
            {
                throw Bad(name, $"\"data\"{IndexText(index)} has more than {shape[depth]} entries (dimension {depth} of shape {ShapeText(shape)})");
            }
            if (depth + 1 < shape.Length)
            {
                if (reader.TokenType != JsonTokenType.StartArray)
                {
                    throw Bad(name, $"\"data\"{IndexText(index)}[{length}] should be an array (dimension {depth + 1} of shape {ShapeText(shape)}) but is {Token(ref reader)}");
                }
                index.Add(length);
                ReadNested(ref reader, name, shape, depth + 1, index, ref values, ref n, count, parser);
                index.RemoveAt(index.Count - 1);
            }
            else
            {
                if (reader.TokenType == JsonTokenType.StartArray)
                {
                    throw Bad(name, $"\"data\"{IndexText(index)}[{length}] is an array, nested deeper than shape {ShapeText(shape)}");
                }
                if (n == values.Length)
                {
                    Array.Resize(ref values, (int)Math.Min(count, 2L * values.Length));
                }
                values[n] = parser.Parse(ref reader, name, n);
                n++;
            }
            length++;
        }
        if (length != shape[depth])
        {
            throw Bad(name, $"\"data\"{IndexText(index)} has {length} entries but dimension {depth} of shape {ShapeText(shape)} is {shape[depth]}");
        }
    }

    private interface IElementParser<T>
    {
        T Parse(ref Utf8JsonReader reader, string name, int index);
    }

    private readonly struct FloatParser : IElementParser<float>
    {
        public float Parse(ref Utf8JsonReader reader, string name, int index)
        {
            if (reader.TokenType == JsonTokenType.String)
            {
                return SpecialFloat(ref reader, name, index);
            }
            RequireNumber(ref reader, name, index, "float32");
            var text = NumberText(ref reader, out byte[]? rented);
            try
            {
                if (!float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out float value) || float.IsInfinity(value))
                {
                    throw Bad(name, $"element {index} ({Encoding.UTF8.GetString(text)}) is out of range for float32");
                }
                return value;
            }
            finally
            {
                Return(rented);
            }
        }
    }

    private readonly struct DoubleParser : IElementParser<double>
    {
        public double Parse(ref Utf8JsonReader reader, string name, int index)
        {
            if (reader.TokenType == JsonTokenType.String)
            {
                float special = SpecialFloat(ref reader, name, index);
                return float.IsNaN(special) ? CanonicalNaN64 : special;
            }
            RequireNumber(ref reader, name, index, "float64");
            var text = NumberText(ref reader, out byte[]? rented);
            try
            {
                if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || double.IsInfinity(value))
                {
                    throw Bad(name, $"element {index} ({Encoding.UTF8.GetString(text)}) is out of range for float64");
                }
                return value;
            }
            finally
            {
                Return(rented);
            }
        }
    }

    private readonly struct IntegerParser<T>(string typeName) : IElementParser<T>
        where T : struct, System.Numerics.IBinaryInteger<T>, System.Numerics.IMinMaxValue<T>
    {
        public T Parse(ref Utf8JsonReader reader, string name, int index)
        {
            RequireNumber(ref reader, name, index, typeName);
            var text = NumberText(ref reader, out byte[]? rented);
            try
            {
                if (T.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out T value))
                {
                    return value;
                }
                string shown = Shorten(Encoding.UTF8.GetString(text));
                // Distinguish "not an integer" from "an integer outside the type's range".
                if (text.IndexOfAny(".eE"u8) < 0)
                {
                    throw Bad(name, $"element {index} ({shown}) is out of range for {typeName} ({T.MinValue} to {T.MaxValue})");
                }
                throw Bad(name, $"element {index} ({shown}) is not an integer, as {typeName} needs");
            }
            finally
            {
                Return(rented);
            }
        }
    }

    private readonly struct BoolParser : IElementParser<bool>
    {
        public bool Parse(ref Utf8JsonReader reader, string name, int index) => reader.TokenType switch
        {
            JsonTokenType.True => true,
            JsonTokenType.False => false,
            _ => throw Bad(name, $"element {index} should be true or false but is {Token(ref reader)}"),
        };
    }

    private static void RequireNumber(ref Utf8JsonReader reader, string name, int index, string typeName)
    {
        if (reader.TokenType != JsonTokenType.Number)
        {
            throw Bad(name, $"element {index} should be a {typeName} number but is {Token(ref reader)}");
        }
    }

    private static ReadOnlySpan<byte> NumberText(ref Utf8JsonReader reader, out byte[]? rented)
    {
        rented = null;
        if (!reader.HasValueSequence)
        {
            return reader.ValueSpan;
        }
        var sequence = reader.ValueSequence;
        rented = ArrayPool<byte>.Shared.Rent(checked((int)sequence.Length));
        sequence.CopyTo(rented);
        return rented.AsSpan(0, (int)sequence.Length);
    }

    private static void Return(byte[]? rented)
    {
        if (rented is not null)
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private static float SpecialFloat(ref Utf8JsonReader reader, string name, int index)
    {
        if (reader.ValueTextEquals("NaN"u8))
        {
            return CanonicalNaN;
        }
        if (reader.ValueTextEquals("Infinity"u8))
        {
            return float.PositiveInfinity;
        }
        if (reader.ValueTextEquals("-Infinity"u8))
        {
            return float.NegativeInfinity;
        }
        throw Bad(name, $"element {index} should be a number, \"NaN\", \"Infinity\" or \"-Infinity\" but is {Token(ref reader)}");
    }

    private static void Read(ref Utf8JsonReader reader, string name)
    {
        if (!reader.Read())
        {
            throw new TensorFormatException($"the JSON ends too early (while reading {(name == "document" ? "the document" : $"'{name}'")})");
        }
    }

    private static void ExpectEnd(ref Utf8JsonReader reader)
    {
        if (reader.Read())
        {
            throw new TensorFormatException($"unexpected {Describe(reader.TokenType)} after the end of the JSON document");
        }
    }

    private static ReadOnlySpan<byte> SkipBom(ReadOnlySpan<byte> utf8)
        => utf8.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? utf8[3..] : utf8;

    private static TensorFormatException Bad(string name, string problem) => new($"tensor '{name}': {problem}");

    private static TensorFormatException Invalid(JsonException ex)
    {
        string message = ex.Message;
        int cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        if (cut > 0)
        {
            message = message[..cut];
        }
        string where = ex.LineNumber is { } line ? $" (line {line + 1}, byte {ex.BytePositionInLine + 1})" : "";
        return new TensorFormatException($"invalid JSON{where}: {message.TrimEnd('.', ' ')}", ex);
    }

    private static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        _ => token.ToString(),
    };

    private static string Token(ref Utf8JsonReader reader) => reader.TokenType switch
    {
        JsonTokenType.String => "\"" + Shorten(reader.GetString()!) + "\"",
        JsonTokenType.Number => Shorten(Encoding.UTF8.GetString(reader.HasValueSequence ? reader.ValueSequence.ToArray() : reader.ValueSpan)),
        JsonTokenType.True => "true",
        JsonTokenType.False => "false",
        _ => Describe(reader.TokenType),
    };

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..37] + "...";

    private static string ShapeText(int[] shape) => "[" + string.Join(", ", shape) + "]";

    private static string IndexText(List<int> index)
    {
        var sb = new StringBuilder();
        foreach (int i in index)
        {
            sb.Append('[').Append(i).Append(']');
        }
        return sb.ToString();
    }

    // ---------------------------------------------------------------- writing

    /// <summary>Writes a tensor object with flat data.</summary>
    public static void WriteTensor(Utf8JsonWriter writer, Tensor tensor)
    {
        writer.WriteStartObject();
        writer.WriteString("dtype"u8, DataTypes.Name(tensor.Type));
        writer.WriteStartArray("shape"u8);
        foreach (int d in tensor.Shape)
        {
            writer.WriteNumberValue(d);
        }
        writer.WriteEndArray();
        writer.WriteStartArray("data"u8);
        WriteData(writer, tensor);
        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    /// <summary>Writes an object mapping names (in ordinal order) to tensor objects.</summary>
    public static void WriteTensorMap(Utf8JsonWriter writer, IReadOnlyDictionary<string, Tensor> tensors)
    {
        var names = tensors.Keys.ToArray();
        Array.Sort(names, StringComparer.Ordinal);
        writer.WriteStartObject();
        foreach (var name in names)
        {
            writer.WritePropertyName(name);
            WriteTensor(writer, tensors[name]);
        }
        writer.WriteEndObject();
    }

    /// <summary>One tensor as compact JSON text.</summary>
    public static string ToJson(Tensor tensor)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            WriteTensor(writer, tensor);
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>A document <c>{"&lt;property&gt;": {name: tensor, ...}}</c> as compact UTF-8 JSON (a request file by default).</summary>
    public static byte[] WriteNamedTensors(IReadOnlyDictionary<string, Tensor> tensors, string property = "inputs")
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WritePropertyName(property);
            WriteTensorMap(writer, tensors);
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    private static void WriteData(Utf8JsonWriter writer, Tensor tensor)
    {
        Span<byte> text = stackalloc byte[64];
        // Switch on the declared type: the CLR lets a ushort[] pass as a short[] (and so on).
        switch (tensor.Type)
        {
            case DataType.Float32:
                foreach (float v in (float[])tensor.Data)
                {
                    if (!float.IsFinite(v))
                    {
                        writer.WriteStringValue(float.IsNaN(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity");
                        continue;
                    }
                    // "R" is the shortest text that parses back to the same bits (including -0).
                    v.TryFormat(text, out int written, "R", CultureInfo.InvariantCulture);
                    writer.WriteRawValue(text[..written], skipInputValidation: true);
                }
                break;
            case DataType.Float64:
                foreach (double v in (double[])tensor.Data)
                {
                    if (!double.IsFinite(v))
                    {
                        writer.WriteStringValue(double.IsNaN(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity");
                        continue;
                    }
                    v.TryFormat(text, out int written, "R", CultureInfo.InvariantCulture);
                    writer.WriteRawValue(text[..written], skipInputValidation: true);
                }
                break;
            case DataType.Bool:
                foreach (bool v in (bool[])tensor.Data)
                {
                    writer.WriteBooleanValue(v);
                }
                break;
            case DataType.Int8:
                foreach (sbyte v in (sbyte[])tensor.Data)
                {
                    writer.WriteNumberValue(v);
                }
                break;
            case DataType.UInt8:
                foreach (byte v in (byte[])tensor.Data)
                {
                    writer.WriteNumberValue(v);
                }
                break;
            case DataType.Int16:
                foreach (short v in (short[])tensor.Data)
                {
                    writer.WriteNumberValue(v);
                }
                break;
            case DataType.UInt16:
                foreach (ushort v in (ushort[])tensor.Data)
                {
                    writer.WriteNumberValue(v);
                }
                break;
            case DataType.Int32:
                foreach (int v in (int[])tensor.Data)
                {
                    writer.WriteNumberValue(v);
                }
                break;
            case DataType.UInt32:
                foreach (uint v in (uint[])tensor.Data)
                {
                    writer.WriteNumberValue(v);
                }
                break;
            case DataType.Int64:
                foreach (long v in (long[])tensor.Data)
                {
                    writer.WriteNumberValue(v);
                }
                break;
            case DataType.UInt64:
                foreach (ulong v in (ulong[])tensor.Data)
                {
                    writer.WriteNumberValue(v);
                }
                break;
            default:
                throw new ArgumentException($"cannot write a {DataTypes.Name(tensor.Type)} tensor as JSON");
        }
    }
}
