using System.Runtime.CompilerServices;
using Prova.Core;
using Prova.Onnx;
using static Prova.Runtime.Ops.Shape.ShapeHelpers;

namespace Prova.Runtime.Ops.Attention;

/// <summary>
/// com.microsoft MultiHeadAttention (ONNX Runtime contrib op), float32. Query [B, S, N·H]; key/value
/// [B, L, N·H] and [B, L, N·Hv], or key/value already [B, N, L, H] (no bias or past then), or packed:
/// query [B, S, N, 3, H] with key and value omitted, key [B, L, N, 2, H] with value omitted. Optional
/// bias [3·N·H] is added to Q, K and V first (one rounding each). past_key/past_value [B, N, P, H] go in front
/// of the new keys in present_key/present_value [B, N, P + L, H]. key_padding_mask (int32 [B] key lengths,
/// [B, T] or [B, S, T] with 0 = masked) adds mask_filter_value (default −10000) to masked scores, as ONNX
/// Runtime does; unidirectional=1 lets query s see keys t ≤ P + s. attention_bias [B or 1, N or 1, S, T] is
/// added to the scores. Per-row arithmetic: <see cref="AttentionCore"/>.
/// </summary>
internal sealed unsafe class MultiHeadAttentionKernel : Kernel
{
    private readonly int _heads;
    private readonly float _scaleAttr;
    private readonly float _maskFilter;
    private readonly bool _causal;
    private readonly AttentionCore _core = new();
    private int _batch;
    private int _s;
    private int _l;
    private int _past;
    private int _total;
    private int _d;
    private int _dv;
    private int _layout; // 0: separate 3-D K/V, 1: K/V BNSH, 2: packed QKV, 3: packed KV
    private bool _hasBias;
    private int _maskKind; // 0 none, 1 lengths [B], 2 [B, T], 3 [B, S, T]
    private long _qScratch;
    private long _kScratch;
    private long _vScratch;
    private long _maskScratch;
    private long _coreScratch;

    public MultiHeadAttentionKernel(OnnxNode node) : base(node)
    {
        long n = node.GetInt("num_heads", 0);
        if (n < 1 || n > 65536)
        {
            throw ModelException.ForNode(node, $"num_heads={n} must be positive");
        }
        _heads = (int)n;
        _scaleAttr = node.GetFloat("scale", 0f);
        _maskFilter = node.GetFloat("mask_filter_value", -10000f);
        _causal = node.GetInt("unidirectional", 0) != 0;
    }

    public override void Infer(InferContext ctx)
    {
        if (ctx.HasInput(8) || ctx.HasInput(9))
        {
            throw ModelException.Unsupported(Node, "MultiHeadAttention with past_sequence_length or cache_indirection (shared KV buffers)");
        }
        if (ctx.HasOutput(3))
        {
            throw ModelException.Unsupported(Node, "MultiHeadAttention's qk output");
        }
        ctx.ExpectType(0, DataType.Float32);
        var q = ctx.InputShape(0);
        int n = _heads;
        _batch = q[0];
        if (q.Length == 5)
        {
            if (ctx.HasInput(1) || ctx.HasInput(2) || q[2] != n || q[3] != 3)
            {
                throw ModelException.ForNode(Node, $"packed query of shape {Fmt(q)} must be [batch, sequence, {n}, 3, head] with key and value omitted");
            }
            _layout = 2;
            _s = q[1];
            _l = q[1];
            _d = _dv = q[4];
        }
        else
        {
            if (q.Length != 3 || q[2] % n != 0)
            {
                throw ModelException.ForNode(Node, $"query of shape {Fmt(q)} must be [batch, sequence, num_heads·head] with num_heads {n}");
            }
            _s = q[1];
            _d = q[2] / n;
            ctx.ExpectType(1, DataType.Float32);
            var k = ctx.InputShape(1);
            if (k.Length == 5)
            {
                if (ctx.HasInput(2) || k[0] != _batch || k[2] != n || k[3] != 2 || k[4] != _d)
                {
                    throw ModelException.ForNode(Node, $"packed key of shape {Fmt(k)} must be [{_batch}, kv_sequence, {n}, 2, {_d}] with value omitted");
                }
                _layout = 3;
                _l = k[1];
                _dv = _d;
            }
            else
            {
                ctx.ExpectType(2, DataType.Float32);
                var v = ctx.InputShape(2);
                if (k.Length == 3 && v.Length == 3 && k[0] == _batch && v[0] == _batch && k[2] == n * _d && v[1] == k[1] && v[2] % n == 0)
                {
                    _layout = 0;
                    _l = k[1];
                    _dv = v[2] / n;
                }
                else if (k.Length == 4 && v.Length == 4 && k[0] == _batch && k[1] == n && k[3] == _d && v[0] == _batch && v[1] == n && v[2] == k[2])
                {
                    _layout = 1;
                    _l = k[2];
                    _dv = v[3];
                }
                else
                {
                    throw ModelException.ForNode(Node, $"key {Fmt(k)} and value {Fmt(ctx.InputShape(2))} must be [{_batch}, kv_sequence, {n}·{_d}] and [{_batch}, kv_sequence, {n}·v_head], or [{_batch}, {n}, kv_sequence, {_d}] and [{_batch}, {n}, kv_sequence, v_head]");
                }
            }
        }
        _hasBias = ctx.HasInput(3);
        if (_hasBias)
        {
            ctx.ExpectType(3, DataType.Float32);
            if (_layout == 1 || ctx.Input(3).ElementCount != (long)n * (2 * _d + _dv))
            {
                throw ModelException.ForNode(Node, $"bias of shape {Fmt(ctx.InputShape(3))} must hold {(long)n * (2 * _d + _dv)} values (Q, K, V) and needs 3-D key/value");
            }
        }
        if (ctx.HasInput(6) != ctx.HasInput(7))
        {
            throw ModelException.ForNode(Node, "past_key and past_value must be given together");
        }
        _past = 0;
        if (ctx.HasInput(6))
        {
            var pk = ctx.InputShape(6);
            var pv = ctx.InputShape(7);
            ctx.ExpectType(6, DataType.Float32);
            ctx.ExpectType(7, DataType.Float32);
            if (_layout == 1 || pk.Length != 4 || pv.Length != 4 || pk[0] != _batch || pk[1] != n || pk[3] != _d || pv[0] != _batch || pv[1] != n || pv[2] != pk[2] || pv[3] != _dv)
            {
                throw ModelException.ForNode(Node, $"past_key {Fmt(pk)} and past_value {Fmt(pv)} must be [{_batch}, {n}, past, {_d}] and [{_batch}, {n}, past, {_dv}] (and key/value not already BNSH)");
            }
            _past = pk[2];
        }
        _total = _past + _l;
        _maskKind = 0;
        if (ctx.HasInput(4))
        {
            ctx.ExpectType(4, DataType.Int32);
            var m = ctx.InputShape(4);
            _maskKind = m.Length == 1 && m[0] == _batch ? 1
                : m.Length == 2 && m[0] == _batch && m[1] == _total ? 2
                : m.Length == 3 && m[0] == _batch && m[1] == _s && m[2] == _total ? 3
                : throw ModelException.ForNode(Node, $"key_padding_mask of shape {Fmt(m)} must be [{_batch}], [{_batch}, {_total}] or [{_batch}, {_s}, {_total}]");
        }
        _core.Bias = null;
        if (ctx.HasInput(5))
        {
            ctx.ExpectType(5, DataType.Float32);
            var ab = ctx.InputShape(5);
            if (ab.Length != 4 || (ab[0] != _batch && ab[0] != 1) || (ab[1] != n && ab[1] != 1) || ab[2] != _s || ab[3] != _total)
            {
                throw ModelException.ForNode(Node, $"attention_bias of shape {Fmt(ab)} must be [{_batch} or 1, {n} or 1, {_s}, {_total}]");
            }
            _core.BiasT = 1;
            _core.BiasS = _total;
            _core.BiasH = ab[1] == 1 ? 0 : (long)_s * _total;
            _core.BiasB = ab[0] == 1 ? 0 : (long)ab[1] * _s * _total;
            _core.BiasLen = _total;
        }
        _core.Batch = _batch;
        _core.QHeads = n;
        _core.KvHeads = n;
        _core.QLen = _s;
        _core.HeadSize = _d;
        _core.VHeadSize = _dv;
        _core.KeyCapacity = _total;
        _core.Scale = _scaleAttr == 0f ? 1f / MathF.Sqrt(_d) : _scaleAttr;
        _core.Causal = _causal;
        _core.MaskAdd = _maskFilter;
        _core.KeyEnd = new int[_batch];
        _core.CausalOffset = new int[_batch];
        for (int b = 0; b < _batch; b++)
        {
            _core.KeyEnd[b] = _total;
            _core.CausalOffset[b] = _past;
        }
        long offset = 0;
        _qScratch = offset;
        offset += _hasBias ? Align((long)_batch * _s * n * _d * 4) : 0;
        _kScratch = offset;
        offset += ctx.HasOutput(1) ? 0 : Align((long)_batch * n * _total * _d * 4);
        _vScratch = offset;
        offset += ctx.HasOutput(2) ? 0 : Align((long)_batch * n * _total * _dv * 4);
        _maskScratch = offset;
        offset += _maskKind == 0 ? 0 : Align((long)_batch * (_maskKind == 3 ? _s : 1) * _total);
        _coreScratch = offset;
        offset += AttentionCore.ScratchBytes(_batch * n * _s, ctx.Threads, _total);
        ctx.RequestScratch(offset);
        ctx.SetOutput(0, DataType.Float32, [_batch, _s, n * _dv]);
        if (ctx.HasOutput(1))
        {
            ctx.SetOutput(1, DataType.Float32, [_batch, n, _total, _d]);
        }
        if (ctx.HasOutput(2))
        {
            ctx.SetOutput(2, DataType.Float32, [_batch, n, _total, _dv]);
        }
    }

    private static long Align(long bytes) => (bytes + 63) & ~63L;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Execute(ExecContext ctx)
    {
        int n = _heads;
        int d = _d;
        int dv = _dv;
        byte* scratch = ctx.Scratch;
        float* query = ctx.In<float>(0);
        float* bias = _hasBias ? ctx.In<float>(3) : null;
        // Element (b, s, h, i) of Q / K / V in their input layouts.
        long qB, qS, qH;
        float* qSrc = query;
        float* kSrc;
        float* vSrc;
        long kB, kT, kH, vB, vT, vH;
        switch (_layout)
        {
            case 2:
                (qB, qS, qH) = ((long)_s * n * 3 * d, (long)n * 3 * d, 3L * d);
                kSrc = query + d;
                vSrc = query + 2 * d;
                (kB, kT, kH) = (qB, qS, qH);
                (vB, vT, vH) = (qB, qS, qH);
                break;
            case 3:
                (qB, qS, qH) = ((long)_s * n * d, (long)n * d, d);
                kSrc = ctx.In<float>(1);
                vSrc = kSrc + d;
                (kB, kT, kH) = ((long)_l * n * 2 * d, (long)n * 2 * d, 2L * d);
                (vB, vT, vH) = (kB, kT, kH);
                break;
            case 1:
                (qB, qS, qH) = ((long)_s * n * d, (long)n * d, d);
                kSrc = ctx.In<float>(1);
                vSrc = ctx.In<float>(2);
                (kB, kT, kH) = ((long)n * _l * d, d, (long)_l * d);
                (vB, vT, vH) = ((long)n * _l * dv, dv, (long)_l * dv);
                break;
            default:
                (qB, qS, qH) = ((long)_s * n * d, (long)n * d, d);
                kSrc = ctx.In<float>(1);
                vSrc = ctx.In<float>(2);
                (kB, kT, kH) = ((long)_l * n * d, (long)n * d, d);
                (vB, vT, vH) = ((long)_l * n * dv, (long)n * dv, dv);
                break;
        }
        if (bias != null)
        {
            float* qb = (float*)(scratch + _qScratch);
            for (int b = 0; b < _batch; b++)
            {
                for (int s = 0; s < _s; s++)
                {
                    for (int h = 0; h < n; h++)
                    {
                        float* src = qSrc + b * qB + s * qS + h * qH;
                        float* dst = qb + (((long)b * _s + s) * n + h) * d;
                        for (int i = 0; i < d; i++)
                        {
                            dst[i] = src[i] + bias[h * d + i];
                        }
                    }
                }
            }
            qSrc = qb;
            (qB, qS, qH) = ((long)_s * n * d, (long)n * d, d);
        }
        float* pk = ctx.HasOutput(1) ? ctx.Out<float>(1) : (float*)(scratch + _kScratch);
        float* pv = ctx.HasOutput(2) ? ctx.Out<float>(2) : (float*)(scratch + _vScratch);
        float* pastK = _past > 0 ? ctx.In<float>(6) : null;
        float* pastV = _past > 0 ? ctx.In<float>(7) : null;
        float* kBias = bias == null ? null : bias + (long)n * d;
        float* vBias = bias == null ? null : bias + 2L * n * d;
        for (int b = 0; b < _batch; b++)
        {
            for (int h = 0; h < n; h++)
            {
                long bh = (long)b * n + h;
                if (_past > 0)
                {
                    new ReadOnlySpan<float>(pastK + bh * _past * d, _past * d).CopyTo(new Span<float>(pk + bh * _total * d, _past * d));
                    new ReadOnlySpan<float>(pastV + bh * _past * dv, _past * dv).CopyTo(new Span<float>(pv + bh * _total * dv, _past * dv));
                }
                for (int t = 0; t < _l; t++)
                {
                    Put(kSrc + b * kB + t * kT + h * kH, kBias == null ? null : kBias + h * d, pk + (bh * _total + _past + t) * d, d);
                    Put(vSrc + b * vB + t * vT + h * vH, vBias == null ? null : vBias + h * dv, pv + (bh * _total + _past + t) * dv, dv);
                }
            }
        }
        _core.Mask = null;
        if (_maskKind != 0)
        {
            byte* m = scratch + _maskScratch;
            int* src = ctx.In<int>(4);
            int rows = _maskKind == 3 ? _s : 1;
            for (int b = 0; b < _batch; b++)
            {
                for (int r = 0; r < rows; r++)
                {
                    byte* row = m + ((long)b * rows + r) * _total;
                    for (int t = 0; t < _total; t++)
                    {
                        row[t] = _maskKind == 1 ? (byte)(t < src[b] ? 1 : 0) : (byte)(src[((long)b * rows + r) * _total + t] != 0 ? 1 : 0);
                    }
                }
            }
            _core.Mask = m;
            (_core.MaskB, _core.MaskH, _core.MaskS, _core.MaskT, _core.MaskLen) = ((long)rows * _total, 0, _maskKind == 3 ? _total : 0, 1, _total);
        }
        _core.Q = qSrc;
        (_core.QB, _core.QS, _core.QH) = (qB, qS, qH);
        _core.K = pk;
        _core.V = pv;
        (_core.KB, _core.KH, _core.KT) = ((long)n * _total * d, (long)_total * d, d);
        (_core.VB, _core.VH, _core.VT) = ((long)n * _total * dv, (long)_total * dv, dv);
        _core.O = ctx.Out<float>(0);
        (_core.OB, _core.OS, _core.OH) = ((long)_s * n * dv, (long)n * dv, dv);
        if (ctx.HasInput(5))
        {
            _core.Bias = ctx.In<float>(5);
        }
        _core.Run(ctx.Pool, scratch + _coreScratch);
    }

    private static void Put(float* src, float* bias, float* dst, int count)
    {
        if (bias == null)
        {
            new ReadOnlySpan<float>(src, count).CopyTo(new Span<float>(dst, count));
            return;
        }
        for (int i = 0; i < count; i++)
        {
            dst[i] = src[i] + bias[i];
        }
    }
}
