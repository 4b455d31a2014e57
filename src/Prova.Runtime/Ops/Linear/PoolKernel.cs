using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
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

    private static readonly Vector512<int> s_even512 = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);

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
        int grain = (int)Math.Clamp((1L << 18) / Math.Max(1, work), 1, Math.Max(1, _planes));
        ctx.Pool.For(_planes, this, grain);
    }

    public void Execute(int begin, int end)
    {
        int bits = VectorBits();
        for (int p = begin; p < end; p++)
        {
            if (_isMax && _indices != null)
            {
                MaxPlane(p);
            }
            else
            {
                PlaneRows(p, bits);
            }
        }
    }

    /// <summary>The widest lane count usable for the window loads: stride 2 needs a deinterleave instruction.</summary>
    private int VectorBits()
    {
        int bits = SimdLevel.Bits;
        if (_w.SW == 1)
        {
            return bits;
        }
        if (_w.SW != 2)
        {
            return 0;
        }
        if (bits >= 512 && Avx512F.IsSupported)
        {
            return 512;
        }
        if (bits >= 256 && Avx2.IsSupported)
        {
            return 256;
        }
        if (bits >= 128 && (Sse.IsSupported || AdvSimd.Arm64.IsSupported))
        {
            return 128;
        }
        return 0;
    }

    /// <summary>
    /// One plane, row by row: rows and columns whose taps are all inside the input go through the
    /// vector loop, the rest through <see cref="ScalarElement"/>.
    /// </summary>
    private void PlaneRows(int plane, int bits)
    {
        var w = _w;
        float* x = _x + (long)plane * _inPlane;
        float* y = _y + (long)plane * _outPlane;
        // Interior columns: for every kw, 0 <= ow*SW + kw*DW - PadLeft and ow*SW + (KW-1)*DW - PadLeft + (SW-1) < InW
        // (the deinterleaving load reads SW floats per lane).
        int owLo = (w.PadLeft + w.SW - 1) / w.SW;
        int lastOff = (w.KW - 1) * w.DW - w.PadLeft + (w.SW - 1);
        int owHi = w.InW - lastOff <= 0 ? 0 : Math.Min(w.OutW, (w.InW - lastOff - 1) / w.SW + 1);
        if (bits == 0 || owHi <= owLo)
        {
            owLo = owHi = 0;
        }
        for (int oh = 0; oh < w.OutH; oh++)
        {
            int ih0 = oh * w.SH - w.PadTop;
            bool rowInside = ih0 >= 0 && ih0 + (w.KH - 1) * w.DH < w.InH;
            int lo = rowInside ? owLo : 0;
            int hi = rowInside ? owHi : 0;
            for (int ow = 0; ow < lo; ow++)
            {
                ScalarElement(x, y, oh, ow);
            }
            if (hi > lo)
            {
                float* src = x + (long)ih0 * w.InW + ((long)lo * w.SW - w.PadLeft);
                float* dst = y + (long)oh * w.OutW + lo;
                fixed (float* div = _divisors)
                {
                    float* d = div == null ? null : div + (long)oh * w.OutW + lo;
                    lo += VectorRow(src, dst, d, hi - lo, bits);
                }
            }
            for (int ow = lo; ow < w.OutW; ow++)
            {
                ScalarElement(x, y, oh, ow);
            }
        }
    }

    /// <summary>
    /// Computes the first <paramref name="count"/> outputs of a row whose taps are all inside the input
    /// with the widest vector that fits (the last vector overlaps the previous one instead of leaving a
    /// scalar tail: an output computed twice gets the same bits); returns how many it did.
    /// </summary>
    private int VectorRow(float* src, float* dst, float* div, int count, int bits)
    {
        var w = _w;
        bool k2 = w.KH == 2 && w.KW == 2 && w.SW == 2 && w.DW == 1;
        if (bits >= 512 && count >= 16)
        {
            return k2 ? (_isMax ? Row2x2Of512<MaxStep>(src, dst, div, count) : Row2x2Of512<SumStep>(src, dst, div, count))
                : _isMax ? Row512<MaxStep>(src, dst, div, count) : Row512<SumStep>(src, dst, div, count);
        }
        if (bits >= 256 && count >= 8)
        {
            return k2 ? (_isMax ? Row2x2Of256<MaxStep>(src, dst, div, count) : Row2x2Of256<SumStep>(src, dst, div, count))
                : _isMax ? Row256<MaxStep>(src, dst, div, count) : Row256<SumStep>(src, dst, div, count);
        }
        if (bits >= 128 && count >= 4)
        {
            return _isMax ? Row128<MaxStep>(src, dst, div, count) : Row128<SumStep>(src, dst, div, count);
        }
        return 0;
    }

    // 2×2 windows, stride 2 along W, dilation 1: the generic rows with the tap loop unrolled.
    // Max: m = t00, then m = t > m ? t : m for t01, t10, t11 (x86 max returns its second operand
    // unless the first is greater, the same select). Average: ((((0 + t00) + t01) + t10) + t11) / div.

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int Row2x2Of512<TStep>(float* src, float* dst, float* div, int count)
        where TStep : struct, IPoolStep
    {
        nint rowStep = (nint)_w.DH * _w.InW;
        var even = s_even512;
        var odd = even + Vector512<int>.One;
        for (int i = 0; ; i += 16)
        {
            if (i + 16 > count)
            {
                i = count - 16;
            }
            float* t = src + (nint)i * 2;
            var a = Vector512.Load(t);
            var b = Vector512.Load(t + 16);
            var c = Vector512.Load(t + rowStep);
            var d = Vector512.Load(t + rowStep + 16);
            var t00 = Avx512F.PermuteVar16x32x2(a, even, b);
            var t01 = Avx512F.PermuteVar16x32x2(a, odd, b);
            var t10 = Avx512F.PermuteVar16x32x2(c, even, d);
            var t11 = Avx512F.PermuteVar16x32x2(c, odd, d);
            Vector512<float> acc;
            if (TStep.IsMax)
            {
                acc = Avx512F.Max(t01, t00);
                acc = Avx512F.Max(t10, acc);
                acc = Avx512F.Max(t11, acc);
            }
            else
            {
                acc = (((Vector512<float>.Zero + t00) + t01) + t10) + t11;
                acc /= Vector512.Load(div + i);
            }
            acc.Store(dst + i);
            if (i + 16 == count)
            {
                return count;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int Row2x2Of256<TStep>(float* src, float* dst, float* div, int count)
        where TStep : struct, IPoolStep
    {
        nint rowStep = (nint)_w.DH * _w.InW;
        for (int i = 0; ; i += 8)
        {
            if (i + 8 > count)
            {
                i = count - 8;
            }
            float* t = src + (nint)i * 2;
            var a = Vector256.Load(t);
            var b = Vector256.Load(t + 8);
            var c = Vector256.Load(t + rowStep);
            var d = Vector256.Load(t + rowStep + 8);
            // Shuffle gives [x0 x2 x8 x10 | x4 x6 x12 x14] (even) or the odd ones; Permute4x64 restores the order.
            var t00 = Avx2.Permute4x64(Avx.Shuffle(a, b, 0b10_00_10_00).AsDouble(), 0b11_01_10_00).AsSingle();
            var t01 = Avx2.Permute4x64(Avx.Shuffle(a, b, 0b11_01_11_01).AsDouble(), 0b11_01_10_00).AsSingle();
            var t10 = Avx2.Permute4x64(Avx.Shuffle(c, d, 0b10_00_10_00).AsDouble(), 0b11_01_10_00).AsSingle();
            var t11 = Avx2.Permute4x64(Avx.Shuffle(c, d, 0b11_01_11_01).AsDouble(), 0b11_01_10_00).AsSingle();
            Vector256<float> acc;
            if (TStep.IsMax)
            {
                acc = Avx.Max(t01, t00);
                acc = Avx.Max(t10, acc);
                acc = Avx.Max(t11, acc);
            }
            else
            {
                acc = (((Vector256<float>.Zero + t00) + t01) + t10) + t11;
                acc /= Vector256.Load(div + i);
            }
            acc.Store(dst + i);
            if (i + 8 == count)
            {
                return count;
            }
        }
    }

    private void ScalarElement(float* x, float* y, int oh, int ow)
    {
        var w = _w;
        int o = oh * w.OutW + ow;
        if (_isMax)
        {
            float m = float.NegativeInfinity;
            bool started = false;
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
                    float v = x[(long)ih * w.InW + iw];
                    if (!started || v > m)
                    {
                        m = v;
                        started = true;
                    }
                }
            }
            y[o] = m;
            return;
        }
        float sum = 0f;
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
                if ((uint)iw < (uint)w.InW)
                {
                    sum += x[(long)ih * w.InW + iw];
                }
            }
        }
        y[o] = sum / _divisors[o];
    }

    // The vector rows: src points at tap (0, 0) of the first output; every tap of `count` outputs is inside the input.
    // Max: m = tap(0,0), then m = tap > m ? tap : m in (kh, kw) order. Average: s = 0f, s = s + tap in order, s / divisor.

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int Row512<TStep>(float* src, float* dst, float* div, int count)
        where TStep : struct, IPoolStep
    {
        var w = _w;
        int sw = w.SW;
        int khs = w.KH;
        int kws = w.KW;
        nint rowStep = (nint)w.DH * w.InW;
        int dw = w.DW;
        for (int i = 0; ; i += 16)
        {
            if (i + 16 > count)
            {
                i = count - 16;
            }
            float* s0 = src + (nint)i * sw;
            Vector512<float> acc = Vector512<float>.Zero;
            bool first = true;
            for (int kh = 0; kh < khs; kh++)
            {
                float* r = s0 + kh * rowStep;
                for (int kw = 0; kw < kws; kw++)
                {
                    float* t = r + kw * dw;
                    var v = sw == 1 ? Vector512.Load(t) : Avx512F.PermuteVar16x32x2(Vector512.Load(t), s_even512, Vector512.Load(t + 16));
                    acc = TStep.IsMax
                        ? (first ? v : Vector512.ConditionalSelect(Vector512.GreaterThan(v, acc), v, acc))
                        : acc + v;
                    first = false;
                }
            }
            if (!TStep.IsMax)
            {
                acc /= Vector512.Load(div + i);
            }
            acc.Store(dst + i);
            if (i + 16 == count)
            {
                return count;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int Row256<TStep>(float* src, float* dst, float* div, int count)
        where TStep : struct, IPoolStep
    {
        var w = _w;
        int sw = w.SW;
        int khs = w.KH;
        int kws = w.KW;
        nint rowStep = (nint)w.DH * w.InW;
        int dw = w.DW;
        for (int i = 0; ; i += 8)
        {
            if (i + 8 > count)
            {
                i = count - 8;
            }
            float* s0 = src + (nint)i * sw;
            Vector256<float> acc = Vector256<float>.Zero;
            bool first = true;
            for (int kh = 0; kh < khs; kh++)
            {
                float* r = s0 + kh * rowStep;
                for (int kw = 0; kw < kws; kw++)
                {
                    float* t = r + kw * dw;
                    Vector256<float> v;
                    if (sw == 1)
                    {
                        v = Vector256.Load(t);
                    }
                    else
                    {
                        // [t0 t2 t8 t10 | t4 t6 t12 t14] then reorder the 64-bit pairs.
                        var mixed = Avx.Shuffle(Vector256.Load(t), Vector256.Load(t + 8), 0b10_00_10_00);
                        v = Avx2.Permute4x64(mixed.AsDouble(), 0b11_01_10_00).AsSingle();
                    }
                    acc = TStep.IsMax
                        ? (first ? v : Vector256.ConditionalSelect(Vector256.GreaterThan(v, acc), v, acc))
                        : acc + v;
                    first = false;
                }
            }
            if (!TStep.IsMax)
            {
                acc /= Vector256.Load(div + i);
            }
            acc.Store(dst + i);
            if (i + 8 == count)
            {
                return count;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int Row128<TStep>(float* src, float* dst, float* div, int count)
        where TStep : struct, IPoolStep
    {
        var w = _w;
        int sw = w.SW;
        int khs = w.KH;
        int kws = w.KW;
        nint rowStep = (nint)w.DH * w.InW;
        int dw = w.DW;
        if (SimdLevel.Bits < 128 || (w.SW == 2 && !Sse.IsSupported && !AdvSimd.Arm64.IsSupported))
        {
            return 0;
        }
        for (int i = 0; ; i += 4)
        {
            if (i + 4 > count)
            {
                i = count - 4;
            }
            float* s0 = src + (nint)i * sw;
            Vector128<float> acc = Vector128<float>.Zero;
            bool first = true;
            for (int kh = 0; kh < khs; kh++)
            {
                float* r = s0 + kh * rowStep;
                for (int kw = 0; kw < kws; kw++)
                {
                    float* t = r + kw * dw;
                    Vector128<float> v;
                    if (sw == 1)
                    {
                        v = Vector128.Load(t);
                    }
                    else if (Sse.IsSupported)
                    {
                        v = Sse.Shuffle(Vector128.Load(t), Vector128.Load(t + 4), 0b10_00_10_00);
                    }
                    else
                    {
                        v = AdvSimd.Arm64.UnzipEven(Vector128.Load(t), Vector128.Load(t + 4));
                    }
                    acc = TStep.IsMax
                        ? (first ? v : Vector128.ConditionalSelect(Vector128.GreaterThan(v, acc), v, acc))
                        : acc + v;
                    first = false;
                }
            }
            if (!TStep.IsMax)
            {
                acc /= Vector128.Load(div + i);
            }
            acc.Store(dst + i);
            if (i + 4 == count)
            {
                return count;
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

/// <summary>Selects the max or the average variant of the generic pooling rows.</summary>
internal interface IPoolStep
{
    static abstract bool IsMax { get; }
}

internal readonly struct MaxStep : IPoolStep
{
    public static bool IsMax => true;
}

internal readonly struct SumStep : IPoolStep
{
    public static bool IsMax => false;
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
