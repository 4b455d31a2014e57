using System.Numerics;
using Prova.Core;
using Prova.Onnx;
using Prova.Runtime.Ops.Shape;
using static Prova.Runtime.Ops.Shape.ShapeHelpers;

namespace Prova.Runtime.Ops.Reduce;

/// <summary>
/// ONNX LayerNormalization-17 (float32): per row of N = Π shape[axis:] elements,
/// mean = Σx / N and var = Σ(x - mean)² / N (both in <see cref="Lanes16"/> order),
/// inv = 1 / sqrt(var + epsilon), y = ((x - mean)·inv)·scale + bias, all unfused.
/// Optional outputs Mean and InvStdDev have shape shape[:axis] + [1, …].
/// Scale and bias that are smaller than [N] are broadcast into scratch first.
/// </summary>
internal sealed unsafe class LayerNormKernel : Kernel, IRangeBody
{
    private readonly float _epsilon;
    private int _rows;
    private int _n;
    private bool _hasBias;
    private StridedCopy? _scaleCopy;
    private StridedCopy? _biasCopy;
    private float* _x;
    private float* _y;
    private float* _scale;
    private float* _bias;
    private float* _mean;
    private float* _inv;

    public LayerNormKernel(OnnxNode node) : base(node)
    {
        _epsilon = node.GetFloat("epsilon", 1e-5f);
        if (node.GetInt("stash_type", 1) != 1)
        {
            throw ModelException.Unsupported(node, $"stash_type {node.GetInt("stash_type", 1)} (only 1, float32)");
        }
    }

    public override void Infer(InferContext ctx)
    {
        ctx.ExpectType(0, DataType.Float32);
        var shape = ctx.InputShape(0);
        int rank = shape.Length;
        int axis = Axis(Node, Node.GetInt("axis", -1), rank);
        var normShape = shape[axis..];
        _n = (int)Product(shape, axis);
        _rows = (int)Product(shape, 0, axis);
        ctx.ExpectType(1, DataType.Float32);
        _scaleCopy = BroadcastParam(ctx, 1, "Scale", normShape);
        _hasBias = ctx.HasInput(2);
        if (_hasBias)
        {
            ctx.ExpectType(2, DataType.Float32);
            _biasCopy = BroadcastParam(ctx, 2, "B", normShape);
        }
        ctx.RequestScratch(2L * _n * sizeof(float) + 64);
        ctx.SetOutput(0, DataType.Float32, (int[])shape.Clone());
        var statShape = NormParams.StatShape(shape, axis);
        if (ctx.HasOutput(1))
        {
            ctx.SetOutput(1, DataType.Float32, statShape);
        }
        if (ctx.HasOutput(2))
        {
            ctx.SetOutput(2, DataType.Float32, (int[])statShape.Clone());
        }
    }

    private StridedCopy? BroadcastParam(InferContext ctx, int input, string name, int[] normShape)
        => NormParams.Broadcast(ctx, Node, input, name, normShape, _n);

    public override void Execute(ExecContext ctx)
    {
        float* scratch = (float*)ctx.Scratch;
        _x = ctx.In<float>(0);
        _y = ctx.Out<float>(0);
        _scale = ctx.In<float>(1);
        if (_scaleCopy is not null)
        {
            _scaleCopy.Run(ctx.Pool, (byte*)_scale, (byte*)scratch);
            _scale = scratch;
        }
        _bias = null;
        if (_hasBias)
        {
            _bias = ctx.In<float>(2);
            if (_biasCopy is not null)
            {
                float* b = scratch + _n;
                _biasCopy.Run(ctx.Pool, (byte*)_bias, (byte*)b);
                _bias = b;
            }
        }
        _mean = ctx.HasOutput(1) ? ctx.Out<float>(1) : null;
        _inv = ctx.HasOutput(2) ? ctx.Out<float>(2) : null;
        ctx.Pool.ForRows(_rows, _n, this);
    }

    public void Execute(int begin, int end)
    {
        int n = _n;
        float nf = n;
        for (int row = begin; row < end; row++)
        {
            float* x = _x + (long)row * n;
            float* y = _y + (long)row * n;
            float mean = Lanes16.Reduce<SumOp>(x, n) / nf;
            float variance = Lanes16.Reduce<SquaredDiffOp>(x, n, mean) / nf;
            float inv = 1f / MathF.Sqrt(variance + _epsilon);
            if (_mean is not null)
            {
                _mean[row] = mean;
            }
            if (_inv is not null)
            {
                _inv[row] = inv;
            }
            Normalize(x, y, n, mean, inv, _scale, _bias);
        }
    }

    /// <summary>y[j] = ((x[j] - mean)·inv)·scale[j] + bias[j] (bias optional); x and y may be the same buffer.</summary>
    internal static void Normalize(float* x, float* y, int n, float mean, float inv, float* scale, float* bias)
    {
        int j = 0;
        if (NormParams.UseVectors)
        {
            int w = Vector<float>.Count;
            var vm = new Vector<float>(mean);
            var vi = new Vector<float>(inv);
            if (bias is not null)
            {
                for (; j <= n - w; j += w)
                {
                    ((Vector.Load(x + j) - vm) * vi * Vector.Load(scale + j) + Vector.Load(bias + j)).Store(y + j);
                }
            }
            else
            {
                for (; j <= n - w; j += w)
                {
                    ((Vector.Load(x + j) - vm) * vi * Vector.Load(scale + j)).Store(y + j);
                }
            }
        }
        for (; j < n; j++)
        {
            float v = (x[j] - mean) * inv * scale[j];
            y[j] = bias is not null ? v + bias[j] : v;
        }
    }
}
