using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Prova.Core;
using Prova.Onnx.Protos;

namespace Prova.Onnx;

/// <summary>
/// Converts ONNX TensorProtos (ONNX IR spec, "Tensor definition") into <see cref="Tensor"/>s.
/// Every size is checked against the bytes actually present before anything is allocated, so a
/// hostile proto declaring a huge shape fails fast. External data is resolved inside the model's
/// directory only.
/// </summary>
internal sealed class TensorReader
{
    private readonly string? _baseDirectory;
    private readonly LoadOptions _options;
    private string? _realBaseDirectory;
    private long _externalBytes;

    public TensorReader(string? baseDirectory, LoadOptions options)
    {
        _baseDirectory = baseDirectory;
        _options = options;
    }

    /// <summary>Converts a tensor; <paramref name="what"/> names it in errors ("initializer 'w'").</summary>
    public Tensor Read(TensorProto proto, string what)
    {
        var type = ElementType(proto.DataType, what);
        int[] shape = Shape(proto.Dims, what);
        long count = Count(shape, what);
        if (proto.Segment is not null)
        {
            throw new ModelException($"{what} is a segment of a larger tensor; segmented tensors are not supported", unsupported: true);
        }
        try
        {
            if (proto.HasDataLocation && proto.DataLocation == TensorProto.Types.DataLocation.External)
            {
                return ReadExternal(proto, type, shape, count, what);
            }
            if (proto.HasRawData)
            {
                long size = count * DataTypes.SizeOf(type);
                if (proto.RawData.Length != size)
                {
                    throw new ModelException($"{what} has shape {ShapeText(shape)} ({DataTypes.Name(type)}, {size} bytes) but its raw_data holds {proto.RawData.Length} bytes");
                }
                return Tensor.FromBytes(type, shape, proto.RawData.Span);
            }
            return ReadTyped(proto, type, shape, count, what);
        }
        catch (TensorFormatException e)
        {
            throw new ModelException($"{what}: {e.Message}", e);
        }
    }

    internal static DataType ElementType(int dataType, string what)
    {
        var type = (DataType)dataType;
        if (DataTypes.IsSupported(type))
        {
            return type;
        }
        string? name = dataType switch
        {
            8 => "string",
            10 => "float16",
            14 => "complex64",
            15 => "complex128",
            16 => "bfloat16",
            17 => "float8e4m3fn",
            18 => "float8e4m3fnuz",
            19 => "float8e5m2",
            20 => "float8e5m2fnuz",
            21 => "uint4",
            22 => "int4",
            23 => "float4e2m1",
            _ => null,
        };
        if (name is null)
        {
            throw new ModelException($"{what} has an undefined element type ({dataType})");
        }
        throw new ModelException($"{what} has element type {name}, which is not supported", unsupported: true);
    }

    private static int[] Shape(IList<long> dims, string what)
    {
        var shape = new int[dims.Count];
        for (int i = 0; i < shape.Length; i++)
        {
            long d = dims[i];
            if (d < 0 || d > int.MaxValue)
            {
                throw new ModelException($"{what} has an invalid dimension {d} at axis {i}");
            }
            shape[i] = (int)d;
        }
        return shape;
    }

    private long Count(int[] shape, string what)
    {
        foreach (int d in shape)
        {
            if (d == 0)
            {
                return 0;
            }
        }
        long max = Math.Min(_options.MaxTensorElements, Tensor.MaxElements);
        long count = 1;
        foreach (int d in shape)
        {
            // count <= max <= int.MaxValue and d <= int.MaxValue, so the product cannot overflow a long.
            count *= d;
            if (count > max)
            {
                throw new ModelException($"{what} has shape {ShapeText(shape)}, more than the limit of {max} elements");
            }
        }
        return count;
    }

    private static Tensor ReadTyped(TensorProto proto, DataType type, int[] shape, long count, string what)
    {
        int present = type switch
        {
            DataType.Float32 => proto.FloatData.Count,
            DataType.Float64 => proto.DoubleData.Count,
            DataType.Int64 => proto.Int64Data.Count,
            DataType.UInt32 or DataType.UInt64 => proto.Uint64Data.Count,
            _ => proto.Int32Data.Count,
        };
        if (present != count)
        {
            throw new ModelException($"{what} has shape {ShapeText(shape)} ({count} elements) but holds {present} values");
        }
        int n = (int)count;
        Array data;
        switch (type)
        {
            case DataType.Float32:
                data = Copy(proto.FloatData, n);
                break;
            case DataType.Float64:
                data = Copy(proto.DoubleData, n);
                break;
            case DataType.Int64:
                data = Copy(proto.Int64Data, n);
                break;
            case DataType.Int32:
                data = Copy(proto.Int32Data, n);
                break;
            case DataType.UInt64:
                data = Copy(proto.Uint64Data, n);
                break;
            case DataType.UInt32:
                {
                    var a = new uint[n];
                    for (int i = 0; i < n; i++)
                    {
                        a[i] = unchecked((uint)proto.Uint64Data[i]);
                    }
                    data = a;
                    break;
                }
            case DataType.Int8:
                {
                    var a = new sbyte[n];
                    for (int i = 0; i < n; i++)
                    {
                        a[i] = unchecked((sbyte)proto.Int32Data[i]);
                    }
                    data = a;
                    break;
                }
            case DataType.UInt8:
                {
                    var a = new byte[n];
                    for (int i = 0; i < n; i++)
                    {
                        a[i] = unchecked((byte)proto.Int32Data[i]);
                    }
                    data = a;
                    break;
                }
            case DataType.Int16:
                {
                    var a = new short[n];
                    for (int i = 0; i < n; i++)
                    {
                        a[i] = unchecked((short)proto.Int32Data[i]);
                    }
                    data = a;
                    break;
                }
            case DataType.UInt16:
                {
                    var a = new ushort[n];
                    for (int i = 0; i < n; i++)
                    {
                        a[i] = unchecked((ushort)proto.Int32Data[i]);
                    }
                    data = a;
                    break;
                }
            case DataType.Bool:
                {
                    var a = new bool[n];
                    for (int i = 0; i < n; i++)
                    {
                        a[i] = proto.Int32Data[i] != 0;
                    }
                    data = a;
                    break;
                }
            default:
                throw new ModelException($"{what} has element type {DataTypes.Name(type)}, which is not supported", unsupported: true);
        }
        return new Tensor(type, shape, data);
    }

    private static T[] Copy<T>(Google.Protobuf.Collections.RepeatedField<T> field, int n)
    {
        var a = new T[n];
        field.CopyTo(a, 0);
        return a;
    }

    private Tensor ReadExternal(TensorProto proto, DataType type, int[] shape, long count, string what)
    {
        string? location = null;
        long offset = 0;
        long? length = null;
        foreach (var entry in proto.ExternalData)
        {
            switch (entry.Key)
            {
                case "location":
                    location = entry.Value;
                    break;
                case "offset":
                    offset = ParseNumber(entry.Value, "offset", what);
                    break;
                case "length":
                    length = ParseNumber(entry.Value, "length", what);
                    break;
            }
        }
        if (string.IsNullOrEmpty(location))
        {
            throw new ModelException($"{what} keeps its data externally but names no location");
        }
        if (_baseDirectory is null)
        {
            throw new ModelException($"{what} keeps its data in external file '{location}', but the model was not loaded from a directory (load it from its file path)");
        }
        string path = ResolveExternalPath(location, what);
        long size = count * DataTypes.SizeOf(type);
        if (length is long declared && declared != size)
        {
            throw new ModelException($"{what} has shape {ShapeText(shape)} ({size} bytes) but its external data length is {declared}");
        }
        _externalBytes += size;
        if (_externalBytes > _options.MaxExternalDataBytes)
        {
            throw new ModelException($"external data exceeds the limit of {_options.MaxExternalDataBytes} bytes (at {what})");
        }
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
            long fileLength = stream.Length;
            if (offset > fileLength || size > fileLength - offset)
            {
                throw new ModelException($"{what} needs bytes {offset}..{offset + size} of external file '{location}', which is only {fileLength} bytes long");
            }
            var tensor = Tensor.Zeros(type, shape);
            stream.Seek(offset, SeekOrigin.Begin);
            ReadExactly(stream, tensor.Data, size, location, what);
            if (type == DataType.Bool)
            {
                // Any non-zero byte is true; normalise so equal tensors have equal bytes.
                var bytes = MemoryMarshal.AsBytes(tensor.Span<bool>());
                foreach (ref byte b in bytes)
                {
                    b = b != 0 ? (byte)1 : (byte)0;
                }
            }
            return tensor;
        }
        catch (IOException e)
        {
            throw new ModelException($"cannot read external data file '{location}' for {what}: {e.Message}", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new ModelException($"cannot read external data file '{location}' for {what}: {e.Message}", e);
        }
    }

    private static unsafe void ReadExactly(Stream stream, Array data, long size, string location, string what)
    {
        ref byte start = ref MemoryMarshal.GetArrayDataReference(data);
        fixed (byte* p = &start)
        {
            long done = 0;
            while (done < size)
            {
                int chunk = (int)Math.Min(size - done, 1 << 30);
                int read = stream.Read(new Span<byte>(p + done, chunk));
                if (read <= 0)
                {
                    throw new ModelException($"external data file '{location}' ended early while reading {what}");
                }
                done += read;
            }
        }
    }

    private static long ParseNumber(string text, string key, string what)
    {
        if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long value))
        {
            throw new ModelException($"{what} has an invalid external data {key} '{text}'");
        }
        return value;
    }

    /// <summary>
    /// Maps an external-data location to a file inside the model directory. Absolute paths, ".."
    /// segments and symbolic links that lead outside the directory are refused: a model must not
    /// be able to read arbitrary files of the machine that loads it.
    /// </summary>
    private string ResolveExternalPath(string location, string what)
    {
        if (location.Contains('\0') || Path.IsPathRooted(location) || location.Contains(':')
            || location.StartsWith('/') || location.StartsWith('\\'))
        {
            throw new ModelException($"{what}: external data location '{location}' must be a relative path inside the model directory");
        }
        foreach (string segment in location.Split('/', '\\'))
        {
            if (segment == "..")
            {
                throw new ModelException($"{what}: external data location '{location}' must not contain '..'");
            }
        }
        string baseDirectory = Path.GetFullPath(_baseDirectory!);
        string path = Path.GetFullPath(Path.Combine(baseDirectory, location));
        if (!IsInside(path, baseDirectory))
        {
            throw new ModelException($"{what}: external data location '{location}' is outside the model directory");
        }
        if (!File.Exists(path))
        {
            throw new ModelException($"{what}: external data file '{location}' not found in '{baseDirectory}'");
        }
        _realBaseDirectory ??= RealPath(baseDirectory);
        string real = RealPath(path);
        if (!IsInside(real, _realBaseDirectory))
        {
            throw new ModelException($"{what}: external data file '{location}' is a link to a file outside the model directory");
        }
        return real;
    }

    private static bool IsInside(string path, string directory)
    {
        string prefix = Path.EndsInDirectorySeparator(directory) ? directory : directory + Path.DirectorySeparatorChar;
        return path.StartsWith(prefix, StringComparison.Ordinal);
    }

    /// <summary>The path with every symbolic link resolved (like POSIX realpath), bounded against link loops.</summary>
    internal static string RealPath(string path)
    {
        string full = Path.GetFullPath(path);
        string root = Path.GetPathRoot(full) ?? "/";
        var pending = new List<string>(full[root.Length..].Split(['/', '\\'], StringSplitOptions.RemoveEmptyEntries));
        pending.Reverse();
        string current = root;
        int links = 0;
        while (pending.Count > 0)
        {
            string part = pending[^1];
            pending.RemoveAt(pending.Count - 1);
            if (part == ".")
            {
                continue;
            }
            if (part == "..")
            {
                current = Path.GetDirectoryName(current) ?? root;
                continue;
            }
            string next = Path.Combine(current, part);
            string? target = new FileInfo(next).LinkTarget;
            if (target is null)
            {
                current = next;
                continue;
            }
            if (++links > 40)
            {
                throw new ModelException($"too many symbolic links while resolving '{path}'");
            }
            string targetFull = Path.GetFullPath(Path.IsPathRooted(target) ? target : Path.Combine(current, target));
            string targetRoot = Path.GetPathRoot(targetFull) ?? "/";
            var parts = targetFull[targetRoot.Length..].Split(['/', '\\'], StringSplitOptions.RemoveEmptyEntries);
            for (int i = parts.Length - 1; i >= 0; i--)
            {
                pending.Add(parts[i]);
            }
            current = targetRoot;
        }
        return current;
    }

    internal static string ShapeText(ReadOnlySpan<int> shape) => ErrorText.Shape(shape);
}
