using Prova.Core;
using Prova.Onnx;
using Prova.Runtime.Simd;

namespace Prova.Runtime.Ops.Elementwise;

/// <summary>Picks the implementation for the element types seen at plan time.</summary>
internal sealed class TypedKernel : Kernel
{
    private readonly Func<InferContext, Kernel> _select;
    private Kernel? _impl;

    public TypedKernel(OnnxNode node, Func<InferContext, Kernel> select) : base(node)
    {
        _select = select;
    }

    public override void Infer(InferContext ctx)
    {
        _impl = _select(ctx);
        _impl.Infer(ctx);
    }

    public override void Execute(ExecContext ctx) => _impl!.Execute(ctx);
}

/// <summary>Float32 unary op on the SIMD ladder; parallel over big tensors.</summary>
internal sealed unsafe class FloatUnaryKernel<TOp> : Kernel, IRangeBody where TOp : struct, IUnaryOperator
{
    private TOp _op;
    private float* _x;
    private float* _y;

    public FloatUnaryKernel(OnnxNode node, TOp op) : base(node)
    {
        _op = op;
    }

    public override void Infer(InferContext ctx)
    {
        ctx.ExpectType(0, DataType.Float32);
        ctx.SetOutput(0, DataType.Float32, ctx.InputShape(0));
    }

    /// <summary>Optional: builds the op at run time from inputs not known at plan time (Clip's bounds).</summary>
    public Func<ExecContext, TOp>? RuntimeOp { get; init; }

    public override void Execute(ExecContext ctx)
    {
        if (RuntimeOp is not null)
        {
            _op = RuntimeOp(ctx);
        }
        _x = ctx.In<float>(0);
        _y = ctx.Out<float>(0);
        int n = ctx.OutSpan<float>(0).Length;
        if (ctx.Pool.Threads > 1 && n >= 2 * BroadcastKernel.Grain)
        {
            ctx.Pool.For(n, this, BroadcastKernel.Grain);
        }
        else
        {
            SimdLoop.Unary(_op, _x, _y, n, SimdLoop.HardwareBits);
        }
    }

    void IRangeBody.Execute(int begin, int end) => SimdLoop.Unary(_op, _x + begin, _y + begin, end - begin, SimdLoop.HardwareBits);
}

/// <summary>Unary op on other element types: a plain scalar loop.</summary>
internal sealed unsafe class ScalarUnaryKernel<TIn, TOut, TOp> : Kernel
    where TIn : unmanaged where TOut : unmanaged where TOp : struct, IScalarUnary<TIn, TOut>
{
    private TOp _op;

    public ScalarUnaryKernel(OnnxNode node, TOp op) : base(node)
    {
        _op = op;
    }

    public override void Infer(InferContext ctx)
    {
        ctx.ExpectType(0, DataTypes.Of<TIn>());
        ctx.SetOutput(0, DataTypes.Of<TOut>(), ctx.InputShape(0));
    }

    /// <inheritdoc cref="FloatUnaryKernel{TOp}.RuntimeOp"/>
    public Func<ExecContext, TOp>? RuntimeOp { get; init; }

    public override void Execute(ExecContext ctx)
    {
        if (RuntimeOp is not null)
        {
            _op = RuntimeOp(ctx);
        }
        var x = ctx.InSpan<TIn>(0);
        var y = ctx.OutSpan<TOut>(0);
        for (int i = 0; i < y.Length; i++)
        {
            y[i] = _op.Invoke(x[i]);
        }
    }
}

/// <summary>Float32 binary op with broadcasting; the inner loop is the SIMD ladder.</summary>
internal sealed unsafe class FloatBinaryKernel<TOp> : BroadcastKernel where TOp : struct, IBinaryOperator
{
    private readonly TOp _op;
    private readonly bool _unidirectional;
    private readonly bool _intB;
    private DataType _bType;
    private float* _a;
    private float* _b;
    private float* _y;

    /// <param name="unidirectional">PRelu: the output has input 0's shape.</param>
    /// <param name="intB">Pow: input 1 may be int32/int64, converted to float first.</param>
    public FloatBinaryKernel(OnnxNode node, TOp op, bool unidirectional = false, bool intB = false) : base(node)
    {
        _op = op;
        _unidirectional = unidirectional;
        _intB = intB;
    }

    public override void Infer(InferContext ctx)
    {
        ctx.ExpectType(0, DataType.Float32);
        _bType = ctx.ExpectType(1, _intB ? [DataType.Float32, DataType.Int32, DataType.Int64] : [DataType.Float32]);
        if (_bType != DataType.Float32)
        {
            ctx.RequestScratch(ctx.Input(1).ElementCount * sizeof(float));
        }
        var a = ctx.InputShape(0);
        var b = ctx.InputShape(1);
        if (_unidirectional && ctx.Opset < 7 && b.Length == 1 && a.Length >= 3 && b[0] == a[1])
        {
            // PRelu before opset 7 applies a 1-D slope per channel (axis 1), not numpy-style to the last axis.
            var channel = new int[a.Length - 1];
            Array.Fill(channel, 1);
            channel[0] = b[0];
            b = channel;
        }
        var shape = BroadcastLayout.Shape(Node, a, b);
        if (_unidirectional && !shape.AsSpan().SequenceEqual(a))
        {
            throw ModelException.ForNode(Node, $"input 1 of shape {ErrorText.Shape(b)} does not broadcast to input 0's shape {ErrorText.Shape(a)}");
        }
        ctx.SetOutput(0, DataType.Float32, Plan(shape, a, b));
    }

    public override void Execute(ExecContext ctx)
    {
        _a = ctx.In<float>(0);
        _b = ctx.In<float>(1);
        _y = ctx.Out<float>(0);
        if (_bType != DataType.Float32)
        {
            var converted = (float*)ctx.Scratch;
            if (_bType == DataType.Int32)
            {
                var src = ctx.InSpan<int>(1);
                for (int i = 0; i < src.Length; i++)
                {
                    converted[i] = src[i];
                }
            }
            else
            {
                var src = ctx.InSpan<long>(1);
                for (int i = 0; i < src.Length; i++)
                {
                    converted[i] = src[i];
                }
            }
            _b = converted;
        }
        Run(ctx);
    }

    protected override void Inner(ReadOnlySpan<nint> offsets, nint output, nint count)
        => SimdLoop.Binary(_op, _a + offsets[0], Layout.InnerStride(0), _b + offsets[1], Layout.InnerStride(1), _y + output, count, SimdLoop.HardwareBits);
}

/// <summary>Binary op with broadcasting for non-float paths (integers, comparisons, logic).</summary>
internal sealed unsafe class ScalarBinaryKernel<TIn, TOut, TOp> : BroadcastKernel
    where TIn : unmanaged where TOut : unmanaged where TOp : struct, IScalarBinary<TIn, TOut>
{
    private readonly TOp _op;
    private TIn* _a;
    private TIn* _b;
    private TOut* _y;

    public ScalarBinaryKernel(OnnxNode node, TOp op) : base(node)
    {
        _op = op;
    }

    public override void Infer(InferContext ctx)
    {
        var type = DataTypes.Of<TIn>();
        ctx.ExpectType(0, type);
        ctx.ExpectType(1, type);
        var a = ctx.InputShape(0);
        var b = ctx.InputShape(1);
        ctx.SetOutput(0, DataTypes.Of<TOut>(), Plan(BroadcastLayout.Shape(Node, a, b), a, b));
    }

    public override void Execute(ExecContext ctx)
    {
        _a = ctx.In<TIn>(0);
        _b = ctx.In<TIn>(1);
        _y = ctx.Out<TOut>(0);
        Run(ctx);
    }

    protected override void Inner(ReadOnlySpan<nint> offsets, nint output, nint count)
    {
        TIn* a = _a + offsets[0];
        TIn* b = _b + offsets[1];
        TOut* y = _y + output;
        nint sa = Layout.InnerStride(0);
        nint sb = Layout.InnerStride(1);
        for (nint i = 0; i < count; i++)
        {
            y[i] = _op.Invoke(a[i * sa], b[i * sb]);
        }
    }
}

/// <summary>Where(condition, X, Y) with three-way broadcasting; copies elements of any type.</summary>
internal sealed unsafe class WhereKernel<T> : BroadcastKernel where T : unmanaged
{
    private readonly DataType _type;
    private bool* _c;
    private T* _x;
    private T* _yIn;
    private T* _out;

    public WhereKernel(OnnxNode node, DataType type) : base(node)
    {
        _type = type;
    }

    public override void Infer(InferContext ctx)
    {
        ctx.ExpectType(0, DataType.Bool);
        ctx.ExpectType(1, _type);
        ctx.ExpectType(2, _type);
        var c = ctx.InputShape(0);
        var x = ctx.InputShape(1);
        var y = ctx.InputShape(2);
        ctx.SetOutput(0, _type, Plan(BroadcastLayout.Shape(Node, c, x, y), c, x, y));
    }

    public override void Execute(ExecContext ctx)
    {
        _c = ctx.In<bool>(0);
        _x = ctx.In<T>(1);
        _yIn = ctx.In<T>(2);
        _out = ctx.Out<T>(0);
        Run(ctx);
    }

    protected override void Inner(ReadOnlySpan<nint> offsets, nint output, nint count)
    {
        bool* c = _c + offsets[0];
        T* x = _x + offsets[1];
        T* y = _yIn + offsets[2];
        T* o = _out + output;
        nint sc = Layout.InnerStride(0);
        nint sx = Layout.InnerStride(1);
        nint sy = Layout.InnerStride(2);
        for (nint i = 0; i < count; i++)
        {
            o[i] = c[i * sc] ? x[i * sx] : y[i * sy];
        }
    }
}

/// <summary>
/// Variadic Min/Max/Sum/Mean: inputs are folded left to right, out = op(…op(op(x0, x1), x2)…, xn),
/// each step broadcasting into the final shape; Mean then divides by n. A fixed order, so deterministic.
/// </summary>
internal sealed unsafe class VariadicKernel<TFloatOp, TIntOp32, TIntOp64> : Kernel
    where TFloatOp : struct, IBinaryOperator
    where TIntOp32 : struct, IScalarBinary<int, int>
    where TIntOp64 : struct, IScalarBinary<long, long>
{
    private readonly bool _mean;
    private readonly List<Kernel> _steps = [];
    private DataType _type;
    private int[] _shape = [];

    public VariadicKernel(OnnxNode node, bool mean) : base(node)
    {
        _mean = mean;
    }

    public override void Infer(InferContext ctx)
    {
        if (ctx.InputCount == 0)
        {
            throw ModelException.ForNode(Node, "needs at least one input");
        }
        _type = _mean ? ctx.ExpectType(0, DataType.Float32) : ctx.ExpectType(0, DataType.Float32, DataType.Int32, DataType.Int64);
        var shapes = new int[ctx.InputCount][];
        for (int i = 0; i < shapes.Length; i++)
        {
            ctx.ExpectType(i, _type);
            shapes[i] = ctx.InputShape(i);
        }
        _shape = BroadcastLayout.Shape(Node, shapes);
        ctx.SetOutput(0, _type, _shape);
        _steps.Clear();
        if (shapes.Length == 1)
        {
            return;
        }
        for (int i = 1; i < shapes.Length; i++)
        {
            var left = i == 1 ? shapes[0] : _shape;
            _steps.Add(_type switch
            {
                DataType.Float32 => new Step<float, FloatAdapter>(Node, left, shapes[i], _shape),
                DataType.Int32 => new Step<int, TIntOp32>(Node, left, shapes[i], _shape),
                _ => new Step<long, TIntOp64>(Node, left, shapes[i], _shape),
            });
        }
    }

    public override void Execute(ExecContext ctx)
    {
        int size = DataTypes.SizeOf(_type);
        byte* y = ctx.Out<byte>(0);
        long count = Tensor.ElementCount(_shape);
        if (_steps.Count == 0)
        {
            Buffer.MemoryCopy(ctx.In<byte>(0), y, count * size, count * size);
        }
        for (int i = 0; i < _steps.Count; i++)
        {
            var step = (IStep)_steps[i];
            step.Run(ctx, i == 0 ? ctx.In<byte>(0) : y, ctx.In<byte>(i + 1), y);
        }
        if (_mean)
        {
            SimdLoop.Unary(new DivideByOp(_steps.Count + 1), (float*)y, (float*)y, (nint)count, SimdLoop.HardwareBits);
        }
    }

    private interface IStep
    {
        void Run(ExecContext ctx, byte* a, byte* b, byte* y);
    }

    /// <summary>Adapts the SIMD float op to the step's loop.</summary>
    private readonly struct FloatAdapter : IScalarBinary<float, float>
    {
        public float Invoke(float a, float b) => default(TFloatOp).Invoke<float, int, ScalarLanes>(a, b);
    }

    private sealed class Step<T, TOp> : BroadcastKernel, IStep where T : unmanaged where TOp : struct, IScalarBinary<T, T>
    {
        private T* _a;
        private T* _b;
        private T* _y;

        public Step(OnnxNode node, int[] a, int[] b, int[] output) : base(node)
        {
            Plan(output, a, b);
        }

        public override void Infer(InferContext ctx) => throw new InvalidOperationException();

        public override void Execute(ExecContext ctx) => throw new InvalidOperationException();

        public void Run(ExecContext ctx, byte* a, byte* b, byte* y)
        {
            _a = (T*)a;
            _b = (T*)b;
            _y = (T*)y;
            Run(ctx);
        }

        protected override void Inner(ReadOnlySpan<nint> offsets, nint output, nint count)
        {
            if (typeof(T) == typeof(float))
            {
                SimdLoop.Binary(default(TFloatOp), (float*)_a + offsets[0], Layout.InnerStride(0), (float*)_b + offsets[1], Layout.InnerStride(1), (float*)_y + output, count, SimdLoop.HardwareBits);
                return;
            }
            T* a = _a + offsets[0];
            T* b = _b + offsets[1];
            T* y = _y + output;
            nint sa = Layout.InnerStride(0);
            nint sb = Layout.InnerStride(1);
            var op = default(TOp);
            for (nint i = 0; i < count; i++)
            {
                y[i] = op.Invoke(a[i * sa], b[i * sb]);
            }
        }
    }
}
