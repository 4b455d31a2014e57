using System.Runtime.InteropServices;

namespace Prova.Core;

/// <summary>
/// A dense, row-major tensor: an element type, a shape and a flat array of elements whose CLR
/// type matches the element type (float[] for Float32, long[] for Int64, bool[] for Bool, ...).
/// Tensors are the unit of exchange between the loader, the engine, files and the network.
/// </summary>
public sealed class Tensor
{
    /// <summary>Largest element count Prova accepts for one tensor (2^31 - 1 elements).</summary>
    public const long MaxElements = int.MaxValue;

    private readonly int[] _shape;

    public Tensor(DataType type, ReadOnlySpan<int> shape, Array data)
    {
        if (!DataTypes.IsSupported(type))
        {
            throw new TensorFormatException($"element type {DataTypes.Name(type)} is not supported");
        }
        long count = ElementCount(shape);
        if (data.GetType().GetElementType() != DataTypes.ClrType(type))
        {
            throw new ArgumentException($"data is {data.GetType().Name}, expected {DataTypes.ClrType(type).Name}[] for {DataTypes.Name(type)}");
        }
        if (data.Length != count)
        {
            throw new TensorFormatException($"shape {ErrorText.Shape(shape)} needs {count} elements but {data.Length} were given");
        }
        Type = type;
        _shape = shape.ToArray();
        Data = data;
    }

    public DataType Type { get; }

    public ReadOnlySpan<int> Shape => _shape;

    public int Rank => _shape.Length;

    /// <summary>The flat element array (its CLR element type matches <see cref="Type"/>).</summary>
    public Array Data { get; }

    public int Length => Data.Length;

    public int[] ShapeArray() => (int[])_shape.Clone();

    public Span<T> Span<T>() where T : unmanaged
    {
        if (Data is not T[] array)
        {
            throw new InvalidOperationException($"tensor holds {DataTypes.Name(Type)}, not {typeof(T).Name}");
        }
        return array;
    }

    /// <summary>The elements as raw little-endian bytes (a view, no copy).</summary>
    public ReadOnlySpan<byte> Bytes() => MemoryMarshal.CreateReadOnlySpan(
        ref MemoryMarshal.GetArrayDataReference(Data), Data.Length * DataTypes.SizeOf(Type));

    public static Tensor Create<T>(ReadOnlySpan<int> shape, T[] data) where T : unmanaged
        => new(DataTypes.Of<T>(), shape, data);

    public static Tensor Zeros(DataType type, ReadOnlySpan<int> shape)
    {
        long count = ElementCount(shape);
        return new Tensor(type, shape, Array.CreateInstance(DataTypes.ClrType(type), count));
    }

    /// <summary>A tensor of the given type and shape copied from raw little-endian bytes.</summary>
    public static Tensor FromBytes(DataType type, ReadOnlySpan<int> shape, ReadOnlySpan<byte> bytes)
    {
        var tensor = Zeros(type, shape);
        int size = DataTypes.SizeOf(type);
        if (bytes.Length != (long)tensor.Length * size)
        {
            throw new TensorFormatException($"{DataTypes.Name(type)} tensor of shape {ErrorText.Shape(shape)} needs {(long)tensor.Length * size} bytes but {bytes.Length} were given");
        }
        var dest = MemoryMarshal.CreateSpan(ref MemoryMarshal.GetArrayDataReference(tensor.Data), bytes.Length);
        bytes.CopyTo(dest);
        if (type == DataType.Bool)
        {
            // Any non-zero byte is true; normalise so that equal tensors have equal bytes.
            foreach (ref byte b in dest)
            {
                b = b != 0 ? (byte)1 : (byte)0;
            }
        }
        return tensor;
    }

    /// <summary>Number of elements of a shape; throws if a dim is negative or the count is too large.</summary>
    public static long ElementCount(ReadOnlySpan<int> shape)
    {
        long count = 1;
        foreach (int d in shape)
        {
            if (d < 0)
            {
                throw new TensorFormatException($"shape {ErrorText.Shape(shape)} has a negative dimension");
            }
            count *= d;
            if (count > MaxElements)
            {
                throw new TensorFormatException($"shape {ErrorText.Shape(shape)} has more than {MaxElements} elements");
            }
        }
        return count;
    }

    public string ShapeString() => ErrorText.Shape(_shape);

    public override string ToString() => $"{DataTypes.Name(Type)}{ShapeString()}";
}
