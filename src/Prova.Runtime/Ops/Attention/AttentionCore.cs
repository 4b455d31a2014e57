using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Prova.Runtime.Ops.Elementwise;
using Prova.Runtime.Ops.Linear;
using Prova.Runtime.Simd;

namespace Prova.Runtime.Ops.Attention;

/// <summary>
/// Scaled dot-product attention for one query row at a time, shared by Attention-23,
/// MultiHeadAttention and GroupQueryAttention. Each row (batch b, query head h, position s) computes,
/// over its key range [lo, hi):
/// <list type="number">
/// <item><c>x_t = dot(q, k_t) × scale</c>, where dot uses 16 fixed partial sums (lane l accumulates
/// d ≡ l mod 16 with fma, d ascending, from +0) combined as a tree: l + (l+8), then + 4, + 2, + 1;</item>
/// <item>softcap (when &gt; 0): <c>x_t = softcap × tanh(x_t / softcap)</c> (DetMath.Tanh);</item>
/// <item>additive bias: <c>x_t = x_t + bias_t</c>; a false boolean mask sets <c>x_t = −∞</c> (or adds MaskAdd when set);</item>
/// <item>softmax as the Softmax op (max, DetMath.Exp, 16-lane sum, divide);</item>
/// <item><c>o_j = fma(p_{hi−1}, v_{hi−1, j}, … fma(p_lo, v_{lo, j}, 0))</c>, t ascending.</item>
/// </list>
/// Keys outside [lo, hi) are not part of the row at all. Vector code runs across output elements
/// (or the fixed 16 dot lanes), threads split whole rows, so neither changes a bit.
/// A kernel fills the layout fields, then calls <see cref="Run"/>; scratch holds one score row per slot.
/// </summary>
[SkipLocalsInit]
internal sealed unsafe class AttentionCore : IRangeBody
{
    public int Batch;
    public int QHeads;
    public int KvHeads;
    public int QLen;
    public int HeadSize;
    public int VHeadSize;

    /// <summary>Capacity of the key axis (score-row length).</summary>
    public int KeyCapacity;
    public float Scale;
    public float Softcap;

    public float* Q;
    public long QB;
    public long QH;
    public long QS;
    public float* K;
    public long KB;
    public long KH;
    public long KT;
    public float* V;
    public long VB;
    public long VH;
    public long VT;
    public float* O;
    public long OB;
    public long OH;
    public long OS;

    /// <summary>Additive bias (null for none): element t of row (b, h, s) at Bias + b·BiasB + h·BiasH + s·BiasS + t·BiasT.</summary>
    public float* Bias;
    public long BiasB;
    public long BiasH;
    public long BiasS;
    public long BiasT;

    /// <summary>Bias elements exist for t &lt; BiasLen; later keys count as −∞ (a shorter mask is padded so).</summary>
    public int BiasLen;

    /// <summary>Boolean mask (null for none), laid out like Bias; false masks the key.</summary>
    public byte* Mask;
    public long MaskB;
    public long MaskH;
    public long MaskS;
    public long MaskT;
    public int MaskLen;

    /// <summary>When non-zero, a masked key's score gets this added (MultiHeadAttention's mask_filter_value) instead of becoming −∞.</summary>
    public float MaskAdd;

    /// <summary>Per batch: keys [0, KeyEnd[b]) exist for this row set.</summary>
    public int[] KeyEnd = [];

    /// <summary>Causal: row s sees keys t ≤ CausalOffset[b] + s.</summary>
    public bool Causal;
    public int[] CausalOffset = [];

    /// <summary>Sliding window (GroupQueryAttention local_window_size): when &gt; 0, only the last Window keys of the row's range are kept.</summary>
    public int Window;

    private float* _scratch;
    private int _slots;
    private int _rowStride;
    private int _bits;

    public static int Slots(int rows, int threads) => Math.Max(1, Math.Min(rows, threads * 4));

    /// <summary>Scratch bytes <see cref="Run"/> needs.</summary>
    public static long ScratchBytes(int rows, int threads, int keyCapacity) => (long)Slots(rows, threads) * RowFloats(keyCapacity) * sizeof(float);

    private static int RowFloats(int keyCapacity) => (keyCapacity + 15) & ~15;

    public void Run(WorkerPool pool, byte* scratch)
    {
        int rows = Batch * QHeads * QLen;
        if (rows == 0)
        {
            return;
        }
        _scratch = (float*)scratch;
        _slots = Slots(rows, pool.Threads);
        _rowStride = RowFloats(KeyCapacity);
        _bits = SimdLevel.Bits;
        pool.For(_slots, this, 1);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Execute(int begin, int end)
    {
        int rows = Batch * QHeads * QLen;
        for (int slot = begin; slot < end; slot++)
        {
            float* scores = _scratch + (long)slot * _rowStride;
            int r0 = (int)((long)rows * slot / _slots);
            int r1 = (int)((long)rows * (slot + 1) / _slots);
            for (int r = r0; r < r1; r++)
            {
                int s = r % QLen;
                int h = r / QLen % QHeads;
                int b = r / QLen / QHeads;
                Row(b, h, s, scores);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Row(int b, int h, int s, float* scores)
    {
        int d = HeadSize;
        int dv = VHeadSize;
        int kvh = h / (QHeads / KvHeads);
        float* q = Q + b * QB + h * QH + s * QS;
        float* o = O + b * OB + h * OH + s * OS;
        int hi = KeyEnd[b];
        if (Causal)
        {
            hi = Math.Min(hi, CausalOffset[b] + s + 1);
        }
        int lo = 0;
        if (Window > 0 && hi > Window)
        {
            lo = hi - Window;
        }
        int n = hi - lo;
        if (n <= 0)
        {
            // No key to attend to: the softmax is undefined; the output is NaN as for an all −∞ row.
            new Span<float>(o, dv).Fill(float.NaN);
            return;
        }
        float* kBase = K + b * KB + kvh * KH;
        float* bias = Bias == null ? null : Bias + b * BiasB + h * BiasH + s * BiasS;
        byte* mask = Mask == null ? null : Mask + b * MaskB + h * MaskH + s * MaskS;
        int bits = _bits;
        float scale = Scale;
        long kt = KT;
        if (Softcap == 0f && bias == null && mask == null)
        {
            for (int t = lo; t < hi; t++)
            {
                scores[t - lo] = Dot16(q, kBase + t * kt, d, bits) * scale;
            }
        }
        else
        {
            for (int t = lo; t < hi; t++)
            {
                float x = Dot16(q, kBase + t * kt, d, bits) * scale;
                if (Softcap > 0f)
                {
                    x = Softcap * DetMath.Tanh(x / Softcap);
                }
                if (bias != null)
                {
                    x = t < BiasLen ? x + bias[t * BiasT] : float.NegativeInfinity;
                }
                if (mask != null && (t >= MaskLen || mask[t * MaskT] == 0))
                {
                    x = MaskAdd != 0f ? x + MaskAdd : float.NegativeInfinity;
                }
                scores[t - lo] = x;
            }
        }
        SoftmaxKernel.Row(scores, scores, n, log: false, bits);
        WeightedSum(scores, V + b * VB + kvh * VH + lo * VT, VT, n, o, dv, bits);
    }

    /// <summary>Σ_d q[d]·k[d] with 16 fixed fma lanes (lane l: d ≡ l mod 16, ascending), tree-combined.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Dot16(float* q, float* k, int d, int bits)
    {
        int full = d & ~15;
        if (full == d && d > 0)
        {
            if (bits >= 512)
            {
                var a = Vector512<float>.Zero;
                for (int i = 0; i < d; i += 16)
                {
                    a = Vector512.FusedMultiplyAdd(Vector512.Load(q + i), Vector512.Load(k + i), a);
                }
                return Tree8(a.GetLower() + a.GetUpper());
            }
            if (bits >= 256)
            {
                var a0 = Vector256<float>.Zero;
                var a1 = Vector256<float>.Zero;
                for (int i = 0; i < d; i += 16)
                {
                    a0 = Vector256.FusedMultiplyAdd(Vector256.Load(q + i), Vector256.Load(k + i), a0);
                    a1 = Vector256.FusedMultiplyAdd(Vector256.Load(q + i + 8), Vector256.Load(k + i + 8), a1);
                }
                return Tree8(a0 + a1);
            }
            if (bits >= 128)
            {
                var a0 = Vector128<float>.Zero;
                var a1 = Vector128<float>.Zero;
                var a2 = Vector128<float>.Zero;
                var a3 = Vector128<float>.Zero;
                for (int i = 0; i < d; i += 16)
                {
                    a0 = Vector128.FusedMultiplyAdd(Vector128.Load(q + i), Vector128.Load(k + i), a0);
                    a1 = Vector128.FusedMultiplyAdd(Vector128.Load(q + i + 4), Vector128.Load(k + i + 4), a1);
                    a2 = Vector128.FusedMultiplyAdd(Vector128.Load(q + i + 8), Vector128.Load(k + i + 8), a2);
                    a3 = Vector128.FusedMultiplyAdd(Vector128.Load(q + i + 12), Vector128.Load(k + i + 12), a3);
                }
                return Tree4((a0 + a2) + (a1 + a3));
            }
        }
        float* acc = stackalloc float[16];
        for (int l = 0; l < 16; l++)
        {
            acc[l] = 0f;
        }
        for (int i = 0; i < full; i += 16)
        {
            for (int l = 0; l < 16; l++)
            {
                acc[l] = MathF.FusedMultiplyAdd(q[i + l], k[i + l], acc[l]);
            }
        }
        for (int i = full; i < d; i++)
        {
            acc[i - full] = MathF.FusedMultiplyAdd(q[i], k[i], acc[i - full]);
        }
        for (int l = 0; l < 8; l++)
        {
            acc[l] += acc[l + 8];
        }
        for (int l = 0; l < 4; l++)
        {
            acc[l] += acc[l + 4];
        }
        return (acc[0] + acc[2]) + (acc[1] + acc[3]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Tree8(Vector256<float> v) => Tree4(v.GetLower() + v.GetUpper());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Tree4(Vector128<float> v) => (v.GetElement(0) + v.GetElement(2)) + (v.GetElement(1) + v.GetElement(3));

    /// <summary>o[j] = fma chain over t ascending of p[t]·v[t, j], from +0; vectorised across j.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void WeightedSum(float* p, float* v, long vt, int n, float* o, int dv, int bits)
    {
        int j = 0;
        if (bits >= 512)
        {
            j = WeightedSumColumns<Vector512<float>, Vector512<int>, Lanes512>(p, v, vt, n, o, dv, j);
        }
        if (bits >= 256)
        {
            j = WeightedSumColumns<Vector256<float>, Vector256<int>, Lanes256>(p, v, vt, n, o, dv, j);
        }
        if (bits >= 128)
        {
            j = WeightedSumColumns<Vector128<float>, Vector128<int>, Lanes128>(p, v, vt, n, o, dv, j);
        }
        WeightedSumColumns<float, int, ScalarLanes>(p, v, vt, n, o, dv, j);
    }

    /// <summary>
    /// Columns from <paramref name="j"/> on, four lane values at a time, then one; every column is its own fma
    /// chain, so the width changes nothing but speed. Returns the first column not done.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int WeightedSumColumns<TF, TI, L>(float* p, float* v, long vt, int n, float* o, int dv, int j)
        where L : ILanes<TF, TI>
    {
        int w = L.Width;
        for (; j + 4 * w <= dv; j += 4 * w)
        {
            var c0 = L.Splat(0f);
            var c1 = L.Splat(0f);
            var c2 = L.Splat(0f);
            var c3 = L.Splat(0f);
            for (int t = 0; t < n; t++)
            {
                var pt = L.Splat(p[t]);
                float* vr = v + t * vt + j;
                c0 = L.Fma(pt, L.Load(vr), c0);
                c1 = L.Fma(pt, L.Load(vr + w), c1);
                c2 = L.Fma(pt, L.Load(vr + 2 * w), c2);
                c3 = L.Fma(pt, L.Load(vr + 3 * w), c3);
            }
            L.Store(c0, o + j);
            L.Store(c1, o + j + w);
            L.Store(c2, o + j + 2 * w);
            L.Store(c3, o + j + 3 * w);
        }
        for (; j + w <= dv; j += w)
        {
            var c = L.Splat(0f);
            for (int t = 0; t < n; t++)
            {
                c = L.Fma(L.Splat(p[t]), L.Load(v + t * vt + j), c);
            }
            L.Store(c, o + j);
        }
        return j;
    }
}
