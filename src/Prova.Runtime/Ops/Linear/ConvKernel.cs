using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Prova.Core;
using Prova.Onnx;

namespace Prova.Runtime.Ops.Linear;

/// <summary>
/// ONNX Conv (opsets 1, 11), 1-D and 2-D, with groups, pads, strides, dilations and auto_pad.
/// Arithmetic per output element: acc = 0f; for (c_in_group, kh, kw) in that order:
/// acc = fma(w, x, acc), where a tap in the padding contributes fma(w, 0f, acc); then acc + bias.
/// Paths: 1×1/stride 1/unpadded convs run the GEMM on the input in place, depthwise convs a direct
/// loop, the rest the GEMM over zero-padded stride phases (implicit im2col) or, on AVX-512 with constant
/// weights, the direct tiles of ConvKernel.Direct.cs; im2col into scratch plus the GEMM otherwise.
/// All follow that one definition. With several threads and at least as many (image, group) products
/// as threads, each thread runs whole products serially with its own scratch slot; with fewer, the
/// direct paths split each product's output rows into bands (own slot each) and the GEMM paths run the
/// products one after another, each split across threads. As prova.internal FusedConv the <see cref="FusedActivation"/> of its
/// attribute follows the bias.
/// </summary>
internal sealed unsafe partial class ConvKernel : Kernel
{
    private readonly Sgemm _gemm = new();
    private readonly Im2colBody _im2col = new();
    private readonly PhasesBody _phasesBody = new();
    private readonly DepthwiseBody _depthwise = new();
    private readonly ImageBody _images = new();
    private readonly bool _relu;
    private int _slots;
    private int[] _slotBusy = [];
    private long _slotFloats;
    private Window _w = new();
    private int _batch;
    private int _c;
    private int _m;
    private int _group;
    private int _cg;
    private int _mg;
    private int _kg;
    private int _inPlane;
    private int _p;
    private int _ldb;
    private bool _pointwise;
    private bool _isDepthwise;
    private bool _implicit;
    private nint[] _koff = [];
    private int _hq;
    private int _wq;
    private int _nv;
    private long _phaseData;
    private long _phaseFloats;

    public ConvKernel(OnnxNode node, bool fused = false) : base(node)
    {
        _relu = fused && FusedActivation.ReadRelu(node);
    }

    public override void Infer(InferContext ctx)
    {
        ctx.ExpectType(0, DataType.Float32);
        ctx.ExpectType(1, DataType.Float32);
        var x = ctx.InputShape(0);
        var w = ctx.InputShape(1);
        var channels = ConvChannels.Check(Node, x, w);
        (_batch, _c, _m, _group, _cg, _mg) = (channels.Batch, channels.C, channels.M, channels.Group, channels.Cg, channels.Mg);
        var spatial = x.AsSpan(2);
        var kernel = w.AsSpan(2);
        if (Node.GetInts("kernel_shape") is { Length: > 0 } ks)
        {
            bool same = ks.Length == kernel.Length;
            for (int i = 0; same && i < ks.Length; i++)
            {
                same = ks[i] == kernel[i];
            }
            if (!same)
            {
                throw ModelException.ForNode(Node, $"kernel_shape [{string.Join(", ", ks)}] does not match W {Shapes.Format(w)}");
            }
        }
        if (ctx.HasInput(2))
        {
            ctx.ExpectType(2, DataType.Float32);
            var b = ctx.InputShape(2);
            if (b.Length != 1 || b[0] != _m)
            {
                throw ModelException.ForNode(Node, $"bias B {Shapes.Format(b)} must be [{_m}]");
            }
        }
        _w = Window.Create(Node, spatial, kernel, ceilMode: false);
        var outShape = (int[])x.Clone();
        outShape[1] = _m;
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

        _inPlane = _w.InH * _w.InW;
        _p = checked(_w.OutH * _w.OutW);
        _kg = checked(_cg * _w.KH * _w.KW);
        _isDepthwise = _cg == 1 && _group > 1;
        _pointwise = _w.KH == 1 && _w.KW == 1 && _w.SH == 1 && _w.SW == 1
            && _w.PadTop == 0 && _w.PadLeft == 0 && _w.PadBottom == 0 && _w.PadRight == 0;
        if (_isDepthwise)
        {
            return; // direct loop, no scratch
        }
        _implicit = false;
        _direct = null;
        if (_pointwise)
        {
            _slotFloats = Sgemm.DirectScratch(_kg, _p);
        }
        else if (PlanImplicit())
        {
            _implicit = true;
            _slotFloats = _phaseFloats;
            PlanDirect(ctx.Constant(1));
        }
        else
        {
            int ldb = (_p + Sgemm.Nr - 1) / Sgemm.Nr * Sgemm.Nr;
            if (ldb % 128 == 0)
            {
                ldb += 16; // keep the rows of a panel off one cache set
            }
            _ldb = ldb;
            _slotFloats = (long)_kg * _ldb;
        }
        _slotFloats = (_slotFloats + 15) / 16 * 16; // 64-byte aligned slots
        long units = (long)_batch * _group;
        long work = units * _mg * _kg * _p;
        _slots = ctx.Threads > 1 && units >= ctx.Threads && work >= (1L << 19) ? ctx.Threads : 1;
        // Too few (image, group) products for the threads: split each product's output rows into bands,
        // each filling the phase rows it reads into its own slot (the direct paths only).
        _bands = _direct is not null && _slots == 1 && ctx.Threads > 1 && work >= (1L << 19) ? Math.Min(2 * ctx.Threads, _w.OutH) : 0;
        if (_bands > 1)
        {
            _slots = ctx.Threads;
        }
        _slotBusy = new int[_slots];
        ctx.RequestScratch(_slots * _slotFloats * sizeof(float));
    }

    public override void Execute(ExecContext ctx)
    {
        float* x = ctx.In<float>(0);
        float* w = ctx.In<float>(1);
        float* bias = ctx.HasInput(2) ? ctx.In<float>(2) : null;
        float* y = ctx.Out<float>(0);
        float* scratch = (float*)ctx.Scratch;
        if (_isDepthwise)
        {
            _depthwise.Set(this, x, w, bias, y);
            long work = (long)_p * _w.KH * _w.KW;
            int planes = _batch * _m;
            int grain = (int)Math.Clamp((1L << 17) / Math.Max(1, work), 1, Math.Max(1, planes));
            ctx.Pool.For(planes, _depthwise, grain);
            return;
        }
        int units = _batch * _group;
        if (_bands > 1 && SimdLevel.Bits == 512 && ctx.Pool.Threads <= _slots)
        {
            for (int u = 0; u < units; u++)
            {
                _bandBody.Set(this, u, x, bias, y, scratch);
                ctx.Pool.For(_bands, _bandBody);
            }
            return;
        }
        if (_slots > 1 && _bands <= 1 && ctx.Pool.Threads <= _slots)
        {
            _images.Set(this, x, w, bias, y, scratch);
            long perUnit = Math.Max(1, (long)_mg * _kg * _p);
            int grain = (int)Math.Clamp((1L << 18) / perUnit, 1, units);
            ctx.Pool.For(units, _images, grain);
            return;
        }
        for (int u = 0; u < units; u++)
        {
            RunUnit(ctx.Pool, _gemm, u, x, w, bias, y, scratch);
        }
    }

    /// <summary>
    /// Plans the implicit im2col: the group's input is copied once per product, zero padded and split
    /// into SH×SW stride phases (phase (py, px) of channel c holds padded pixel (r*SH + py, q*SW + px) at
    /// [r, q] of an Hq×Wq plane), so tap (c, kh, kw) of output (oh, ow) is phase element
    /// [oh + kh*DH/SH, ow + kw*DW/SW]: with the virtual column j = oh*Wq + ow, B[k, j] is
    /// phases[koff[k] + j]. The GEMM computes Wq - OutW extra columns per output row (discarded), so
    /// this is used only while those stay a small share; every kept element has the same k-chain as
    /// with im2col (a padding tap is fma(w, 0, acc)).
    /// </summary>
    private bool PlanImplicit()
    {
        var w = _w;
        long hp = (long)w.InH + w.PadTop + w.PadBottom;
        long wp = (long)w.InW + w.PadLeft + w.PadRight;
        long hq = (hp + w.SH - 1) / w.SH;
        long wq = (wp + w.SW - 1) / w.SW;
        long nv = (_w.OutH - 1) * wq + w.OutW;
        if (nv > 2L * _p || nv > int.MaxValue / 2 || w.SH > 4 || w.SW > 4)
        {
            return false;
        }
        long phases = (long)_cg * w.SH * w.SW;
        long data = phases * hq * wq;
        var koff = new nint[_kg];
        long maxOff = 0;
        int k = 0;
        for (int c = 0; c < _cg; c++)
        {
            for (int kh = 0; kh < w.KH; kh++)
            {
                long rh = (long)kh * w.DH;
                for (int kw = 0; kw < w.KW; kw++)
                {
                    long rw = (long)kw * w.DW;
                    long plane = ((long)c * w.SH + rh % w.SH) * w.SW + rw % w.SW;
                    long off = plane * hq * wq + rh / w.SH * wq + rw / w.SW;
                    koff[k++] = (nint)off;
                    maxOff = Math.Max(maxOff, off);
                }
            }
        }
        long panels = (nv + Sgemm.Nr - 1) / Sgemm.Nr;
        long need = Math.Max(data, maxOff + panels * Sgemm.Nr + 32); // + 32: pixel-row tiles read whole vectors
        _koff = koff;
        _hq = (int)hq;
        _wq = (int)wq;
        _nv = (int)nv;
        _phaseData = data;
        _phaseFloats = checked((need + 15) / 16 * 16);
        return true;
    }

    /// <summary>Writes the zero-padded stride phases of one group's input (see <see cref="PlanImplicit"/>) and zeroes the slack after them.</summary>
    private void FillPhases(WorkerPool? pool, float* x, float* dest)
    {
        long floats = _phaseData;
        if (pool is not null && pool.Threads > 1 && _cg > 1 && floats >= (1L << 15))
        {
            _phasesBody.Set(this, x, dest);
            int grain = (int)Math.Clamp((1L << 14) / Math.Max(1, floats / _cg), 1, _cg);
            pool.For(_cg, _phasesBody, grain);
        }
        else
        {
            FillPhaseChannels(x, dest, 0, _cg);
        }
        new Span<float>(dest + _phaseData, (int)(_phaseFloats - _phaseData)).Clear();
    }

    /// <summary>Writes the stride phases of input channels [begin, end).</summary>
    private void FillPhaseChannels(float* x, float* dest, int begin, int end) => FillPhaseChannels(x, dest, begin, end, 0, _hq);

    /// <summary>Writes phase rows [rowBegin, rowEnd) of input channels [begin, end).</summary>
    private void FillPhaseChannels(float* x, float* dest, int begin, int end, int rowBegin, int rowEnd)
    {
        var w = _w;
        int hq = _hq;
        int wq = _wq;
        for (int c = begin; c < end; c++)
        {
            float* plane = x + (long)c * _inPlane;
            for (int py = 0; py < w.SH; py++)
            {
                for (int px = 0; px < w.SW; px++)
                {
                    float* ph = dest + (((long)c * w.SH + py) * w.SW + px) * hq * wq;
                    // Column q holds input column iw = q*SW + px - PadLeft; valid for q in [qlo, qhi).
                    int first = px - w.PadLeft;
                    int qlo = first >= 0 ? 0 : Math.Min(wq, (-first + w.SW - 1) / w.SW);
                    int qhi = w.InW - first <= 0 ? 0 : Math.Min(wq, (w.InW - first + w.SW - 1) / w.SW);
                    qhi = Math.Max(qhi, qlo);
                    for (int r = rowBegin; r < rowEnd; r++)
                    {
                        float* d = ph + (long)r * wq;
                        int ih = r * w.SH + py - w.PadTop;
                        if ((uint)ih >= (uint)w.InH || qhi == qlo)
                        {
                            new Span<float>(d, wq).Clear();
                            continue;
                        }
                        float* s = plane + (long)ih * w.InW + first;
                        for (int q = 0; q < qlo; q++)
                        {
                            d[q] = 0f;
                        }
                        if (w.SW == 1)
                        {
                            new ReadOnlySpan<float>(s + qlo, qhi - qlo).CopyTo(new Span<float>(d + qlo, qhi - qlo));
                        }
                        else
                        {
                            int q = qlo;
                            if (w.SW == 2 && Avx512F.IsSupported)
                            {
                                // 16 outputs from 32 inputs while those lie inside the plane (the 32nd, an odd
                                // one that is dropped, may be the next row's first element).
                                var even = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
                                int rowLeft = w.InW - first + (ih < w.InH - 1 ? 1 : 0);
                                for (; q + 16 <= qhi && 2 * q + 32 <= rowLeft; q += 16)
                                {
                                    var a = Vector512.Load(s + 2 * q);
                                    var b = Vector512.Load(s + 2 * q + 16);
                                    Avx512F.PermuteVar16x32x2(a, even, b).Store(d + q);
                                }
                                var even8 = Vector256.Create(0, 2, 4, 6, 8, 10, 12, 14);
                                for (; q + 8 <= qhi && 2 * q + 16 <= rowLeft; q += 8)
                                {
                                    var a = Vector256.Load(s + 2 * q);
                                    var b = Vector256.Load(s + 2 * q + 8);
                                    Avx512F.VL.PermuteVar8x32x2(a, even8, b).Store(d + q);
                                }
                            }
                            for (; q < qhi; q++)
                            {
                                d[q] = s[(long)q * w.SW];
                            }
                        }
                        for (int q = qhi; q < wq; q++)
                        {
                            d[q] = 0f;
                        }
                    }
                }
            }
        }
    }

    /// <summary>One (image, group) product: im2col (or the input in place) and the GEMM with the bias/activation epilogue.</summary>
    private void RunUnit(WorkerPool? pool, Sgemm gemm, int unit, float* x, float* w, float* bias, float* y, float* scratch)
    {
        int n = unit / _group;
        int g = unit % _group;
        float* xg = x + ((long)n * _c + (long)g * _cg) * _inPlane;
        float* yg = y + ((long)n * _m + (long)g * _mg) * _p;
        var epi = Epilogue.None;
        epi.Relu = _relu;
        if (bias != null)
        {
            epi.Bias = bias + g * _mg;
            epi.BiasRowStride = 1;
            epi.BiasColStride = 0;
        }
        float* wg = w + (long)g * _mg * _kg;
        if (_implicit)
        {
            FillPhases(pool, xg, scratch);
            if (_direct is not null && SimdLevel.Bits == 512)
            {
                RunDirect(pool, g, scratch, bias == null ? null : bias + g * _mg, yg);
                return;
            }
            fixed (nint* koff = _koff)
            {
                var phases = new PanelSource { Ptr = scratch, PanelStride = Sgemm.Nr, KOff = koff };
                gemm.Run(pool, _mg, _nv, _kg, wg, _kg, 1, phases, yg, _p, epi, _wq, _w.OutW);
            }
            return;
        }
        PanelSource src;
        if (_pointwise)
        {
            src = Sgemm.Direct(xg, _kg, _p, _inPlane, scratch);
        }
        else
        {
            long elements = (long)_kg * _p;
            if (pool is not null && elements >= (1L << 17))
            {
                _im2col.Set(this, xg, scratch);
                int grain = (int)Math.Clamp((1L << 16) / Math.Max(1, _p), 1, Math.Max(1, _kg));
                pool.For(_kg, _im2col, grain);
            }
            else
            {
                Im2colRows(xg, scratch, 0, _kg);
            }
            src = new PanelSource { Ptr = scratch, PanelStride = Sgemm.Nr, Ldb = _ldb };
        }
        gemm.Run(pool, _mg, _p, _kg, wg, _kg, 1, src, yg, _p, epi);
    }

    /// <summary>Runs units [begin, end) serially on this thread with a scratch slot no other thread holds.</summary>
    private void RunUnits(int begin, int end, float* x, float* w, float* bias, float* y, float* scratch)
    {
        int slot = 0;
        while (Interlocked.CompareExchange(ref _slotBusy[slot], 1, 0) != 0)
        {
            slot = (slot + 1) % _slots; // at most Threads callers run at once, so a slot is free
        }
        try
        {
            var gemm = Sgemm.ThreadLocal;
            float* mine = scratch + slot * _slotFloats;
            for (int u = begin; u < end; u++)
            {
                RunUnit(null, gemm, u, x, w, bias, y, mine);
            }
        }
        finally
        {
            Volatile.Write(ref _slotBusy[slot], 0);
        }
    }

    /// <summary>Writes rows [begin, end) of the (c, kh, kw) × (oh, ow) patch matrix, zero for padding and beyond P.</summary>
    private void Im2colRows(float* x, float* dest, int begin, int end)
    {
        var w = _w;
        int khw = w.KH * w.KW;
        int padded = (_p + Sgemm.Nr - 1) / Sgemm.Nr * Sgemm.Nr;
        for (int r = begin; r < end; r++)
        {
            int ci = r / khw;
            int kh = r % khw / w.KW;
            int kw = r % w.KW;
            float* row = dest + (long)r * _ldb;
            float* plane = x + (long)ci * _inPlane;
            int colOff = kw * w.DW - w.PadLeft;
            // Valid ow: 0 <= ow*SW + colOff < InW.
            int lo = colOff >= 0 ? 0 : (-colOff + w.SW - 1) / w.SW;
            int hi = w.InW - colOff <= 0 ? 0 : Math.Min(w.OutW, (w.InW - colOff + w.SW - 1) / w.SW);
            lo = Math.Min(lo, hi);
            for (int oh = 0; oh < w.OutH; oh++)
            {
                float* d = row + oh * w.OutW;
                int ih = oh * w.SH - w.PadTop + kh * w.DH;
                if ((uint)ih >= (uint)w.InH)
                {
                    new Span<float>(d, w.OutW).Clear();
                    continue;
                }
                float* s = plane + (long)ih * w.InW + colOff;
                for (int ow = 0; ow < lo; ow++)
                {
                    d[ow] = 0f;
                }
                if (w.SW == 1)
                {
                    new ReadOnlySpan<float>(s + lo, hi - lo).CopyTo(new Span<float>(d + lo, hi - lo));
                }
                else
                {
                    for (int ow = lo; ow < hi; ow++)
                    {
                        d[ow] = s[(long)ow * w.SW];
                    }
                }
                for (int ow = hi; ow < w.OutW; ow++)
                {
                    d[ow] = 0f;
                }
            }
            for (int j = _p; j < padded; j++)
            {
                row[j] = 0f;
            }
        }
    }

    /// <summary>One output plane of a depthwise conv (input channels per group = 1).</summary>
    private void DepthwisePlane(float* x, float* w, float* bias, float* y, int plane)
    {
        var win = _w;
        int n = plane / _m;
        int co = plane % _m;
        int ci = co / _mg;
        float* xp = x + ((long)n * _c + ci) * _inPlane;
        float* wp = w + (long)co * win.KH * win.KW;
        float* yp = y + (long)plane * _p;
        int bits = SimdLevel.Bits;
        for (int oh = 0; oh < win.OutH; oh++)
        {
            float* acc = yp + (long)oh * win.OutW;
            new Span<float>(acc, win.OutW).Clear();
            for (int kh = 0; kh < win.KH; kh++)
            {
                int ih = oh * win.SH - win.PadTop + kh * win.DH;
                bool rowValid = (uint)ih < (uint)win.InH;
                float* xr = xp + (long)ih * win.InW;
                for (int kw = 0; kw < win.KW; kw++)
                {
                    float wt = wp[kh * win.KW + kw];
                    int colOff = kw * win.DW - win.PadLeft;
                    if (!rowValid)
                    {
                        FmaRow(acc, null, wt, win.OutW, bits);
                        continue;
                    }
                    int lo = colOff >= 0 ? 0 : (-colOff + win.SW - 1) / win.SW;
                    int hi = win.InW - colOff <= 0 ? 0 : Math.Min(win.OutW, (win.InW - colOff + win.SW - 1) / win.SW);
                    lo = Math.Min(lo, hi);
                    for (int ow = 0; ow < lo; ow++)
                    {
                        acc[ow] = MathF.FusedMultiplyAdd(wt, 0f, acc[ow]);
                    }
                    if (win.SW == 1)
                    {
                        FmaRow(acc + lo, xr + colOff + lo, wt, hi - lo, bits);
                    }
                    else
                    {
                        for (int ow = lo; ow < hi; ow++)
                        {
                            acc[ow] = MathF.FusedMultiplyAdd(wt, xr[colOff + (long)ow * win.SW], acc[ow]);
                        }
                    }
                    for (int ow = hi; ow < win.OutW; ow++)
                    {
                        acc[ow] = MathF.FusedMultiplyAdd(wt, 0f, acc[ow]);
                    }
                }
            }
            if (bias != null)
            {
                float b = bias[co];
                for (int ow = 0; ow < win.OutW; ow++)
                {
                    acc[ow] += b;
                }
            }
            if (_relu)
            {
                for (int ow = 0; ow < win.OutW; ow++)
                {
                    if (acc[ow] < 0f)
                    {
                        acc[ow] = 0f;
                    }
                }
            }
        }
    }

    /// <summary>acc[i] = fma(w, x[i] (or 0 when x is null), acc[i]).</summary>
    private static void FmaRow(float* acc, float* x, float w, int count, int bits)
    {
        int i = 0;
        if (bits >= 256)
        {
            var vw = Vector256.Create(w);
            for (; i + 8 <= count; i += 8)
            {
                var xv = x == null ? Vector256<float>.Zero : Vector256.Load(x + i);
                Vector256.FusedMultiplyAdd(vw, xv, Vector256.Load(acc + i)).Store(acc + i);
            }
        }
        else if (bits >= 128)
        {
            var vw = Vector128.Create(w);
            for (; i + 4 <= count; i += 4)
            {
                var xv = x == null ? Vector128<float>.Zero : Vector128.Load(x + i);
                Vector128.FusedMultiplyAdd(vw, xv, Vector128.Load(acc + i)).Store(acc + i);
            }
        }
        for (; i < count; i++)
        {
            acc[i] = MathF.FusedMultiplyAdd(w, x == null ? 0f : x[i], acc[i]);
        }
    }

    private sealed class Im2colBody : IRangeBody
    {
        private ConvKernel? _owner;
        private float* _x;
        private float* _dest;

        public void Set(ConvKernel owner, float* x, float* dest)
        {
            _owner = owner;
            _x = x;
            _dest = dest;
        }

        public void Execute(int begin, int end) => _owner!.Im2colRows(_x, _dest, begin, end);
    }

    private sealed class PhasesBody : IRangeBody
    {
        private ConvKernel? _owner;
        private float* _x;
        private float* _dest;

        public void Set(ConvKernel owner, float* x, float* dest)
        {
            _owner = owner;
            _x = x;
            _dest = dest;
        }

        public void Execute(int begin, int end) => _owner!.FillPhaseChannels(_x, _dest, begin, end);
    }

    private sealed class ImageBody : IRangeBody
    {
        private ConvKernel? _owner;
        private float* _x;
        private float* _w;
        private float* _bias;
        private float* _y;
        private float* _scratch;

        public void Set(ConvKernel owner, float* x, float* w, float* bias, float* y, float* scratch)
        {
            _owner = owner;
            _x = x;
            _w = w;
            _bias = bias;
            _y = y;
            _scratch = scratch;
        }

        public void Execute(int begin, int end) => _owner!.RunUnits(begin, end, _x, _w, _bias, _y, _scratch);
    }

    private sealed class DepthwiseBody : IRangeBody
    {
        private ConvKernel? _owner;
        private float* _x;
        private float* _w;
        private float* _bias;
        private float* _y;

        public void Set(ConvKernel owner, float* x, float* w, float* bias, float* y)
        {
            _owner = owner;
            _x = x;
            _w = w;
            _bias = bias;
            _y = y;
        }

        public void Execute(int begin, int end)
        {
            for (int p = begin; p < end; p++)
            {
                _owner!.DepthwisePlane(_x, _w, _bias, _y, p);
            }
        }
    }
}
