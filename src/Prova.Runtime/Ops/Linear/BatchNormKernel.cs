using System.Runtime.Intrinsics;
using Prova.Core;
using Prova.Onnx;

namespace Prova.Runtime.Ops.Linear;

/// <summary>
/// ONNX BatchNormalization in inference mode (opsets 1–15; training_mode = 1 and the old
/// spatial = 0 form are unsupported). Per channel c: s = scale / sqrt(var + epsilon),
/// t = bias - mean · s (each step rounded, unfused), and y = fma(x, s, t).
/// </summary>
internal sealed unsafe class BatchNormKernel : Kernel, IRangeBody
{
    private readonly float _epsilon;
    private int _n;
    private int _c;
    private int _plane;
    private float[]? _s;
    private float[]? _t;
    private float* _x;
    private float* _y;
    private float* _sp;
    private float* _tp;

    public BatchNormKernel(OnnxNode node) : base(node)
    {
        _epsilon = node.GetFloat("epsilon", 1e-5f);
        if (node.GetInt("training_mode", 0) != 0)
        {
            throw ModelException.Unsupported(node, "training_mode = 1 (only inference is supported)");
        }
        if (node.GetInt("spatial", 1) == 0)
        {
            throw ModelException.Unsupported(node, "spatial = 0");
        }
    }

    public override void Infer(InferContext ctx)
    {
        for (int i = 0; i < 5; i++)
        {
            ctx.ExpectType(i, DataType.Float32);
        }
        for (int i = 1; i < ctx.OutputCount; i++)
        {
            if (ctx.HasOutput(i))
            {
                throw ModelException.Unsupported(Node, $"output {i} (running statistics exist only in training mode)");
            }
        }
        var x = ctx.InputShape(0);
        if (x.Length < 2)
        {
            throw ModelException.ForNode(Node, $"X must be [N, C, ...], got {Shapes.Format(x)}");
        }
        _n = x[0];
        _c = x[1];
        long plane = 1;
        for (int i = 2; i < x.Length; i++)
        {
            plane *= x[i];
        }
        _plane = checked((int)plane);
        string[] names = ["", "scale", "B", "mean", "var"];
        for (int i = 1; i < 5; i++)
        {
            var s = ctx.InputShape(i);
            if (s.Length != 1 || s[0] != _c)
            {
                throw ModelException.ForNode(Node, $"{names[i]} {Shapes.Format(s)} must be [{_c}] to match X {Shapes.Format(x)}");
            }
        }
        ctx.SetOutput(0, DataType.Float32, (int[])x.Clone());
        if (ctx.Constant(1) is { } scale && ctx.Constant(2) is { } bias && ctx.Constant(3) is { } mean && ctx.Constant(4) is { } variance)
        {
            _s = new float[_c];
            _t = new float[_c];
            fixed (float* ps = (float[])scale.Data, pb = (float[])bias.Data, pm = (float[])mean.Data, pv = (float[])variance.Data, os = _s, ot = _t)
            {
                Fold(ps, pb, pm, pv, os, ot);
            }
        }
        else
        {
            ctx.RequestScratch(2L * _c * sizeof(float));
        }
    }

    private void Fold(float* scale, float* bias, float* mean, float* variance, float* s, float* t)
    {
        for (int c = 0; c < _c; c++)
        {
            float sc = scale[c] / MathF.Sqrt(variance[c] + _epsilon);
            s[c] = sc;
            t[c] = bias[c] - mean[c] * sc;
        }
    }

    public override void Execute(ExecContext ctx)
    {
        _x = ctx.In<float>(0);
        _y = ctx.Out<float>(0);
        if (_s is null)
        {
            _sp = (float*)ctx.Scratch;
            _tp = _sp + _c;
            Fold(ctx.In<float>(1), ctx.In<float>(2), ctx.In<float>(3), ctx.In<float>(4), _sp, _tp);
            Run(ctx);
            return;
        }
        fixed (float* s = _s, t = _t)
        {
            _sp = s;
            _tp = t;
            Run(ctx);
        }
    }

    private void Run(ExecContext ctx)
    {
        int planes = _n * _c;
        int grain = (int)Math.Clamp((1L << 16) / Math.Max(1, _plane), 1, Math.Max(1, planes));
        ctx.Pool.For(planes, this, grain);
    }

    public void Execute(int begin, int end)
    {
        int bits = SimdLevel.Bits;
        int n = _plane;
        for (int p = begin; p < end; p++)
        {
            int c = p % _c;
            float s = _sp[c];
            float t = _tp[c];
            float* x = _x + (long)p * n;
            float* y = _y + (long)p * n;
            int i = 0;
            if (bits >= 256)
            {
                var vs = Vector256.Create(s);
                var vt = Vector256.Create(t);
                for (; i + 8 <= n; i += 8)
                {
                    Vector256.FusedMultiplyAdd(Vector256.Load(x + i), vs, vt).Store(y + i);
                }
            }
            for (; i < n; i++)
            {
                y[i] = MathF.FusedMultiplyAdd(x[i], s, t);
            }
        }
    }
}
