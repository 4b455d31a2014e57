using System.Numerics;
using Prova.Core;
using Prova.Onnx;
using Prova.Runtime.Ops.Shape;
using static Prova.Runtime.Ops.Shape.ShapeHelpers;

namespace Prova.Runtime.Ops.Reduce;

internal enum ReduceKind
{
    Sum,
    Mean,
    Max,
    Min,
    Prod,
    L1,
    L2,
    SumSquare,
}

/// <summary>
/// ONNX ReduceSum/Mean/Max/Min/Prod/L1/L2/SumSquare (axes attribute before opset 13 for
/// ReduceSum and 18 for the others, an optional input after; keepdims; noop_with_empty_axes).
/// The input is viewed as [outer, R, inner]; when the reduced axes are not adjacent it is first
/// transposed into scratch so that they are. Along a contiguous run (inner = 1) the order is
/// <see cref="Lanes16"/>; otherwise each output element folds its R inputs in sequence.
/// float32 for all; int32 and int64 for all but L2.
/// </summary>
internal sealed unsafe class ReduceKernel<TOp> : Kernel, IRangeBody where TOp : IReduceOp
{
    private const long ParallelElements = 1 << 15;

    private readonly int _opset;
    private readonly ReduceKind _kind;
    private DataType _type;
    private int _size;
    private bool _noop;
    private long _copyBytes;
    private StridedCopy? _transpose;
    private int _outer;
    private int _r;
    private int _inner;
    private float* _x;
    private float* _y;

    public ReduceKernel(OnnxNode node, int opset, ReduceKind kind) : base(node)
    {
        _opset = opset;
        _kind = kind;
    }

    public override void Infer(InferContext ctx)
    {
        _type = ctx.InputType(0);
        bool supported = _type == DataType.Float32 || ((_type == DataType.Int32 || _type == DataType.Int64) && _kind != ReduceKind.L2);
        if (!supported)
        {
            throw ModelException.Unsupported(Node, $"{Node.OpType} on {DataTypes.Name(_type)}");
        }
        _size = DataTypes.SizeOf(_type);
        var shape = ctx.InputShape(0);
        int rank = shape.Length;
        bool axesFromInput = _opset >= (_kind == ReduceKind.Sum ? 13 : 18);
        long[]? axes = axesFromInput
            ? ctx.HasInput(1) ? ConstantInts(ctx, 1, "axes") : null
            : Node.GetInts("axes");
        bool keepDims = Node.GetInt("keepdims", 1) != 0;
        bool noopWithEmpty = axesFromInput && Node.GetInt("noop_with_empty_axes", 0) != 0;
        if (axes is null || axes.Length == 0)
        {
            if (noopWithEmpty)
            {
                _noop = true;
                _copyBytes = ctx.Input(0).ElementCount * _size;
                ctx.SetOutput(0, _type, (int[])shape.Clone());
                return;
            }
            axes = new long[rank];
            for (int i = 0; i < rank; i++)
            {
                axes[i] = i;
            }
        }
        var reduced = new bool[rank];
        foreach (int a in Axes(Node, axes, rank))
        {
            reduced[a] = true;
        }
        var outShape = new List<int>();
        for (int d = 0; d < rank; d++)
        {
            if (!reduced[d])
            {
                outShape.Add(shape[d]);
            }
            else if (keepDims)
            {
                outShape.Add(1);
            }
        }
        ctx.SetOutput(0, _type, outShape.ToArray());
        Layout(ctx, shape, reduced);
    }

    private void Layout(InferContext ctx, int[] shape, bool[] reduced)
    {
        // Drop size-1 dims and merge neighbours of the same kind: K? R? K? needs no transpose.
        var dims = new List<long>();
        var kinds = new List<bool>();
        for (int d = 0; d < shape.Length; d++)
        {
            if (shape[d] == 1)
            {
                continue;
            }
            if (kinds.Count > 0 && kinds[^1] == reduced[d])
            {
                dims[^1] *= shape[d];
            }
            else
            {
                dims.Add(shape[d]);
                kinds.Add(reduced[d]);
            }
        }
        int rBlocks = 0;
        foreach (bool k in kinds)
        {
            rBlocks += k ? 1 : 0;
        }
        long outer = 1, r = 1, inner = 1;
        if (rBlocks <= 1)
        {
            int i = 0;
            if (i < kinds.Count && !kinds[i])
            {
                outer = dims[i++];
            }
            if (i < kinds.Count && kinds[i])
            {
                r = dims[i++];
            }
            if (i < kinds.Count)
            {
                inner = dims[i];
            }
        }
        else
        {
            var perm = new List<int>();
            for (int d = 0; d < shape.Length; d++)
            {
                if (!reduced[d])
                {
                    perm.Add(d);
                    outer *= shape[d];
                }
            }
            for (int d = 0; d < shape.Length; d++)
            {
                if (reduced[d])
                {
                    perm.Add(d);
                    r *= shape[d];
                }
            }
            var strides = Strides(shape);
            var tShape = new int[shape.Length];
            var tStrides = new long[shape.Length];
            for (int i = 0; i < perm.Count; i++)
            {
                tShape[i] = shape[perm[i]];
                tStrides[i] = strides[perm[i]];
            }
            _transpose = new StridedCopy(_size, tShape, tStrides, 0);
            ctx.RequestScratch(ctx.Input(0).ElementCount * _size);
        }
        _outer = (int)outer;
        _r = (int)r;
        _inner = (int)inner;
    }

    public override void Execute(ExecContext ctx)
    {
        byte* src = ctx.In<byte>(0);
        byte* dst = ctx.Out<byte>(0);
        if (_noop)
        {
            Buffer.MemoryCopy(src, dst, _copyBytes, _copyBytes);
            return;
        }
        if (_transpose is not null)
        {
            _transpose.Run(ctx.Pool, src, ctx.Scratch);
            src = ctx.Scratch;
        }
        switch (_type)
        {
            case DataType.Float32:
                _x = (float*)src;
                _y = (float*)dst;
                long work = (long)_outer * _r * _inner;
                if (ctx.Pool.Threads > 1 && work >= ParallelElements && _outer > 1)
                {
                    int grain = (int)Math.Max(1, _outer * (ParallelElements / 2) / work);
                    ctx.Pool.For(_outer, this, grain);
                }
                else
                {
                    Execute(0, _outer);
                }
                _x = null;
                _y = null;
                break;
            case DataType.Int32:
                ReduceInt((int*)src, (int*)dst);
                break;
            default:
                ReduceInt((long*)src, (long*)dst);
                break;
        }
    }

    /// <summary>Reduces outer rows [begin, end) of float32 data.</summary>
    public void Execute(int begin, int end)
    {
        int r = _r, inner = _inner;
        float rf = r;
        if (inner == 1)
        {
            for (int o = begin; o < end; o++)
            {
                _y[o] = Finish(Lanes16.Reduce<TOp>(_x + (long)o * r, r), rf);
            }
            return;
        }
        for (int o = begin; o < end; o++)
        {
            float* y = _y + (long)o * inner;
            new Span<float>(y, inner).Fill(TOp.Identity);
            float* x = _x + (long)o * r * inner;
            for (int k = 0; k < r; k++)
            {
                Lanes16.Accumulate<TOp>(y, x + (long)k * inner, inner);
            }
            if (_kind is ReduceKind.Mean or ReduceKind.L2)
            {
                for (int j = 0; j < inner; j++)
                {
                    y[j] = Finish(y[j], rf);
                }
            }
        }
    }

    private float Finish(float v, float r) => _kind switch
    {
        ReduceKind.Mean => v / r,
        ReduceKind.L2 => MathF.Sqrt(v),
        _ => v,
    };

    private void ReduceInt<T>(T* x, T* y) where T : unmanaged, IBinaryInteger<T>, IMinMaxValue<T>
    {
        T init = _kind switch
        {
            ReduceKind.Max => T.MinValue,
            ReduceKind.Min => T.MaxValue,
            ReduceKind.Prod => T.One,
            _ => T.Zero,
        };
        int r = _r, inner = _inner;
        for (long o = 0; o < _outer; o++)
        {
            for (int j = 0; j < inner; j++)
            {
                T acc = init;
                T* p = x + o * r * inner + j;
                for (int k = 0; k < r; k++)
                {
                    T v = p[(long)k * inner];
                    acc = _kind switch
                    {
                        ReduceKind.Max => T.Max(acc, v),
                        ReduceKind.Min => T.Min(acc, v),
                        ReduceKind.Prod => acc * v,
                        ReduceKind.SumSquare => acc + v * v,
                        ReduceKind.L1 => acc + (v < T.Zero ? T.Zero - v : v),
                        _ => acc + v,
                    };
                }
                if (_kind == ReduceKind.Mean)
                {
                    acc = r == 0 ? T.Zero : acc / T.CreateTruncating(r);
                }
                y[o * inner + j] = acc;
            }
        }
    }
}
