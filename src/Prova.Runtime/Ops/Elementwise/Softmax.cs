using System.Runtime.Intrinsics;
using Prova.Core;
using Prova.Onnx;
using Prova.Runtime.Simd;

namespace Prova.Runtime.Ops.Elementwise;

/// <summary>
/// Softmax / LogSoftmax (ONNX opset 1–13+). Opset &lt; 13 coerces the input to 2-D [prod(dims before axis),
/// prod(dims from axis)] (default axis 1); opset ≥ 13 normalises along one axis (default -1).
/// Numerically stable: y = e^{x - max} / Σ e^{x - max}. The sum along a contiguous row uses 16 fixed
/// partial accumulators (lane j adds elements j, j+16, …, the tail continues the same lanes), combined
/// in lane order; every vector width and the scalar path compute exactly that.
/// </summary>
internal sealed unsafe class SoftmaxKernel : Kernel, IRangeBody
{
    private const int Lanes = 16;

    private readonly bool _log;
    private int _outer;
    private int _d;
    private int _inner;
    private float* _x;
    private float* _y;

    public SoftmaxKernel(OnnxNode node, int opset, bool log) : base(node)
    {
        _log = log;
        Opset = opset;
    }

    private int Opset { get; }

    public override void Infer(InferContext ctx)
    {
        ctx.ExpectType(0, DataType.Float32);
        var shape = ctx.InputShape(0);
        int rank = shape.Length;
        long axis = Node.GetInt("axis", Opset < 13 ? 1 : -1);
        if (axis < -rank || axis >= System.Math.Max(rank, 1))
        {
            throw ModelException.ForNode(Node, $"axis {axis} is out of range for an input of rank {rank}");
        }
        int a = rank == 0 ? 0 : (int)(axis < 0 ? axis + rank : axis);
        long outer = 1;
        for (int i = 0; i < a; i++)
        {
            outer *= shape[i];
        }
        long d = 1;
        long inner = 1;
        if (Opset < 13)
        {
            for (int i = a; i < rank; i++)
            {
                d *= shape[i];
            }
        }
        else
        {
            d = rank == 0 ? 1 : shape[a];
            for (int i = a + 1; i < rank; i++)
            {
                inner *= shape[i];
            }
        }
        _outer = (int)outer;
        _d = (int)d;
        _inner = (int)inner;
        ctx.SetOutput(0, DataType.Float32, shape);
    }

    public override void Execute(ExecContext ctx)
    {
        _x = ctx.In<float>(0);
        _y = ctx.Out<float>(0);
        long total = (long)_outer * _d * _inner;
        if (total == 0)
        {
            return;
        }
        if (ctx.Pool.Threads > 1 && total >= 2 * BroadcastKernel.Grain && _outer > 1)
        {
            ctx.Pool.For(_outer, this, System.Math.Max(1, (int)(BroadcastKernel.Grain / ((long)_d * _inner))));
        }
        else
        {
            ((IRangeBody)this).Execute(0, _outer);
        }
    }

    void IRangeBody.Execute(int begin, int end)
    {
        for (int o = begin; o < end; o++)
        {
            long offset = (long)o * _d * _inner;
            if (_inner == 1)
            {
                Row(_x + offset, _y + offset, _d, _log, SimdLoop.HardwareBits);
            }
            else
            {
                Strided(_x + offset, _y + offset);
            }
        }
    }

    /// <summary>Softmax of one contiguous row; maxBits selects the widest vector (tests force each).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    internal static void Row(float* x, float* y, int n, bool log, int maxBits)
    {
        float max = float.NegativeInfinity;
        for (int i = 0; i < n; i++)
        {
            float v = x[i];
            max = v > max || float.IsNaN(v) ? v : max;
        }
        if (float.IsNaN(max))
        {
            new Span<float>(y, n).Fill(float.NaN);
            return;
        }
        if (float.IsNegativeInfinity(max))
        {
            // Every element is -inf: exp(x - max) is undefined; follow the reference (NaN).
            new Span<float>(y, n).Fill(float.NaN);
            return;
        }
        SimdLoop.Unary(new ExpShiftOp(max), x, y, n, maxBits);
        float sum = Sum16(y, n, maxBits);
        if (log)
        {
            float logSum = DetMath.Log(sum);
            SimdLoop.Unary(new LogSoftmaxOp(max, logSum), x, y, n, maxBits);
        }
        else
        {
            SimdLoop.Unary(new DivideByOp(sum), y, y, n, maxBits);
        }
    }

    /// <summary>Σ v[i] with 16 fixed partial sums (lane i mod 16) combined in lane order.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    internal static float Sum16(float* v, int n, int maxBits)
    {
        float* acc = stackalloc float[Lanes];
        int full = n / Lanes * Lanes;
        if (maxBits >= 512)
        {
            var a = Vector512<float>.Zero;
            for (int i = 0; i < full; i += Lanes)
            {
                a += Vector512.Load(v + i);
            }
            a.Store(acc);
        }
        else if (maxBits >= 256)
        {
            var a0 = Vector256<float>.Zero;
            var a1 = Vector256<float>.Zero;
            for (int i = 0; i < full; i += Lanes)
            {
                a0 += Vector256.Load(v + i);
                a1 += Vector256.Load(v + i + 8);
            }
            a0.Store(acc);
            a1.Store(acc + 8);
        }
        else if (maxBits >= 128)
        {
            var a0 = Vector128<float>.Zero;
            var a1 = Vector128<float>.Zero;
            var a2 = Vector128<float>.Zero;
            var a3 = Vector128<float>.Zero;
            for (int i = 0; i < full; i += Lanes)
            {
                a0 += Vector128.Load(v + i);
                a1 += Vector128.Load(v + i + 4);
                a2 += Vector128.Load(v + i + 8);
                a3 += Vector128.Load(v + i + 12);
            }
            a0.Store(acc);
            a1.Store(acc + 4);
            a2.Store(acc + 8);
            a3.Store(acc + 12);
        }
        else
        {
            for (int j = 0; j < Lanes; j++)
            {
                acc[j] = 0f;
            }
            for (int i = 0; i < full; i += Lanes)
            {
                for (int j = 0; j < Lanes; j++)
                {
                    acc[j] += v[i + j];
                }
            }
        }
        for (int i = full; i < n; i++)
        {
            acc[i - full] += v[i];
        }
        float sum = acc[0];
        for (int j = 1; j < Lanes; j++)
        {
            sum += acc[j];
        }
        return sum;
    }

    /// <summary>Softmax along a non-innermost axis: each column is reduced sequentially.</summary>
    private void Strided(float* x, float* y)
    {
        int d = _d;
        int inner = _inner;
        for (int j = 0; j < inner; j++)
        {
            float max = float.NegativeInfinity;
            for (int k = 0; k < d; k++)
            {
                float v = x[(long)k * inner + j];
                max = v > max || float.IsNaN(v) ? v : max;
            }
            if (float.IsNaN(max) || float.IsNegativeInfinity(max))
            {
                for (int k = 0; k < d; k++)
                {
                    y[(long)k * inner + j] = float.NaN;
                }
                continue;
            }
            float sum = 0f;
            for (int k = 0; k < d; k++)
            {
                float e = DetMath.Exp(x[(long)k * inner + j] - max);
                y[(long)k * inner + j] = e;
                sum += e;
            }
            float logSum = _log ? DetMath.Log(sum) : 0f;
            for (int k = 0; k < d; k++)
            {
                long i = (long)k * inner + j;
                y[i] = _log ? (x[i] - max) - logSum : y[i] / sum;
            }
        }
    }

    private readonly struct ExpShiftOp(float max) : IUnaryOperator
    {
        public TF Invoke<TF, TI, L>(TF x) where L : ILanes<TF, TI> => DetMath.Exp<TF, TI, L>(L.Sub(x, L.Splat(max)));
    }

    private readonly struct LogSoftmaxOp(float max, float logSum) : IUnaryOperator
    {
        public TF Invoke<TF, TI, L>(TF x) where L : ILanes<TF, TI> => L.Sub(L.Sub(x, L.Splat(max)), L.Splat(logSum));
    }
}
