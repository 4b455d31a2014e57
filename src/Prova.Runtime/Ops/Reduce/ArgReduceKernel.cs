using System.Numerics;
using Prova.Core;
using Prova.Onnx;
using static Prova.Runtime.Ops.Shape.ShapeHelpers;

namespace Prova.Runtime.Ops.Reduce;

/// <summary>
/// ONNX ArgMax/ArgMin-1/11/12/13: int64 index of the first (or with select_last_index, the
/// last) extreme element along one axis. NaN never wins a comparison.
/// </summary>
internal sealed unsafe class ArgReduceKernel : Kernel
{
    private readonly bool _max;
    private readonly bool _last;
    private DataType _type;
    private long _outer;
    private int _r;
    private long _inner;

    public ArgReduceKernel(OnnxNode node, int opset, bool max) : base(node)
    {
        _max = max;
        _last = opset >= 12 && node.GetInt("select_last_index", 0) != 0;
    }

    public override void Infer(InferContext ctx)
    {
        _type = ctx.ExpectType(0, DataType.Float32, DataType.Float64, DataType.Int32, DataType.Int64, DataType.Int8, DataType.UInt8);
        var shape = ctx.InputShape(0);
        int rank = shape.Length;
        int axis = Axis(Node, Node.GetInt("axis", 0), rank);
        if (shape[axis] == 0)
        {
            throw ModelException.ForNode(Node, $"cannot take {Node.OpType} over axis {axis} of size 0 (input shape {Fmt(shape)})");
        }
        bool keepDims = Node.GetInt("keepdims", 1) != 0;
        var outShape = new List<int>();
        for (int d = 0; d < rank; d++)
        {
            if (d != axis)
            {
                outShape.Add(shape[d]);
            }
            else if (keepDims)
            {
                outShape.Add(1);
            }
        }
        ctx.SetOutput(0, DataType.Int64, outShape.ToArray());
        _outer = Product(shape, 0, axis);
        _r = shape[axis];
        _inner = Product(shape, axis + 1);
    }

    public override void Execute(ExecContext ctx)
    {
        long* y = ctx.Out<long>(0);
        switch (_type)
        {
            case DataType.Float32:
                Run(ctx.In<float>(0), y);
                break;
            case DataType.Float64:
                Run(ctx.In<double>(0), y);
                break;
            case DataType.Int32:
                Run(ctx.In<int>(0), y);
                break;
            case DataType.Int64:
                Run(ctx.In<long>(0), y);
                break;
            case DataType.Int8:
                Run(ctx.In<sbyte>(0), y);
                break;
            default:
                Run(ctx.In<byte>(0), y);
                break;
        }
    }

    private void Run<T>(T* x, long* y) where T : unmanaged, INumber<T>
    {
        long inner = _inner;
        for (long o = 0; o < _outer; o++)
        {
            for (long j = 0; j < inner; j++)
            {
                T* p = x + o * _r * inner + j;
                T best = p[0];
                long bestIndex = 0;
                for (int k = 1; k < _r; k++)
                {
                    T v = p[k * inner];
                    bool better = _max
                        ? (_last ? v >= best : v > best)
                        : (_last ? v <= best : v < best);
                    if (better)
                    {
                        best = v;
                        bestIndex = k;
                    }
                }
                y[o * inner + j] = bestIndex;
            }
        }
    }
}
