using Prova.Core;
using Prova.Onnx;

namespace Prova.Runtime.Ops.Linear;

/// <summary>
/// ONNX MatMul (opsets 1, 9, 13): numpy matmul semantics — 1-D operands are promoted and the
/// promoted dimension removed, batch dimensions broadcast. Each output element is the fused
/// multiply-add chain of <see cref="Sgemm"/>; a constant B is packed once at plan time.
/// As prova.internal FusedMatMul it takes an optional bias [N] (input 2, added over the last axis:
/// t = t + bias, as a following Add) and then applies the <see cref="FusedActivation"/> of its attribute.
/// </summary>
internal sealed unsafe class MatMulKernel : Kernel
{
    private readonly Sgemm _gemm = new();
    private readonly BatchBody _batchBody;
    private int _m;
    private int _n;
    private int _k;
    private int _batches;
    private long[] _aOffsets = [];
    private long[] _bOffsets = [];
    private int[] _bIndex = [];
    private PackedMatrix[]? _packed;
    private long _tailFloats;
    private readonly bool _fused;
    private readonly bool _relu;
    private Epilogue _epi = Epilogue.None;

    public MatMulKernel(OnnxNode node, bool fused = false) : base(node)
    {
        _batchBody = new BatchBody(this);
        _fused = fused;
        _relu = fused && FusedActivation.ReadRelu(node);
    }

    public override void Infer(InferContext ctx)
    {
        ctx.ExpectType(0, DataType.Float32);
        ctx.ExpectType(1, DataType.Float32);
        var a = ctx.InputShape(0);
        var b = ctx.InputShape(1);
        if (a.Length == 0 || b.Length == 0)
        {
            throw ModelException.ForNode(Node, $"operands must have rank at least 1: {Shapes.Format(a)} x {Shapes.Format(b)}");
        }
        int m = a.Length == 1 ? 1 : a[^2];
        int ka = a[^1];
        int kb = b.Length == 1 ? b[0] : b[^2];
        int n = b.Length == 1 ? 1 : b[^1];
        if (ka != kb)
        {
            throw ModelException.ForNode(Node, $"inner dims differ: {Shapes.Format(a)} x {Shapes.Format(b)}");
        }
        int aBatchRank = Math.Max(0, a.Length - 2);
        int bBatchRank = Math.Max(0, b.Length - 2);
        int batchRank = Math.Max(aBatchRank, bBatchRank);
        var batch = new int[batchRank];
        for (int d = 0; d < batchRank; d++)
        {
            int da = d - (batchRank - aBatchRank) is var ia && ia >= 0 ? a[ia] : 1;
            int db = d - (batchRank - bBatchRank) is var ib && ib >= 0 ? b[ib] : 1;
            if (da != db && da != 1 && db != 1)
            {
                throw ModelException.ForNode(Node, $"batch dims cannot be broadcast: {Shapes.Format(a)} x {Shapes.Format(b)}");
            }
            batch[d] = da == 1 ? db : da;
        }
        var outShape = new List<int>(batch);
        if (a.Length > 1)
        {
            outShape.Add(m);
        }
        if (b.Length > 1)
        {
            outShape.Add(n);
        }
        ctx.SetOutput(0, DataType.Float32, outShape.ToArray());
        if (_fused && ctx.HasInput(2))
        {
            ctx.ExpectType(2, DataType.Float32);
            var bias = ctx.InputShape(2);
            if (b.Length < 2 || bias.Length != 1 || bias[0] != n)
            {
                throw ModelException.ForNode(Node, $"bias {Shapes.Format(bias)} must be [{n}] and B {Shapes.Format(b)} at least 2-D");
            }
        }

        long bBatches = 1;
        for (int d = 0; d < bBatchRank; d++)
        {
            bBatches *= b[d];
        }
        long aBatches = 1;
        for (int d = 0; d < aBatchRank; d++)
        {
            aBatches *= a[d];
        }
        _k = ka;
        _n = n;
        var batching = MatMulBatching.Create(a, b, batch, aBatchRank, bBatchRank, aBatches, bBatches, m, ka, n);
        (_m, _batches, _aOffsets, _bOffsets, _bIndex) = (batching.M, batching.Batches, batching.AOffsets, batching.BOffsets, batching.BIndex);

        if (ctx.Constant(1) is { } bConst && _batches > 0)
        {
            var data = (float[])bConst.Data;
            _packed = ctx.Constants.GetOrAdd(bConst, $"sgemm-panels:{bBatches}x{ka}x{n}", () =>
            {
                var packed = new PackedMatrix[bBatches];
                for (int t = 0; t < bBatches; t++)
                {
                    packed[t] = PackedMatrix.FromArray(data, (long)t * ka * n, ka, n, n, 1);
                }
                return packed;
            });
        }
        else
        {
            _tailFloats = Sgemm.DirectScratch(ka, n);
            ctx.RequestScratch(_tailFloats * sizeof(float) * Math.Max(1, _batches));
        }
    }

    public override void Execute(ExecContext ctx)
    {
        float* a = ctx.In<float>(0);
        float* b = ctx.In<float>(1);
        float* c = ctx.Out<float>(0);
        _epi = new Epilogue
        {
            Alpha = 1f,
            Beta = 1f,
            Bias = _fused && ctx.HasInput(2) ? ctx.In<float>(2) : null,
            BiasColStride = 1,
            Relu = _relu,
        };
        if (_batches == 1)
        {
            var src = Source(b, 0, (float*)ctx.Scratch);
            _gemm.Run(ctx.Pool, _m, _n, _k, a, _k, 1, src, c, _n, _epi);
            return;
        }
        long perBatch = (long)_m * _n * Math.Max(_k, 1);
        if (ctx.Pool.Threads > 1 && perBatch < (1L << 19) && perBatch * _batches >= (1L << 19))
        {
            // Many small products (attention heads): split the batches, not the products.
            _batchBody.Set(a, b, c, (float*)ctx.Scratch);
            int grain = (int)Math.Clamp((1L << 18) / Math.Max(1, perBatch), 1, _batches);
            ctx.Pool.For(_batches, _batchBody, grain);
            return;
        }
        for (int t = 0; t < _batches; t++)
        {
            var src = Source(b, t, (float*)ctx.Scratch);
            _gemm.Run(ctx.Pool, _m, _n, _k, a + _aOffsets[t], _k, 1, src, c + (long)t * _m * _n, _n, _epi);
        }
    }

    private PanelSource Source(float* b, int t, float* scratch)
        => _packed is not null
            ? _packed[_bIndex[t]].Source
            : Sgemm.Direct(b + _bOffsets[t], _k, _n, _n, scratch + t * _tailFloats);

    private sealed class BatchBody : IRangeBody
    {
        private readonly MatMulKernel _owner;
        private float* _a;
        private float* _b;
        private float* _c;
        private float* _scratch;

        public BatchBody(MatMulKernel owner)
        {
            _owner = owner;
        }

        public void Set(float* a, float* b, float* c, float* scratch)
        {
            _a = a;
            _b = b;
            _c = c;
            _scratch = scratch;
        }

        public void Execute(int begin, int end)
        {
            var o = _owner;
            var gemm = Sgemm.ThreadLocal;
            for (int t = begin; t < end; t++)
            {
                var src = o.Source(_b, t, _scratch);
                gemm.Run(null, o._m, o._n, o._k, _a + o._aOffsets[t], o._k, 1, src, _c + (long)t * o._m * o._n, o._n, o._epi);
            }
        }
    }
}
