using System.Numerics;
using Prova.Core;
using Prova.Onnx;
using Prova.Runtime.Ops.Shape;
using static Prova.Runtime.Ops.Shape.ShapeHelpers;

namespace Prova.Runtime.Ops.Reduce;

/// <summary>
/// ONNX RMSNormalization-23 and ONNX Runtime's SimplifiedLayerNormalization (float32): per row of
/// N = Π shape[axis:] elements, rms = sqrt(Σx² / N + epsilon) with Σx² in <see cref="Lanes16"/> order,
/// y = (x / rms) · scale, unfused, as the ONNX function body writes it. SimplifiedLayerNormalization's
/// optional output 1 (inv_std_var, shape[:axis] + [1, …]) is 1 / rms. Scale smaller than [N] is
/// broadcast into scratch first.
/// </summary>
internal sealed unsafe class RmsNormKernel : Kernel, IRangeBody
{
    private readonly float _epsilon;
    private int _rows;
    private int _n;
    private StridedCopy? _scaleCopy;
    private float* _x;
    private float* _y;
    private float* _scale;
    private float* _inv;

    public RmsNormKernel(OnnxNode node) : base(node)
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
        ctx.ExpectType(1, DataType.Float32);
        var shape = ctx.InputShape(0);
        int axis = Axis(Node, Node.GetInt("axis", -1), shape.Length);
        _n = (int)Product(shape, axis);
        _rows = (int)Product(shape, 0, axis);
        _scaleCopy = NormParams.Broadcast(ctx, Node, 1, "scale", shape[axis..], _n);
        if (_scaleCopy is not null)
        {
            ctx.RequestScratch((long)_n * sizeof(float) + 64);
        }
        ctx.SetOutput(0, DataType.Float32, (int[])shape.Clone());
        if (ctx.HasOutput(1))
        {
            ctx.SetOutput(1, DataType.Float32, NormParams.StatShape(shape, axis));
        }
    }

    public override void Execute(ExecContext ctx)
    {
        _x = ctx.In<float>(0);
        _y = ctx.Out<float>(0);
        _scale = ctx.In<float>(1);
        if (_scaleCopy is not null)
        {
            _scaleCopy.Run(ctx.Pool, (byte*)_scale, ctx.Scratch);
            _scale = (float*)ctx.Scratch;
        }
        _inv = ctx.HasOutput(1) ? ctx.Out<float>(1) : null;
        ctx.Pool.ForRows(_rows, _n, this);
    }

    public void Execute(int begin, int end)
    {
        int n = _n;
        for (int row = begin; row < end; row++)
        {
            float* x = _x + (long)row * n;
            float rms = Rms(x, n, _epsilon);
            if (_inv is not null)
            {
                _inv[row] = 1f / rms;
            }
            DivideScale(x, _y + (long)row * n, n, rms, _scale);
        }
    }

    /// <summary>sqrt(Σx² / N + epsilon), Σ in Lanes16 order.</summary>
    public static float Rms(float* x, int n, float epsilon) => MathF.Sqrt(Lanes16.Reduce<SumSquareOp>(x, n) / n + epsilon);

    /// <summary>y[j] = (x[j] / rms) · scale[j]; x and y may be the same buffer.</summary>
    public static void DivideScale(float* x, float* y, int n, float rms, float* scale)
    {
        int j = 0;
        if (NormParams.UseVectors)
        {
            int w = Vector<float>.Count;
            var vr = new Vector<float>(rms);
            for (; j <= n - w; j += w)
            {
                (Vector.Load(x + j) / vr * Vector.Load(scale + j)).Store(y + j);
            }
        }
        for (; j < n; j++)
        {
            y[j] = x[j] / rms * scale[j];
        }
    }
}
