using System.Numerics;
using Prova.Core;
using Prova.Onnx;
using static Prova.Runtime.Ops.Shape.ShapeHelpers;

namespace Prova.Runtime.Ops.Reduce;

/// <summary>
/// ONNX CumSum-14 (float32, float64, int32, int64): along the axis (input 1, a scalar known at plan time),
/// y[i] = y[i-1] + x[i] with y[first] = x[first] (or 0 and shifted by one when exclusive = 1),
/// walking from the end when reverse = 1. Each output element is this one sequential chain; vector
/// code runs several chains side by side (across the dims after the axis), never splits one.
/// Integer sums wrap.
/// </summary>
internal sealed unsafe class CumSumKernel<T> : Kernel, IRangeBody where T : unmanaged, INumber<T>
{
    private readonly bool _exclusive;
    private readonly bool _reverse;
    private int _outer;
    private int _length;
    private int _inner;
    private T* _x;
    private T* _y;

    public CumSumKernel(OnnxNode node) : base(node)
    {
        _exclusive = node.GetInt("exclusive", 0) != 0;
        _reverse = node.GetInt("reverse", 0) != 0;
    }

    public override void Infer(InferContext ctx)
    {
        var shape = ctx.InputShape(0);
        ctx.ExpectType(1, DataType.Int32, DataType.Int64);
        var axes = ReadInts(Node, ctx.RequireConstant(1, "axis"), "axis");
        if (axes.Length != 1)
        {
            throw ModelException.ForNode(Node, $"axis must be a scalar but has {axes.Length} elements");
        }
        int axis = Axis(Node, axes[0], shape.Length);
        _outer = (int)Product(shape, 0, axis);
        _length = shape[axis];
        _inner = (int)Product(shape, axis + 1);
        ctx.SetOutput(0, ctx.InputType(0), (int[])shape.Clone());
    }

    public override void Execute(ExecContext ctx)
    {
        _x = ctx.In<T>(0);
        _y = ctx.Out<T>(0);
        if ((long)_outer * _length * _inner == 0)
        {
            return;
        }
        if (ctx.Pool.Threads > 1 && (long)_outer * _length * _inner >= 1 << 15 && _outer > 1)
        {
            ctx.Pool.For(_outer, this);
        }
        else
        {
            Execute(0, _outer);
        }
    }

    public void Execute(int begin, int end)
    {
        int inner = _inner;
        for (int o = begin; o < end; o++)
        {
            T* x = _x + (long)o * _length * inner;
            T* y = _y + (long)o * _length * inner;
            long step = _reverse ? -inner : inner;
            long first = _reverse ? (long)(_length - 1) * inner : 0;
            T* prev = null;
            for (int i = 0; i < _length; i++)
            {
                T* yi = y + first + i * step;
                if (_exclusive)
                {
                    // y[i] = y[i-1] + x[i-1], y[first] = 0.
                    if (i == 0)
                    {
                        new Span<T>(yi, inner).Clear();
                    }
                    else
                    {
                        AddRows(prev, x + first + (i - 1) * step, yi, inner);
                    }
                }
                else if (i == 0)
                {
                    Buffer.MemoryCopy(x + first, yi, (long)inner * sizeof(T), (long)inner * sizeof(T));
                }
                else
                {
                    AddRows(prev, x + first + i * step, yi, inner);
                }
                prev = yi;
            }
        }
    }

    private static void AddRows(T* a, T* b, T* y, int n)
    {
        int j = 0;
        if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported)
        {
            int w = Vector<T>.Count;
            for (; j <= n - w; j += w)
            {
                (Vector.Load(a + j) + Vector.Load(b + j)).Store(y + j);
            }
        }
        for (; j < n; j++)
        {
            y[j] = unchecked(a[j] + b[j]);
        }
    }
}
