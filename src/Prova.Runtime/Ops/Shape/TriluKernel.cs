using Prova.Core;
using Prova.Onnx;
using static Prova.Runtime.Ops.Shape.ShapeHelpers;

namespace Prova.Runtime.Ops.Shape;

/// <summary>
/// ONNX Trilu-14, any element type: over the last two dims [N, M], keeps element (i, j) when
/// j - i ≥ k (upper = 1) or j - i ≤ k (upper = 0) and writes zero elsewhere. k (optional input 1,
/// an int64 scalar, default 0) is read when the node runs, so it may be a graph input.
/// </summary>
internal sealed unsafe class TriluKernel : Kernel, IRangeBody
{
    private readonly bool _upper;
    private int _size;
    private int _rows;
    private int _cols;
    private long _matrices;
    private byte* _x;
    private byte* _y;
    private long _k;

    public TriluKernel(OnnxNode node) : base(node)
    {
        _upper = node.GetInt("upper", 1) != 0;
    }

    public override void Infer(InferContext ctx)
    {
        var shape = ctx.InputShape(0);
        if (shape.Length < 2)
        {
            throw ModelException.ForNode(Node, $"input must have rank 2 or more but has shape {Fmt(shape)}");
        }
        _size = ElementSize(ctx, 0);
        if (ctx.HasInput(1))
        {
            ctx.ExpectType(1, DataType.Int64);
            if (ctx.Input(1).ElementCount != 1)
            {
                throw ModelException.ForNode(Node, $"k must be a scalar but has shape {Fmt(ctx.InputShape(1))}");
            }
        }
        _rows = shape[^2];
        _cols = shape[^1];
        _matrices = Product(shape, 0, shape.Length - 2);
        ctx.SetOutput(0, ctx.InputType(0), (int[])shape.Clone());
    }

    public override void Execute(ExecContext ctx)
    {
        _x = ctx.In<byte>(0);
        _y = ctx.Out<byte>(0);
        // Any |k| beyond rows + cols acts alike; clamping keeps i + k from overflowing.
        _k = Math.Clamp(ctx.HasInput(1) ? *ctx.In<long>(1) : 0, -((long)_rows + _cols), (long)_rows + _cols);
        long total = _matrices * _rows;
        if (total == 0 || _cols == 0)
        {
            return;
        }
        if (ctx.Pool.Threads > 1 && total * _cols * _size >= 1 << 18)
        {
            ctx.Pool.For(checked((int)total), this, Math.Max(1, (int)((1 << 16) / ((long)_cols * _size))));
        }
        else
        {
            Execute(0, (int)total);
        }
    }

    public void Execute(int begin, int end)
    {
        long rowBytes = (long)_cols * _size;
        for (int r = begin; r < end; r++)
        {
            long i = r % _rows;
            byte* x = _x + r * rowBytes;
            byte* y = _y + r * rowBytes;
            // Columns [0, split) are zeroed for upper and kept for lower; [split, cols) the other way.
            long split = _upper ? Math.Clamp(i + _k, 0, _cols) : Math.Clamp(i + _k + 1, 0, _cols);
            long head = split * _size;
            if (_upper)
            {
                new Span<byte>(y, (int)head).Clear();
                Buffer.MemoryCopy(x + head, y + head, rowBytes - head, rowBytes - head);
            }
            else
            {
                Buffer.MemoryCopy(x, y, head, head);
                new Span<byte>(y + head, (int)(rowBytes - head)).Clear();
            }
        }
    }
}
