using System.Runtime.InteropServices;
using Prova.Core;
using Prova.Onnx;
using Prova.Runtime.Ops.Linear;

namespace Prova.Runtime.Ops.Quant;

/// <summary>
/// ConvInteger (opset 10: int32 output), QLinearConv (opset 10: requantized output, optional int32
/// bias) and prova.internal:QLinearConv (QLinearConv with a fused Relu, attribute relu=1), 1-D and
/// 2-D, with groups, strides, dilations, pads and auto_pad. Computed as an int32 GEMM per image and
/// group: rows are output pixels (im2col of x − x_zero_point, padding contributes 0), columns are
/// output channels (w − w_zero_point, per channel allowed). Requantization per output channel.
/// </summary>
internal sealed unsafe class QConvKernel : Kernel
{
    private const int RowsPerBlock = 16;

    private readonly bool _qlinear;
    private readonly bool _relu;
    private readonly int _ix;
    private readonly int _ixz;
    private readonly int _iw;
    private readonly int _iwz;
    private readonly Body _body;
    private DataType _xType;
    private DataType _wType;
    private DataType _yType;
    private Window _win = new();
    private int _batch;
    private int _c;
    private int _m;
    private int _group;
    private int _cg;
    private int _mg;
    private int _kg;
    private int _kp;
    private int _p;
    private short[]? _packed;
    private bool _wzPerChannel;
    private Requant[] _rq = [];
    private bool _rqConstant;
    private int _lo;
    private int _hi;
    private long _packedOffset;
    private long _aOffset;
    private long _cOffset;

    public QConvKernel(OnnxNode node, bool qlinear) : base(node)
    {
        _qlinear = qlinear;
        _relu = qlinear && node.Domain == KernelRegistry.InternalDomain && node.GetInt("relu", 0) != 0;
        (_ix, _ixz, _iw, _iwz) = qlinear ? (0, 2, 3, 5) : (0, 2, 1, 3);
        _body = new Body(this);
    }

    public override void Infer(InferContext ctx)
    {
        _xType = ctx.ExpectType(_ix, DataType.UInt8, DataType.Int8);
        _wType = ctx.ExpectType(_iw, DataType.UInt8, DataType.Int8);
        var x = ctx.InputShape(_ix);
        var w = ctx.InputShape(_iw);
        var channels = ConvChannels.Check(Node, x, w);
        (_batch, _c, _m, _group, _cg, _mg) = (channels.Batch, channels.C, channels.M, channels.Group, channels.Cg, channels.Mg);
        if (Node.GetInts("kernel_shape") is { Length: > 0 } ks && !ks.AsSpan().SequenceEqual(Array.ConvertAll(w[2..], v => (long)v)))
        {
            throw ModelException.ForNode(Node, $"kernel_shape [{string.Join(", ", ks)}] does not match W {Shapes.Format(w)}");
        }
        _win = Window.Create(Node, x.AsSpan(2), w.AsSpan(2), ceilMode: false);
        var outShape = (int[])x.Clone();
        outShape[1] = _m;
        if (x.Length == 4)
        {
            outShape[2] = _win.OutH;
            outShape[3] = _win.OutW;
        }
        else
        {
            outShape[2] = _win.OutW;
        }

        if (ctx.HasInput(_ixz))
        {
            if (ctx.InputType(_ixz) != _xType)
            {
                throw ModelException.ForNode(Node, "x_zero_point must have the type of X");
            }
            QuantTypes.CheckParam(ctx, _ixz, "x_zero_point", 1, perChannelAllowed: false);
        }
        _wzPerChannel = false;
        if (ctx.HasInput(_iwz))
        {
            if (ctx.InputType(_iwz) != _wType)
            {
                throw ModelException.ForNode(Node, "w_zero_point must have the type of W");
            }
            _wzPerChannel = QuantTypes.CheckParam(ctx, _iwz, "w_zero_point", _m, perChannelAllowed: true) > 1;
        }
        if (_qlinear)
        {
            ctx.ExpectType(1, DataType.Float32);
            ctx.ExpectType(4, DataType.Float32);
            ctx.ExpectType(6, DataType.Float32);
            QuantTypes.CheckParam(ctx, 1, "x_scale", 1, perChannelAllowed: false);
            bool perChannel = QuantTypes.CheckParam(ctx, 4, "w_scale", _m, perChannelAllowed: true) > 1;
            QuantTypes.CheckParam(ctx, 6, "y_scale", 1, perChannelAllowed: false);
            if (!ctx.HasInput(7))
            {
                throw ModelException.ForNode(Node, "QLinearConv needs y_zero_point");
            }
            (_yType, _lo, _hi, _rq, _rqConstant) = QuantTypes.OutputRequant(ctx, _m, perChannel);
        }
        else
        {
            _yType = DataType.Int32;
        }
        ctx.SetOutput(0, _yType, outShape);

        _p = checked(_win.OutH * _win.OutW);
        _kg = checked(_cg * _win.KH * _win.KW);
        _kp = IntGemm.PaddedK(_kg);
        long packedSize = IntGemm.PackedBSize(_kg, _mg);
        long scratch = 0;
        _packed = null;
        if (ctx.Constant(_iw) is { } wConst && (!ctx.HasInput(_iwz) || ctx.Constant(_iwz) is not null))
        {
            _packed = GC.AllocateArray<short>(checked((int)(packedSize * _group)), pinned: true);
            var zp = ctx.HasInput(_iwz) ? ctx.Constant(_iwz) : null;
            var wHandle = GCHandle.Alloc(wConst.Data, GCHandleType.Pinned);
            var zHandle = zp is null ? default : GCHandle.Alloc(zp.Data, GCHandleType.Pinned);
            try
            {
                fixed (short* dst = _packed)
                {
                    PackWeights((byte*)wHandle.AddrOfPinnedObject(), zp is null ? null : (byte*)zHandle.AddrOfPinnedObject(), dst);
                }
            }
            finally
            {
                wHandle.Free();
                if (zp is not null)
                {
                    zHandle.Free();
                }
            }
        }
        else
        {
            scratch = Align(packedSize * _group * sizeof(short));
        }
        _packedOffset = 0;
        _aOffset = scratch;
        scratch += Align((long)_p * _kp * sizeof(short));
        _cOffset = scratch;
        scratch += Align((long)_p * _mg * sizeof(int));
        ctx.RequestScratch(scratch);
    }

    private static long Align(long bytes) => (bytes + 63) & ~63L;

    /// <summary>B of group g: element (k, j) = w[g·Mg + j][k] − w_zero_point[g·Mg + j].</summary>
    private void PackWeights(byte* w, byte* zp, short* dst)
    {
        int size = DataTypes.SizeOf(_wType);
        long packedSize = IntGemm.PackedBSize(_kg, _mg);
        for (int g = 0; g < _group; g++)
        {
            byte* wg = w + (long)g * _mg * _kg * size;
            byte* zg = zp is null ? null : _wzPerChannel ? zp + (long)g * _mg * size : zp;
            IntGemm.PackB(wg, _wType, 1, _kg, _kg, _mg, zg, _wzPerChannel, dst + g * packedSize);
        }
    }

    public override void Execute(ExecContext ctx)
    {
        if (_batch == 0 || _m == 0 || _p == 0)
        {
            return;
        }
        long packedSize = IntGemm.PackedBSize(_kg, _mg);
        short* packed;
        if (_packed is not null)
        {
            fixed (short* p = _packed)
            {
                packed = p; // allocated pinned
            }
        }
        else
        {
            packed = (short*)(ctx.Scratch + _packedOffset);
            PackWeights(ctx.In<byte>(_iw), ctx.HasInput(_iwz) ? ctx.In<byte>(_iwz) : null, packed);
        }
        if (_qlinear && !_rqConstant)
        {
            float sx = *ctx.In<float>(1);
            float sy = *ctx.In<float>(6);
            float* sw = ctx.In<float>(4);
            for (int j = 0; j < _rq.Length; j++)
            {
                if (!Requant.IsValidScale(sx) || !Requant.IsValidScale(sw[j]) || !Requant.IsValidScale(sy))
                {
                    throw new InputException($"node '{Node.DisplayName}' ({Node.OpType}): scales must be positive and finite (x_scale {sx}, w_scale {sw[j]}, y_scale {sy})");
                }
                _rq[j] = Requant.Derive(sx, sw[j], sy);
            }
        }
        _body.Set(ctx);
        int blocks = (_p + RowsPerBlock - 1) / RowsPerBlock;
        long work = (long)RowsPerBlock * _kp * _mg;
        int grain = (int)Math.Max(1, 262_144 / Math.Max(1, work));
        int xSize = DataTypes.SizeOf(_xType);
        for (int n = 0; n < _batch; n++)
        {
            for (int g = 0; g < _group; g++)
            {
                _body.X = ctx.In<byte>(_ix) + ((long)n * _c + (long)g * _cg) * _win.InH * _win.InW * xSize;
                _body.Packed = packed + g * packedSize;
                _body.OutBase = ((long)n * _m + (long)g * _mg) * _p;
                _body.Channel0 = g * _mg;
                ctx.Pool.For(blocks, _body, grain);
            }
        }
    }

    private void RunBlock(Body s, int block)
    {
        int p0 = block * RowsPerBlock;
        int rows = Math.Min(RowsPerBlock, _p - p0);
        short* a = s.A + (long)p0 * _kp;
        if (_xType == DataType.UInt8)
        {
            Im2col(s.X, s.Xz, p0, rows, a);
        }
        else
        {
            Im2col((sbyte*)s.X, s.Xz, p0, rows, a);
        }
        int* c = s.C + (long)p0 * _mg;
        IntGemm.Multiply(a, _kp, rows, s.Packed, _kp, _mg, c, _mg);
        if (!_qlinear)
        {
            int* y = (int*)s.Y + s.OutBase;
            for (int r = 0; r < rows; r++)
            {
                for (int j = 0; j < _mg; j++)
                {
                    y[(long)j * _p + p0 + r] = c[r * _mg + j];
                }
            }
            return;
        }
        int zy = s.Yz;
        int lo = _relu ? Math.Max(_lo, zy) : _lo;
        int hi = _hi;
        bool perChannel = _rq.Length > 1;
        for (int j = 0; j < _mg; j++)
        {
            int ch = s.Channel0 + j;
            var rq = _rq[perChannel ? ch : 0];
            int bias = s.Bias is null ? 0 : s.Bias[ch];
            long o = s.OutBase + (long)j * _p + p0;
            if (_yType == DataType.UInt8)
            {
                byte* y = s.Y + o;
                for (int r = 0; r < rows; r++)
                {
                    y[r] = (byte)rq.Apply(unchecked(c[r * _mg + j] + bias), zy, lo, hi);
                }
            }
            else
            {
                sbyte* y = (sbyte*)s.Y + o;
                for (int r = 0; r < rows; r++)
                {
                    y[r] = (sbyte)rq.Apply(unchecked(c[r * _mg + j] + bias), zy, lo, hi);
                }
            }
        }
    }

    /// <summary>Rows p0.. of the im2col matrix: row p = output pixel, column (c, kh, kw); x − zx, 0 outside.</summary>
    private void Im2col<T>(T* x, int zx, int p0, int rows, short* a) where T : unmanaged
    {
        var w = _win;
        int plane = w.InH * w.InW;
        for (int r = 0; r < rows; r++)
        {
            int p = p0 + r;
            int oh = p / w.OutW;
            int ow = p % w.OutW;
            short* row = a + (long)r * _kp;
            int col = 0;
            for (int ci = 0; ci < _cg; ci++)
            {
                T* xc = x + (long)ci * plane;
                for (int kh = 0; kh < w.KH; kh++)
                {
                    int ih = oh * w.SH - w.PadTop + kh * w.DH;
                    bool rowInside = (uint)ih < (uint)w.InH;
                    for (int kw = 0; kw < w.KW; kw++)
                    {
                        int iw = ow * w.SW - w.PadLeft + kw * w.DW;
                        row[col++] = rowInside && (uint)iw < (uint)w.InW ? (short)(QuantTypes.Load(xc + (long)ih * w.InW + iw) - zx) : (short)0;
                    }
                }
            }
            if (col < _kp)
            {
                row[col] = 0;
            }
        }
    }

    private sealed class Body(QConvKernel owner) : IRangeBody
    {
        public byte* X;
        public int Xz;
        public short* A;
        public int* C;
        public byte* Y;
        public int* Bias;
        public int Yz;
        public short* Packed;
        public long OutBase;
        public int Channel0;

        public void Set(ExecContext ctx)
        {
            Xz = ctx.HasInput(owner._ixz) ? QuantTypes.Load(ctx.In<byte>(owner._ixz), owner._xType, 0) : 0;
            A = (short*)(ctx.Scratch + owner._aOffset);
            C = (int*)(ctx.Scratch + owner._cOffset);
            Y = ctx.Out<byte>(0);
            Bias = owner._qlinear && ctx.HasInput(8) ? ctx.In<int>(8) : null;
            Yz = owner._qlinear ? QuantTypes.Load(ctx.In<byte>(7), owner._yType, 0) : 0;
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
