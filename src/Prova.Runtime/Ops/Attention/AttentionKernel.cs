using Prova.Core;
using Prova.Onnx;
using static Prova.Runtime.Ops.Shape.ShapeHelpers;

namespace Prova.Runtime.Ops.Attention;

/// <summary>
/// ONNX Attention-23, float32. Q/K/V 4-D [batch, heads, sequence, head_size] or 3-D [batch, sequence,
/// heads·head_size] (q_num_heads and kv_num_heads attributes); past_key/past_value [batch, kv_heads, past,
/// head_size] are concatenated in front of K/V into present_key/present_value. Query head h uses kv head
/// h / (q_heads / kv_heads). attn_mask (bool: false masks; float: added) broadcasts to [batch, q_heads,
/// q_sequence, total] from the right; a last dimension shorter than total masks the keys beyond it, as the
/// reference pads. is_causal lets query s see keys t ≤ past + s. Softcap is applied before the mask, as
/// in the reference. The per-row arithmetic is <see cref="AttentionCore"/>'s (score = dot × scale, scale
/// defaulting to 1/sqrt(head_size)). qk_matmul_output and nonpad_kv_seqlen are rejected.
/// </summary>
internal sealed unsafe class AttentionKernel : Kernel
{
    private readonly bool _causal;
    private readonly int _qHeadsAttr;
    private readonly int _kvHeadsAttr;
    private readonly float _scaleAttr;
    private readonly bool _hasScale;
    private readonly float _softcap;
    private readonly AttentionCore _core = new();
    private bool _threeD;
    private int _batch;
    private int _qHeads;
    private int _kvHeads;
    private int _s;
    private int _l;
    private int _past;
    private int _total;
    private int _d;
    private int _dv;
    private bool _concat;
    private bool _presentKOut;
    private bool _presentVOut;
    private long _presentScratch;
    private long _coreScratch;
    private int _maskKind; // 0 none, 1 float, 2 bool

    public AttentionKernel(OnnxNode node) : base(node)
    {
        _causal = node.GetInt("is_causal", 0) != 0;
        long qh = node.GetInt("q_num_heads", 0);
        long kvh = node.GetInt("kv_num_heads", 0);
        if (qh < 0 || kvh < 0 || qh > 65536 || kvh > 65536)
        {
            throw ModelException.ForNode(node, $"q_num_heads={qh} and kv_num_heads={kvh} must be non-negative");
        }
        _qHeadsAttr = (int)qh;
        _kvHeadsAttr = (int)kvh;
        _hasScale = node.HasAttribute("scale");
        _scaleAttr = node.GetFloat("scale", 0f);
        _softcap = node.GetFloat("softcap", 0f);
        if (_softcap < 0f || float.IsNaN(_softcap))
        {
            throw ModelException.ForNode(node, $"softcap {_softcap} must be 0 (off) or positive");
        }
    }

    public override void Infer(InferContext ctx)
    {
        if (ctx.HasOutput(3))
        {
            throw ModelException.Unsupported(Node, "Attention's qk_matmul_output output");
        }
        if (ctx.HasInput(6))
        {
            throw ModelException.Unsupported(Node, "Attention's nonpad_kv_seqlen input");
        }
        for (int i = 0; i < 3; i++)
        {
            ctx.ExpectType(i, DataType.Float32);
        }
        var q = ctx.InputShape(0);
        var k = ctx.InputShape(1);
        var v = ctx.InputShape(2);
        if (q.Length != k.Length || q.Length != v.Length || (q.Length != 3 && q.Length != 4))
        {
            throw ModelException.ForNode(Node, $"Q {Fmt(q)}, K {Fmt(k)} and V {Fmt(v)} must all be 3-D or all 4-D");
        }
        _threeD = q.Length == 3;
        _batch = q[0];
        if (k[0] != _batch || v[0] != _batch)
        {
            throw ModelException.ForNode(Node, $"Q {Fmt(q)}, K {Fmt(k)} and V {Fmt(v)} must have the same batch size");
        }
        if (_threeD)
        {
            if (_qHeadsAttr == 0 || _kvHeadsAttr == 0)
            {
                throw ModelException.ForNode(Node, "3-D inputs need the q_num_heads and kv_num_heads attributes");
            }
            _qHeads = _qHeadsAttr;
            _kvHeads = _kvHeadsAttr;
            _s = q[1];
            _l = k[1];
            if (q[2] % _qHeads != 0 || k[2] % _kvHeads != 0 || v[2] % _kvHeads != 0 || v[1] != _l)
            {
                throw ModelException.ForNode(Node, $"Q {Fmt(q)}, K {Fmt(k)}, V {Fmt(v)} do not split into q_num_heads={_qHeads} and kv_num_heads={_kvHeads}");
            }
            _d = q[2] / _qHeads;
            _dv = v[2] / _kvHeads;
            if (k[2] / _kvHeads != _d)
            {
                throw ModelException.ForNode(Node, $"K's head size {k[2] / _kvHeads} differs from Q's {_d}");
            }
        }
        else
        {
            (_qHeads, _s, _d) = (q[1], q[2], q[3]);
            (_kvHeads, _l) = (k[1], k[2]);
            _dv = v[3];
            if (k[3] != _d || v[1] != _kvHeads || v[2] != _l)
            {
                throw ModelException.ForNode(Node, $"K {Fmt(k)} and V {Fmt(v)} must be [batch, kv_heads, kv_sequence, head] with Q's head size {_d}");
            }
        }
        if (_kvHeads == 0 || _qHeads % _kvHeads != 0)
        {
            throw ModelException.ForNode(Node, $"the {_qHeads} query heads are not a multiple of the {_kvHeads} key/value heads");
        }
        if (ctx.HasInput(4) != ctx.HasInput(5))
        {
            throw ModelException.ForNode(Node, "past_key and past_value must be given together");
        }
        _past = 0;
        if (ctx.HasInput(4))
        {
            ctx.ExpectType(4, DataType.Float32);
            ctx.ExpectType(5, DataType.Float32);
            var pk = ctx.InputShape(4);
            var pv = ctx.InputShape(5);
            if (pk.Length != 4 || pv.Length != 4 || pk[0] != _batch || pk[1] != _kvHeads || pk[3] != _d || pv[0] != _batch || pv[1] != _kvHeads || pv[2] != pk[2] || pv[3] != _dv)
            {
                throw ModelException.ForNode(Node, $"past_key {Fmt(pk)} and past_value {Fmt(pv)} must be [{_batch}, {_kvHeads}, past, {_d}] and [{_batch}, {_kvHeads}, past, {_dv}]");
            }
            _past = pk[2];
        }
        _total = _past + _l;
        _presentKOut = ctx.HasOutput(1);
        _presentVOut = ctx.HasOutput(2);
        _concat = _past > 0 || _presentKOut || _presentVOut;
        SetUpMask(ctx);
        _core.Batch = _batch;
        _core.QHeads = _qHeads;
        _core.KvHeads = _kvHeads;
        _core.QLen = _s;
        _core.HeadSize = _d;
        _core.VHeadSize = _dv;
        _core.KeyCapacity = _total;
        _core.Scale = _hasScale ? _scaleAttr : 1f / MathF.Sqrt(_d);
        _core.Softcap = _softcap;
        _core.Causal = _causal;
        _core.KeyEnd = new int[_batch];
        _core.CausalOffset = new int[_batch];
        for (int b = 0; b < _batch; b++)
        {
            _core.KeyEnd[b] = _total;
            _core.CausalOffset[b] = _past;
        }
        long kFloats = (long)_batch * _kvHeads * _total * _d;
        long vFloats = (long)_batch * _kvHeads * _total * _dv;
        long offset = 0;
        _presentScratch = 0;
        if (_concat)
        {
            offset += (_presentKOut ? 0 : Align(kFloats * 4)) + (_presentVOut ? 0 : Align(vFloats * 4));
        }
        _coreScratch = offset;
        offset += AttentionCore.ScratchBytes(_batch * _qHeads * _s, ctx.Threads, _total);
        ctx.RequestScratch(offset);
        ctx.SetOutput(0, DataType.Float32, _threeD ? [_batch, _s, _qHeads * _dv] : [_batch, _qHeads, _s, _dv]);
        if (_presentKOut)
        {
            ctx.SetOutput(1, DataType.Float32, [_batch, _kvHeads, _total, _d]);
        }
        if (_presentVOut)
        {
            ctx.SetOutput(2, DataType.Float32, [_batch, _kvHeads, _total, _dv]);
        }
    }

    private void SetUpMask(InferContext ctx)
    {
        _maskKind = 0;
        if (!ctx.HasInput(3))
        {
            return;
        }
        var t = ctx.ExpectType(3, DataType.Float32, DataType.Bool);
        _maskKind = t == DataType.Bool ? 2 : 1;
        var m = ctx.InputShape(3);
        if (m.Length < 1 || m.Length > 4)
        {
            throw ModelException.ForNode(Node, $"attn_mask of shape {Fmt(m)} must have rank 1 to 4");
        }
        int[] target = [_batch, _qHeads, _s, _total];
        var strides = new long[4];
        long stride = 1;
        for (int i = m.Length - 1; i >= 0; i--)
        {
            int axis = 4 - m.Length + i;
            int dim = m[i];
            if (axis == 3)
            {
                if (dim > _total || dim == 0 && _total > 0)
                {
                    throw ModelException.ForNode(Node, $"attn_mask of shape {Fmt(m)} has a last dimension larger than the {_total} keys");
                }
                strides[3] = 1;
            }
            else if (dim == target[axis])
            {
                strides[axis] = target[axis] == 1 ? 0 : stride;
            }
            else if (dim == 1)
            {
                strides[axis] = 0;
            }
            else
            {
                throw ModelException.ForNode(Node, $"attn_mask of shape {Fmt(m)} does not broadcast to [batch {_batch}, heads {_qHeads}, q_sequence {_s}, total {_total}]");
            }
            stride *= dim;
        }
        int len = m[^1];
        if (_maskKind == 1)
        {
            (_core.BiasB, _core.BiasH, _core.BiasS, _core.BiasT, _core.BiasLen) = (strides[0], strides[1], strides[2], 1, len);
        }
        else
        {
            (_core.MaskB, _core.MaskH, _core.MaskS, _core.MaskT, _core.MaskLen) = (strides[0], strides[1], strides[2], 1, len);
        }
    }

    private static long Align(long bytes) => (bytes + 63) & ~63L;

    public override void Execute(ExecContext ctx)
    {
        float* q = ctx.In<float>(0);
        float* k = ctx.In<float>(1);
        float* v = ctx.In<float>(2);
        byte* scratch = ctx.Scratch;
        int d = _d;
        int dv = _dv;
        // Layout of the new keys/values: element (b, head, t, i).
        long kB = _threeD ? (long)_l * _kvHeads * d : (long)_kvHeads * _l * d;
        long kH = _threeD ? d : (long)_l * d;
        long kT = _threeD ? (long)_kvHeads * d : d;
        long vB = _threeD ? (long)_l * _kvHeads * dv : (long)_kvHeads * _l * dv;
        long vH = _threeD ? dv : (long)_l * dv;
        long vT = _threeD ? (long)_kvHeads * dv : dv;
        if (_concat)
        {
            long kFloats = (long)_batch * _kvHeads * _total * d;
            float* pk = _presentKOut ? ctx.Out<float>(1) : (float*)(scratch + _presentScratch);
            float* pv = _presentVOut ? ctx.Out<float>(2) : (float*)(scratch + _presentScratch + (_presentKOut ? 0 : Align(kFloats * 4)));
            float* pastK = _past > 0 ? ctx.In<float>(4) : null;
            float* pastV = _past > 0 ? ctx.In<float>(5) : null;
            for (int b = 0; b < _batch; b++)
            {
                for (int h = 0; h < _kvHeads; h++)
                {
                    long bh = (long)b * _kvHeads + h;
                    if (_past > 0)
                    {
                        new ReadOnlySpan<float>(pastK + bh * _past * d, _past * d).CopyTo(new Span<float>(pk + bh * _total * d, _past * d));
                        new ReadOnlySpan<float>(pastV + bh * _past * dv, _past * dv).CopyTo(new Span<float>(pv + bh * _total * dv, _past * dv));
                    }
                    for (int t = 0; t < _l; t++)
                    {
                        new ReadOnlySpan<float>(k + b * kB + h * kH + t * kT, d).CopyTo(new Span<float>(pk + (bh * _total + _past + t) * d, d));
                        new ReadOnlySpan<float>(v + b * vB + h * vH + t * vT, dv).CopyTo(new Span<float>(pv + (bh * _total + _past + t) * dv, dv));
                    }
                }
            }
            _core.K = pk;
            _core.V = pv;
            (_core.KB, _core.KH, _core.KT) = ((long)_kvHeads * _total * d, (long)_total * d, d);
            (_core.VB, _core.VH, _core.VT) = ((long)_kvHeads * _total * dv, (long)_total * dv, dv);
        }
        else
        {
            _core.K = k;
            _core.V = v;
            (_core.KB, _core.KH, _core.KT) = (kB, kH, kT);
            (_core.VB, _core.VH, _core.VT) = (vB, vH, vT);
        }
        _core.Q = q;
        if (_threeD)
        {
            (_core.QB, _core.QH, _core.QS) = ((long)_s * _qHeads * d, d, (long)_qHeads * d);
            (_core.OB, _core.OH, _core.OS) = ((long)_s * _qHeads * dv, dv, (long)_qHeads * dv);
        }
        else
        {
            (_core.QB, _core.QH, _core.QS) = ((long)_qHeads * _s * d, (long)_s * d, d);
            (_core.OB, _core.OH, _core.OS) = ((long)_qHeads * _s * dv, (long)_s * dv, dv);
        }
        _core.O = ctx.Out<float>(0);
        _core.Bias = _maskKind == 1 ? ctx.In<float>(3) : null;
        _core.Mask = _maskKind == 2 ? ctx.In<byte>(3) : null;
        _core.Run(ctx.Pool, scratch + _coreScratch);
    }
}
