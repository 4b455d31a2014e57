using System.Runtime.InteropServices;
using Prova.Core;
using Prova.Onnx;
using static Prova.Runtime.Ops.Shape.ShapeHelpers;

namespace Prova.Runtime.Ops.Shape;

/// <summary>Kernels whose output is known at plan time; Execute writes the same value if ever run.</summary>
internal abstract unsafe class ConstantKernel : Kernel
{
    private Tensor? _value;

    protected ConstantKernel(OnnxNode node) : base(node) { }

    protected void SetConstant(InferContext ctx, Tensor value)
    {
        _value = value;
        ctx.SetOutputConstant(0, value);
    }

    public override void Execute(ExecContext ctx)
    {
        var bytes = _value!.Bytes();
        bytes.CopyTo(new Span<byte>(ctx.Out<byte>(0), bytes.Length));
    }
}

/// <summary>ONNX Shape-1/13/15/19/21 (start/end from 15, clamped like Slice).</summary>
internal sealed class ShapeKernel : ConstantKernel
{
    private readonly int _opset;

    public ShapeKernel(OnnxNode node, int opset) : base(node)
    {
        _opset = opset;
    }

    public override void Infer(InferContext ctx)
    {
        var shape = ctx.InputShape(0);
        int rank = shape.Length;
        long start = 0, end = rank;
        if (_opset >= 15)
        {
            start = Node.GetInt("start", 0);
            end = Node.GetInt("end", rank);
        }
        start = Math.Clamp(start < 0 ? start + rank : start, 0, rank);
        end = Math.Clamp(end < 0 ? end + rank : end, 0, rank);
        int n = (int)Math.Max(0, end - start);
        var values = new long[n];
        for (int i = 0; i < n; i++)
        {
            values[i] = shape[start + i];
        }
        SetConstant(ctx, Tensor.Create([n], values));
    }
}

/// <summary>ONNX Size-1/13/19/21: the element count as an int64 scalar.</summary>
internal sealed class SizeKernel : ConstantKernel
{
    public SizeKernel(OnnxNode node) : base(node) { }

    public override void Infer(InferContext ctx) => SetConstant(ctx, Tensor.Create([], new[] { ctx.Input(0).ElementCount }));
}

/// <summary>ONNX Constant-1/9/11/12/13/19/21: value, value_float(s), value_int(s).</summary>
internal sealed class ConstantOpKernel : ConstantKernel
{
    private readonly Tensor _constant;

    public ConstantOpKernel(OnnxNode node) : base(node)
    {
        if (node.Attributes.Count != 1)
        {
            throw ModelException.ForNode(node, $"needs exactly one value attribute but has {node.Attributes.Count}");
        }
        var attr = node.Attributes.Values.First();
        _constant = attr.Name switch
        {
            "value" => node.GetTensor("value") ?? throw ModelException.ForNode(node, "attribute 'value' must be a tensor"),
            "value_float" => Tensor.Create([], new[] { node.GetFloat("value_float", 0) }),
            "value_floats" => Tensor.Create([node.GetFloats("value_floats")?.Length ?? 0], node.GetFloats("value_floats") ?? []),
            "value_int" => Tensor.Create([], new[] { node.GetInt("value_int", 0) }),
            "value_ints" => Tensor.Create([node.GetInts("value_ints")?.Length ?? 0], node.GetInts("value_ints") ?? []),
            _ => throw ModelException.Unsupported(node, $"Constant attribute '{attr.Name}'"),
        };
    }

    public override void Infer(InferContext ctx) => SetConstant(ctx, _constant);
}

/// <summary>ONNX ConstantOfShape-9/20/21: a tensor of the given (constant) shape filled with value (default float 0).</summary>
internal sealed class ConstantOfShapeKernel : ConstantKernel
{
    private readonly Tensor _fill;

    public ConstantOfShapeKernel(OnnxNode node) : base(node)
    {
        _fill = node.GetTensor("value") ?? Tensor.Create([1], new[] { 0f });
        if (_fill.Length != 1)
        {
            throw ModelException.ForNode(node, $"attribute 'value' must hold one element but is {_fill}");
        }
    }

    public override void Infer(InferContext ctx)
    {
        var spec = ConstantInts(ctx, 0, "the output shape");
        var shape = new int[spec.Length];
        for (int i = 0; i < spec.Length; i++)
        {
            shape[i] = Dim(Node, spec[i], $"output dimension {i}");
        }
        Tensor value;
        try
        {
            value = Tensor.Zeros(_fill.Type, shape);
        }
        catch (TensorFormatException ex)
        {
            throw ModelException.ForNode(Node, ex.Message);
        }
        var pattern = ElementBytes(_fill);
        var dest = MemoryMarshal.CreateSpan(ref MemoryMarshal.GetArrayDataReference(value.Data), value.Length * pattern.Length);
        for (int i = 0; i < dest.Length; i += pattern.Length)
        {
            pattern.CopyTo(dest.Slice(i));
        }
        SetConstant(ctx, value);
    }
}

/// <summary>ONNX Range-11: start + i·delta for i in [0, max(ceil((limit - start) / delta), 0)); inputs must be known at plan time.</summary>
internal sealed class RangeKernel : ConstantKernel
{
    public RangeKernel(OnnxNode node) : base(node) { }

    public override void Infer(InferContext ctx)
    {
        var type = ctx.ExpectType(0, DataType.Float32, DataType.Float64, DataType.Int16, DataType.Int32, DataType.Int64);
        var start = ctx.RequireConstant(0, "start");
        var limit = ctx.RequireConstant(1, "limit");
        var delta = ctx.RequireConstant(2, "delta");
        if (limit.Type != type || delta.Type != type || start.Length != 1 || limit.Length != 1 || delta.Length != 1)
        {
            throw ModelException.ForNode(Node, $"start, limit and delta must be scalars of one type (got {start}, {limit}, {delta})");
        }
        Tensor result = type switch
        {
            DataType.Float32 => FloatRange(((float[])start.Data)[0], ((float[])limit.Data)[0], ((float[])delta.Data)[0]),
            DataType.Float64 => DoubleRange(((double[])start.Data)[0], ((double[])limit.Data)[0], ((double[])delta.Data)[0]),
            DataType.Int16 => IntRange(((short[])start.Data)[0], ((short[])limit.Data)[0], ((short[])delta.Data)[0], v => (short)v),
            DataType.Int32 => IntRange(((int[])start.Data)[0], ((int[])limit.Data)[0], ((int[])delta.Data)[0], v => (int)v),
            _ => IntRange(((long[])start.Data)[0], ((long[])limit.Data)[0], ((long[])delta.Data)[0], v => v),
        };
        SetConstant(ctx, result);
    }

    private int Count(double n)
    {
        if (double.IsNaN(n) || double.IsInfinity(n) || n > Tensor.MaxElements)
        {
            throw ModelException.ForNode(Node, $"Range would produce {n} elements");
        }
        return (int)Math.Max(0, Math.Ceiling(n));
    }

    private Tensor FloatRange(float start, float limit, float delta)
    {
        if (delta == 0)
        {
            throw ModelException.ForNode(Node, "delta is 0");
        }
        int n = Count(MathF.Ceiling((limit - start) / delta));
        var values = new float[n];
        for (int i = 0; i < n; i++)
        {
            values[i] = start + i * delta;
        }
        return Tensor.Create([n], values);
    }

    private Tensor DoubleRange(double start, double limit, double delta)
    {
        if (delta == 0)
        {
            throw ModelException.ForNode(Node, "delta is 0");
        }
        int n = Count(Math.Ceiling((limit - start) / delta));
        var values = new double[n];
        for (int i = 0; i < n; i++)
        {
            values[i] = start + i * delta;
        }
        return Tensor.Create([n], values);
    }

    private Tensor IntRange<T>(long start, long limit, long delta, Func<long, T> cast) where T : unmanaged
    {
        if (delta == 0)
        {
            throw ModelException.ForNode(Node, "delta is 0");
        }
        Int128 span = (Int128)limit - start;
        Int128 steps = delta > 0 ? (span + delta - 1) / delta : (span + delta + 1) / delta;
        int n = Count(steps <= 0 ? 0 : steps > Tensor.MaxElements ? double.PositiveInfinity : (double)steps);
        var values = new T[n];
        for (int i = 0; i < n; i++)
        {
            values[i] = cast(start + i * delta);
        }
        return Tensor.Create([n], values);
    }
}
