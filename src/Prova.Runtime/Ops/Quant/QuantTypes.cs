using System.Runtime.CompilerServices;
using Prova.Core;
using Prova.Onnx;

namespace Prova.Runtime.Ops.Quant;

/// <summary>Element access and value ranges of the quantized integer types.</summary>
internal static unsafe class QuantTypes
{
    /// <summary>The smallest and largest value of a quantized type.</summary>
    public static (int Lo, int Hi) Range(DataType type) => type switch
    {
        DataType.UInt8 => (byte.MinValue, byte.MaxValue),
        DataType.Int8 => (sbyte.MinValue, sbyte.MaxValue),
        DataType.UInt16 => (ushort.MinValue, ushort.MaxValue),
        DataType.Int16 => (short.MinValue, short.MaxValue),
        _ => (int.MinValue, int.MaxValue),
    };

    public static bool IsEightBit(DataType type) => type is DataType.UInt8 or DataType.Int8;

    /// <summary>Element i of an integer buffer of the given type, widened to int.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Load(byte* p, DataType type, long i) => type switch
    {
        DataType.UInt8 => p[i],
        DataType.Int8 => ((sbyte*)p)[i],
        DataType.UInt16 => ((ushort*)p)[i],
        DataType.Int16 => ((short*)p)[i],
        _ => ((int*)p)[i],
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Load<T>(T* p) where T : unmanaged
    {
        if (typeof(T) == typeof(byte))
        {
            return *(byte*)p;
        }
        if (typeof(T) == typeof(sbyte))
        {
            return *(sbyte*)p;
        }
        if (typeof(T) == typeof(ushort))
        {
            return *(ushort*)p;
        }
        if (typeof(T) == typeof(short))
        {
            return *(short*)p;
        }
        return *(int*)p;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store<T>(T* p, int v) where T : unmanaged
    {
        if (typeof(T) == typeof(byte))
        {
            *(byte*)p = (byte)v;
        }
        else if (typeof(T) == typeof(sbyte))
        {
            *(sbyte*)p = (sbyte)v;
        }
        else if (typeof(T) == typeof(ushort))
        {
            *(ushort*)p = (ushort)v;
        }
        else if (typeof(T) == typeof(short))
        {
            *(short*)p = (short)v;
        }
        else
        {
            *(int*)p = v;
        }
    }

    /// <summary>
    /// Checks a scale or zero-point input: a scalar / one element (per-tensor), or a 1-D tensor of
    /// <paramref name="channels"/> elements when per-channel is allowed. Returns its element count.
    /// </summary>
    public static int CheckParam(InferContext ctx, int i, string what, int channels, bool perChannelAllowed)
    {
        var shape = ctx.InputShape(i);
        long count = Tensor.ElementCount(shape);
        if (count == 1 && shape.Length <= 1)
        {
            return 1;
        }
        if (perChannelAllowed && shape.Length == 1 && count == channels)
        {
            return channels;
        }
        throw ModelException.ForNode(ctx.Node, $"{what} (input {i}) has shape [{string.Join(", ", shape)}]; expected a scalar" + (perChannelAllowed ? $" or [{channels}]" : ""));
    }

    /// <summary>The constant scale values of input i, checked positive and finite; null when not constant.</summary>
    public static float[]? ConstantScales(InferContext ctx, int i)
    {
        if (ctx.Constant(i) is not { } t)
        {
            return null;
        }
        var values = (float[])t.Data;
        foreach (var v in values)
        {
            if (!Requant.IsValidScale(v))
            {
                throw ModelException.ForNode(ctx.Node, $"scale input {i} ('{ctx.Node.Inputs[i]}') holds {v}; scales must be positive and finite");
            }
        }
        return values;
    }

    /// <summary>
    /// The output side shared by QLinearMatMul and QLinearConv: y_zero_point (input 7) type and
    /// shape, the optional int32 bias [channels] (input 8), the output range, and the requantisation
    /// constants from the scales (inputs 1, 4, 6) when they are constant — one per channel when
    /// <paramref name="perChannel"/>, else one.
    /// </summary>
    public static (DataType YType, int Lo, int Hi, Requant[] Rq, bool RqConstant) OutputRequant(InferContext ctx, int channels, bool perChannel)
    {
        var yType = ctx.ExpectType(7, DataType.UInt8, DataType.Int8);
        CheckParam(ctx, 7, "y_zero_point", 1, perChannelAllowed: false);
        if (ctx.HasInput(8))
        {
            ctx.ExpectType(8, DataType.Int32);
            if (ctx.InputShape(8) is not [var bn] || bn != channels)
            {
                throw ModelException.ForNode(ctx.Node, $"bias must be [{channels}]");
            }
        }
        var (lo, hi) = Range(yType);
        var rq = new Requant[perChannel ? channels : 1];
        var sx = ConstantScales(ctx, 1);
        var sw = ConstantScales(ctx, 4);
        var sy = ConstantScales(ctx, 6);
        bool constant = sx is not null && sw is not null && sy is not null;
        if (constant)
        {
            for (int j = 0; j < rq.Length; j++)
            {
                rq[j] = Requant.Derive(sx![0], sw![j], sy![0]);
            }
        }
        return (yType, lo, hi, rq, constant);
    }
}
