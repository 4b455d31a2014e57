using System.Runtime.InteropServices;
using Prova.Core;
using Prova.Onnx;
using Prova.Runtime.Ops.Linear;

namespace Prova.Runtime.Ops.Quant;

/// <summary>
/// MatMulInteger (opset 10: int32 output), QLinearMatMul (opsets 10, 21: requantized uint8/int8 output)
/// and prova.internal:QLinearMatMul (QLinearMatMul plus an int32 bias per column, input 8, and a
/// fused Relu, attribute relu=1), which the QDQ rewriter creates. numpy matmul broadcasting as in MatMul.
/// Accumulation: int32 over (a − a_zero_point)·(b − b_zero_point) (<see cref="IntGemm"/>); requantization:
/// <see cref="Requant"/> per output column (b_scale may be per column).
/// </summary>
internal sealed unsafe class QMatMulKernel : Kernel
{
    private const int RowsPerBlock = 16;

    private readonly bool _qlinear;
    private readonly bool _relu;
    private readonly int _ia;
    private readonly int _iaz;
    private readonly int _ib;
    private readonly int _ibz;
    private readonly Body _body;
    private DataType _aType;
    private DataType _bType;
    private DataType _yType;
    private int _m;
    private int _n;
    private int _k;
    private int _kp;
    private int _rowsPerBatch;
    private int _batches;
    private long[] _aOffsets = [];
    private long[] _bOffsets = [];
    private int[] _bIndex = [];
    private int _bBatches;
    private short[]? _packed;
    private bool _azPerRow;
    private bool _bzPerColumn;
    private bool _bsPerColumn;
    private Requant[] _rq = [];
    private bool _rqConstant;
    private int _lo;
    private int _hi;
    private long _packedOffset;
    private long _aOffset;
    private long _cOffset;

    public QMatMulKernel(OnnxNode node, bool qlinear) : base(node)
    {
        _qlinear = qlinear;
        _relu = qlinear && node.Domain == KernelRegistry.InternalDomain && node.GetInt("relu", 0) != 0;
        (_ia, _iaz, _ib, _ibz) = qlinear ? (0, 2, 3, 5) : (0, 2, 1, 3);
        _body = new Body(this);
    }

    public override void Infer(InferContext ctx)
    {
        _aType = ctx.ExpectType(_ia, DataType.UInt8, DataType.Int8);
        _bType = ctx.ExpectType(_ib, DataType.UInt8, DataType.Int8);
        var a = ctx.InputShape(_ia);
        var b = ctx.InputShape(_ib);
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

        // Zero points, scales, output type.
        _azPerRow = false;
        if (ctx.HasInput(_iaz))
        {
            if (ctx.InputType(_iaz) != _aType)
            {
                throw ModelException.ForNode(Node, "a_zero_point must have the type of A");
            }
            _azPerRow = QuantTypes.CheckParam(ctx, _iaz, "a_zero_point", m, perChannelAllowed: !_qlinear) > 1;
        }
        _bzPerColumn = false;
        if (ctx.HasInput(_ibz))
        {
            if (ctx.InputType(_ibz) != _bType)
            {
                throw ModelException.ForNode(Node, "b_zero_point must have the type of B");
            }
            _bzPerColumn = QuantTypes.CheckParam(ctx, _ibz, "b_zero_point", n, perChannelAllowed: true) > 1;
        }
        if (_qlinear)
        {
            ctx.ExpectType(1, DataType.Float32);
            ctx.ExpectType(4, DataType.Float32);
            ctx.ExpectType(6, DataType.Float32);
            QuantTypes.CheckParam(ctx, 1, "a_scale", 1, perChannelAllowed: false);
            _bsPerColumn = QuantTypes.CheckParam(ctx, 4, "b_scale", n, perChannelAllowed: true) > 1;
            QuantTypes.CheckParam(ctx, 6, "y_scale", 1, perChannelAllowed: false);
            if (!ctx.HasInput(2) || !ctx.HasInput(5) || !ctx.HasInput(7))
            {
                throw ModelException.ForNode(Node, "QLinearMatMul needs a_zero_point, b_zero_point and y_zero_point");
            }
            (_yType, _lo, _hi, _rq, _rqConstant) = QuantTypes.OutputRequant(ctx, n, _bsPerColumn);
        }
        else
        {
            _yType = DataType.Int32;
        }
        ctx.SetOutput(0, _yType, outShape.ToArray());

        // Batches: stack rows when B is shared.
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
        _kp = IntGemm.PaddedK(ka);
        _n = n;
        _rowsPerBatch = m;
        _bBatches = (int)bBatches;
        var batching = MatMulBatching.Create(a, b, batch, aBatchRank, bBatchRank, aBatches, bBatches, m, ka, n);
        (_m, _batches, _aOffsets, _bOffsets, _bIndex) = (batching.M, batching.Batches, batching.AOffsets, batching.BOffsets, batching.BIndex);

        long packedSize = IntGemm.PackedBSize(_k, _n);
        long scratch = 0;
        _packed = null;
        if (ctx.Constant(_ib) is { } bConst && (!ctx.HasInput(_ibz) || ctx.Constant(_ibz) is not null))
        {
            _packed = GC.AllocateArray<short>(checked((int)(packedSize * bBatches)), pinned: true);
            var zp = ctx.HasInput(_ibz) ? ctx.Constant(_ibz)! : null;
            fixed (short* dst = _packed)
            {
                var bHandle = GCHandle.Alloc(bConst.Data, GCHandleType.Pinned);
                var zHandle = zp is null ? default : GCHandle.Alloc(zp.Data, GCHandleType.Pinned);
                try
                {
                    byte* bp = (byte*)bHandle.AddrOfPinnedObject();
                    byte* zpp = zp is null ? null : (byte*)zHandle.AddrOfPinnedObject();
                    for (int t = 0; t < bBatches; t++)
                    {
                        IntGemm.PackB(bp + (long)t * _k * _n, _bType, _n, 1, _k, _n, zpp, _bzPerColumn, dst + t * packedSize);
                    }
                }
                finally
                {
                    bHandle.Free();
                    if (zp is not null)
                    {
                        zHandle.Free();
                    }
                }
            }
        }
        else
        {
            _packedOffset = 0;
            scratch = Align(packedSize * bBatches * sizeof(short));
        }
        long rows = (long)_batches * _m;
        _aOffset = scratch;
        scratch += Align(rows * _kp * sizeof(short));
        _cOffset = scratch;
        if (_qlinear)
        {
            scratch += Align(rows * _n * sizeof(int));
        }
        ctx.RequestScratch(scratch);
    }

    private static long Align(long bytes) => (bytes + 63) & ~63L;

    public override void Execute(ExecContext ctx)
    {
        if (_batches == 0 || _m == 0 || _n == 0)
        {
            return;
        }
        byte* bzp = ctx.HasInput(_ibz) ? ctx.In<byte>(_ibz) : null;
        short* packed;
        long packedSize = IntGemm.PackedBSize(_k, _n);
        if (_packed is not null)
        {
            fixed (short* p = _packed)
            {
                packed = p; // pinned at allocation
            }
        }
        else
        {
            packed = (short*)(ctx.Scratch + _packedOffset);
            byte* b = ctx.In<byte>(_ib);
            int size = DataTypes.SizeOf(_bType);
            for (int t = 0; t < _bBatches; t++)
            {
                IntGemm.PackB(b + (long)t * _k * _n * size, _bType, _n, 1, _k, _n, bzp, _bzPerColumn, packed + t * packedSize);
            }
        }
        if (_qlinear && !_rqConstant)
        {
            float sa = *ctx.In<float>(1);
            float sy = *ctx.In<float>(6);
            float* sb = ctx.In<float>(4);
            for (int j = 0; j < _rq.Length; j++)
            {
                if (!Requant.IsValidScale(sa) || !Requant.IsValidScale(sb[j]) || !Requant.IsValidScale(sy))
                {
                    throw new InputException($"node '{Node.DisplayName}' ({Node.OpType}): scales must be positive and finite (a_scale {sa}, b_scale {sb[j]}, y_scale {sy})");
                }
                _rq[j] = Requant.Derive(sa, sb[j], sy);
            }
        }
        int blocksPerBatch = (_m + RowsPerBlock - 1) / RowsPerBlock;
        _body.Set(ctx, packed, packedSize);
        long work = (long)RowsPerBlock * _kp * _n;
        int grain = (int)Math.Max(1, 262_144 / Math.Max(1, work));
        ctx.Pool.For(_batches * blocksPerBatch, _body, grain);
    }

    private void RunBlock(Body s, int index)
    {
        int blocksPerBatch = (_m + RowsPerBlock - 1) / RowsPerBlock;
        int t = index / blocksPerBatch;
        int r0 = index % blocksPerBatch * RowsPerBlock;
        int rows = Math.Min(RowsPerBlock, _m - r0);
        long firstRow = (long)t * _m + r0;
        short* ap = s.A + firstRow * _kp;
        byte* a = s.AIn + (_aOffsets[t] + (long)r0 * _k) * DataTypes.SizeOf(_aType);
        for (int r = 0; r < rows; r++)
        {
            int row = r0 + r;
            int z = s.Az is null ? 0 : QuantTypes.Load(s.Az, _aType, _azPerRow ? row % _rowsPerBatch : 0);
            if (_aType == DataType.UInt8)
            {
                IntGemm.PackRow(a + (long)r * _k, _k, z, ap + (long)r * _kp);
            }
            else
            {
                IntGemm.PackRow((sbyte*)a + (long)r * _k, _k, z, ap + (long)r * _kp);
            }
        }
        int* c = _qlinear ? s.C + firstRow * _n : (int*)s.Y + firstRow * _n;
        IntGemm.Multiply(ap, _kp, rows, s.Packed + _bIndex[t] * s.PackedSize, _kp, _n, c, _n);
        if (!_qlinear)
        {
            return;
        }
        int zy = s.Yz;
        int lo = _relu ? Math.Max(_lo, zy) : _lo;
        int hi = _hi;
        int* bias = s.Bias;
        bool perColumn = _rq.Length > 1;
        for (int r = 0; r < rows; r++)
        {
            int* cr = c + (long)r * _n;
            long o = (firstRow + r) * _n;
            if (_yType == DataType.UInt8)
            {
                byte* y = s.Y + o;
                for (int j = 0; j < _n; j++)
                {
                    int acc = bias is null ? cr[j] : unchecked(cr[j] + bias[j]);
                    y[j] = (byte)_rq[perColumn ? j : 0].Apply(acc, zy, lo, hi);
                }
            }
            else
            {
                sbyte* y = (sbyte*)s.Y + o;
                for (int j = 0; j < _n; j++)
                {
                    int acc = bias is null ? cr[j] : unchecked(cr[j] + bias[j]);
                    y[j] = (sbyte)_rq[perColumn ? j : 0].Apply(acc, zy, lo, hi);
                }
            }
        }
    }

    private sealed class Body(QMatMulKernel owner) : IRangeBody
    {
        public byte* AIn;
        public byte* Az;
        public short* A;
        public int* C;
        public byte* Y;
        public int* Bias;
        public int Yz;
        public short* Packed;
        public long PackedSize;

        public void Set(ExecContext ctx, short* packed, long packedSize)
        {
            AIn = ctx.In<byte>(owner._ia);
            Az = ctx.HasInput(owner._iaz) ? ctx.In<byte>(owner._iaz) : null;
            A = (short*)(ctx.Scratch + owner._aOffset);
            C = (int*)(ctx.Scratch + owner._cOffset);
            Y = ctx.Out<byte>(0);
            Bias = owner._qlinear && ctx.HasInput(8) ? ctx.In<int>(8) : null;
            Yz = owner._qlinear ? QuantTypes.Load(ctx.In<byte>(7), owner._yType, 0) : 0;
            Packed = packed;
            PackedSize = packedSize;
        }

        public void Execute(int begin, int end)
        {
            for (int i = begin; i < end; i++)
            {
                owner.RunBlock(this, i);
            }
        }
    }
}
