using Prova.Core;
using Prova.Onnx;
using static Prova.Runtime.Ops.Shape.ShapeHelpers;

namespace Prova.Runtime.Ops.Attention;

/// <summary>
/// com.microsoft GroupQueryAttention (ONNX Runtime contrib op; what the onnxruntime-genai model builder
/// emits for Llama, Qwen, SmolLM, Phi), float32, with ONNX Runtime's CPU right-padding semantics:
/// <list type="bullet">
/// <item>present length Tp = max(total_sequence_length, past length); present is zero except what is written below;</item>
/// <item>per batch b: total_b = seqlens_k[b] + 1; past_b = 0 on the first prompt (S = total_sequence_length),
/// else total_b − S; present[0, past_b) = past[0, past_b), present[past_b, past_b + S) = the new keys/values;</item>
/// <item>query row s attends to keys t with t ≤ past_b + s (and t &gt; past_b + s − local_window_size when the window is set: the window counts the query's own key);</item>
/// <item>do_rotary rotates Q and the new K (<see cref="Rotary"/>) at position past_b + s; on a continued prompt, positions ≥ total_b (padding) use 1;</item>
/// <item>query head h uses key/value head h / (num_heads / kv_num_heads); scale defaults to 1/sqrt(head_size).</item>
/// </list>
/// The arithmetic per row is <see cref="AttentionCore"/>'s. Packed QKV (key and value omitted) is supported;
/// position_ids, attention_bias, head_sink and smooth_softmax are rejected.
/// </summary>
internal sealed unsafe class GroupQueryAttentionKernel : Kernel
{
    private readonly int _numHeads;
    private readonly int _kvHeads;
    private readonly float _scaleAttr;
    private readonly float _softcap;
    private readonly bool _rotary;
    private readonly bool _interleaved;
    private readonly int _window;
    private readonly AttentionCore _core = new();

    private int _batch;
    private int _seq;
    private int _headSize;
    private int _qRow;
    private bool _packed;
    private int _past;
    private int _present;
    private int _total;
    private int _rotaryDim;
    private int _cosRows;
    private long _qScratch;
    private long _kScratch;
    private long _coreScratch;
    private bool _presentKOut;
    private bool _presentVOut;

    public GroupQueryAttentionKernel(OnnxNode node) : base(node)
    {
        long nh = node.GetInt("num_heads", 0);
        long kvh = node.GetInt("kv_num_heads", 0);
        if (nh < 1 || kvh < 1 || nh > 4096 || kvh > nh || nh % kvh != 0)
        {
            throw ModelException.ForNode(node, $"num_heads={nh} must be a positive multiple of kv_num_heads={kvh}");
        }
        _numHeads = (int)nh;
        _kvHeads = (int)kvh;
        _scaleAttr = node.GetFloat("scale", 0f);
        _softcap = node.GetFloat("softcap", 0f);
        if (_softcap < 0f || float.IsNaN(_softcap))
        {
            throw ModelException.ForNode(node, $"softcap {_softcap} must be 0 (off) or positive");
        }
        _rotary = node.GetInt("do_rotary", 0) != 0;
        _interleaved = node.GetInt("rotary_interleaved", 0) != 0;
        long window = node.GetInt("local_window_size", -1);
        if (window == 0 || window < -1)
        {
            throw ModelException.ForNode(node, $"local_window_size {window} must be -1 (off) or positive");
        }
        _window = window < 0 ? 0 : (int)Math.Min(window, int.MaxValue);
        if (node.GetInt("smooth_softmax", 0) != 0)
        {
            throw ModelException.Unsupported(node, "GroupQueryAttention with smooth_softmax=1");
        }
        if (node.GetInt("qk_output", 0) != 0)
        {
            throw ModelException.Unsupported(node, "GroupQueryAttention with qk_output");
        }
    }

    public override void Infer(InferContext ctx)
    {
        for (int i = 9; i <= 11; i++)
        {
            if (ctx.HasInput(i))
            {
                string name = i == 9 ? "position_ids" : i == 10 ? "attention_bias" : "head_sink";
                throw ModelException.Unsupported(Node, $"GroupQueryAttention input {name}");
            }
        }
        ctx.ExpectType(0, DataType.Float32);
        var qShape = ctx.InputShape(0);
        if (qShape.Length != 3)
        {
            throw ModelException.ForNode(Node, $"query of shape {Fmt(qShape)} must be 3-D [batch, sequence, hidden]");
        }
        _batch = qShape[0];
        _seq = qShape[1];
        _qRow = qShape[2];
        _packed = !ctx.HasInput(1);
        int heads = _packed ? _numHeads + 2 * _kvHeads : _numHeads;
        if (_qRow % heads != 0 || _qRow == 0)
        {
            throw ModelException.ForNode(Node, $"query hidden size {_qRow} is not a multiple of {(_packed ? "num_heads + 2·kv_num_heads" : "num_heads")} = {heads}");
        }
        _headSize = _qRow / heads;
        if (!_packed)
        {
            if (!ctx.HasInput(2))
            {
                throw ModelException.ForNode(Node, "key is given but value is missing");
            }
            for (int i = 1; i <= 2; i++)
            {
                ctx.ExpectType(i, DataType.Float32);
                var s = ctx.InputShape(i);
                if (s.Length != 3 || s[0] != _batch || s[1] != _seq || s[2] != _kvHeads * _headSize)
                {
                    throw ModelException.ForNode(Node, $"{(i == 1 ? "key" : "value")} of shape {Fmt(s)} must be [{_batch}, {_seq}, kv_num_heads·head_size = {_kvHeads * _headSize}]");
                }
            }
        }
        else if (ctx.HasInput(2))
        {
            throw ModelException.ForNode(Node, "value is given without key");
        }
        _past = 0;
        if (ctx.HasInput(3) != ctx.HasInput(4))
        {
            throw ModelException.ForNode(Node, "past_key and past_value must be given together");
        }
        if (ctx.HasInput(3))
        {
            var pk = ctx.InputShape(3);
            for (int i = 3; i <= 4; i++)
            {
                ctx.ExpectType(i, DataType.Float32);
                var s = ctx.InputShape(i);
                if (s.Length != 4 || s[0] != _batch || s[1] != _kvHeads || s[3] != _headSize || s[2] != pk[2])
                {
                    throw ModelException.ForNode(Node, $"{(i == 3 ? "past_key" : "past_value")} of shape {Fmt(s)} must be [{_batch}, {_kvHeads}, past, {_headSize}] (BNSH), the same for key and value");
                }
            }
            _past = pk[2];
        }
        ctx.ExpectType(5, DataType.Int32);
        if (ctx.Input(5).ElementCount != _batch)
        {
            throw ModelException.ForNode(Node, $"seqlens_k of shape {Fmt(ctx.InputShape(5))} must hold one value per batch ({_batch})");
        }
        ctx.ExpectType(6, DataType.Int32);
        var total = ctx.RequireConstant(6, "total_sequence_length");
        if (total.Length != 1)
        {
            throw ModelException.ForNode(Node, $"total_sequence_length must be a scalar, got shape {Fmt(total.Shape)}");
        }
        _total = total.Span<int>()[0];
        if (_total < _seq || _total < 1)
        {
            throw ModelException.ForNode(Node, $"total_sequence_length {_total} is smaller than the query sequence length {_seq}");
        }
        _present = Math.Max(_total, _past);
        if (_rotary)
        {
            if (!ctx.HasInput(7) || !ctx.HasInput(8))
            {
                throw ModelException.ForNode(Node, "do_rotary=1 needs cos_cache and sin_cache");
            }
            ctx.ExpectType(7, DataType.Float32);
            ctx.ExpectType(8, DataType.Float32);
            var cs = ctx.InputShape(7);
            var ss = ctx.InputShape(8);
            if (cs.Length != 2 || ss.Length != 2 || cs[0] != ss[0] || cs[1] != ss[1] || cs[1] * 2 > _headSize || cs[1] == 0)
            {
                throw ModelException.ForNode(Node, $"cos_cache {Fmt(cs)} and sin_cache {Fmt(ss)} must both be [max_position, rotary_dim / 2] with rotary_dim ≤ head_size {_headSize}");
            }
            _rotaryDim = cs[1] * 2;
            _cosRows = cs[0];
        }
        _core.Scale = _scaleAttr == 0f ? 1f / MathF.Sqrt(_headSize) : _scaleAttr;
        _core.Softcap = _softcap;
        _core.Window = _window;
        _core.Batch = _batch;
        _core.QHeads = _numHeads;
        _core.KvHeads = _kvHeads;
        _core.QLen = _seq;
        _core.HeadSize = _headSize;
        _core.VHeadSize = _headSize;
        _core.KeyCapacity = _present;
        _core.Causal = true;
        _core.KeyEnd = new int[_batch];
        _core.CausalOffset = new int[_batch];
        long presentFloats = (long)_batch * _kvHeads * _present * _headSize;
        _presentKOut = ctx.HasOutput(1);
        _presentVOut = ctx.HasOutput(2);
        long offset = 0;
        _qScratch = offset;
        if (_rotary)
        {
            offset += Align((long)_batch * _seq * _numHeads * _headSize * sizeof(float));
        }
        _kScratch = offset;
        offset += (_presentKOut ? 0 : Align(presentFloats * sizeof(float))) + (_presentVOut ? 0 : Align(presentFloats * sizeof(float)));
        _coreScratch = offset;
        offset += AttentionCore.ScratchBytes(_batch * _numHeads * _seq, ctx.Threads, _present);
        ctx.RequestScratch(offset);
        ctx.SetOutput(0, DataType.Float32, [_batch, _seq, _numHeads * _headSize]);
        if (_presentKOut)
        {
            ctx.SetOutput(1, DataType.Float32, [_batch, _kvHeads, _present, _headSize]);
        }
        if (_presentVOut)
        {
            ctx.SetOutput(2, DataType.Float32, [_batch, _kvHeads, _present, _headSize]);
        }
    }

    private static long Align(long bytes) => (bytes + 63) & ~63L;

    public override void Execute(ExecContext ctx)
    {
        int d = _headSize;
        int nq = _numHeads;
        int nkv = _kvHeads;
        int s = _seq;
        int tp = _present;
        byte* scratch = ctx.Scratch;
        float* query = ctx.In<float>(0);
        int* seqlens = ctx.In<int>(5);
        long presentFloats = (long)_batch * nkv * tp * d;
        float* pk = _presentKOut ? ctx.Out<float>(1) : (float*)(scratch + _kScratch);
        float* pv = _presentVOut ? ctx.Out<float>(2) : (float*)(scratch + _kScratch + (_presentKOut ? 0 : Align(presentFloats * sizeof(float))));
        float* pastK = ctx.HasInput(3) ? ctx.In<float>(3) : null;
        float* pastV = ctx.HasInput(4) ? ctx.In<float>(4) : null;
        float* cos = _rotary ? ctx.In<float>(7) : null;
        float* sin = _rotary ? ctx.In<float>(8) : null;
        int half = _rotaryDim / 2;
        bool first = s == _total;
        if (!first && s != 1 && _batch != 1)
        {
            throw new InputException($"GroupQueryAttention '{Node.Name}': a prompt continuing a cache (sequence length {s} ≠ total_sequence_length {_total}) needs batch size 1");
        }
        new Span<float>(pk, checked((int)presentFloats)).Clear();
        new Span<float>(pv, checked((int)presentFloats)).Clear();
        float* newK = _packed ? query + nq * d : ctx.In<float>(1);
        float* newV = _packed ? query + (nq + nkv) * d : ctx.In<float>(2);
        long kvRow = _packed ? _qRow : (long)nkv * d;
        float* qRot = (float*)(scratch + _qScratch);
        for (int b = 0; b < _batch; b++)
        {
            int totalB = seqlens[b] + 1;
            int pastB = first ? 0 : totalB - s;
            if (seqlens[b] < 0 || totalB > tp || pastB < 0 || pastB + s > tp || pastB > _past && !first)
            {
                throw new InputException($"GroupQueryAttention '{Node.Name}': seqlens_k[{b}] = {seqlens[b]} does not fit sequence length {s}, past length {_past} and present length {tp}");
            }
            _core.KeyEnd[b] = tp;
            _core.CausalOffset[b] = pastB;
            for (int h = 0; h < nkv; h++)
            {
                long dst = ((long)b * nkv + h) * tp * d;
                if (pastB > 0)
                {
                    long src = ((long)b * nkv + h) * _past * d;
                    new ReadOnlySpan<float>(pastK + src, pastB * d).CopyTo(new Span<float>(pk + dst, pastB * d));
                    new ReadOnlySpan<float>(pastV + src, pastB * d).CopyTo(new Span<float>(pv + dst, pastB * d));
                }
                for (int i = 0; i < s; i++)
                {
                    long row = ((long)b * s + i) * kvRow + (long)h * d;
                    float* kd = pk + dst + (long)(pastB + i) * d;
                    new ReadOnlySpan<float>(newV + row, d).CopyTo(new Span<float>(pv + dst + (long)(pastB + i) * d, d));
                    if (_rotary)
                    {
                        int pos = Position(first, pastB + i, totalB, b);
                        Rotary.Apply(newK + row, kd, d, _rotaryDim, cos + (long)pos * half, sin + (long)pos * half, _interleaved);
                    }
                    else
                    {
                        new ReadOnlySpan<float>(newK + row, d).CopyTo(new Span<float>(kd, d));
                    }
                }
            }
            if (_rotary)
            {
                for (int i = 0; i < s; i++)
                {
                    int pos = Position(first, pastB + i, totalB, b);
                    for (int h = 0; h < nq; h++)
                    {
                        Rotary.Apply(query + ((long)b * s + i) * _qRow + (long)h * d, qRot + (((long)b * s + i) * nq + h) * d, d, _rotaryDim, cos + (long)pos * half, sin + (long)pos * half, _interleaved);
                    }
                }
            }
        }
        if (_rotary)
        {
            _core.Q = qRot;
            _core.QS = (long)nq * d;
        }
        else
        {
            _core.Q = query;
            _core.QS = _qRow;
        }
        _core.QB = _core.QS * s;
        _core.QH = d;
        _core.K = pk;
        _core.V = pv;
        _core.KT = _core.VT = d;
        _core.KH = _core.VH = (long)tp * d;
        _core.KB = _core.VB = (long)nkv * tp * d;
        _core.O = ctx.Out<float>(0);
        _core.OH = d;
        _core.OS = (long)nq * d;
        _core.OB = _core.OS * s;
        _core.Run(ctx.Pool, scratch + _coreScratch);
    }

    private int Position(bool first, int p, int totalB, int b)
    {
        int pos = first || p < totalB ? p : 1;
        if (pos >= _cosRows)
        {
            throw new InputException($"GroupQueryAttention '{Node.Name}': position {pos} of batch {b} is beyond the {_cosRows} rows of cos_cache/sin_cache");
        }
        return pos;
    }
}
