using Prova.Core;
using Prova.Onnx;

namespace Prova.Runtime.Ops.Linear;

/// <summary>
/// ONNX MaxPool (opsets 1–12, with dilations, ceil_mode, storage_order and the Indices output) and
/// AveragePool (opsets 1–19, with count_include_pad, ceil_mode, dilations), 1-D and 2-D.
/// MaxPool: the first in-input tap (order kh, kw) starts the max and a later tap replaces it only
/// when strictly greater (padding never wins). AveragePool: sum = 0f, sum = sum + x over in-input
/// taps in order (kh, kw), unfused, then sum / count, with count the taps inside the input
/// (count_include_pad = 0) or inside the padded input (= 1).
/// </summary>
internal sealed unsafe class PoolKernel : Kernel, IRangeBody
{
    private readonly bool _isMax;
    private readonly bool _ceilMode;
    private readonly bool _countIncludePad;
    private readonly bool _columnMajorIndices;
    private Window _w = new();
    private int _planes;
    private int _inPlane;
    private int _outPlane;
    private float[] _divisors = [];
    private float* _x;
    private float* _y;
    private long* _indices;

    public PoolKernel(OnnxNode node, bool isMax) : base(node)
    {
        _isMax = isMax;
        _ceilMode = node.GetInt("ceil_mode", 0) != 0;
        _countIncludePad = node.GetInt("count_include_pad", 0) != 0;
        _columnMajorIndices = node.GetInt("storage_order", 0) != 0;
    }

    public override void Infer(InferContext ctx)
    {
        ctx.ExpectType(0, DataType.Float32);
        var x = ctx.InputShape(0);
        if (x.Length == 5)
        {
            throw ModelException.Unsupported(Node, "3-D pooling");
        }
        if (x.Length < 3 || x.Length > 4)
        {
            throw ModelException.ForNode(Node, $"X must be [N, C, W] or [N, C, H, W], got {Shapes.Format(x)}");
        }
        var ks = Node.GetInts("kernel_shape") ?? throw ModelException.ForNode(Node, "attribute kernel_shape is required");
        if (ks.Length != x.Length - 2)
        {
            throw ModelException.ForNode(Node, $"kernel_shape has {ks.Length} values; X {Shapes.Format(x)} has {x.Length - 2} spatial axes");
        }
        var kernel = new int[ks.Length];
        for (int i = 0; i < ks.Length; i++)
        {
            if (ks[i] < 1 || ks[i] > int.MaxValue / 4)
            {
                throw ModelException.ForNode(Node, $"kernel_shape[{i}] = {ks[i]} is out of range");
            }
            kernel[i] = (int)ks[i];
        }
        _w = Window.Create(Node, x.AsSpan(2), kernel, _ceilMode);
        var outShape = (int[])x.Clone();
        if (x.Length == 4)
        {
            outShape[2] = _w.OutH;
            outShape[3] = _w.OutW;
        }
        else
        {
            outShape[2] = _w.OutW;
        }
        ctx.SetOutput(0, DataType.Float32, outShape);
        if (ctx.HasOutput(1))
        {
            if (!_isMax)
            {
                throw ModelException.ForNode(Node, "AveragePool has one output");
            }
            ctx.SetOutput(1, DataType.Int64, outShape);
        }
        _planes = checked(x[0] * x[1]);
        _inPlane = _w.InH * _w.InW;
        _outPlane = checked(_w.OutH * _w.OutW);
        if (!_isMax)
        {
            _divisors = new float[_outPlane];
            int loH = _countIncludePad ? -_w.PadTop : 0;
            int hiH = _countIncludePad ? _w.InH + _w.PadBottom : _w.InH;
            int loW = _countIncludePad ? -_w.PadLeft : 0;
            int hiW = _countIncludePad ? _w.InW + _w.PadRight : _w.InW;
            for (int oh = 0; oh < _w.OutH; oh++)
            {
                int rows = 0;
                for (int kh = 0; kh < _w.KH; kh++)
                {
                    int ih = oh * _w.SH - _w.PadTop + kh * _w.DH;
                    rows += ih >= loH && ih < hiH ? 1 : 0;
                }
                for (int ow = 0; ow < _w.OutW; ow++)
                {
                    int cols = 0;
                    for (int kw = 0; kw < _w.KW; kw++)
                    {
                        int iw = ow * _w.SW - _w.PadLeft + kw * _w.DW;
                        cols += iw >= loW && iw < hiW ? 1 : 0;
                    }
                    _divisors[oh * _w.OutW + ow] = (float)((long)rows * cols);
                }
            }
        }
    }

    public override void Execute(ExecContext ctx)
    {
        _x = ctx.In<float>(0);
        _y = ctx.Out<float>(0);
        _indices = ctx.HasOutput(1) ? ctx.Out<long>(1) : null;
        long work = (long)_outPlane * _w.KH * _w.KW;
        int grain = (int)Math.Clamp((1L << 17) / Math.Max(1, work), 1, Math.Max(1, _planes));
        ctx.Pool.For(_planes, this, grain);
    }

    public void Execute(int begin, int end)
    {
        for (int p = begin; p < end; p++)
        {
            if (_isMax)
            {
                MaxPlane(p);
            }
            else
            {
                AveragePlane(p);
            }
        }
    }

    private void MaxPlane(int plane)
    {
        var w = _w;
        float* x = _x + (long)plane * _inPlane;
        float* y = _y + (long)plane * _outPlane;
        long* idx = _indices == null ? null : _indices + (long)plane * _outPlane;
        long planeBase = (long)plane * _inPlane;
        for (int oh = 0; oh < w.OutH; oh++)
        {
            for (int ow = 0; ow < w.OutW; ow++)
            {
                float m = float.NegativeInfinity;
                int best = -1;
                for (int kh = 0; kh < w.KH; kh++)
                {
                    int ih = oh * w.SH - w.PadTop + kh * w.DH;
                    if ((uint)ih >= (uint)w.InH)
                    {
                        continue;
                    }
                    for (int kw = 0; kw < w.KW; kw++)
                    {
                        int iw = ow * w.SW - w.PadLeft + kw * w.DW;
                        if ((uint)iw >= (uint)w.InW)
                        {
                            continue;
                        }
                        int at = ih * w.InW + iw;
                        float v = x[at];
                        if (best < 0 || v > m)
                        {
                            m = v;
                            best = at;
                        }
                    }
                }
                int o = oh * w.OutW + ow;
                y[o] = m;
                if (idx != null)
                {
                    long index = best < 0 ? -1 : _columnMajorIndices
                        ? planeBase + (long)(best % w.InW) * w.InH + best / w.InW
                        : planeBase + best;
                    idx[o] = index;
                }
            }
        }
    }

    private void AveragePlane(int plane)
    {
        var w = _w;
        float* x = _x + (long)plane * _inPlane;
        float* y = _y + (long)plane * _outPlane;
        for (int oh = 0; oh < w.OutH; oh++)
        {
            for (int ow = 0; ow < w.OutW; ow++)
            {
                float sum = 0f;
                for (int kh = 0; kh < w.KH; kh++)
                {
                    int ih = oh * w.SH - w.PadTop + kh * w.DH;
                    if ((uint)ih >= (uint)w.InH)
                    {
                        continue;
                    }
                    float* row = x + (long)ih * w.InW;
                    for (int kw = 0; kw < w.KW; kw++)
                    {
                        int iw = ow * w.SW - w.PadLeft + kw * w.DW;
                        if ((uint)iw < (uint)w.InW)
                        {
                            sum += row[iw];
                        }
                    }
                }
                int o = oh * w.OutW + ow;
                y[o] = sum / _divisors[o];
            }
        }
    }
}

/// <summary>
/// ONNX GlobalAveragePool / GlobalMaxPool (opset 1) over all spatial axes of [N, C, ...].
/// Average: sum = 0f, sum = sum + x in memory order, then sum / count. Max: first element, then
/// replaced by a strictly greater one.
/// </summary>
internal sealed unsafe class GlobalPoolKernel : Kernel, IRangeBody
{
    private readonly bool _isMax;
    private int _planes;
    private int _plane;
    private float* _x;
    private float* _y;

    public GlobalPoolKernel(OnnxNode node, bool isMax) : base(node)
    {
        _isMax = isMax;
    }

    public override void Infer(InferContext ctx)
    {
        ctx.ExpectType(0, DataType.Float32);
        var x = ctx.InputShape(0);
        if (x.Length < 3)
        {
            throw ModelException.ForNode(Node, $"X must be [N, C, spatial...], got {Shapes.Format(x)}");
        }
        var outShape = (int[])x.Clone();
        long plane = 1;
        for (int i = 2; i < x.Length; i++)
        {
            plane *= x[i];
            outShape[i] = 1;
        }
        if (plane == 0)
        {
            throw ModelException.ForNode(Node, $"cannot pool an empty spatial extent {Shapes.Format(x)}");
        }
        _planes = checked(x[0] * x[1]);
        _plane = checked((int)plane);
        ctx.SetOutput(0, DataType.Float32, outShape);
    }

    public override void Execute(ExecContext ctx)
    {
        _x = ctx.In<float>(0);
        _y = ctx.Out<float>(0);
        int grain = (int)Math.Clamp((1L << 18) / Math.Max(1, _plane), 1, Math.Max(1, _planes));
        ctx.Pool.For(_planes, this, grain);
    }

    public void Execute(int begin, int end)
    {
        int n = _plane;
        float count = n;
        for (int p = begin; p < end; p++)
        {
            float* x = _x + (long)p * n;
            if (_isMax)
            {
                float m = x[0];
                for (int i = 1; i < n; i++)
                {
                    if (x[i] > m)
                    {
                        m = x[i];
                    }
                }
                _y[p] = m;
            }
            else
            {
                float sum = 0f;
                for (int i = 0; i < n; i++)
                {
                    sum += x[i];
                }
                _y[p] = sum / count;
            }
        }
    }
}
