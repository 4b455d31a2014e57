using System.Numerics;
using Prova.Core;
using Prova.Onnx;
using static Prova.Runtime.Ops.Shape.ShapeHelpers;

namespace Prova.Runtime.Ops.Reduce;

/// <summary>
/// ONNX Runtime contrib ops SkipLayerNormalization and SkipSimplifiedLayerNormalization
/// (com.microsoft, version 1; float32). Inputs: input [.., H] (rank 2 or 3), skip (the input's shape,
/// or a suffix of it that repeats over the leading rows: [1, S, H] or [S, H]), gamma [H], then beta [H]
/// (SkipLayerNormalization only) and bias [H], both optional. Per row of H elements:
/// s = (input + skip) + bias, then
/// <list type="bullet">
/// <item>SkipLayerNormalization: mean = Σs / H, var = Σ(s - mean)² / H, inv = 1 / sqrt(var + epsilon),
/// y = ((s - mean)·inv)·gamma + beta (the LayerNormalization formula);</item>
/// <item>SkipSimplifiedLayerNormalization: rms = sqrt(Σs² / H + epsilon), y = (s / rms)·gamma (the RMSNormalization formula);</item>
/// </list>
/// sums in <see cref="Lanes16"/> order, every operation unfused. Optional outputs: 1 mean (zero for the
/// simplified form), 2 inv_std_var, both [.., 1]; 3 input_skip_bias_sum = s.
/// </summary>
internal sealed unsafe class SkipNormKernel : Kernel, IRangeBody
{
    private readonly bool _simplified;
    private readonly float _epsilon;
    private int _rows;
    private int _n;
    private long _skipSize;
    private float* _x;
    private float* _skip;
    private float* _gamma;
    private float* _beta;
    private float* _bias;
    private float* _y;
    private float* _mean;
    private float* _inv;
    private float* _sum;

    public SkipNormKernel(OnnxNode node, bool simplified) : base(node)
    {
        _simplified = simplified;
        _epsilon = node.GetFloat("epsilon", 1e-12f);
        if (_epsilon < 0)
        {
            throw ModelException.ForNode(node, $"epsilon must not be negative but is {_epsilon}");
        }
    }

    private int BetaInput => _simplified ? -1 : 3;

    private int BiasInput => _simplified ? 3 : 4;

    public override void Infer(InferContext ctx)
    {
        var shape = ctx.InputShape(0);
        if (shape.Length is not (2 or 3))
        {
            throw ModelException.ForNode(Node, $"input must have rank 2 or 3 but has shape {Fmt(shape)}");
        }
        ctx.ExpectType(0, DataType.Float32);
        _n = shape[^1];
        _rows = (int)Product(shape, 0, shape.Length - 1);
        ctx.ExpectType(1, DataType.Float32);
        var skip = ctx.InputShape(1);
        // skip is the input's shape or a suffix of it whose leading dims may be 1 ([1, S, H] or [S, H]).
        bool skipOk = skip.Length <= shape.Length && skip.Length >= 2 && skip[^1] == _n && skip[^2] == shape[^2];
        for (int d = 0; skipOk && d < skip.Length - 2; d++)
        {
            skipOk = skip[d] == 1 || skip[d] == shape[d + shape.Length - skip.Length];
        }
        if (!skipOk)
        {
            throw ModelException.ForNode(Node, $"skip of shape {Fmt(skip)} does not fit input of shape {Fmt(shape)} (expected the same shape, [1, S, H] or [S, H])");
        }
        _skipSize = ctx.Input(1).ElementCount;
        CheckVector(ctx, 2, "gamma", required: true);
        if (BetaInput > 0)
        {
            CheckVector(ctx, BetaInput, "beta", required: false);
        }
        CheckVector(ctx, BiasInput, "bias", required: false);
        ctx.SetOutput(0, DataType.Float32, (int[])shape.Clone());
        var stat = NormParams.StatShape(shape, shape.Length - 1);
        for (int i = 1; i <= 2; i++)
        {
            if (ctx.HasOutput(i))
            {
                ctx.SetOutput(i, DataType.Float32, (int[])stat.Clone());
            }
        }
        if (ctx.HasOutput(3))
        {
            ctx.SetOutput(3, DataType.Float32, (int[])shape.Clone());
        }
    }

    private void CheckVector(InferContext ctx, int input, string name, bool required)
    {
        if (!required && !ctx.HasInput(input))
        {
            return;
        }
        ctx.ExpectType(input, DataType.Float32);
        var s = ctx.InputShape(input);
        if (s.Length is not 1 || s[0] != _n)
        {
            throw ModelException.ForNode(Node, $"{name} must have shape [{_n}] (the hidden size) but has {Fmt(s)}");
        }
    }

    public override void Execute(ExecContext ctx)
    {
        _x = ctx.In<float>(0);
        _skip = ctx.In<float>(1);
        _gamma = ctx.In<float>(2);
        _beta = BetaInput > 0 && ctx.HasInput(BetaInput) ? ctx.In<float>(BetaInput) : null;
        _bias = ctx.HasInput(BiasInput) ? ctx.In<float>(BiasInput) : null;
        _y = ctx.Out<float>(0);
        _mean = ctx.HasOutput(1) ? ctx.Out<float>(1) : null;
        _inv = ctx.HasOutput(2) ? ctx.Out<float>(2) : null;
        _sum = ctx.HasOutput(3) ? ctx.Out<float>(3) : null;
        ctx.Pool.ForRows(_rows, _n, this);
    }

    public void Execute(int begin, int end)
    {
        int n = _n;
        for (int row = begin; row < end; row++)
        {
            long offset = (long)row * n;
            float* y = _y + offset;
            // The sum goes to input_skip_bias_sum when requested, else straight into y (normalised in place).
            float* s = _sum is not null ? _sum + offset : y;
            AddSkip(_x + offset, _skip + offset % _skipSize, _bias, s, n);
            if (_simplified)
            {
                float rms = RmsNormKernel.Rms(s, n, _epsilon);
                if (_mean is not null)
                {
                    _mean[row] = 0f;
                }
                if (_inv is not null)
                {
                    _inv[row] = 1f / rms;
                }
                RmsNormKernel.DivideScale(s, y, n, rms, _gamma);
            }
            else
            {
                float mean = Lanes16.Reduce<SumOp>(s, n) / n;
                float variance = Lanes16.Reduce<SquaredDiffOp>(s, n, mean) / n;
                float inv = 1f / MathF.Sqrt(variance + _epsilon);
                if (_mean is not null)
                {
                    _mean[row] = mean;
                }
                if (_inv is not null)
                {
                    _inv[row] = inv;
                }
                LayerNormKernel.Normalize(s, y, n, mean, inv, _gamma, _beta);
            }
        }
    }

    /// <summary>s[j] = (x[j] + skip[j]) + bias[j] (bias optional).</summary>
    private static void AddSkip(float* x, float* skip, float* bias, float* s, int n)
    {
        int j = 0;
        if (NormParams.UseVectors)
        {
            int w = Vector<float>.Count;
            if (bias is not null)
            {
                for (; j <= n - w; j += w)
                {
                    (Vector.Load(x + j) + Vector.Load(skip + j) + Vector.Load(bias + j)).Store(s + j);
                }
            }
            else
            {
                for (; j <= n - w; j += w)
                {
                    (Vector.Load(x + j) + Vector.Load(skip + j)).Store(s + j);
                }
            }
        }
        for (; j < n; j++)
        {
            float v = x[j] + skip[j];
            s[j] = bias is not null ? v + bias[j] : v;
        }
    }
}
