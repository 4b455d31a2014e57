using Prova.Core;
using Prova.Onnx;
using static Prova.Runtime.Ops.Shape.ShapeHelpers;

namespace Prova.Runtime.Ops.Shape;

/// <summary>ONNX Expand-8/13: broadcast the input to broadcast(input shape, shape).</summary>
internal sealed unsafe class ExpandKernel : Kernel
{
    private StridedCopy? _copy;

    public ExpandKernel(OnnxNode node) : base(node) { }

    public override void Infer(InferContext ctx)
    {
        int size = ElementSize(ctx, 0);
        var inShape = ctx.InputShape(0);
        var spec = ConstantInts(ctx, 1, "the target shape");
        var target = new int[spec.Length];
        for (int i = 0; i < spec.Length; i++)
        {
            target[i] = Dim(Node, spec[i], $"target dimension {i}");
        }
        var outShape = Broadcast(Node, inShape, target);
        int rank = outShape.Length;
        var inStrides = Strides(inShape);
        var strides = new long[rank];
        for (int d = 0; d < rank; d++)
        {
            int k = d - (rank - inShape.Length);
            strides[d] = k < 0 || inShape[k] == 1 ? 0 : inStrides[k];
        }
        ctx.SetOutput(0, ctx.InputType(0), outShape);
        _copy = new StridedCopy(size, outShape, strides, 0);
    }

    public override void Execute(ExecContext ctx) => _copy!.Run(ctx.Pool, ctx.In<byte>(0), ctx.Out<byte>(0));
}

/// <summary>ONNX Tile-6/13: repeats[i] copies along each axis (a strided view with zero strides).</summary>
internal sealed unsafe class TileKernel : Kernel
{
    private StridedCopy? _copy;

    public TileKernel(OnnxNode node) : base(node) { }

    public override void Infer(InferContext ctx)
    {
        int size = ElementSize(ctx, 0);
        var inShape = ctx.InputShape(0);
        int rank = inShape.Length;
        var repeats = ConstantInts(ctx, 1, "repeats");
        if (repeats.Length != rank)
        {
            throw ModelException.ForNode(Node, $"repeats {Fmt(repeats)} has {repeats.Length} entries but the input {Fmt(inShape)} has rank {rank}");
        }
        var inStrides = Strides(inShape);
        var outShape = new int[rank];
        var viewShape = new int[2 * rank];
        var viewStrides = new long[2 * rank];
        for (int d = 0; d < rank; d++)
        {
            if (repeats[d] < 0 || repeats[d] > int.MaxValue)
            {
                throw ModelException.ForNode(Node, $"repeats {Fmt(repeats)} has an invalid entry {repeats[d]}");
            }
            outShape[d] = Dim(Node, repeats[d] * inShape[d], $"output dimension {d}");
            viewShape[2 * d] = (int)repeats[d];
            viewShape[2 * d + 1] = inShape[d];
            viewStrides[2 * d + 1] = inStrides[d];
        }
        ctx.SetOutput(0, ctx.InputType(0), outShape);
        _copy = new StridedCopy(size, viewShape, viewStrides, 0);
    }

    public override void Execute(ExecContext ctx) => _copy!.Run(ctx.Pool, ctx.In<byte>(0), ctx.Out<byte>(0));
}

/// <summary>
/// ONNX Pad-1/2/11/13/18/19: pads attribute (&lt; 11) or input (≥ 11, with optional
/// constant_value and, from 18, axes). Modes constant, reflect, edge, wrap; negative pads crop.
/// Each output index maps per axis to an input index or to the constant.
/// </summary>
internal sealed unsafe class PadKernel : Kernel
{
    private readonly int _opset;
    private readonly string _mode;
    private int _size;
    private int[] _outShape = [];
    private int[][] _maps = [];
    private long[] _inStrides = [];
    private byte[] _fill = [];
    private int _runStart;
    private int _runEnd;

    public PadKernel(OnnxNode node, int opset) : base(node)
    {
        _opset = opset;
        _mode = node.GetString("mode", "constant");
        if (_mode is not ("constant" or "reflect" or "edge" or "wrap"))
        {
            throw ModelException.ForNode(node, $"mode '{_mode}' is not one of constant, reflect, edge, wrap");
        }
    }

    public override void Infer(InferContext ctx)
    {
        _size = ElementSize(ctx, 0);
        var type = ctx.InputType(0);
        var inShape = ctx.InputShape(0);
        int rank = inShape.Length;
        long[] pads;
        _fill = new byte[_size];
        if (_opset < 11)
        {
            pads = Node.GetInts(_opset < 2 ? "paddings" : "pads") ?? throw ModelException.ForNode(Node, "attribute 'pads' is required");
            float value = Node.GetFloat("value", 0f);
            _fill = type switch
            {
                DataType.Float32 => BitConverter.GetBytes(value),
                DataType.Float64 => BitConverter.GetBytes((double)value),
                _ => throw ModelException.Unsupported(Node, $"Pad-{_opset} on {DataTypes.Name(type)}"),
            };
        }
        else
        {
            pads = ConstantInts(ctx, 1, "pads");
            if (ctx.HasInput(2))
            {
                var c = ctx.RequireConstant(2, "constant_value");
                if (c.Type != type || c.Length != 1)
                {
                    throw ModelException.ForNode(Node, $"constant_value must be one {DataTypes.Name(type)} but is {c}");
                }
                _fill = ElementBytes(c);
            }
        }
        int[] axes;
        if (_opset >= 18 && ctx.HasInput(3))
        {
            axes = Axes(Node, ConstantInts(ctx, 3, "axes"), rank);
        }
        else
        {
            axes = new int[rank];
            for (int i = 0; i < rank; i++)
            {
                axes[i] = i;
            }
        }
        if (pads.Length != 2 * axes.Length)
        {
            throw ModelException.ForNode(Node, $"pads {Fmt(pads)} must have {2 * axes.Length} entries for input shape {Fmt(inShape)}");
        }
        var begin = new long[rank];
        var end = new long[rank];
        for (int i = 0; i < axes.Length; i++)
        {
            begin[axes[i]] = pads[i];
            end[axes[i]] = pads[i + axes.Length];
        }
        _outShape = new int[rank];
        for (int d = 0; d < rank; d++)
        {
            _outShape[d] = Dim(Node, inShape[d] + begin[d] + end[d], $"padded dimension {d} ({inShape[d]} + {begin[d]} + {end[d]})");
        }
        ctx.SetOutput(0, type, _outShape); // checks the element count before the index maps are built
        _maps = new int[rank][];
        for (int d = 0; d < rank; d++)
        {
            long dim = inShape[d];
            int outDim = _outShape[d];
            if (dim == 0 && outDim > 0 && _mode != "constant")
            {
                throw ModelException.ForNode(Node, $"cannot {_mode}-pad axis {d} of size 0 (input shape {Fmt(inShape)})");
            }
            var map = new int[outDim];
            for (int o = 0; o < outDim; o++)
            {
                long i = o - begin[d];
                if (i < 0 || i >= dim)
                {
                    i = _mode switch
                    {
                        "constant" => -1,
                        "edge" => Math.Clamp(i, 0, dim - 1),
                        "wrap" => ((i % dim) + dim) % dim,
                        _ => Reflect(i, dim),
                    };
                }
                map[o] = (int)i;
            }
            _maps[d] = map;
        }
        _inStrides = Strides(inShape);
        // The stretch of the last axis that maps to consecutive input elements is copied in one go.
        if (rank > 0)
        {
            long b = begin[rank - 1];
            _runStart = (int)Math.Clamp(b, 0, _outShape[rank - 1]);
            _runEnd = (int)Math.Clamp(b + inShape[rank - 1], _runStart, _outShape[rank - 1]);
            if (b < 0)
            {
                _runStart = 0;
            }
        }
    }

    private static long Reflect(long i, long dim)
    {
        if (dim == 1)
        {
            return 0;
        }
        long period = 2 * (dim - 1);
        i = ((i % period) + period) % period;
        return i < dim ? i : period - i;
    }

    public override void Execute(ExecContext ctx)
    {
        fixed (byte* fill = _fill)
        {
            Run(ctx.In<byte>(0), ctx.Out<byte>(0), fill);
        }
    }

    private void Run(byte* src, byte* dst, byte* fill)
    {
        int rank = _outShape.Length;
        int size = _size;
        if (rank == 0)
        {
            Buffer.MemoryCopy(src, dst, size, size);
            return;
        }
        long total = Tensor.ElementCount(_outShape);
        if (total == 0)
        {
            return;
        }
        int n = _outShape[rank - 1];
        int[] last = _maps[rank - 1];
        long rows = total / n;
        Span<int> idx = stackalloc int[rank];
        idx.Clear();
        long rowBytes = (long)n * size;
        for (long r = 0; r < rows; r++)
        {
            long off = 0;
            bool constant = false;
            for (int d = 0; d < rank - 1; d++)
            {
                int m = _maps[d][idx[d]];
                if (m < 0)
                {
                    constant = true;
                    break;
                }
                off += m * _inStrides[d];
            }
            if (constant)
            {
                Fill(dst, n, _fill);
            }
            else
            {
                byte* row = src + off * size;
                for (int j = 0; j < n; j++)
                {
                    if (j == _runStart && _runEnd > _runStart)
                    {
                        long bytes = (long)(_runEnd - _runStart) * size;
                        Buffer.MemoryCopy(row + (long)last[j] * size, dst + (long)j * size, bytes, bytes);
                        j = _runEnd - 1;
                        continue;
                    }
                    int m = last[j];
                    if (m < 0)
                    {
                        Buffer.MemoryCopy(fill, dst + (long)j * size, size, size);
                    }
                    else
                    {
                        Buffer.MemoryCopy(row + (long)m * size, dst + (long)j * size, size, size);
                    }
                }
            }
            dst += rowBytes;
            for (int d = rank - 2; d >= 0; d--)
            {
                if (++idx[d] < _outShape[d])
                {
                    break;
                }
                idx[d] = 0;
            }
        }
    }
}
