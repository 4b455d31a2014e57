using System.Numerics;
using Prova.Core;
using Prova.Onnx;

namespace Prova.Runtime.Ops.Elementwise;

/// <summary>
/// Cast (ONNX opset 1–21) between the numeric types and bool. Float → integer truncates toward
/// zero and saturates (NaN → 0), .NET's defined conversion on every platform; integer narrowing
/// wraps (two's complement); anything → bool is x != 0. The opset-19 "saturate" attribute only
/// concerns float8 types, which Prova does not hold.
/// </summary>
internal static class CastKernels
{
    public static Kernel Create(OnnxNode node)
    {
        long to = node.GetInt("to", 0);
        var target = (DataType)to;
        if (!node.HasAttribute("to"))
        {
            throw ModelException.ForNode(node, "attribute 'to' is required");
        }
        if (!DataTypes.IsSupported(target))
        {
            throw ModelException.Unsupported(node, $"cast to element type {DataTypes.Name(target)} ({to})");
        }
        return new TypedKernel(node, ctx => From(node, ctx.InputType(0), target));
    }

    private static Kernel From(OnnxNode node, DataType from, DataType to) => from switch
    {
        DataType.Float32 => To<float>(node, to),
        DataType.Float64 => To<double>(node, to),
        DataType.Int8 => To<sbyte>(node, to),
        DataType.UInt8 => To<byte>(node, to),
        DataType.Int16 => To<short>(node, to),
        DataType.UInt16 => To<ushort>(node, to),
        DataType.Int32 => To<int>(node, to),
        DataType.UInt32 => To<uint>(node, to),
        DataType.Int64 => To<long>(node, to),
        DataType.UInt64 => To<ulong>(node, to),
        DataType.Bool => FromBool(node, to),
        _ => throw ModelException.Unsupported(node, $"cast from element type {DataTypes.Name(from)}"),
    };

    private static Kernel To<TFrom>(OnnxNode node, DataType to) where TFrom : unmanaged, INumberBase<TFrom> => to switch
    {
        DataType.Float32 => new Numeric<TFrom, float>(node),
        DataType.Float64 => new Numeric<TFrom, double>(node),
        DataType.Int8 => new Numeric<TFrom, sbyte>(node),
        DataType.UInt8 => new Numeric<TFrom, byte>(node),
        DataType.Int16 => new Numeric<TFrom, short>(node),
        DataType.UInt16 => new Numeric<TFrom, ushort>(node),
        DataType.Int32 => new Numeric<TFrom, int>(node),
        DataType.UInt32 => new Numeric<TFrom, uint>(node),
        DataType.Int64 => new Numeric<TFrom, long>(node),
        DataType.UInt64 => new Numeric<TFrom, ulong>(node),
        _ => new ScalarUnaryKernel<TFrom, bool, ToBool<TFrom>>(node, default),
    };

    private static Kernel FromBool(OnnxNode node, DataType to) => to switch
    {
        DataType.Bool => new ScalarUnaryKernel<bool, bool, BoolIdentity>(node, default),
        _ => new BoolAsByte(node, To<byte>(node, to)),
    };

    private sealed unsafe class Numeric<TFrom, TTo>(OnnxNode node) : Kernel(node)
        where TFrom : unmanaged, INumberBase<TFrom> where TTo : unmanaged, INumberBase<TTo>
    {
        public override void Infer(InferContext ctx)
        {
            ctx.SetOutput(0, DataTypes.Of<TTo>(), ctx.InputShape(0));
        }

        public override void Execute(ExecContext ctx)
        {
            var x = ctx.InSpan<TFrom>(0);
            var y = ctx.OutSpan<TTo>(0);
            for (int i = 0; i < y.Length; i++)
            {
                y[i] = Convert(x[i]);
            }
        }

        private static TTo Convert(TFrom x)
        {
            // Float → integer: truncate toward zero, saturate, NaN → 0 (explicit so it never depends on the runtime version).
            if ((typeof(TFrom) == typeof(float) || typeof(TFrom) == typeof(double)) && typeof(TTo) != typeof(float) && typeof(TTo) != typeof(double))
            {
                return TFrom.IsNaN(x) ? TTo.Zero : TTo.CreateSaturating(x);
            }
            return TTo.CreateTruncating(x);
        }
    }

    /// <summary>Bool input read as bytes 0/1, then converted like uint8.</summary>
    private sealed class BoolAsByte(OnnxNode node, Kernel inner) : Kernel(node)
    {
        public override void Infer(InferContext ctx)
        {
            ctx.SetOutput(0, (DataType)Node.GetInt("to", 0), ctx.InputShape(0));
        }

        public override void Execute(ExecContext ctx) => inner.Execute(ctx);
    }

    private readonly struct ToBool<T> : IScalarUnary<T, bool> where T : INumberBase<T>
    {
        public bool Invoke(T x) => !T.IsZero(x);
    }

    private readonly struct BoolIdentity : IScalarUnary<bool, bool>
    {
        public bool Invoke(bool x) => x;
    }
}
