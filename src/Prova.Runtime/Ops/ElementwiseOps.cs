using Prova.Core;
using Prova.Onnx;
using Prova.Runtime.Ops.Elementwise;

namespace Prova.Runtime.Ops;

/// <summary>
/// Elementwise ops (ONNX default domain): arithmetic with multidirectional broadcasting, activations,
/// comparisons and logic, Where, Cast, Clip, variadic Min/Max/Sum/Mean, Softmax/LogSoftmax.
/// Float32 everywhere (SIMD, deterministic math); int32/int64 for the arithmetic and comparisons used
/// in shape computations; bool for logic. Other element types are reported as unsupported.
/// </summary>
internal static class ElementwiseOps
{
    public static void Register(Dictionary<string, KernelFactory> registry)
    {
        registry["Add"] = (n, _) => Arithmetic<AddOp, IntAdd<int>, IntAdd<long>>(n);
        registry["Sub"] = (n, _) => Arithmetic<SubOp, IntSub<int>, IntSub<long>>(n);
        registry["Mul"] = (n, _) => Arithmetic<MulOp, IntMul<int>, IntMul<long>>(n);
        registry["Div"] = (n, _) => Arithmetic<DivOp, IntDiv<int>, IntDiv<long>>(n);
        registry["Pow"] = (n, _) => Pow(n);
        registry["PRelu"] = (n, _) => new FloatBinaryKernel<PReluOp>(n, default, unidirectional: true);
        registry["Mod"] = (n, _) => Mod(n);

        registry["Min"] = (n, _) => new VariadicKernel<MinOp, IntMin<int>, IntMin<long>>(n, mean: false);
        registry["Max"] = (n, _) => new VariadicKernel<MaxOp, IntMax<int>, IntMax<long>>(n, mean: false);
        registry["Sum"] = (n, _) => new VariadicKernel<AddOp, IntAdd<int>, IntAdd<long>>(n, mean: false);
        registry["Mean"] = (n, _) => new VariadicKernel<AddOp, IntAdd<int>, IntAdd<long>>(n, mean: true);

        registry["Neg"] = (n, _) => SignedUnary<NegOp, IntNeg<int>, IntNeg<long>>(n);
        registry["Abs"] = (n, _) => SignedUnary<AbsOp, IntAbs<int>, IntAbs<long>>(n);
        registry["Sign"] = (n, _) => SignedUnary<SignOp, IntSign<int>, IntSign<long>>(n);
        registry["Sqrt"] = (n, _) => new FloatUnaryKernel<SqrtOp>(n, default);
        registry["Reciprocal"] = (n, _) => new FloatUnaryKernel<ReciprocalOp>(n, default);
        registry["Exp"] = (n, _) => new FloatUnaryKernel<ExpOp>(n, default);
        registry["Log"] = (n, _) => new FloatUnaryKernel<LogOp>(n, default);
        registry["Tanh"] = (n, _) => new FloatUnaryKernel<TanhOp>(n, default);
        registry["Sigmoid"] = (n, _) => new FloatUnaryKernel<SigmoidOp>(n, default);
        registry["Erf"] = (n, _) => new FloatUnaryKernel<ErfOp>(n, default);
        registry["Sin"] = (n, _) => new FloatUnaryKernel<SinOp>(n, default);
        registry["Cos"] = (n, _) => new FloatUnaryKernel<CosOp>(n, default);
        registry["Floor"] = (n, _) => new FloatUnaryKernel<FloorOp>(n, default);
        registry["Ceil"] = (n, _) => new FloatUnaryKernel<CeilOp>(n, default);
        registry["Relu"] = (n, _) => new FloatUnaryKernel<ReluOp>(n, default);
        registry["LeakyRelu"] = (n, _) => new FloatUnaryKernel<LeakyReluOp>(n, new LeakyReluOp(n.GetFloat("alpha", 0.01f)));
        registry["HardSigmoid"] = (n, _) => new FloatUnaryKernel<HardSigmoidOp>(n, new HardSigmoidOp(n.GetFloat("alpha", 0.2f), n.GetFloat("beta", 0.5f)));
        registry["HardSwish"] = (n, _) => new FloatUnaryKernel<HardSwishOp>(n, default);
        registry["Elu"] = (n, _) => new FloatUnaryKernel<EluOp>(n, new EluOp(n.GetFloat("alpha", 1f)));
        registry["Selu"] = (n, _) => new FloatUnaryKernel<SeluOp>(n, new SeluOp(n.GetFloat("alpha", 1.67326319217681884765625f), n.GetFloat("gamma", 1.05070102214813232421875f)));
        registry["Softplus"] = (n, _) => new FloatUnaryKernel<SoftplusOp>(n, default);
        registry["Gelu"] = (n, _) => Gelu(n);
        registry["Clip"] = Clip;

        registry["Equal"] = (n, _) => Compare<EqualOp<float>, EqualOp<int>, EqualOp<long>>(n, withBool: true);
        registry["Less"] = (n, _) => Compare<LessOp<float>, LessOp<int>, LessOp<long>>(n);
        registry["LessOrEqual"] = (n, _) => Compare<LessOrEqualOp<float>, LessOrEqualOp<int>, LessOrEqualOp<long>>(n);
        registry["Greater"] = (n, _) => Compare<GreaterOp<float>, GreaterOp<int>, GreaterOp<long>>(n);
        registry["GreaterOrEqual"] = (n, _) => Compare<GreaterOrEqualOp<float>, GreaterOrEqualOp<int>, GreaterOrEqualOp<long>>(n);
        registry["And"] = (n, _) => new ScalarBinaryKernel<bool, bool, AndOp>(n, default);
        registry["Or"] = (n, _) => new ScalarBinaryKernel<bool, bool, OrOp>(n, default);
        registry["Xor"] = (n, _) => new ScalarBinaryKernel<bool, bool, XorOp>(n, default);
        registry["Not"] = (n, _) => new ScalarUnaryKernel<bool, bool, NotOp>(n, default);
        registry["Where"] = (n, _) => Where(n);
        registry["IsNaN"] = (n, _) => new ScalarUnaryKernel<float, bool, IsNaNOp>(n, default);
        registry["IsInf"] = (n, _) => new ScalarUnaryKernel<float, bool, IsInfOp>(n, new IsInfOp(n.GetInt("detect_positive", 1) != 0, n.GetInt("detect_negative", 1) != 0));
        registry["Cast"] = (n, _) => CastKernels.Create(n);

        registry["Softmax"] = (n, opset) => new SoftmaxKernel(n, opset, log: false);
        registry["LogSoftmax"] = (n, opset) => new SoftmaxKernel(n, opset, log: true);
    }

    private static Kernel Arithmetic<TF, TI32, TI64>(OnnxNode node)
        where TF : struct, Simd.IBinaryOperator
        where TI32 : struct, IScalarBinary<int, int>
        where TI64 : struct, IScalarBinary<long, long>
        => new TypedKernel(node, ctx => ctx.ExpectType(0, DataType.Float32, DataType.Int32, DataType.Int64) switch
        {
            DataType.Float32 => new FloatBinaryKernel<TF>(node, default),
            DataType.Int32 => new ScalarBinaryKernel<int, int, TI32>(node, default),
            _ => new ScalarBinaryKernel<long, long, TI64>(node, default),
        });

    private static Kernel SignedUnary<TF, TI32, TI64>(OnnxNode node)
        where TF : struct, Simd.IUnaryOperator
        where TI32 : struct, IScalarUnary<int, int>
        where TI64 : struct, IScalarUnary<long, long>
        => new TypedKernel(node, ctx => ctx.ExpectType(0, DataType.Float32, DataType.Int32, DataType.Int64) switch
        {
            DataType.Float32 => new FloatUnaryKernel<TF>(node, default),
            DataType.Int32 => new ScalarUnaryKernel<int, int, TI32>(node, default),
            _ => new ScalarUnaryKernel<long, long, TI64>(node, default),
        });

    private static Kernel Compare<TF, TI32, TI64>(OnnxNode node, bool withBool = false)
        where TF : struct, IScalarBinary<float, bool>
        where TI32 : struct, IScalarBinary<int, bool>
        where TI64 : struct, IScalarBinary<long, bool>
        => new TypedKernel(node, ctx => (withBool
            ? ctx.ExpectType(0, DataType.Float32, DataType.Int32, DataType.Int64, DataType.Bool)
            : ctx.ExpectType(0, DataType.Float32, DataType.Int32, DataType.Int64)) switch
        {
            DataType.Float32 => new ScalarBinaryKernel<float, bool, TF>(node, default),
            DataType.Int32 => new ScalarBinaryKernel<int, bool, TI32>(node, default),
            DataType.Int64 => new ScalarBinaryKernel<long, bool, TI64>(node, default),
            _ => new ScalarBinaryKernel<bool, bool, EqualOp<bool>>(node, default),
        });

    private static Kernel Mod(OnnxNode node)
    {
        bool fmod = node.GetInt("fmod", 0) != 0;
        return new TypedKernel(node, ctx => ctx.ExpectType(0, DataType.Float32, DataType.Int32, DataType.Int64) switch
        {
            DataType.Float32 => fmod
                ? new ScalarBinaryKernel<float, float, FloatFmod>(node, default)
                : throw ModelException.ForNode(node, "Mod on floating-point inputs requires fmod = 1"),
            DataType.Int32 => fmod ? new ScalarBinaryKernel<int, int, IntFmod<int>>(node, default) : new ScalarBinaryKernel<int, int, IntMod<int>>(node, default),
            _ => fmod ? new ScalarBinaryKernel<long, long, IntFmod<long>>(node, default) : new ScalarBinaryKernel<long, long, IntMod<long>>(node, default),
        });
    }

    private static Kernel Gelu(OnnxNode node) => node.GetString("approximate", "none") switch
    {
        "none" => new FloatUnaryKernel<GeluOp>(node, default),
        "tanh" => new FloatUnaryKernel<GeluTanhOp>(node, default),
        var other => throw ModelException.ForNode(node, $"attribute 'approximate' must be 'none' or 'tanh', not '{other}'"),
    };

    private static Kernel Pow(OnnxNode node) => new TypedKernel(node, ctx =>
    {
        ctx.ExpectType(0, DataType.Float32);
        var y = ctx.Constant(1);
        // A constant small-integer exponent that does not change the output shape: the unrolled
        // integer path, bit-identical to DetMath.Pow's (PowInt).
        if (y is not null && y.Length == 1 && Tensor.ElementCount(y.Shape) == 1
            && BroadcastLayout.Shape(node, ctx.InputShape(0), ctx.InputShape(1)).AsSpan().SequenceEqual(ctx.InputShape(0)))
        {
            double e = y.Data switch
            {
                float[] f => f[0],
                int[] i => i[0],
                long[] l => l[0],
                _ => double.NaN,
            };
            if (System.Math.Floor(e) == e && System.Math.Abs(e) <= 32)
            {
                return new FloatUnaryKernel<PowIntOp>(node, new PowIntOp((int)e));
            }
        }
        return new FloatBinaryKernel<PowOp>(node, default, intB: true);
    });

    private static Kernel Where(OnnxNode node) => new TypedKernel(node, ctx => DataTypes.SizeOf(ctx.InputType(1)) switch
    {
        1 => new WhereKernel<byte>(node, ctx.InputType(1)),
        2 => new WhereKernel<short>(node, ctx.InputType(1)),
        4 => new WhereKernel<int>(node, ctx.InputType(1)),
        8 => new WhereKernel<long>(node, ctx.InputType(1)),
        _ => throw ModelException.Unsupported(node, $"element type {DataTypes.Name(ctx.InputType(1))}"),
    });

    private static Kernel Clip(OnnxNode node, int opset)
    {
        float attrMin = node.GetFloat("min", float.NegativeInfinity);
        float attrMax = node.GetFloat("max", float.PositiveInfinity);
        return new TypedKernel(node, ctx =>
        {
            var type = ctx.ExpectType(0, DataType.Float32, DataType.Int32, DataType.Int64);
            if (opset < 11)
            {
                return type == DataType.Float32
                    ? new FloatUnaryKernel<ClipOp>(node, new ClipOp(attrMin, attrMax))
                    : throw ModelException.Unsupported(node, $"Clip before opset 11 on {DataTypes.Name(type)}");
            }
            for (int i = 1; i < 3; i++)
            {
                if (ctx.HasInput(i))
                {
                    ctx.ExpectType(i, type);
                    if (ctx.Input(i).ElementCount != 1)
                    {
                        throw ModelException.ForNode(node, $"input {i} ('{node.Inputs[i]}') must be a scalar but has shape {ErrorText.Shape(ctx.InputShape(i))}");
                    }
                }
            }
            return type switch
            {
                DataType.Float32 => new FloatUnaryKernel<ClipOp>(node, default)
                {
                    RuntimeOp = ec => new ClipOp(Bound(ec, 1, float.NegativeInfinity), Bound(ec, 2, float.PositiveInfinity)),
                },
                DataType.Int32 => new ScalarUnaryKernel<int, int, IntClip<int>>(node, default)
                {
                    RuntimeOp = ec => new IntClip<int>(Bound(ec, 1, int.MinValue), Bound(ec, 2, int.MaxValue)),
                },
                _ => new ScalarUnaryKernel<long, long, IntClip<long>>(node, default)
                {
                    RuntimeOp = ec => new IntClip<long>(Bound(ec, 1, long.MinValue), Bound(ec, 2, long.MaxValue)),
                },
            };
        });
    }

    private static unsafe T Bound<T>(ExecContext ctx, int input, T fallback) where T : unmanaged
        => ctx.HasInput(input) ? *ctx.In<T>(input) : fallback;
}
