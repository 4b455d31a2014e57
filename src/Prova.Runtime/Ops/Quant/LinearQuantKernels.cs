using Prova.Core;
using Prova.Onnx;

namespace Prova.Runtime.Ops.Quant;

/// <summary>
/// Geometry shared by QuantizeLinear and DequantizeLinear: per-tensor (scalar scale) or per-axis
/// (1-D scale along <c>axis</c>); the element at flat index i uses parameter (i / inner) % channels.
/// </summary>
internal struct AxisLayout
{
    public long Count;
    public long Inner;
    public int Channels;

    public static AxisLayout Create(InferContext ctx, int opset, int scaleInput)
    {
        var node = ctx.Node;
        var x = ctx.InputShape(0);
        var scale = ctx.InputShape(scaleInput);
        if (node.GetInt("block_size", 0) != 0)
        {
            throw ModelException.Unsupported(node, "blocked quantization (block_size)");
        }
        var layout = new AxisLayout { Count = Tensor.ElementCount(x), Inner = 1, Channels = 1 };
        if (scale.Length == 0 || (scale.Length == 1 && scale[0] == 1 && opset < 13))
        {
            CheckZeroPointShape(ctx, scale);
            return layout;
        }
        if (opset < 13 || scale.Length != 1)
        {
            throw ModelException.ForNode(node, $"scale has shape [{string.Join(", ", scale)}]; expected a scalar" + (opset >= 13 ? " or a 1-D per-axis tensor" : ""));
        }
        long axis = node.GetInt("axis", 1);
        if (axis < -x.Length || axis >= x.Length)
        {
            throw ModelException.ForNode(node, $"axis {axis} is out of range for input of rank {x.Length}");
        }
        int a = (int)(axis < 0 ? axis + x.Length : axis);
        if (x[a] != scale[0])
        {
            // A one-element 1-D scale is per-tensor too.
            if (scale[0] == 1)
            {
                CheckZeroPointShape(ctx, scale);
                return layout;
            }
            throw ModelException.ForNode(node, $"scale has {scale[0]} elements but axis {a} of the input has {x[a]}");
        }
        for (int d = a + 1; d < x.Length; d++)
        {
            layout.Inner *= x[d];
        }
        layout.Channels = x[a];
        CheckZeroPointShape(ctx, scale);
        return layout;
    }

    private static void CheckZeroPointShape(InferContext ctx, int[] scale)
    {
        if (ctx.HasInput(2) && !ctx.InputShape(2).AsSpan().SequenceEqual(scale))
        {
            throw ModelException.ForNode(ctx.Node, $"zero point shape [{string.Join(", ", ctx.InputShape(2))}] differs from scale shape [{string.Join(", ", scale)}]");
        }
    }
}

/// <summary>
/// ONNX QuantizeLinear (opsets 10–21; uint8, int8, uint16, int16 outputs):
/// y = saturate(round_half_to_even(x / y_scale) + y_zero_point), the division in float32.
/// NaN maps to the zero point.
/// </summary>
internal sealed unsafe class QuantizeLinearKernel : Kernel
{
    private readonly int _opset;
    private AxisLayout _layout;
    private DataType _outType;
    private int _lo;
    private int _hi;

    public QuantizeLinearKernel(OnnxNode node, int opset) : base(node)
    {
        _opset = opset;
    }

    public override void Infer(InferContext ctx)
    {
        ctx.ExpectType(0, DataType.Float32);
        ctx.ExpectType(1, DataType.Float32);
        if (ctx.HasInput(2))
        {
            _outType = ctx.ExpectType(2, DataType.UInt8, DataType.Int8, DataType.UInt16, DataType.Int16);
        }
        else
        {
            long dt = Node.GetInt("output_dtype", 0);
            _outType = dt == 0 ? DataType.UInt8 : (DataType)dt;
            if (_outType is not (DataType.UInt8 or DataType.Int8 or DataType.UInt16 or DataType.Int16))
            {
                throw ModelException.Unsupported(Node, $"output_dtype {dt}");
            }
        }
        if (Node.GetInt("saturate", 1) != 1)
        {
            throw ModelException.Unsupported(Node, "saturate=0 (only meaningful for float8 outputs)");
        }
        _layout = AxisLayout.Create(ctx, _opset, 1);
        (_lo, _hi) = QuantTypes.Range(_outType);
        ctx.SetOutput(0, _outType, ctx.InputShape(0));
    }

    public override void Execute(ExecContext ctx)
    {
        switch (_outType)
        {
            case DataType.UInt8:
                Run<byte>(ctx);
                break;
            case DataType.Int8:
                Run<sbyte>(ctx);
                break;
            case DataType.UInt16:
                Run<ushort>(ctx);
                break;
            default:
                Run<short>(ctx);
                break;
        }
    }

    private void Run<T>(ExecContext ctx) where T : unmanaged
    {
        float* x = ctx.In<float>(0);
        float* scale = ctx.In<float>(1);
        T* zp = ctx.HasInput(2) ? ctx.In<T>(2) : null;
        T* y = ctx.Out<T>(0);
        long inner = _layout.Inner;
        int channels = _layout.Channels;
        for (long start = 0; start < _layout.Count; start += inner)
        {
            int c = (int)(start / inner % channels);
            float s = scale[c];
            int z = zp is null ? 0 : QuantTypes.Load(zp + c);
            float lo = _lo - z;
            float hi = _hi - z;
            long end = Math.Min(_layout.Count, start + inner);
            for (long i = start; i < end; i++)
            {
                QuantTypes.Store(y + i, Quantize(x[i], s, z, lo, hi));
            }
        }
    }

    /// <summary>saturate(round_half_even(x / s) + z); lo and hi are the output range minus z.</summary>
    public static int Quantize(float x, float s, int z, float lo, float hi)
    {
        float r = MathF.Round(x / s, MidpointRounding.ToEven);
        if (r >= hi)
        {
            return (int)hi + z;
        }
        if (r <= lo)
        {
            return (int)lo + z;
        }
        return float.IsNaN(r) ? z : (int)r + z;
    }
}

/// <summary>
/// ONNX DequantizeLinear (opsets 10–21; uint8, int8, uint16, int16, int32 inputs):
/// y = float32(x − x_zero_point) · x_scale, the subtraction in integers, one float32 multiply.
/// </summary>
internal sealed unsafe class DequantizeLinearKernel : Kernel
{
    private readonly int _opset;
    private AxisLayout _layout;
    private DataType _inType;

    public DequantizeLinearKernel(OnnxNode node, int opset) : base(node)
    {
        _opset = opset;
    }

    public override void Infer(InferContext ctx)
    {
        _inType = ctx.ExpectType(0, DataType.UInt8, DataType.Int8, DataType.UInt16, DataType.Int16, DataType.Int32);
        ctx.ExpectType(1, DataType.Float32);
        if (ctx.HasInput(2) && ctx.InputType(2) != _inType)
        {
            throw ModelException.ForNode(Node, $"zero point type {DataTypes.Name(ctx.InputType(2))} differs from input type {DataTypes.Name(_inType)}");
        }
        _layout = AxisLayout.Create(ctx, _opset, 1);
        ctx.SetOutput(0, DataType.Float32, ctx.InputShape(0));
    }

    public override void Execute(ExecContext ctx)
    {
        byte* x = ctx.In<byte>(0);
        float* scale = ctx.In<float>(1);
        byte* zp = ctx.HasInput(2) ? ctx.In<byte>(2) : null;
        float* y = ctx.Out<float>(0);
        long inner = _layout.Inner;
        int channels = _layout.Channels;
        var type = _inType;
        for (long start = 0; start < _layout.Count; start += inner)
        {
            int c = (int)(start / inner % channels);
            float s = scale[c];
            int z = zp is null ? 0 : QuantTypes.Load(zp, type, c);
            long end = Math.Min(_layout.Count, start + inner);
            for (long i = start; i < end; i++)
            {
                y[i] = (float)(QuantTypes.Load(x, type, i) - z) * s;
            }
        }
    }
}

/// <summary>
/// ONNX DynamicQuantizeLinear (opset 11): uint8 y, y_scale, y_zero_point from the input's range
/// (extended to include 0): scale = (max − min) / 255 (1 when max = min),
/// zero_point = saturate(round_half_even(0 − min / scale)), y = QuantizeLinear(x, scale, zero_point).
/// </summary>
internal sealed unsafe class DynamicQuantizeLinearKernel : Kernel
{
    public DynamicQuantizeLinearKernel(OnnxNode node) : base(node)
    {
    }

    public override void Infer(InferContext ctx)
    {
        ctx.ExpectType(0, DataType.Float32);
        ctx.SetOutput(0, DataType.UInt8, ctx.InputShape(0));
        if (ctx.OutputCount > 1)
        {
            ctx.SetOutput(1, DataType.Float32, []);
        }
        if (ctx.OutputCount > 2)
        {
            ctx.SetOutput(2, DataType.UInt8, []);
        }
    }

    public override void Execute(ExecContext ctx)
    {
        float* x = ctx.In<float>(0);
        long count = ctx.InSpan<float>(0).Length;
        float min = 0;
        float max = 0;
        for (long i = 0; i < count; i++)
        {
            float v = x[i];
            if (v < min)
            {
                min = v;
            }
            if (v > max)
            {
                max = v;
            }
        }
        float scale = max == min ? 1f : (max - min) / 255f;
        float zpf = MathF.Round(Math.Clamp(0f - min / scale, 0f, 255f), MidpointRounding.ToEven);
        int zp = (int)zpf;
        byte* y = ctx.Out<byte>(0);
        float lo = -zp;
        float hi = 255 - zp;
        for (long i = 0; i < count; i++)
        {
            y[i] = (byte)QuantizeLinearKernel.Quantize(x[i], scale, zp, lo, hi);
        }
        if (ctx.HasOutput(1))
        {
            *ctx.Out<float>(1) = scale;
        }
        if (ctx.HasOutput(2))
        {
            *ctx.Out<byte>(2) = (byte)zp;
        }
    }
}
