using System.Numerics;
using Prova.Core;
using Prova.Onnx;
using static Prova.Runtime.Ops.Shape.ShapeHelpers;

namespace Prova.Runtime.Ops.Shape;

/// <summary>
/// ONNX ScatterND-18: output = data, then for each index tuple (the last dim of indices, k ≤ rank;
/// negative entries count from the end) the slice data[tuple] is replaced by (reduction "none") or
/// combined with (add, mul, max, min) the matching slice of updates, tuples in row-major order — so
/// duplicate tuples, which ONNX leaves undefined for "none", give the last update. Any element type
/// for "none"; float32, int32 and int64 for the reductions. An index out of range is an
/// <see cref="InputException"/>.
/// </summary>
internal sealed unsafe class ScatterNDKernel : Kernel
{
    private readonly string _reduction;
    private int _size;
    private DataType _type;
    private int[] _dataShape = [];
    private int _k;
    private long _tuples;
    private long _sliceElements;
    private long[] _strides = [];

    public ScatterNDKernel(OnnxNode node, int opset) : base(node)
    {
        _reduction = opset >= 16 ? node.GetString("reduction", "none") : "none";
        if (_reduction is not ("none" or "add" or "mul" or "max" or "min"))
        {
            throw ModelException.ForNode(node, $"attribute 'reduction' must be none, add, mul, max or min, not '{_reduction}'");
        }
    }

    public override void Infer(InferContext ctx)
    {
        _dataShape = ctx.InputShape(0);
        _type = ctx.InputType(0);
        _size = ElementSize(ctx, 0);
        if (_reduction != "none")
        {
            ctx.ExpectType(0, DataType.Float32, DataType.Int32, DataType.Int64);
        }
        ctx.ExpectType(1, DataType.Int64);
        ctx.ExpectType(2, _type);
        var idx = ctx.InputShape(1);
        if (idx.Length < 1 || idx[^1] > _dataShape.Length)
        {
            throw ModelException.ForNode(Node, $"indices of shape {Fmt(idx)} must end in a dim of at most the data rank {_dataShape.Length}");
        }
        _k = idx[^1];
        var expected = new List<int>(idx[..^1]);
        expected.AddRange(_dataShape[_k..]);
        if (!ctx.InputShape(2).AsSpan().SequenceEqual(expected.ToArray()))
        {
            throw ModelException.ForNode(Node, $"updates have shape {Fmt(ctx.InputShape(2))} but indices {Fmt(idx)} and data {Fmt(_dataShape)} need {Fmt(expected.ToArray())}");
        }
        _tuples = Product(idx, 0, idx.Length - 1);
        _sliceElements = Product(_dataShape, _k);
        _strides = Strides(_dataShape);
        ctx.SetOutput(0, _type, (int[])_dataShape.Clone());
    }

    public override void Execute(ExecContext ctx)
    {
        byte* data = ctx.In<byte>(0);
        long* indices = ctx.In<long>(1);
        byte* updates = ctx.In<byte>(2);
        byte* y = ctx.Out<byte>(0);
        long total = Product(_dataShape) * _size;
        if (y != data)
        {
            Buffer.MemoryCopy(data, y, total, total);
        }
        long sliceBytes = _sliceElements * _size;
        for (long t = 0; t < _tuples; t++)
        {
            long offset = 0;
            for (int d = 0; d < _k; d++)
            {
                long i = indices[t * _k + d];
                long dim = _dataShape[d];
                if (i < -dim || i >= dim)
                {
                    throw new InputException($"node '{Node.DisplayName}' (ScatterND): index {i} is out of range for dim {d} of size {dim}");
                }
                offset += (i < 0 ? i + dim : i) * _strides[d];
            }
            byte* dst = y + offset * _size;
            byte* src = updates + t * sliceBytes;
            if (_reduction == "none")
            {
                Buffer.MemoryCopy(src, dst, sliceBytes, sliceBytes);
            }
            else
            {
                switch (_type)
                {
                    case DataType.Float32: Combine((float*)dst, (float*)src); break;
                    case DataType.Int32: Combine((int*)dst, (int*)src); break;
                    default: Combine((long*)dst, (long*)src); break;
                }
            }
        }
    }

    private void Combine<T>(T* dst, T* src) where T : unmanaged, INumber<T>
    {
        long n = _sliceElements;
        switch (_reduction)
        {
            case "add":
                for (long j = 0; j < n; j++)
                {
                    dst[j] = unchecked(dst[j] + src[j]);
                }
                break;
            case "mul":
                for (long j = 0; j < n; j++)
                {
                    dst[j] = unchecked(dst[j] * src[j]);
                }
                break;
            case "max":
                for (long j = 0; j < n; j++)
                {
                    dst[j] = T.Max(dst[j], src[j]);
                }
                break;
            default:
                for (long j = 0; j < n; j++)
                {
                    dst[j] = T.Min(dst[j], src[j]);
                }
                break;
        }
    }
}
