using Prova.Core;
using Prova.Onnx;
using static Prova.Runtime.Ops.Shape.ShapeHelpers;

namespace Prova.Runtime.Ops.Shape;

/// <summary>ONNX Transpose-1/13/21: perm defaults to reversing the axes.</summary>
internal sealed unsafe class TransposeKernel : Kernel
{
    private StridedCopy? _copy;

    public TransposeKernel(OnnxNode node) : base(node) { }

    public override void Infer(InferContext ctx)
    {
        int size = ElementSize(ctx, 0);
        var inShape = ctx.InputShape(0);
        int rank = inShape.Length;
        var permAttr = Node.GetInts("perm");
        int[] perm;
        if (permAttr is null)
        {
            perm = new int[rank];
            for (int i = 0; i < rank; i++)
            {
                perm[i] = rank - 1 - i;
            }
        }
        else
        {
            if (permAttr.Length != rank)
            {
                throw ModelException.ForNode(Node, $"perm {Fmt(permAttr)} has {permAttr.Length} entries but the input {Fmt(inShape)} has rank {rank}");
            }
            perm = Axes(Node, permAttr, rank, "perm ");
        }
        var inStrides = Strides(inShape);
        var outShape = new int[rank];
        var strides = new long[rank];
        for (int i = 0; i < rank; i++)
        {
            outShape[i] = inShape[perm[i]];
            strides[i] = inStrides[perm[i]];
        }
        ctx.SetOutput(0, ctx.InputType(0), outShape);
        _copy = new StridedCopy(size, outShape, strides, 0);
    }

    public override void Execute(ExecContext ctx) => _copy!.Run(ctx.Pool, ctx.In<byte>(0), ctx.Out<byte>(0));
}

/// <summary>ONNX Concat-1/4/11/13: all inputs share type and every dim but the axis.</summary>
internal sealed unsafe class ConcatKernel : Kernel
{
    private readonly int _opset;
    private long _outer;
    private long[] _chunkBytes = [];

    public ConcatKernel(OnnxNode node, int opset) : base(node)
    {
        _opset = opset;
        if (node.Inputs.Length == 0)
        {
            throw ModelException.ForNode(node, "needs at least one input");
        }
    }

    public override void Infer(InferContext ctx)
    {
        int size = ElementSize(ctx, 0);
        var type = ctx.InputType(0);
        var first = ctx.InputShape(0);
        int rank = first.Length;
        if (rank == 0)
        {
            throw ModelException.ForNode(Node, "cannot concatenate scalars (inputs must have rank >= 1)");
        }
        long axisAttr = _opset < 4 ? Node.GetInt("axis", 1) : Node.HasAttribute("axis") ? Node.GetInt("axis", 0) : throw ModelException.ForNode(Node, "attribute 'axis' is required");
        int axis = Axis(Node, axisAttr, rank);
        var outShape = (int[])first.Clone();
        long axisTotal = 0;
        _chunkBytes = new long[ctx.InputCount];
        long inner = Product(first, axis + 1);
        for (int i = 0; i < ctx.InputCount; i++)
        {
            var s = ctx.InputShape(i);
            if (ctx.InputType(i) != type)
            {
                throw ModelException.ForNode(Node, $"input {i} is {DataTypes.Name(ctx.InputType(i))} but input 0 is {DataTypes.Name(type)}");
            }
            bool ok = s.Length == rank;
            for (int d = 0; ok && d < rank; d++)
            {
                ok = d == axis || s[d] == first[d];
            }
            if (!ok)
            {
                throw ModelException.ForNode(Node, $"input {i} has shape {Fmt(s)}, which does not match input 0's shape {Fmt(first)} outside axis {axis}");
            }
            axisTotal += s[axis];
            _chunkBytes[i] = s[axis] * inner * size;
        }
        outShape[axis] = Dim(Node, axisTotal, $"output dimension {axis}");
        _outer = Product(first, 0, axis);
        ctx.SetOutput(0, type, outShape);
    }

    public override void Execute(ExecContext ctx)
    {
        byte* dst = ctx.Out<byte>(0);
        int n = _chunkBytes.Length;
        for (long o = 0; o < _outer; o++)
        {
            for (int i = 0; i < n; i++)
            {
                long bytes = _chunkBytes[i];
                Buffer.MemoryCopy(ctx.In<byte>(i) + o * bytes, dst, bytes, bytes);
                dst += bytes;
            }
        }
    }
}

/// <summary>
/// ONNX Split-1/2/11/13/18: split sizes from the attribute (&lt; 13) or input (≥ 13), else equal
/// parts (num_outputs from 18, where the last part may be smaller).
/// </summary>
internal sealed unsafe class SplitKernel : Kernel
{
    private readonly int _opset;
    private long _outer;
    private long _rowBytes;
    private long[] _chunkBytes = [];

    public SplitKernel(OnnxNode node, int opset) : base(node)
    {
        _opset = opset;
    }

    public override void Infer(InferContext ctx)
    {
        int size = ElementSize(ctx, 0);
        var inShape = ctx.InputShape(0);
        int axis = Axis(Node, Node.GetInt("axis", 0), inShape.Length);
        int dim = inShape[axis];
        int n = ctx.OutputCount;
        long[]? split = _opset < 13 ? Node.GetInts("split") : ctx.HasInput(1) ? ConstantInts(ctx, 1, "split") : null;
        if (_opset < 13 && split is null && _opset < 2 && ctx.HasInput(1))
        {
            split = ConstantInts(ctx, 1, "split");
        }
        if (split is not null)
        {
            if (split.Length != n)
            {
                throw ModelException.ForNode(Node, $"split {Fmt(split)} has {split.Length} entries but the node has {n} outputs");
            }
            long sum = 0;
            foreach (long s in split)
            {
                if (s < 0)
                {
                    throw ModelException.ForNode(Node, $"split {Fmt(split)} has a negative size");
                }
                sum += s;
            }
            if (sum != dim)
            {
                throw ModelException.ForNode(Node, $"split {Fmt(split)} sums to {sum} but axis {axis} of input {Fmt(inShape)} has size {dim}");
            }
        }
        else
        {
            if (_opset >= 18 && Node.HasAttribute("num_outputs"))
            {
                long k = Node.GetInt("num_outputs", n);
                if (k != n || k < 1)
                {
                    throw ModelException.ForNode(Node, $"num_outputs is {k} but the node has {n} outputs");
                }
            }
            if (n < 1)
            {
                throw ModelException.ForNode(Node, "needs at least one output");
            }
            split = new long[n];
            if (_opset >= 18)
            {
                long chunk = (dim + n - 1) / n;
                long left = dim;
                for (int i = 0; i < n; i++)
                {
                    split[i] = Math.Min(chunk, left);
                    left -= split[i];
                }
            }
            else
            {
                if (dim % n != 0)
                {
                    throw ModelException.ForNode(Node, $"axis {axis} of input {Fmt(inShape)} (size {dim}) cannot be split into {n} equal parts");
                }
                Array.Fill(split, dim / n);
            }
        }
        long inner = Product(inShape, axis + 1);
        _outer = Product(inShape, 0, axis);
        _rowBytes = dim * inner * size;
        _chunkBytes = new long[n];
        for (int i = 0; i < n; i++)
        {
            _chunkBytes[i] = split[i] * inner * size;
            if (Node.Outputs[i].Length > 0)
            {
                var shape = (int[])inShape.Clone();
                shape[axis] = (int)split[i];
                ctx.SetOutput(i, ctx.InputType(0), shape);
            }
        }
    }

    public override void Execute(ExecContext ctx)
    {
        byte* src = ctx.In<byte>(0);
        long offset = 0;
        for (int i = 0; i < _chunkBytes.Length; i++)
        {
            long bytes = _chunkBytes[i];
            if (ctx.HasOutput(i) && bytes > 0)
            {
                byte* dst = ctx.Out<byte>(i);
                for (long o = 0; o < _outer; o++)
                {
                    Buffer.MemoryCopy(src + o * _rowBytes + offset, dst + o * bytes, bytes, bytes);
                }
            }
            offset += bytes;
        }
    }
}

/// <summary>
/// ONNX Slice-1 (starts/ends/axes attributes) and Slice-10/11/13 (inputs starts, ends, axes,
/// steps). Indices are clamped like numpy, including INT64_MAX/INT64_MIN ends and negative steps.
/// </summary>
internal sealed unsafe class SliceKernel : Kernel
{
    private readonly int _opset;
    private StridedCopy? _copy;

    public SliceKernel(OnnxNode node, int opset) : base(node)
    {
        _opset = opset;
    }

    public override void Infer(InferContext ctx)
    {
        int size = ElementSize(ctx, 0);
        var inShape = ctx.InputShape(0);
        int rank = inShape.Length;
        long[] starts, ends;
        long[]? axes, steps = null;
        if (_opset < 10)
        {
            starts = Node.GetInts("starts") ?? throw ModelException.ForNode(Node, "attribute 'starts' is required");
            ends = Node.GetInts("ends") ?? throw ModelException.ForNode(Node, "attribute 'ends' is required");
            axes = Node.GetInts("axes");
        }
        else
        {
            starts = ConstantInts(ctx, 1, "starts");
            ends = ConstantInts(ctx, 2, "ends");
            axes = ctx.HasInput(3) ? ConstantInts(ctx, 3, "axes") : null;
            steps = ctx.HasInput(4) ? ConstantInts(ctx, 4, "steps") : null;
        }
        if (ends.Length != starts.Length || (axes is not null && axes.Length != starts.Length) || (steps is not null && steps.Length != starts.Length))
        {
            throw ModelException.ForNode(Node, $"starts {Fmt(starts)}, ends {Fmt(ends)}, axes and steps must have the same length");
        }
        if (axes is null)
        {
            axes = new long[starts.Length];
            for (int i = 0; i < axes.Length; i++)
            {
                axes[i] = i;
            }
        }
        var ax = Axes(Node, axes, rank);
        var outShape = (int[])inShape.Clone();
        var inStrides = Strides(inShape);
        var strides = (long[])inStrides.Clone();
        long offset = 0;
        for (int i = 0; i < ax.Length; i++)
        {
            int a = ax[i];
            long dim = inShape[a];
            long step = steps is null ? 1 : steps[i];
            if (step == 0)
            {
                throw ModelException.ForNode(Node, $"step for axis {a} is 0");
            }
            long start = starts[i];
            long end = ends[i];
            if (start < 0)
            {
                start += dim;
            }
            if (end < 0)
            {
                end += dim;
            }
            long count;
            if (dim == 0)
            {
                count = 0;
            }
            else if (step > 0)
            {
                start = Math.Clamp(start, 0, dim);
                end = Math.Clamp(end, 0, dim);
                count = end > start ? (end - start + step - 1) / step : 0;
            }
            else
            {
                start = Math.Clamp(start, 0, dim - 1);
                end = Math.Clamp(end, -1, dim - 1);
                count = start > end ? (start - end + (-step) - 1) / (-step) : 0;
            }
            outShape[a] = (int)count;
            if (count > 0)
            {
                offset += start * inStrides[a];
            }
            strides[a] = inStrides[a] * step;
        }
        ctx.SetOutput(0, ctx.InputType(0), outShape);
        _copy = new StridedCopy(size, outShape, strides, offset);
    }

    public override void Execute(ExecContext ctx) => _copy!.Run(ctx.Pool, ctx.In<byte>(0), ctx.Out<byte>(0));
}
