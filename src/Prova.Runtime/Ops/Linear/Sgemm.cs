using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Prova.Runtime.Ops.Linear;

/// <summary>
/// B operand of a GEMM seen as panels of <see cref="Sgemm.Nr"/> columns: panel p's row k starts at
/// <c>Ptr + p * PanelStride + k * Ldb</c> and has 32 readable floats (zero beyond N). A prepacked
/// matrix has PanelStride = K * 32 and Ldb = 32; a row-major matrix used in place has PanelStride = 32
/// and Ldb = its row length, with its partial last panel copied to <see cref="Tail"/>.
/// </summary>
internal unsafe struct PanelSource
{
    public float* Ptr;
    public nint PanelStride;
    public nint Ldb;

    /// <summary>
    /// When non-null, row k of panel p starts at <c>Ptr + p * 32 + KOff[k]</c> (B[k, j] = Ptr[KOff[k] + j]),
    /// which reads a convolution's patch matrix straight from its padded input; Ldb and Tail are unused.
    /// </summary>
    public nint* KOff;

    /// <summary>When non-null, panel <see cref="TailIndex"/> is read from here instead ([K][32], Ldb 32).</summary>
    public float* Tail;
    public int TailIndex;

    public readonly float* Panel(int p, out nint ldb)
    {
        if (Tail != null && p == TailIndex)
        {
            ldb = Sgemm.Nr;
            return Tail;
        }
        ldb = Ldb;
        return Ptr + p * PanelStride;
    }
}

/// <summary>What happens to each accumulated element after its k-chain, in this order: t = alpha * t (when alpha != 1), then t = t + beta * bias (when a bias is given; beta * bias is rounded first, and skipped when beta == 1), then t = t &lt; 0 ? +0 : t (when Relu, as the Relu op).</summary>
internal unsafe struct Epilogue
{
    public float Alpha;
    public float* Bias;
    public nint BiasRowStride;
    public nint BiasColStride;
    public float Beta;
    public bool Relu;

    public static Epilogue None => new() { Alpha = 1f, Beta = 1f };

    public readonly bool IsNone => Alpha == 1f && Bias == null && !Relu;
}

/// <summary>
/// Single-precision GEMM, C = epilogue(A · B), defined element by element as
/// <c>acc = 0f; for k = 0..K-1: acc = fma(A[i,k], B[k,j], acc)</c> (fused, increasing k), followed by
/// the <see cref="Epilogue"/>. The register-blocked microkernels (AVX-512 6×32, AVX2 6×16,
/// Vector128 6×8, scalar) vectorise across j only, K-blocking stores and reloads the exact float
/// accumulator, and threads only split the (row block, panel) tiles, so every path yields the same bits.
/// An instance holds one job's parameters so that parallel runs allocate nothing; use one per kernel.
/// </summary>
[System.Runtime.CompilerServices.SkipLocalsInit]
internal sealed unsafe partial class Sgemm : IRangeBody
{
    public const int Nr = 32;
    public const int Mr = 6;
    private const int Kc = 256;
    private const long MinFmaPerChunk = 1L << 18;

    [ThreadStatic]
    private static Sgemm? s_threadLocal;

    private int _m;
    private int _n;
    private int _k;
    private float* _a;
    private nint _aRow;
    private nint _aK;
    private PanelSource _b;
    private float* _c;
    private nint _ldc;
    private Epilogue _epi;
    private int _bits;
    private int _panels;
    private int _groupPanels;
    private int _mBlocks;
    private int _mBlockRows;
    private int _wq;
    private int _keptW;

    /// <summary>An instance for serial runs on the current thread (created once per thread).</summary>
    public static Sgemm ThreadLocal => s_threadLocal ??= new Sgemm();

    /// <summary>Floats needed to pack a K×N matrix into panels.</summary>
    public static long PackedLength(int k, int n) => (long)((n + Nr - 1) / Nr) * Math.Max(k, 1) * Nr;

    /// <summary>Packs B (element (k, n) at <c>b[k * strideK + n * strideN]</c>) into zero-padded panels.</summary>
    public static void Pack(float* b, int k, int n, nint strideK, nint strideN, float* dest)
    {
        int panels = (n + Nr - 1) / Nr;
        for (int p = 0; p < panels; p++)
        {
            PackPanel(b, k, n, strideK, strideN, p, dest + (nint)p * k * Nr);
        }
    }

    /// <summary>Packs one panel (columns p*32 .. p*32+31) as [K][32], zero beyond N.</summary>
    public static void PackPanel(float* b, int k, int n, nint strideK, nint strideN, int p, float* dest)
    {
        int j0 = p * Nr;
        int cols = Math.Min(Nr, n - j0);
        for (int kk = 0; kk < k; kk++)
        {
            float* src = b + kk * strideK + j0 * strideN;
            float* d = dest + (nint)kk * Nr;
            if (strideN == 1)
            {
                new ReadOnlySpan<float>(src, cols).CopyTo(new Span<float>(d, cols));
            }
            else
            {
                for (int j = 0; j < cols; j++)
                {
                    d[j] = src[j * strideN];
                }
            }
            for (int j = cols; j < Nr; j++)
            {
                d[j] = 0f;
            }
        }
    }

    /// <summary>Floats of scratch <see cref="Direct"/> needs for a K×N matrix (its partial last panel).</summary>
    public static long DirectScratch(int k, int n) => n % Nr == 0 ? 0 : (long)Math.Max(k, 1) * Nr;

    /// <summary>Uses a row-major K×N matrix (row stride ldb) in place; its partial last panel is packed into <paramref name="tail"/>.</summary>
    public static PanelSource Direct(float* b, int k, int n, nint ldb, float* tail)
    {
        var s = new PanelSource { Ptr = b, PanelStride = Nr, Ldb = ldb };
        if (n % Nr != 0)
        {
            int p = n / Nr;
            PackPanel(b, k, n, ldb, 1, p, tail);
            s.Tail = tail;
            s.TailIndex = p;
        }
        return s;
    }

    /// <summary>
    /// Computes C (M×N, row stride ldc) from A (element (i, k) at <c>a[i * aRow + k * aK]</c>) and B.
    /// </summary>
    public void Run(WorkerPool? pool, int m, int n, int k, float* a, nint aRow, nint aK, in PanelSource b, float* c, nint ldc, in Epilogue epi)
        => Run(pool, m, n, k, a, aRow, aK, b, c, ldc, epi, 0, 0);

    /// <summary>
    /// As <see cref="Run(WorkerPool?, int, int, int, float*, nint, nint, in PanelSource, float*, nint, in Epilogue)"/>,
    /// but when <paramref name="virtualWidth"/> &gt; 0 column j of the product is kept only when
    /// j % virtualWidth &lt; keptWidth and is stored at column (j / virtualWidth) * keptWidth + j % virtualWidth
    /// of C (a convolution over padded rows writing its compact output).
    /// </summary>
    public void Run(WorkerPool? pool, int m, int n, int k, float* a, nint aRow, nint aK, in PanelSource b, float* c, nint ldc, in Epilogue epi, int virtualWidth, int keptWidth)
    {
        if (m <= 0 || n <= 0)
        {
            return;
        }
        _wq = virtualWidth;
        _keptW = keptWidth;
        _m = m;
        _n = n;
        _k = k;
        _a = a;
        _aRow = aRow;
        _aK = aK;
        _b = b;
        _c = c;
        _ldc = ldc;
        _epi = epi;
        _bits = SimdLevel.Bits;
        _panels = (n + Nr - 1) / Nr;
        _groupPanels = m <= 2 && _bits == 512 && b.KOff == null ? 4 : 1;
        int groups = (_panels + _groupPanels - 1) / _groupPanels;
        _mBlocks = 1;
        _mBlockRows = m;
        int threads = pool?.Threads ?? 1;
        long fma = (long)m * Math.Max(k, 1) * n;
        // Split the rows too when there are too few panel groups to balance the threads' chunks.
        if (threads > 1 && fma >= 2 * MinFmaPerChunk && groups < 8 * threads && m >= 2 * Mr)
        {
            int want = Math.Min((8 * threads + groups - 1) / groups, (m + Mr - 1) / Mr);
            _mBlockRows = ((m + want - 1) / want + Mr - 1) / Mr * Mr;
            _mBlocks = (m + _mBlockRows - 1) / _mBlockRows;
        }
        int units = groups * _mBlocks;
        if (pool is null || threads == 1 || fma < 2 * MinFmaPerChunk)
        {
            Execute(0, units);
        }
        else
        {
            long perUnit = Math.Max(1, fma / units);
            int grain = (int)Math.Clamp((MinFmaPerChunk + perUnit - 1) / perUnit, 1, units);
            pool.For(units, this, grain);
        }
    }

    public void Execute(int begin, int end)
    {
        for (int u = begin; u < end; u++)
        {
            RunUnit(u / _mBlocks, u % _mBlocks);
        }
    }

    private void RunUnit(int group, int mBlock)
    {
        int p0 = group * _groupPanels;
        int np = Math.Min(_groupPanels, _panels - p0);
        int i0 = mBlock * _mBlockRows;
        int i1 = Math.Min(_m, i0 + _mBlockRows);
        int k = _k;
        int kb = 0;
        do
        {
            int kc = Math.Min(Kc, k - kb);
            // Merge a short last block into this one: fewer accumulator round trips, same bits.
            if (k - kb - kc < Kc / 4)
            {
                kc = k - kb;
            }
            bool accumulate = kb > 0;
            for (int i = i0; i < i1; i += Mr)
            {
                int rows = Math.Min(Mr, i1 - i);
                float* a = _a + i * _aRow + kb * _aK;
                if (rows <= 2 && _bits == 512 && np > 1)
                {
                    for (int r = 0; r < rows; r++)
                    {
                        RowGroup512(a + r * _aRow, kc, kb, i + r, p0, np, accumulate);
                    }
                    continue;
                }
                for (int p = p0; p < p0 + np; p++)
                {
                    Tile(a, rows, kc, kb, i, p, accumulate);
                }
            }
            kb += kc;
        }
        while (kb < k);
        if (!_epi.IsNone)
        {
            int j0 = p0 * Nr;
            int j1 = Math.Min(_n, (p0 + np) * Nr);
            if (_wq > 0)
            {
                // The kept columns of [j0, j1) are one contiguous range of C.
                if (j0 % _wq >= _keptW)
                {
                    j0 = (j0 / _wq + 1) * _wq;
                }
                int last = j1 - 1;
                if (last % _wq >= _keptW)
                {
                    last = last / _wq * _wq + _keptW - 1;
                }
                if (last < j0)
                {
                    return;
                }
                j0 = j0 / _wq * _keptW + j0 % _wq;
                j1 = last / _wq * _keptW + last % _wq + 1;
            }
            ApplyEpilogue(_c, _ldc, i0, i1, j0, j1, _epi);
        }
    }

    private void Tile(float* a, int rows, int kc, int kb, int i, int p, bool accumulate)
    {
        nint* koff = _b.KOff;
        float* b;
        nint ldb;
        if (koff != null)
        {
            b = _b.Ptr + p * Nr;
            ldb = 0;
            koff += kb;
        }
        else
        {
            b = _b.Panel(p, out ldb) + kb * ldb;
        }
        int j0 = p * Nr;
        int cols = Math.Min(Nr, _n - j0);
        float* c = _c + i * _ldc + j0;
        nint ldc = _ldc;
        float* tmp = stackalloc float[Mr * Nr];
        bool remap = _wq > 0;
        if (remap)
        {
            if (accumulate)
            {
                for (int r = 0; r < rows; r++)
                {
                    Remap(tmp + r * Nr, _c + (i + r) * _ldc, j0, cols, toC: false);
                }
            }
            c = tmp;
            ldc = Nr;
        }
        else if (cols < Nr)
        {
            if (accumulate)
            {
                for (int r = 0; r < rows; r++)
                {
                    new ReadOnlySpan<float>(c + r * _ldc, cols).CopyTo(new Span<float>(tmp + r * Nr, cols));
                }
            }
            c = tmp;
            ldc = Nr;
        }
        if (koff != null)
        {
            Micro<OffsetRows>(rows, kc, a, b, ldb, koff, c, ldc, accumulate);
        }
        else
        {
            Micro<StridedRows>(rows, kc, a, b, ldb, null, c, ldc, accumulate);
        }
        if (remap)
        {
            for (int r = 0; r < rows; r++)
            {
                Remap(tmp + r * Nr, _c + (i + r) * _ldc, j0, cols, toC: true);
            }
        }
        else if (cols < Nr)
        {
            float* dst = _c + i * _ldc + j0;
            for (int r = 0; r < rows; r++)
            {
                new ReadOnlySpan<float>(tmp + r * Nr, cols).CopyTo(new Span<float>(dst + r * _ldc, cols));
            }
        }
    }

    /// <summary>Copies the kept columns among virtual columns [j0, j0 + cols) between a tile row and C's row.</summary>
    private void Remap(float* tile, float* cRow, int j0, int cols, bool toC)
    {
        int wq = _wq;
        int kept = _keptW;
        int j = j0;
        int end = j0 + cols;
        int oh = j / wq;
        int ow = j - oh * wq;
        while (j < end)
        {
            if (ow >= kept)
            {
                j += wq - ow;
                oh++;
                ow = 0;
                continue;
            }
            int len = Math.Min(kept - ow, end - j);
            float* t = tile + (j - j0);
            float* y = cRow + (long)oh * kept + ow;
            if (toC)
            {
                new ReadOnlySpan<float>(t, len).CopyTo(new Span<float>(y, len));
            }
            else
            {
                new ReadOnlySpan<float>(y, len).CopyTo(new Span<float>(t, len));
            }
            j += len;
            ow += len;
        }
    }

    private void Micro<TB>(int rows, int kc, float* a, float* b, nint ldb, nint* koff, float* c, nint ldc, bool accumulate)
        where TB : struct, IBRows
    {
        switch (_bits)
        {
            case 512:
                Tile512Rows<TB>(rows, kc, a, _aRow, _aK, b, ldb, koff, c, ldc, accumulate);
                break;
            case 256:
                Tile256<TB>(rows, kc, a, _aRow, _aK, b, ldb, koff, c, ldc, accumulate);
                Tile256<TB>(rows, kc, a, _aRow, _aK, b + 16, ldb, koff, c + 16, ldc, accumulate);
                break;
            case 128:
                for (int q = 0; q < Nr; q += 8)
                {
                    Tile128<TB>(rows, kc, a, _aRow, _aK, b + q, ldb, koff, c + q, ldc, accumulate);
                }
                break;
            default:
                TileScalar<TB>(rows, kc, a, _aRow, _aK, b, ldb, koff, c, ldc, accumulate);
                break;
        }
    }

    private void RowGroup512(float* a, int kc, int kb, int i, int p0, int np, bool accumulate)
    {
        var bs = stackalloc float*[4];
        var ls = stackalloc nint[4];
        var cs = stackalloc float*[4];
        float* tmp = stackalloc float[4 * Nr];
        float* row = _c + i * _ldc;
        for (int q = 0; q < 4; q++)
        {
            int p = p0 + Math.Min(q, np - 1);
            bs[q] = _b.Panel(p, out ls[q]) + kb * ls[q];
            int j0 = p * Nr;
            int cols = Math.Min(Nr, _n - j0);
            if (q < np && cols == Nr)
            {
                cs[q] = row + j0;
            }
            else
            {
                cs[q] = tmp + q * Nr;
                if (q < np && accumulate)
                {
                    new ReadOnlySpan<float>(row + j0, cols).CopyTo(new Span<float>(cs[q], cols));
                }
            }
        }
        Row512(kc, a, _aK, bs[0], ls[0], bs[1], ls[1], bs[2], ls[2], bs[3], ls[3], cs[0], cs[1], cs[2], cs[3], accumulate);
        for (int q = 0; q < np; q++)
        {
            int j0 = (p0 + q) * Nr;
            int cols = Math.Min(Nr, _n - j0);
            if (cols < Nr)
            {
                new ReadOnlySpan<float>(cs[q], cols).CopyTo(new Span<float>(row + j0, cols));
            }
        }
    }

    /// <summary>Applies the epilogue to rows [i0, i1) and columns [j0, j1) of C.</summary>
    public static void ApplyEpilogue(float* c, nint ldc, int i0, int i1, int j0, int j1, in Epilogue epi)
    {
        float alpha = epi.Alpha;
        float beta = epi.Beta;
        bool scale = alpha != 1f;
        bool scaleBias = beta != 1f;
        float* bias = epi.Bias;
        nint rs = epi.BiasRowStride;
        nint cs = epi.BiasColStride;
        bool relu = epi.Relu;
        for (int i = i0; i < i1; i++)
        {
            float* row = c + i * ldc;
            float* brow = bias == null ? null : bias + i * rs;
            int j = j0;
            if (Vector256.IsHardwareAccelerated && (bias == null || cs == 0 || cs == 1))
            {
                var va = Vector256.Create(alpha);
                var vb = Vector256.Create(beta);
                for (; j + 8 <= j1; j += 8)
                {
                    var t = Vector256.Load(row + j);
                    if (scale)
                    {
                        t = va * t;
                    }
                    if (brow != null)
                    {
                        var bv = cs == 0 ? Vector256.Create(*brow) : Vector256.Load(brow + j);
                        if (scaleBias)
                        {
                            bv = vb * bv;
                        }
                        t += bv;
                    }
                    if (relu)
                    {
                        t = Vector256.ConditionalSelect(Vector256.LessThan(t, Vector256<float>.Zero), Vector256<float>.Zero, t);
                    }
                    t.Store(row + j);
                }
            }
            for (; j < j1; j++)
            {
                float t = row[j];
                if (scale)
                {
                    t = alpha * t;
                }
                if (brow != null)
                {
                    float bv = brow[j * cs];
                    if (scaleBias)
                    {
                        bv = beta * bv;
                    }
                    t += bv;
                }
                if (relu && t < 0f)
                {
                    t = 0f;
                }
                row[j] = t;
            }
        }
    }
}
