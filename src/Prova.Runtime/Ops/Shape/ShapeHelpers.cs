using Prova.Core;
using Prova.Onnx;

namespace Prova.Runtime.Ops.Shape;

/// <summary>Shape arithmetic and attribute checks shared by the data-movement and reduction kernels.</summary>
internal static class ShapeHelpers
{
    public static string Fmt(ReadOnlySpan<int> shape) => ErrorText.Shape(shape);

    public static string Fmt(ReadOnlySpan<long> values) => ErrorText.Shape(values);

    /// <summary>Normalises an axis in [-rank, rank) to [0, rank).</summary>
    public static int Axis(OnnxNode node, long axis, int rank, string what = "axis")
    {
        if (axis < -rank || axis >= rank)
        {
            throw ModelException.ForNode(node, $"{what} {axis} is out of range for an input of rank {rank} (allowed: {-rank} to {rank - 1})");
        }
        return (int)(axis < 0 ? axis + rank : axis);
    }

    /// <summary>Normalises a list of distinct axes; throws on out-of-range or repeated axes.</summary>
    public static int[] Axes(OnnxNode node, ReadOnlySpan<long> axes, int rank, string what = "axes")
    {
        var result = new int[axes.Length];
        var seen = new bool[rank];
        for (int i = 0; i < axes.Length; i++)
        {
            int a = Axis(node, axes[i], rank, what[..^1]);
            if (seen[a])
            {
                throw ModelException.ForNode(node, $"{what} {Fmt(axes)} name axis {a} more than once");
            }
            seen[a] = true;
            result[i] = a;
        }
        return result;
    }

    /// <summary>Reads an int64 or int32 tensor as longs.</summary>
    public static long[] ReadInts(OnnxNode node, Tensor t, string what)
    {
        switch (t.Type)
        {
            case DataType.Int64:
                return (long[])((long[])t.Data).Clone();
            case DataType.Int32:
                {
                    var src = (int[])t.Data;
                    var r = new long[src.Length];
                    for (int i = 0; i < src.Length; i++)
                    {
                        r[i] = src[i];
                    }
                    return r;
                }
            default:
                throw ModelException.ForNode(node, $"{what} must be int64 but is {DataTypes.Name(t.Type)}");
        }
    }

    /// <summary>Reads a one-dimensional (or scalar) constant integer input.</summary>
    public static long[] ConstantInts(InferContext ctx, int input, string what)
    {
        var t = ctx.RequireConstant(input, what);
        if (t.Rank > 1)
        {
            throw ModelException.ForNode(ctx.Node, $"{what} must be a 1-D tensor but has shape {t.ShapeString()}");
        }
        return ReadInts(ctx.Node, t, what);
    }

    /// <summary>Bytes per element of input i; throws Unsupported for types a tensor cannot hold.</summary>
    public static int ElementSize(InferContext ctx, int input)
    {
        var type = ctx.InputType(input);
        if (!DataTypes.IsSupported(type))
        {
            throw ModelException.Unsupported(ctx.Node, $"element type {DataTypes.Name(type)} of input {input}");
        }
        return DataTypes.SizeOf(type);
    }

    /// <summary>Row-major element strides of a shape.</summary>
    public static long[] Strides(ReadOnlySpan<int> shape)
    {
        var strides = new long[shape.Length];
        long s = 1;
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            strides[d] = s;
            s *= shape[d];
        }
        return strides;
    }

    public static long Product(ReadOnlySpan<int> shape, int from = 0, int to = -1)
    {
        if (to < 0)
        {
            to = shape.Length;
        }
        long p = 1;
        for (int d = from; d < to; d++)
        {
            p *= shape[d];
        }
        return p;
    }

    /// <summary>Checks a dimension computed from attributes or constant inputs.</summary>
    public static int Dim(OnnxNode node, long value, string what)
    {
        if (value < 0 || value > int.MaxValue)
        {
            throw ModelException.ForNode(node, $"{what} would be {value}, which is not a valid dimension");
        }
        return (int)value;
    }

    /// <summary>Multidirectional (numpy) broadcasting of two shapes.</summary>
    public static int[] Broadcast(OnnxNode node, ReadOnlySpan<int> a, ReadOnlySpan<int> b)
    {
        int rank = Math.Max(a.Length, b.Length);
        var r = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i < rank - a.Length ? 1 : a[i - (rank - a.Length)];
            int db = i < rank - b.Length ? 1 : b[i - (rank - b.Length)];
            if (da != db && da != 1 && db != 1)
            {
                throw ModelException.ForNode(node, $"shapes {Fmt(a)} and {Fmt(b)} cannot be broadcast together (dimension {i}: {da} vs {db})");
            }
            r[i] = da == 1 ? db : da;
        }
        return r;
    }

    /// <summary>Writes one element of a constant value (any width) to raw bytes.</summary>
    public static byte[] ElementBytes(Tensor value, int index = 0)
    {
        int size = DataTypes.SizeOf(value.Type);
        var bytes = new byte[size];
        value.Bytes().Slice(index * size, size).CopyTo(bytes);
        return bytes;
    }

    /// <summary>Fills count elements of elemSize bytes with the pattern.</summary>
    public static unsafe void Fill(byte* dst, long count, byte[] pattern)
    {
        switch (pattern.Length)
        {
            case 1:
                new Span<byte>(dst, checked((int)count)).Fill(pattern[0]);
                break;
            case 2:
                new Span<ushort>(dst, checked((int)count)).Fill(BitConverter.ToUInt16(pattern));
                break;
            case 4:
                new Span<uint>(dst, checked((int)count)).Fill(BitConverter.ToUInt32(pattern));
                break;
            case 8:
                new Span<ulong>(dst, checked((int)count)).Fill(BitConverter.ToUInt64(pattern));
                break;
            default:
                for (long i = 0; i < count; i++)
                {
                    for (int b = 0; b < pattern.Length; b++)
                    {
                        dst[i * pattern.Length + b] = pattern[b];
                    }
                }
                break;
        }
    }
}
