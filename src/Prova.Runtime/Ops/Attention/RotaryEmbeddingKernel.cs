using Prova.Core;
using Prova.Onnx;
using static Prova.Runtime.Ops.Shape.ShapeHelpers;

namespace Prova.Runtime.Ops.Attention;

/// <summary>
/// RotaryEmbedding, float32, in both dialects (the arithmetic is <see cref="Rotary"/>):
/// <list type="bullet">
/// <item>ONNX opset 23: inputs (X, cos_cache, sin_cache, position_ids?). Without position_ids the caches are
/// [batch, sequence, rotary_dim / 2]; with them, [max_position, rotary_dim / 2] indexed by position_ids [batch, sequence].</item>
/// <item>com.microsoft: inputs (input, position_ids, cos_cache, sin_cache); position_ids is [batch, sequence] or
/// [1] (an offset: position = offset + s); caches are [max_position, rotary_dim / 2].</item>
/// </list>
/// X is [batch, num_heads, sequence, head_size] or [batch, sequence, hidden] (num_heads from the attribute, or
/// head_size = 2 × the cache width when it is 0); rotary_embedding_dim (0 = head_size) elements of each head rotate.
/// </summary>
internal sealed unsafe class RotaryEmbeddingKernel : Kernel
{
    private readonly bool _microsoft;
    private readonly bool _interleaved;
    private readonly int _numHeadsAttr;
    private readonly int _rotaryAttr;
    private int _batch;
    private int _heads;
    private int _seq;
    private int _headSize;
    private int _rd;
    private bool _fourD;
    private int _posMode; // 0: caches per (b, s); 1: position_ids [B, S]; 2: offset [1]
    private int _cacheRows;

    public RotaryEmbeddingKernel(OnnxNode node, bool microsoft) : base(node)
    {
        _microsoft = microsoft;
        _interleaved = node.GetInt("interleaved", 0) != 0;
        long nh = node.GetInt("num_heads", 0);
        long rd = node.GetInt("rotary_embedding_dim", 0);
        if (nh < 0 || nh > 65536 || rd < 0 || rd > 65536 || rd % 2 != 0)
        {
            throw ModelException.ForNode(node, $"num_heads={nh} and rotary_embedding_dim={rd} must be non-negative, rotary_embedding_dim even");
        }
        _numHeadsAttr = (int)nh;
        _rotaryAttr = (int)rd;
        if (microsoft && node.GetInt("is_packed_batching", 0) != 0)
        {
            throw ModelException.Unsupported(node, "RotaryEmbedding with is_packed_batching=1");
        }
        if (microsoft && node.GetFloat("scale", 1f) != 1f)
        {
            throw ModelException.Unsupported(node, $"RotaryEmbedding with scale={node.GetFloat("scale", 1f)} (only 1)");
        }
    }

    private int XIn => 0;

    private int CosIn => _microsoft ? 2 : 1;

    private int SinIn => _microsoft ? 3 : 2;

    private int PosIn => _microsoft ? 1 : 3;

    public override void Infer(InferContext ctx)
    {
        ctx.ExpectType(XIn, DataType.Float32);
        ctx.ExpectType(CosIn, DataType.Float32);
        ctx.ExpectType(SinIn, DataType.Float32);
        var x = ctx.InputShape(XIn);
        var cos = ctx.InputShape(CosIn);
        if (!ShapesEqual(cos, ctx.InputShape(SinIn)))
        {
            throw ModelException.ForNode(Node, $"cos_cache {Fmt(cos)} and sin_cache {Fmt(ctx.InputShape(SinIn))} must have the same shape");
        }
        if (cos.Length < 2 || cos[^1] == 0)
        {
            throw ModelException.ForNode(Node, $"cos_cache of shape {Fmt(cos)} must be [max_position, rotary_dim / 2] or [batch, sequence, rotary_dim / 2]");
        }
        int half = cos[^1];
        if (x.Length == 4)
        {
            _fourD = true;
            (_batch, _heads, _seq, _headSize) = (x[0], x[1], x[2], x[3]);
        }
        else if (x.Length == 3)
        {
            _fourD = false;
            (_batch, _seq) = (x[0], x[1]);
            int hidden = x[2];
            if (_numHeadsAttr > 0)
            {
                _heads = _numHeadsAttr;
            }
            else if (_rotaryAttr == 0)
            {
                _heads = hidden / (2 * half);
            }
            else
            {
                throw ModelException.ForNode(Node, "a 3-D input with rotary_embedding_dim set needs the num_heads attribute");
            }
            if (_heads == 0 || hidden % _heads != 0)
            {
                throw ModelException.ForNode(Node, $"hidden size {hidden} is not a multiple of num_heads {_heads}");
            }
            _headSize = hidden / _heads;
        }
        else
        {
            throw ModelException.ForNode(Node, $"input of shape {Fmt(x)} must be 3-D [batch, sequence, hidden] or 4-D [batch, num_heads, sequence, head_size]");
        }
        _rd = _rotaryAttr > 0 ? _rotaryAttr : _headSize;
        if (_rd > _headSize || _rd != 2 * half)
        {
            throw ModelException.ForNode(Node, $"rotary dimension {_rd} must be at most head_size {_headSize} and twice the cache width {half}");
        }
        if (ctx.HasInput(PosIn))
        {
            ctx.ExpectType(PosIn, DataType.Int64);
            var p = ctx.InputShape(PosIn);
            if (cos.Length != 2)
            {
                throw ModelException.ForNode(Node, $"with position_ids, cos_cache must be 2-D [max_position, rotary_dim / 2], got {Fmt(cos)}");
            }
            _cacheRows = cos[0];
            if (_microsoft && p.Length == 1 && p[0] == 1)
            {
                _posMode = 2;
            }
            else if (p.Length == 2 && p[0] == _batch && p[1] == _seq)
            {
                _posMode = 1;
            }
            else
            {
                throw ModelException.ForNode(Node, $"position_ids of shape {Fmt(p)} must be [{_batch}, {_seq}]{(_microsoft ? " or [1]" : "")}");
            }
        }
        else
        {
            if (_microsoft)
            {
                throw ModelException.ForNode(Node, "input 1 (position_ids) is required");
            }
            if (cos.Length != 3 || cos[0] != _batch || cos[1] != _seq)
            {
                throw ModelException.ForNode(Node, $"without position_ids, cos_cache must be [{_batch}, {_seq}, rotary_dim / 2], got {Fmt(cos)}");
            }
            _posMode = 0;
        }
        ctx.SetOutput(0, DataType.Float32, (int[])x.Clone());
    }

    private static bool ShapesEqual(int[] a, int[] b) => a.AsSpan().SequenceEqual(b);

    public override void Execute(ExecContext ctx)
    {
        float* x = ctx.In<float>(XIn);
        float* y = ctx.Out<float>(0);
        float* cos = ctx.In<float>(CosIn);
        float* sin = ctx.In<float>(SinIn);
        long* pos = _posMode == 0 ? null : ctx.In<long>(PosIn);
        int half = _rd / 2;
        for (int b = 0; b < _batch; b++)
        {
            for (int s = 0; s < _seq; s++)
            {
                long row;
                if (_posMode == 0)
                {
                    row = (long)b * _seq + s;
                }
                else
                {
                    long p = _posMode == 2 ? pos[0] + s : pos[(long)b * _seq + s];
                    if (p < 0 || p >= _cacheRows)
                    {
                        throw new InputException($"RotaryEmbedding '{Node.Name}': position {p} (batch {b}, token {s}) is outside the {_cacheRows} rows of cos_cache");
                    }
                    row = p;
                }
                float* c = cos + row * half;
                float* sn = sin + row * half;
                for (int h = 0; h < _heads; h++)
                {
                    long at = _fourD ? (((long)b * _heads + h) * _seq + s) * _headSize : (((long)b * _seq + s) * _heads + h) * _headSize;
                    Rotary.Apply(x + at, y + at, _headSize, _rd, c, sn, _interleaved);
                }
            }
        }
    }
}
