using Prova.Core;
using Prova.Onnx;
using static Prova.Runtime.Ops.Shape.ShapeHelpers;

namespace Prova.Runtime.Ops.Shape;

/// <summary>
/// Ops whose output has exactly the input's bytes under a new shape. The planner normally lets
/// the output share the input's buffer; Execute is the plain copy used when folding constants
/// (or if the planner decides to run it).
/// </summary>
internal abstract unsafe class ViewKernel : Kernel
{
    private long _bytes;

    protected ViewKernel(OnnxNode node) : base(node) { }

    public override bool IsView => true;

    /// <summary>Declares output 0 as input 0's bytes with the given shape.</summary>
    protected void SetView(InferContext ctx, int[] shape)
    {
        int size = ElementSize(ctx, 0);
        long inCount = ctx.Input(0).ElementCount;
        ctx.SetOutput(0, ctx.InputType(0), shape);
        long outCount = Tensor.ElementCount(shape);
        if (outCount != inCount)
        {
            throw ModelException.ForNode(Node, $"cannot view {inCount} elements of shape {Fmt(ctx.InputShape(0))} as shape {Fmt(shape)} ({outCount} elements)");
        }
        _bytes = inCount * size;
    }

    public override void Execute(ExecContext ctx)
    {
        byte* src = ctx.In<byte>(0);
        byte* dst = ctx.Out<byte>(0);
        if (src != dst)
        {
            Buffer.MemoryCopy(src, dst, _bytes, _bytes);
        }
    }
}

/// <summary>ONNX Reshape-1/5/13/14/19/21: shape attribute (opset &lt; 5) or input; 0 copies a dim (unless allowzero), -1 is inferred.</summary>
internal sealed class ReshapeKernel : ViewKernel
{
    private readonly int _opset;

    public ReshapeKernel(OnnxNode node, int opset) : base(node)
    {
        _opset = opset;
    }

    public override void Infer(InferContext ctx)
    {
        long[] spec;
        if (_opset < 5)
        {
            spec = Node.GetInts("shape") ?? throw ModelException.ForNode(Node, "attribute 'shape' is required");
        }
        else
        {
            spec = ConstantInts(ctx, 1, "the target shape");
        }
        bool allowZero = _opset >= 14 && Node.GetInt("allowzero", 0) != 0;
        var inShape = ctx.InputShape(0);
        long inCount = ctx.Input(0).ElementCount;
        var shape = new int[spec.Length];
        int inferred = -1;
        long known = 1;
        for (int i = 0; i < spec.Length; i++)
        {
            long v = spec[i];
            if (v == -1)
            {
                if (inferred >= 0)
                {
                    throw ModelException.ForNode(Node, $"target shape {Fmt(spec)} has more than one -1");
                }
                inferred = i;
                continue;
            }
            if (v == 0 && !allowZero)
            {
                if (i >= inShape.Length)
                {
                    throw ModelException.ForNode(Node, $"target shape {Fmt(spec)} copies dimension {i} (0) but the input {Fmt(inShape)} has rank {inShape.Length}");
                }
                v = inShape[i];
            }
            if (v < 0 || v > int.MaxValue)
            {
                throw ModelException.ForNode(Node, $"target shape {Fmt(spec)} has an invalid dimension {spec[i]}");
            }
            shape[i] = (int)v;
            known *= v;
            if (known > Tensor.MaxElements)
            {
                throw ModelException.ForNode(Node, $"target shape {Fmt(spec)} has too many elements");
            }
        }
        if (inferred >= 0)
        {
            if (allowZero && known == 0)
            {
                throw ModelException.ForNode(Node, $"target shape {Fmt(spec)} has both 0 (allowzero) and -1");
            }
            if (known == 0 || inCount % known != 0)
            {
                throw ModelException.ForNode(Node, $"cannot reshape input of shape {Fmt(inShape)} ({inCount} elements) to {Fmt(spec)}: {inCount} is not a multiple of {known}");
            }
            shape[inferred] = (int)(inCount / known);
        }
        else if (known != inCount)
        {
            throw ModelException.ForNode(Node, $"cannot reshape input of shape {Fmt(inShape)} ({inCount} elements) to {Fmt(shape)} ({known} elements)");
        }
        SetView(ctx, shape);
    }
}

/// <summary>ONNX Flatten-1/9/11/13/21: [d0·…·d(axis-1), d(axis)·…·d(n-1)].</summary>
internal sealed class FlattenKernel : ViewKernel
{
    public FlattenKernel(OnnxNode node) : base(node) { }

    public override void Infer(InferContext ctx)
    {
        var inShape = ctx.InputShape(0);
        int rank = inShape.Length;
        long axis = Node.GetInt("axis", 1);
        if (axis < -rank || axis > rank)
        {
            throw ModelException.ForNode(Node, $"axis {axis} is out of range for an input of rank {rank} (allowed: {-rank} to {rank})");
        }
        int a = (int)(axis < 0 ? axis + rank : axis);
        SetView(ctx, [(int)Product(inShape, 0, a), (int)Product(inShape, a)]);
    }
}

/// <summary>ONNX Squeeze-1/11/13/21: axes attribute before opset 13, optional input from 13; none = all size-1 dims.</summary>
internal sealed class SqueezeKernel : ViewKernel
{
    private readonly int _opset;

    public SqueezeKernel(OnnxNode node, int opset) : base(node)
    {
        _opset = opset;
    }

    public override void Infer(InferContext ctx)
    {
        var inShape = ctx.InputShape(0);
        long[]? axes = _opset < 13 ? Node.GetInts("axes") : ctx.HasInput(1) ? ConstantInts(ctx, 1, "axes") : null;
        var drop = new bool[inShape.Length];
        if (axes is null)
        {
            for (int d = 0; d < inShape.Length; d++)
            {
                drop[d] = inShape[d] == 1;
            }
        }
        else
        {
            foreach (int a in Axes(Node, axes, inShape.Length))
            {
                if (inShape[a] != 1)
                {
                    throw ModelException.ForNode(Node, $"cannot squeeze axis {a} of shape {Fmt(inShape)}: its size is {inShape[a]}, not 1");
                }
                drop[a] = true;
            }
        }
        var shape = new List<int>();
        for (int d = 0; d < inShape.Length; d++)
        {
            if (!drop[d])
            {
                shape.Add(inShape[d]);
            }
        }
        SetView(ctx, shape.ToArray());
    }
}

/// <summary>ONNX Unsqueeze-1/11/13/21: axes attribute before opset 13, input from 13; axes index the output.</summary>
internal sealed class UnsqueezeKernel : ViewKernel
{
    private readonly int _opset;

    public UnsqueezeKernel(OnnxNode node, int opset) : base(node)
    {
        _opset = opset;
    }

    public override void Infer(InferContext ctx)
    {
        var inShape = ctx.InputShape(0);
        long[] axes = _opset < 13
            ? Node.GetInts("axes") ?? throw ModelException.ForNode(Node, "attribute 'axes' is required")
            : ConstantInts(ctx, 1, "axes");
        int rank = inShape.Length + axes.Length;
        var insert = new bool[rank];
        foreach (int a in Axes(Node, axes, rank))
        {
            insert[a] = true;
        }
        var shape = new int[rank];
        int k = 0;
        for (int d = 0; d < rank; d++)
        {
            shape[d] = insert[d] ? 1 : inShape[k++];
        }
        SetView(ctx, shape);
    }
}

/// <summary>ONNX Identity-1/13/14/16/19/21 (tensors only).</summary>
internal sealed class IdentityKernel : ViewKernel
{
    public IdentityKernel(OnnxNode node) : base(node) { }

    public override void Infer(InferContext ctx) => SetView(ctx, ctx.InputShape(0));
}

/// <summary>
/// ONNX Dropout-1/6/7/10/12/13 in inference mode: the output is the input and the optional mask
/// is all true (bool from opset 10, the input's type before). training_mode=true is rejected
/// because it needs random numbers.
/// </summary>
internal sealed unsafe class DropoutKernel : ViewKernel
{
    private readonly int _opset;
    private readonly bool _hasMask;
    private long _count;
    private byte[] _one = [];

    public DropoutKernel(OnnxNode node, int opset) : base(node)
    {
        _opset = opset;
        _hasMask = node.Outputs.Length > 1 && node.Outputs[1].Length > 0;
        if (opset < 7 && node.GetInt("is_test", 0) == 0 && node.HasAttribute("is_test"))
        {
            throw ModelException.Unsupported(node, "Dropout in training mode (is_test=0) needs random numbers");
        }
    }

    public override bool IsView => !_hasMask;

    public override void Infer(InferContext ctx)
    {
        if (_opset >= 12 && ctx.HasInput(2))
        {
            var training = ctx.RequireConstant(2, "training_mode");
            if (training.Type != DataType.Bool || training.Length != 1)
            {
                throw ModelException.ForNode(Node, $"training_mode must be a bool scalar but is {training}");
            }
            if (((bool[])training.Data)[0])
            {
                throw ModelException.Unsupported(Node, "Dropout with training_mode=true needs random numbers");
            }
        }
        SetView(ctx, ctx.InputShape(0));
        _count = ctx.Input(0).ElementCount;
        if (_hasMask)
        {
            var maskType = _opset >= 10 ? DataType.Bool : ctx.InputType(0);
            ctx.SetOutput(1, maskType, ctx.InputShape(0));
            _one = maskType switch
            {
                DataType.Bool => [1],
                DataType.Float32 => BitConverter.GetBytes(1f),
                DataType.Float64 => BitConverter.GetBytes(1d),
                _ => throw ModelException.Unsupported(Node, $"mask output of element type {DataTypes.Name(maskType)}"),
            };
        }
    }

    public override void Execute(ExecContext ctx)
    {
        base.Execute(ctx);
        if (_hasMask && ctx.HasOutput(1))
        {
            Fill(ctx.Out<byte>(1), _count, _one);
        }
    }
}
