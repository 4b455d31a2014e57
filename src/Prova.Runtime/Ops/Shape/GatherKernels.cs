using Prova.Core;
using Prova.Onnx;
using static Prova.Runtime.Ops.Shape.ShapeHelpers;

namespace Prova.Runtime.Ops.Shape;

/// <summary>
/// ONNX Gather-1/11/13: out = data[..., indices, ...] along one axis; negative indices count
/// from the end. Constant indices are checked at plan time; others at run time
/// (<see cref="InputException"/>).
/// </summary>
internal sealed unsafe class GatherKernel : Kernel
{
    private long _outer;
    private long _count;
    private long _dim;
    private long _blockBytes;
    private bool _int32;

    public GatherKernel(OnnxNode node) : base(node) { }

    public override void Infer(InferContext ctx)
    {
        int size = ElementSize(ctx, 0);
        var shape = ctx.InputShape(0);
        int rank = shape.Length;
        if (rank == 0)
        {
            throw ModelException.ForNode(Node, "data must have rank >= 1");
        }
        int axis = Axis(Node, Node.GetInt("axis", 0), rank);
        _int32 = ctx.ExpectType(1, DataType.Int64, DataType.Int32) == DataType.Int32;
        var idxShape = ctx.InputShape(1);
        _dim = shape[axis];
        if (ctx.Constant(1) is { } constant)
        {
            var values = ReadInts(Node, constant, "indices");
            foreach (long v in values)
            {
                if (v < -_dim || v >= _dim)
                {
                    throw ModelException.ForNode(Node, $"index {v} is out of range for axis {axis} of size {_dim} (data shape {Fmt(shape)})");
                }
            }
        }
        var outShape = new int[rank - 1 + idxShape.Length];
        int k = 0;
        for (int d = 0; d < axis; d++)
        {
            outShape[k++] = shape[d];
        }
        foreach (int d in idxShape)
        {
            outShape[k++] = d;
        }
        for (int d = axis + 1; d < rank; d++)
        {
            outShape[k++] = shape[d];
        }
        ctx.SetOutput(0, ctx.InputType(0), outShape);
        _outer = Product(shape, 0, axis);
        _count = ctx.Input(1).ElementCount;
        _blockBytes = Product(shape, axis + 1) * size;
    }

    public override void Execute(ExecContext ctx)
    {
        byte* src = ctx.In<byte>(0);
        byte* dst = ctx.Out<byte>(0);
        long* idx64 = _int32 ? null : ctx.In<long>(1);
        int* idx32 = _int32 ? ctx.In<int>(1) : null;
        long block = _blockBytes;
        long srcRow = _dim * block;
        for (long o = 0; o < _outer; o++)
        {
            byte* row = src + o * srcRow;
            for (long i = 0; i < _count; i++)
            {
                long v = _int32 ? idx32[i] : idx64[i];
                if (v < 0)
                {
                    v += _dim;
                }
                if ((ulong)v >= (ulong)_dim)
                {
                    throw new InputException($"node '{Node.DisplayName}' (Gather): index {(_int32 ? idx32[i] : idx64[i])} is out of range for an axis of size {_dim}");
                }
                byte* s = row + v * block;
                switch (block)
                {
                    case 4:
                        *(uint*)dst = *(uint*)s;
                        break;
                    case 8:
                        *(ulong*)dst = *(ulong*)s;
                        break;
                    default:
                        Buffer.MemoryCopy(s, dst, block, block);
                        break;
                }
                dst += block;
            }
        }
    }
}

/// <summary>ONNX GatherElements-11/13: out[i] = data[i with i[axis] replaced by indices[i]].</summary>
internal sealed unsafe class GatherElementsKernel : Kernel
{
    private int _size;
    private int _axis;
    private int[] _idxShape = [];
    private long[] _dataStrides = [];
    private int _dim;
    private bool _int32;

    public GatherElementsKernel(OnnxNode node) : base(node) { }

    public override void Infer(InferContext ctx)
    {
        _size = ElementSize(ctx, 0);
        var shape = ctx.InputShape(0);
        var idxShape = ctx.InputShape(1);
        int rank = shape.Length;
        if (rank == 0)
        {
            throw ModelException.ForNode(Node, "data must have rank >= 1");
        }
        _axis = Axis(Node, Node.GetInt("axis", 0), rank);
        _int32 = ctx.ExpectType(1, DataType.Int64, DataType.Int32) == DataType.Int32;
        if (idxShape.Length != rank)
        {
            throw ModelException.ForNode(Node, $"indices shape {Fmt(idxShape)} must have the same rank as data shape {Fmt(shape)}");
        }
        for (int d = 0; d < rank; d++)
        {
            if (d != _axis && idxShape[d] > shape[d])
            {
                throw ModelException.ForNode(Node, $"indices shape {Fmt(idxShape)} exceeds data shape {Fmt(shape)} in dimension {d}");
            }
        }
        _dim = shape[_axis];
        if (ctx.Constant(1) is { } constant)
        {
            foreach (long v in ReadInts(Node, constant, "indices"))
            {
                if (v < -_dim || v >= _dim)
                {
                    throw ModelException.ForNode(Node, $"index {v} is out of range for axis {_axis} of size {_dim} (data shape {Fmt(shape)})");
                }
            }
        }
        _idxShape = (int[])idxShape.Clone();
        _dataStrides = Strides(shape);
        ctx.SetOutput(0, ctx.InputType(0), idxShape);
    }

    public override void Execute(ExecContext ctx)
    {
        byte* src = ctx.In<byte>(0);
        byte* dst = ctx.Out<byte>(0);
        long* idx64 = _int32 ? null : ctx.In<long>(1);
        int* idx32 = _int32 ? ctx.In<int>(1) : null;
        int rank = _idxShape.Length;
        long total = Tensor.ElementCount(_idxShape);
        Span<int> pos = stackalloc int[rank];
        pos.Clear();
        long baseOff = 0; // data offset of pos with pos[axis] = 0
        for (long i = 0; i < total; i++)
        {
            long v = _int32 ? idx32[i] : idx64[i];
            if (v < 0)
            {
                v += _dim;
            }
            if ((ulong)v >= (ulong)_dim)
            {
                throw new InputException($"node '{Node.DisplayName}' (GatherElements): index {(_int32 ? idx32[i] : idx64[i])} is out of range for an axis of size {_dim}");
            }
            long off = baseOff + v * _dataStrides[_axis];
            Buffer.MemoryCopy(src + off * _size, dst + i * _size, _size, _size);
            for (int d = rank - 1; d >= 0; d--)
            {
                if (d != _axis)
                {
                    baseOff += _dataStrides[d];
                }
                if (++pos[d] < _idxShape[d])
                {
                    break;
                }
                if (d != _axis)
                {
                    baseOff -= _dataStrides[d] * _idxShape[d];
                }
                pos[d] = 0;
            }
        }
    }
}
