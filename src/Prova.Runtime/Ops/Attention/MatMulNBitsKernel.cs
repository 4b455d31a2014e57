using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Prova.Core;
using Prova.Onnx;
using Prova.Runtime.Ops.Linear;
using Prova.Runtime.Simd;
using static Prova.Runtime.Ops.Shape.ShapeHelpers;

namespace Prova.Runtime.Ops.Attention;

/// <summary>
/// com.microsoft MatMulNBits (ONNX Runtime contrib op, bits = 4): Y = A · dequant(B) (+ bias), A float32
/// [..., K], B uint8 [N, n_blocks, block_size / 2] (element k of column n is the low nibble of byte k / 2
/// when k is even, the high nibble when odd), scales [N · n_blocks], optional zero points (uint8 packed two
/// blocks per byte, low nibble first, or float32 [N · n_blocks]; default 8), optional bias [N].
///
/// Prova's exact definition at accuracy_level 0–3, and at 4 with float zero points (accuracy_level 4 with uint8 or
/// default zero points quantizes A to int8 per block instead: <see cref="PackedNBitsInt8"/>, docs/llm-ops.md):
/// <c>w[k, n] = (q[k, n] − zp[n, k / block_size]) × scale[n, k / block_size]</c> in float32 (the
/// difference is exact, the product rounds once), then
/// <c>y[m, n] = fma(A[m, K−1], w[K−1, n], … fma(A[m, 0], w[0, n], 0))</c> with k ascending — the same
/// chain as <see cref="Sgemm"/> — then <c>+ bias[n]</c>. ONNX Runtime's int8-compute levels quantize A
/// and differ from this by more than rounding; its float level agrees to ~1e-5 relative.
///
/// B is repacked once per session (<see cref="ConstantCache"/>) into groups of 64 columns: per k, 32
/// bytes where byte j of panel p holds column 16p + j (low nibble) and 16p + j + 8 (high nibble), so one
/// 8-byte load expands to 16 columns. Work items are (64-column group, 64-row chunk) pairs; each
/// dequantizes one block at a time and runs the k-chains vectorised across columns only, so the
/// thread count and the vector width (512/256/128/scalar, <see cref="SimdLevel"/>) never change a bit.
/// </summary>
[SkipLocalsInit]
internal sealed unsafe class MatMulNBitsKernel : Kernel, IRangeBody
{
    private const int GroupCols = 64;
    // Rows per work item: a group's packed weights are read from memory once per this many rows (the float path's
    // tile of 64 × 64 floats is 16 KiB of stack; the int8 path's quantized rows, about K bytes each, pass through L2).
    private const int RowChunk = 64;
    private const int Int8RowChunk = 64;

    private readonly int _k;
    private readonly int _n;
    private readonly int _blockSize;
    private readonly int _blocks;
    private readonly bool _int8Compute;
    private PackedNBits? _packed;
    private PackedNBitsInt8? _packed8;
    private long _rowBytes;
    private byte* _quantized;
    private int _m;
    private int _groups;
    private int _rowChunks;
    private bool _hasBias;
    private float* _a;
    private float* _y;
    private float* _bias;
    private int _bits;

    public MatMulNBitsKernel(OnnxNode node) : base(node)
    {
        long bits = node.GetInt("bits", 4);
        if (bits != 4)
        {
            throw ModelException.Unsupported(node, $"MatMulNBits with bits={bits} (only 4)");
        }
        long k = node.GetInt("K", 0);
        long n = node.GetInt("N", 0);
        long bs = node.GetInt("block_size", 0);
        if (k < 1 || n < 1 || k > int.MaxValue || n > int.MaxValue)
        {
            throw ModelException.ForNode(node, $"attributes K={k} and N={n} must both be positive");
        }
        if (bs < 16 || bs > 256 || (bs & (bs - 1)) != 0)
        {
            throw ModelException.ForNode(node, $"block_size {bs} must be a power of two from 16 to 256");
        }
        _k = (int)k;
        _n = (int)n;
        _blockSize = (int)bs;
        _blocks = (_k + _blockSize - 1) / _blockSize;
        _int8Compute = node.GetInt("accuracy_level", 0) == 4;
    }

    public override void Infer(InferContext ctx)
    {
        ctx.ExpectType(0, DataType.Float32);
        var aShape = ctx.InputShape(0);
        if (aShape.Length < 1 || aShape[^1] != _k)
        {
            throw ModelException.ForNode(Node, $"input A of shape {Fmt(aShape)} must end in K={_k}");
        }
        if (ctx.HasInput(4))
        {
            throw ModelException.Unsupported(Node, "MatMulNBits with g_idx (act-order) input; re-export without act-order");
        }
        ctx.ExpectType(1, DataType.UInt8);
        ctx.ExpectType(2, DataType.Float32);
        int blob = _blockSize / 2;
        var bShape = ctx.InputShape(1);
        if (ctx.Input(1).ElementCount != (long)_n * _blocks * blob)
        {
            throw ModelException.ForNode(Node, $"B of shape {Fmt(bShape)} must hold [N={_n}, n_blocks={_blocks}, blob={blob}] bytes");
        }
        if (ctx.Input(2).ElementCount != (long)_n * _blocks)
        {
            throw ModelException.ForNode(Node, $"scales of shape {Fmt(ctx.InputShape(2))} must hold N × n_blocks = {(long)_n * _blocks} values");
        }
        var b = ctx.RequireConstant(1, "MatMulNBits weights B");
        var scales = ctx.RequireConstant(2, "MatMulNBits scales");
        Tensor? zp = null;
        if (ctx.HasInput(3))
        {
            var zt = ctx.ExpectType(3, DataType.UInt8, DataType.Float32);
            long expected = zt == DataType.UInt8 ? (long)_n * ((_blocks + 1) / 2) : (long)_n * _blocks;
            if (ctx.Input(3).ElementCount != expected)
            {
                throw ModelException.ForNode(Node, $"zero_points of shape {Fmt(ctx.InputShape(3))} must hold {expected} {DataTypes.Name(zt)} values");
            }
            zp = ctx.RequireConstant(3, "MatMulNBits zero_points");
        }
        _hasBias = ctx.HasInput(5);
        if (_hasBias)
        {
            ctx.ExpectType(5, DataType.Float32);
            if (ctx.Input(5).ElementCount != _n)
            {
                throw ModelException.ForNode(Node, $"bias of shape {Fmt(ctx.InputShape(5))} must hold N={_n} values");
            }
        }
        _m = (int)Product(aShape, 0, aShape.Length - 1);
        // Keyed by B; the kind names the scales and zero-point tensors too (identity within the session).
        string tensors = $"{_k}x{_n}:{_blockSize}:{RuntimeHelpers.GetHashCode(scales)}:{(zp is null ? 0 : RuntimeHelpers.GetHashCode(zp))}";
        if (_int8Compute && (zp is null || zp.Type == DataType.UInt8))
        {
            _packed8 = ctx.Constants.GetOrAdd(b, "nbits4-i8:" + tensors, () => new PackedNBitsInt8(b, scales, zp, _k, _n, _blockSize));
            _rowBytes = (_packed8.RowBytes + 63) & ~63L;
            ctx.RequestScratch(_rowBytes * _m);
            _groups = _packed8.Groups;
        }
        else
        {
            _packed = ctx.Constants.GetOrAdd(b, "nbits4-g64:" + tensors, () => new PackedNBits(b, scales, zp, _k, _n, _blockSize));
            _groups = (_n + GroupCols - 1) / GroupCols;
        }
        _rowChunks = (_m + (_packed8 is null ? RowChunk : Int8RowChunk) - 1) / (_packed8 is null ? RowChunk : Int8RowChunk);
        var yShape = (int[])aShape.Clone();
        yShape[^1] = _n;
        ctx.SetOutput(0, DataType.Float32, yShape);
    }

    public override void Execute(ExecContext ctx)
    {
        _a = ctx.In<float>(0);
        _y = ctx.Out<float>(0);
        _bias = _hasBias ? ctx.In<float>(5) : null;
        _bits = SimdLevel.Bits;
        int units = _groups * _rowChunks;
        if (units == 0)
        {
            return;
        }
        if (_packed8 is not null)
        {
            _quantized = ctx.Scratch;
            for (int r = 0; r < _m; r++)
            {
                _packed8.QuantizeRow(_a + (long)r * _k, _quantized + r * _rowBytes, _bits);
            }
        }
        ctx.Pool.For(units, this, 1);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Execute(int begin, int end)
    {
        if (_packed8 is not null)
        {
            ExecuteInt8(_packed8, begin, end);
            return;
        }
        int bs = _blockSize;
        float* w = stackalloc float[bs * GroupCols];
        float* tile = stackalloc float[RowChunk * GroupCols];
        var packed = _packed!;
        for (int u = begin; u < end; u++)
        {
            int g = u % _groups;
            int m0 = u / _groups * RowChunk;
            int rows = Math.Min(RowChunk, _m - m0);
            new Span<float>(tile, rows * GroupCols).Clear();
            // Decode (one row): dequantize in registers where the width allows; same operations per element.
            if (rows != 1 || !packed.TryFusedRow(g, _a + (long)m0 * _k, tile, _bits))
            {
                Accumulate(packed, g, m0, rows, w, tile);
            }
            int c0 = g * GroupCols;
            int cols = Math.Min(GroupCols, _n - c0);
            for (int r = 0; r < rows; r++)
            {
                float* src = tile + r * GroupCols;
                float* dst = _y + (long)(m0 + r) * _n + c0;
                if (_bias is null)
                {
                    new ReadOnlySpan<float>(src, cols).CopyTo(new Span<float>(dst, cols));
                }
                else
                {
                    for (int j = 0; j < cols; j++)
                    {
                        dst[j] = src[j] + _bias[c0 + j];
                    }
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ExecuteInt8(PackedNBitsInt8 packed, int begin, int end)
    {
        const int cols = PackedNBitsInt8.GroupCols;
        float* tile = stackalloc float[4 * cols];
        for (int u = begin; u < end; u++)
        {
            int g = u % _groups;
            int m0 = u / _groups * Int8RowChunk;
            int rows = Math.Min(Int8RowChunk, _m - m0);
            int c0 = g * cols;
            int valid = Math.Min(cols, _n - c0);
            int r = 0;
            for (; r + 4 <= rows; r += 4)
            {
                if (!packed.TryRows4(g, _quantized + (m0 + r) * _rowBytes, _rowBytes, tile, cols, _bits))
                {
                    break;
                }
                for (int i = 0; i < 4; i++)
                {
                    Emit(tile + i * cols, m0 + r + i, c0, valid);
                }
            }
            for (; r < rows; r++)
            {
                packed.Row(g, _quantized + (m0 + r) * _rowBytes, tile, _bits);
                Emit(tile, m0 + r, c0, valid);
            }
        }
    }

    /// <summary>Writes one row's outputs [c0, c0 + count) from src, adding the bias.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Emit(float* src, int row, int c0, int count)
    {
        float* dst = _y + (long)row * _n + c0;
        if (_bias is null)
        {
            new ReadOnlySpan<float>(src, count).CopyTo(new Span<float>(dst, count));
        }
        else
        {
            for (int j = 0; j < count; j++)
            {
                dst[j] = src[j] + _bias[c0 + j];
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Accumulate(PackedNBits packed, int g, int m0, int rows, float* w, float* tile)
    {
        int bs = _blockSize;
        for (int kb = 0; kb < _blocks; kb++)
        {
            int k0 = kb * bs;
            int kn = Math.Min(bs, _k - k0);
            packed.Dequantize(g, kb, k0, kn, w, _bits);
            int r = 0;
            if (_bits >= 256)
            {
                for (; r + 4 <= rows; r += 4)
                {
                    Chain4(_a + (long)(m0 + r) * _k + k0, _k, w, kn, tile + r * GroupCols, _bits);
                }
            }
            for (; r < rows; r++)
            {
                Chain(_a + (long)(m0 + r) * _k + k0, w, kn, tile + r * GroupCols, _bits);
            }
        }
    }

    /// <summary>
    /// <see cref="Chain"/> for four rows (a, a + lda, …; acc rows 64 apart) at once: each weight load feeds four
    /// rows' independent chains, the per-output operations unchanged. Widths 512 and 256 only.
    /// </summary>
    private static void Chain4(float* a, int lda, float* w, int kn, float* acc, int bits)
    {
        if (bits >= 512)
        {
            Chain4Lanes<Vector512<float>, Vector512<int>, Lanes512>(a, lda, w, kn, acc);
        }
        else
        {
            Chain4Lanes<Vector256<float>, Vector256<int>, Lanes256>(a, lda, w, kn, acc);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Chain4Lanes<TF, TI, L>(float* a, int lda, float* w, int kn, float* acc)
        where L : ILanes<TF, TI>
    {
        int v = L.Width;
        float* a1 = a + lda;
        float* a2 = a1 + lda;
        float* a3 = a2 + lda;
        float* acc1 = acc + GroupCols;
        float* acc2 = acc1 + GroupCols;
        float* acc3 = acc2 + GroupCols;
        for (int h = 0; h < GroupCols; h += 2 * v)
        {
            var c00 = L.Load(acc + h);
            var c01 = L.Load(acc + h + v);
            var c10 = L.Load(acc1 + h);
            var c11 = L.Load(acc1 + h + v);
            var c20 = L.Load(acc2 + h);
            var c21 = L.Load(acc2 + h + v);
            var c30 = L.Load(acc3 + h);
            var c31 = L.Load(acc3 + h + v);
            for (int k = 0; k < kn; k++)
            {
                float* wk = w + k * GroupCols + h;
                var w0 = L.Load(wk);
                var w1 = L.Load(wk + v);
                var x = L.Splat(a[k]);
                c00 = L.Fma(x, w0, c00);
                c01 = L.Fma(x, w1, c01);
                x = L.Splat(a1[k]);
                c10 = L.Fma(x, w0, c10);
                c11 = L.Fma(x, w1, c11);
                x = L.Splat(a2[k]);
                c20 = L.Fma(x, w0, c20);
                c21 = L.Fma(x, w1, c21);
                x = L.Splat(a3[k]);
                c30 = L.Fma(x, w0, c30);
                c31 = L.Fma(x, w1, c31);
            }
            L.Store(c00, acc + h);
            L.Store(c01, acc + h + v);
            L.Store(c10, acc1 + h);
            L.Store(c11, acc1 + h + v);
            L.Store(c20, acc2 + h);
            L.Store(c21, acc2 + h + v);
            L.Store(c30, acc3 + h);
            L.Store(c31, acc3 + h + v);
        }
    }

    /// <summary>acc[j] = fma(a[k], w[k, j], acc[j]) for k ascending, j in [0, 64): vectorised across j only.</summary>
    private static void Chain(float* a, float* w, int kn, float* acc, int bits)
    {
        if (bits >= 512)
        {
            ChainLanes<Vector512<float>, Vector512<int>, Lanes512>(a, w, kn, acc);
        }
        else if (bits >= 256)
        {
            ChainLanes<Vector256<float>, Vector256<int>, Lanes256>(a, w, kn, acc);
        }
        else if (bits >= 128)
        {
            ChainLanes<Vector128<float>, Vector128<int>, Lanes128>(a, w, kn, acc);
        }
        else
        {
            ChainLanes<float, int, ScalarLanes>(a, w, kn, acc);
        }
    }

    /// <summary>Four independent accumulators of <c>L.Width</c> columns per pass; each column's fma chain is the same on every width.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ChainLanes<TF, TI, L>(float* a, float* w, int kn, float* acc)
        where L : ILanes<TF, TI>
    {
        int v = L.Width;
        for (int h = 0; h < GroupCols; h += 4 * v)
        {
            var c0 = L.Load(acc + h);
            var c1 = L.Load(acc + h + v);
            var c2 = L.Load(acc + h + 2 * v);
            var c3 = L.Load(acc + h + 3 * v);
            for (int k = 0; k < kn; k++)
            {
                var av = L.Splat(a[k]);
                float* wk = w + k * GroupCols + h;
                c0 = L.Fma(av, L.Load(wk), c0);
                c1 = L.Fma(av, L.Load(wk + v), c1);
                c2 = L.Fma(av, L.Load(wk + 2 * v), c2);
                c3 = L.Fma(av, L.Load(wk + 3 * v), c3);
            }
            L.Store(c0, acc + h);
            L.Store(c1, acc + h + v);
            L.Store(c2, acc + h + 2 * v);
            L.Store(c3, acc + h + 3 * v);
        }
    }
}

/// <summary>
/// MatMulNBits weights repacked for <see cref="MatMulNBitsKernel"/>: per 64-column group and k, 32 bytes
/// (4 panels of 8: byte j holds column j in its low nibble and column j + 8 in its high nibble); per group
/// and block, 64 float scales and 64 float zero points. Padding columns have q = zp = scale = 0.
/// </summary>
internal sealed unsafe class PackedNBits
{
    private const int GroupCols = 64;
    private const ulong LowNibbles = 0x0F0F_0F0F_0F0F_0F0FUL;

    private readonly byte[] _q;
    private readonly float[] _scale;
    private readonly float[] _zp;
    private readonly byte* _qPtr;
    private readonly float* _scalePtr;
    private readonly float* _zpPtr;
    private readonly int _k;
    private readonly int _blocks;
    private readonly int _blockSize;

    public PackedNBits(Tensor b, Tensor scales, Tensor? zeroPoints, int k, int n, int blockSize)
    {
        _k = k;
        _blockSize = blockSize;
        _blocks = (k + blockSize - 1) / blockSize;
        int groups = (n + GroupCols - 1) / GroupCols;
        int blob = blockSize / 2;
        _q = GC.AllocateArray<byte>(checked(groups * k * 32), pinned: true);
        _scale = GC.AllocateArray<float>(checked(groups * _blocks * GroupCols), pinned: true);
        _zp = GC.AllocateArray<float>(_scale.Length, pinned: true);
        _qPtr = (byte*)Marshal.UnsafeAddrOfPinnedArrayElement(_q, 0);
        _scalePtr = (float*)Marshal.UnsafeAddrOfPinnedArrayElement(_scale, 0);
        _zpPtr = (float*)Marshal.UnsafeAddrOfPinnedArrayElement(_zp, 0);
        var bq = b.Bytes();
        var s = scales.Span<float>();
        int zpRow = (_blocks + 1) / 2;
        for (int col = 0; col < n; col++)
        {
            int g = col / GroupCols;
            int c = col % GroupCols;
            int panel = c / 16;
            int lane = c % 16;
            int byteInPanel = lane % 8;
            int shift = lane < 8 ? 0 : 4;
            for (int kk = 0; kk < k; kk++)
            {
                int src = bq[col * _blocks * blob + kk / 2];
                int q = (kk & 1) == 0 ? src & 0xF : src >> 4;
                _q[((long)g * k + kk) * 32 + panel * 8 + byteInPanel] |= (byte)(q << shift);
            }
            for (int blk = 0; blk < _blocks; blk++)
            {
                int at = (g * _blocks + blk) * GroupCols + c;
                _scale[at] = s[col * _blocks + blk];
                if (zeroPoints is null)
                {
                    _zp[at] = 8f;
                }
                else if (zeroPoints.Type == DataType.UInt8)
                {
                    int zb = zeroPoints.Bytes()[col * zpRow + blk / 2];
                    _zp[at] = (blk & 1) == 0 ? zb & 0xF : zb >> 4;
                }
                else
                {
                    _zp[at] = zeroPoints.Span<float>()[col * _blocks + blk];
                }
            }
        }
    }

    /// <summary>
    /// One row of A against group g: acc[j] = fma(a[k], (q − zp) × scale, acc[j]) for all k ascending, the
    /// dequantized weight kept in registers. Returns false where the vector width has no fused path.
    /// </summary>
    public bool TryFusedRow(int g, float* a, float* acc, int bits)
    {
        if (bits >= 512 && Avx512F.IsSupported)
        {
            FusedRow512(g, a, acc);
            return true;
        }
        if (bits >= 256 && Avx2.IsSupported)
        {
            FusedRow256(g, a, acc);
            return true;
        }
        return false;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void FusedRow512(int g, float* a, float* acc)
    {
        var mask = Vector256.Create(LowNibbles).AsByte();
        var c0 = Vector512<float>.Zero;
        var c1 = Vector512<float>.Zero;
        var c2 = Vector512<float>.Zero;
        var c3 = Vector512<float>.Zero;
        byte* q = _qPtr + (long)g * _k * 32;
        for (int kb = 0; kb < _blocks; kb++)
        {
            float* scale = _scalePtr + (g * _blocks + kb) * GroupCols;
            float* zp = _zpPtr + (g * _blocks + kb) * GroupCols;
            var z0 = Vector512.Load(zp);
            var z1 = Vector512.Load(zp + 16);
            var z2 = Vector512.Load(zp + 32);
            var z3 = Vector512.Load(zp + 48);
            var s0 = Vector512.Load(scale);
            var s1 = Vector512.Load(scale + 16);
            var s2 = Vector512.Load(scale + 32);
            var s3 = Vector512.Load(scale + 48);
            int k0 = kb * _blockSize;
            int k1 = Math.Min(_k, k0 + _blockSize);
            for (int k = k0; k < k1; k++)
            {
                var av = Vector512.Create(a[k]);
                // 32 bytes = panels 0..3 (8 bytes each). Per 128-bit half, unpacking the low and high nibbles
                // gives [panel p low nibbles, panel p high nibbles] = the panel's 16 columns in order.
                var v = Vector256.Load(q + (long)k * 32);
                var lo = v & mask;
                var hi = Vector256.ShiftRightLogical(v.AsUInt64(), 4).AsByte() & mask;
                var p02 = Avx2.UnpackLow(lo.AsUInt64(), hi.AsUInt64()).AsByte();
                var p13 = Avx2.UnpackHigh(lo.AsUInt64(), hi.AsUInt64()).AsByte();
                c0 = Vector512.FusedMultiplyAdd(av, (Vector512.ConvertToSingle(Avx512F.ConvertToVector512Int32(p02.GetLower())) - z0) * s0, c0);
                c1 = Vector512.FusedMultiplyAdd(av, (Vector512.ConvertToSingle(Avx512F.ConvertToVector512Int32(p13.GetLower())) - z1) * s1, c1);
                c2 = Vector512.FusedMultiplyAdd(av, (Vector512.ConvertToSingle(Avx512F.ConvertToVector512Int32(p02.GetUpper())) - z2) * s2, c2);
                c3 = Vector512.FusedMultiplyAdd(av, (Vector512.ConvertToSingle(Avx512F.ConvertToVector512Int32(p13.GetUpper())) - z3) * s3, c3);
            }
        }
        c0.Store(acc);
        c1.Store(acc + 16);
        c2.Store(acc + 32);
        c3.Store(acc + 48);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void FusedRow256(int g, float* a, float* acc)
    {
        byte* q = _qPtr + (long)g * _k * 32;
        for (int h = 0; h < GroupCols; h += 32)
        {
            var c0 = Vector256<float>.Zero;
            var c1 = Vector256<float>.Zero;
            var c2 = Vector256<float>.Zero;
            var c3 = Vector256<float>.Zero;
            for (int kb = 0; kb < _blocks; kb++)
            {
                float* scale = _scalePtr + (g * _blocks + kb) * GroupCols + h;
                float* zp = _zpPtr + (g * _blocks + kb) * GroupCols + h;
                int k0 = kb * _blockSize;
                int k1 = Math.Min(_k, k0 + _blockSize);
                for (int k = k0; k < k1; k++)
                {
                    var av = Vector256.Create(a[k]);
                    byte* qk = q + (long)k * 32 + h / 2;
                    ulong v0 = *(ulong*)qk;
                    ulong v1 = *(ulong*)(qk + 8);
                    var f0 = Vector256.ConvertToSingle(Avx2.ConvertToVector256Int32(Vector128.CreateScalar(v0 & LowNibbles).AsByte()));
                    var f1 = Vector256.ConvertToSingle(Avx2.ConvertToVector256Int32(Vector128.CreateScalar((v0 >> 4) & LowNibbles).AsByte()));
                    var f2 = Vector256.ConvertToSingle(Avx2.ConvertToVector256Int32(Vector128.CreateScalar(v1 & LowNibbles).AsByte()));
                    var f3 = Vector256.ConvertToSingle(Avx2.ConvertToVector256Int32(Vector128.CreateScalar((v1 >> 4) & LowNibbles).AsByte()));
                    c0 = Vector256.FusedMultiplyAdd(av, (f0 - Vector256.Load(zp)) * Vector256.Load(scale), c0);
                    c1 = Vector256.FusedMultiplyAdd(av, (f1 - Vector256.Load(zp + 8)) * Vector256.Load(scale + 8), c1);
                    c2 = Vector256.FusedMultiplyAdd(av, (f2 - Vector256.Load(zp + 16)) * Vector256.Load(scale + 16), c2);
                    c3 = Vector256.FusedMultiplyAdd(av, (f3 - Vector256.Load(zp + 24)) * Vector256.Load(scale + 24), c3);
                }
            }
            c0.Store(acc + h);
            c1.Store(acc + h + 8);
            c2.Store(acc + h + 16);
            c3.Store(acc + h + 24);
        }
    }

    /// <summary>w[k, j] = (q − zp) × scale for k in [k0, k0 + kn) of block kb and the group's 64 columns; w is [kn][64].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Dequantize(int g, int kb, int k0, int kn, float* w, int bits)
    {
        byte* q = _qPtr + ((long)g * _k + k0) * 32;
        float* scale = _scalePtr + (g * _blocks + kb) * GroupCols;
        float* zp = _zpPtr + (g * _blocks + kb) * GroupCols;
        if (bits >= 512 && Avx512F.IsSupported)
        {
            for (int k = 0; k < kn; k++)
            {
                for (int p = 0; p < 4; p++)
                {
                    ulong v = *(ulong*)(q + k * 32 + p * 8);
                    var bytes = Vector128.Create(v & LowNibbles, (v >> 4) & LowNibbles).AsByte();
                    var f = Vector512.ConvertToSingle(Avx512F.ConvertToVector512Int32(bytes));
                    ((f - Vector512.Load(zp + p * 16)) * Vector512.Load(scale + p * 16)).Store(w + k * GroupCols + p * 16);
                }
            }
        }
        else if (bits >= 256 && Avx2.IsSupported)
        {
            for (int k = 0; k < kn; k++)
            {
                for (int p = 0; p < 4; p++)
                {
                    ulong v = *(ulong*)(q + k * 32 + p * 8);
                    var lo = Vector256.ConvertToSingle(Avx2.ConvertToVector256Int32(Vector128.CreateScalar(v & LowNibbles).AsByte()));
                    var hi = Vector256.ConvertToSingle(Avx2.ConvertToVector256Int32(Vector128.CreateScalar((v >> 4) & LowNibbles).AsByte()));
                    float* o = w + k * GroupCols + p * 16;
                    ((lo - Vector256.Load(zp + p * 16)) * Vector256.Load(scale + p * 16)).Store(o);
                    ((hi - Vector256.Load(zp + p * 16 + 8)) * Vector256.Load(scale + p * 16 + 8)).Store(o + 8);
                }
            }
        }
        else if (bits >= 128)
        {
            for (int k = 0; k < kn; k++)
            {
                for (int p = 0; p < 4; p++)
                {
                    ulong v = *(ulong*)(q + k * 32 + p * 8);
                    var bytes = Vector128.Create(v & LowNibbles, (v >> 4) & LowNibbles).AsByte();
                    var u0 = Vector128.WidenLower(bytes);
                    var u1 = Vector128.WidenUpper(bytes);
                    float* o = w + k * GroupCols + p * 16;
                    float* z = zp + p * 16;
                    float* s = scale + p * 16;
                    ((Vector128.ConvertToSingle(Vector128.WidenLower(u0).AsInt32()) - Vector128.Load(z)) * Vector128.Load(s)).Store(o);
                    ((Vector128.ConvertToSingle(Vector128.WidenUpper(u0).AsInt32()) - Vector128.Load(z + 4)) * Vector128.Load(s + 4)).Store(o + 4);
                    ((Vector128.ConvertToSingle(Vector128.WidenLower(u1).AsInt32()) - Vector128.Load(z + 8)) * Vector128.Load(s + 8)).Store(o + 8);
                    ((Vector128.ConvertToSingle(Vector128.WidenUpper(u1).AsInt32()) - Vector128.Load(z + 12)) * Vector128.Load(s + 12)).Store(o + 12);
                }
            }
        }
        else
        {
            for (int k = 0; k < kn; k++)
            {
                for (int j = 0; j < GroupCols; j++)
                {
                    int panel = j / 16;
                    int lane = j % 16;
                    int by = q[k * 32 + panel * 8 + lane % 8];
                    int v = lane < 8 ? by & 0xF : by >> 4;
                    w[k * GroupCols + j] = ((float)v - zp[j]) * scale[j];
                }
            }
        }
    }
}
