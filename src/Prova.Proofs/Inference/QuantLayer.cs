using Prova.Core;
using Prova.Onnx;
using Prova.Proofs.Field;
using Prova.Runtime.Ops.Quant;

namespace Prova.Proofs.Inference;

/// <summary>The two kinds of proven layers: a matrix product and a 2-D convolution (as im2col × weights).</summary>
public enum LayerKind
{
    MatMul = 1,
    Conv = 2,
}

/// <summary>
/// One proven layer: a QLinearMatMul or QLinearConv of the planned graph whose weights, scales, zero
/// points and bias are constants. Its integer relation is
/// acc[i, j] = bias[j] + Σ_k X'[i, k]·W'[k, j] (X' = x − x_zero_point, im2col for convolutions with
/// padding contributing 0; W' = w − w_zero_point[j]) and y[i, j] = requant_j(acc[i, j]).
/// </summary>
public sealed class QuantLayer
{
    public required string Name { get; init; }

    public required LayerKind Kind { get; init; }

    /// <summary>The value name of the layer's 8-bit input X and of its 8-bit output Y.</summary>
    public required string Input { get; init; }

    public required string Output { get; init; }

    public required DataType OutputType { get; init; }

    /// <summary>Rows of W' (im2col width C·kh·kw for convolutions) and output channels.</summary>
    public required int K { get; init; }

    public required int N { get; init; }

    /// <summary>W'[k·N + j] = w − w_zero_point[j], in [−255, 255].</summary>
    public required short[] Weights { get; init; }

    public required int[] Bias { get; init; }

    public required int XZero { get; init; }

    public required int YZero { get; init; }

    public required int Lo { get; init; }

    public required int Hi { get; init; }

    /// <summary>Requantisation per output channel (N entries).</summary>
    public required Requant[] Requant { get; init; }

    // Convolution attributes (Kind == Conv): input channels, kernel, strides, dilations, explicit pads (top, left, bottom, right), auto_pad.
    public int C { get; init; }

    public int KH { get; init; }

    public int KW { get; init; }

    public int SH { get; init; } = 1;

    public int SW { get; init; } = 1;

    public int DH { get; init; } = 1;

    public int DW { get; init; } = 1;

    public int[] Pads { get; init; } = [0, 0, 0, 0];

    public string AutoPad { get; init; } = "NOTSET";

    /// <summary>The QLinearMatMul / QLinearConv node this layer stands for, or null when it is not provable.</summary>
    public static QuantLayer? TryCreate(OnnxNode node, OnnxGraph graph)
    {
        bool internalDomain = node.Domain == "prova.internal";
        if (!(internalDomain || node.Domain is "" or "ai.onnx") || node.OpType is not ("QLinearMatMul" or "QLinearConv"))
        {
            return null;
        }
        var init = graph.Initializers;
        Tensor? Const(int i) => node.Input(i) is { } name && init.TryGetValue(name, out var t) ? t : null;
        var xs = Const(1);
        var xz = Const(2);
        var w = Const(3);
        var ws = Const(4);
        var wz = Const(5);
        var ys = Const(6);
        var yz = Const(7);
        var b = node.Input(8) is null ? null : Const(8);
        if (xs is null || xz is null || w is null || ws is null || ys is null || yz is null || (node.Input(8) is not null && b is null))
        {
            return null; // a dynamic weight or scale: the verifier re-executes the node instead
        }
        if (node.Input(5) is not null && wz is null)
        {
            return null;
        }
        if (!IsEightBit(w.Type) || !IsEightBit(yz.Type) || !IsEightBit(xz.Type) || xs.Length != 1 || ys.Length != 1 || xz.Length != 1 || yz.Length != 1)
        {
            return null;
        }
        bool conv = node.OpType == "QLinearConv";
        int k;
        int n;
        short[] weights;
        int c = 0;
        int kh = 1;
        int kw = 1;
        var wShape = w.Shape;
        if (conv)
        {
            if (wShape.Length != 4 || node.GetInt("group", 1) != 1)
            {
                return null;
            }
            n = wShape[0];
            c = wShape[1];
            kh = wShape[2];
            kw = wShape[3];
            k = checked(c * kh * kw);
        }
        else
        {
            if (wShape.Length != 2)
            {
                return null;
            }
            k = wShape[0];
            n = wShape[1];
        }
        if (k < 1 || n < 1 || (ws.Length != 1 && ws.Length != n) || (wz is not null && wz.Length != 1 && wz.Length != n) || (b is not null && (b.Type != DataType.Int32 || b.Length != n)))
        {
            return null;
        }
        var wzv = wz is null ? new int[1] : Ints(wz);
        var wv = Ints(w);
        weights = new short[checked(k * n)];
        for (int j = 0; j < n; j++)
        {
            int z = wzv[wzv.Length == 1 ? 0 : j];
            for (int kk = 0; kk < k; kk++)
            {
                // MatMul W is [K, N]; Conv W is [N, C, kh, kw] = [N, K].
                int raw = conv ? wv[j * k + kk] : wv[kk * n + j];
                weights[kk * n + j] = (short)(raw - z);
            }
        }
        var xScale = ((float[])xs.Data)[0];
        var yScale = ((float[])ys.Data)[0];
        var wScales = (float[])ws.Data;
        var rq = new Requant[n];
        for (int j = 0; j < n; j++)
        {
            float wScale = wScales[wScales.Length == 1 ? 0 : j];
            foreach (float f in (ReadOnlySpan<float>)[xScale, wScale, yScale])
            {
                if (!Runtime.Ops.Quant.Requant.IsValidScale(f))
                {
                    throw new ProofException(ProofErrorCode.Unsupported, $"a quantization scale must be positive and finite (got {f})");
                }
            }
            rq[j] = Runtime.Ops.Quant.Requant.Derive(xScale, wScale, yScale);
        }
        int yZero = Ints(yz)[0];
        var (lo, hi) = yz.Type == DataType.UInt8 ? (0, 255) : (-128, 127);
        if (internalDomain && node.GetInt("relu", 0) != 0)
        {
            lo = Math.Max(lo, yZero);
        }
        // Convolution geometry (checked after the scales, as before: a bad scale is an error, odd geometry only unproven).
        long[] strides = [1, 1], dilations = [1, 1], pads = [0, 0, 0, 0];
        bool valid = false;
        if (conv)
        {
            strides = node.GetInts("strides") ?? strides;
            dilations = node.GetInts("dilations") ?? dilations;
            pads = node.GetInts("pads") ?? pads;
            string autoPad = node.GetString("auto_pad", "NOTSET");
            if (strides.Length != 2 || dilations.Length != 2 || pads.Length != 4 || autoPad is not ("NOTSET" or "" or "VALID"))
            {
                return null;
            }
            if (strides.Any(v => v < 1 || v > 1024) || dilations.Any(v => v < 1 || v > 1024) || pads.Any(v => v < 0 || v > 1024))
            {
                return null;
            }
            valid = autoPad == "VALID";
        }
        return new QuantLayer
        {
            Name = node.DisplayName,
            Kind = conv ? LayerKind.Conv : LayerKind.MatMul,
            Input = node.Inputs[0],
            Output = node.Outputs[0],
            OutputType = yz.Type,
            K = k,
            N = n,
            Weights = weights,
            Bias = b is null ? new int[n] : (int[])((int[])b.Data).Clone(),
            XZero = Ints(xz)[0],
            YZero = yZero,
            Lo = lo,
            Hi = hi,
            Requant = rq,
            C = c,
            KH = kh,
            KW = kw,
            SH = (int)strides[0],
            SW = (int)strides[1],
            DH = (int)dilations[0],
            DW = (int)dilations[1],
            Pads = valid ? [0, 0, 0, 0] : Array.ConvertAll(pads, v => (int)v),
            AutoPad = valid ? "VALID" : "NOTSET",
        };
    }

    private static bool IsEightBit(DataType t) => t is DataType.Int8 or DataType.UInt8;

    private static int[] Ints(Tensor t) => t.Type switch
    {
        DataType.Int8 => Array.ConvertAll((sbyte[])t.Data, v => (int)v),
        DataType.UInt8 => Array.ConvertAll((byte[])t.Data, v => (int)v),
        DataType.Int32 => (int[])t.Data,
        _ => throw new ProofException(ProofErrorCode.Unsupported, $"unexpected type {t.Type}"),
    };

    /// <summary>
    /// W' as the multilinear table the weight commitment holds: index k + 2^⌈log K⌉·j (k = low
    /// variables, j = high variables), zero outside K × N.
    /// </summary>
    internal Fp[] WeightTable()
    {
        int kv = Eq.Vars(K);
        var table = new Fp[1L << (kv + Eq.Vars(N))];
        for (int k = 0; k < K; k++)
        {
            for (int j = 0; j < N; j++)
            {
                table[k | (j << kv)] = Fp.FromInt64(Weights[k * N + j]);
            }
        }
        return table;
    }

    /// <summary>The 8-bit tensor's elements minus the zero point.</summary>
    public int[] Centered(Tensor x)
    {
        if (!IsEightBit(x.Type))
        {
            throw new ProofException(ProofErrorCode.BadInput, $"layer '{Name}': input is {x.Type}, expected an 8-bit tensor");
        }
        var v = Ints(x);
        for (int i = 0; i < v.Length; i++)
        {
            v[i] -= XZero;
        }
        return v;
    }

    /// <summary>The shape of X as this layer reads it: rows M of the product, and for convolutions the geometry.</summary>
    public LayerGeometry Geometry(ReadOnlySpan<int> xShape)
    {
        if (Kind == LayerKind.MatMul)
        {
            if (xShape.Length < 1 || xShape[^1] != K)
            {
                throw new ProofException(ProofErrorCode.BadInput, $"layer '{Name}': input shape [{string.Join(", ", xShape.ToArray())}] does not end in {K}");
            }
            long m = 1;
            for (int i = 0; i < xShape.Length - 1; i++)
            {
                m *= xShape[i];
            }
            if (m < 1 || m > 1 << 24)
            {
                throw new ProofException(ProofErrorCode.BadInput, $"layer '{Name}': {m} rows");
            }
            return new LayerGeometry((int)m, 1, 1, 1, 1, 1);
        }
        if (xShape.Length != 4 || xShape[1] != C)
        {
            throw new ProofException(ProofErrorCode.BadInput, $"layer '{Name}': input shape [{string.Join(", ", xShape.ToArray())}] is not [B, {C}, H, W]");
        }
        int batch = xShape[0];
        int h = xShape[2];
        int w = xShape[3];
        long oh = (h + (long)Pads[0] + Pads[2] - ((long)(KH - 1) * DH + 1)) / SH + 1;
        long ow = (w + (long)Pads[1] + Pads[3] - ((long)(KW - 1) * DW + 1)) / SW + 1;
        if (batch < 1 || oh < 1 || ow < 1 || (long)batch * oh * ow > 1 << 24)
        {
            throw new ProofException(ProofErrorCode.BadInput, $"layer '{Name}': input [{string.Join(", ", xShape.ToArray())}] gives an empty or too large output");
        }
        return new LayerGeometry((int)(batch * oh * ow), batch, h, w, (int)oh, (int)ow);
    }

    /// <summary>
    /// Visits the nonzero entries of the im2col matrix X' (M × K): row i = (b, oy, ox), column
    /// k = (c, dy, dx) for convolutions; X' = X as [M, K] for matrix products.
    /// </summary>
    public void ForEachEntry(int[] xc, LayerGeometry g, Action<int, int, int> visit)
    {
        if (Kind == LayerKind.MatMul)
        {
            for (int i = 0; i < g.M; i++)
            {
                for (int k = 0; k < K; k++)
                {
                    int v = xc[i * K + k];
                    if (v != 0)
                    {
                        visit(i, k, v);
                    }
                }
            }
            return;
        }
        ForEachConvEntry(xc, g, visit);
    }

    private void ForEachConvEntry(int[] xc, LayerGeometry g, Action<int, int, int> visit)
    {
        int kk = KH * KW;
        for (int b = 0; b < g.Batch; b++)
        {
            for (int oy = 0; oy < g.OH; oy++)
            {
                for (int ox = 0; ox < g.OW; ox++)
                {
                    int i = (b * g.OH + oy) * g.OW + ox;
                    for (int dy = 0; dy < KH; dy++)
                    {
                        int y = oy * SH - Pads[0] + dy * DH;
                        if ((uint)y >= (uint)g.H)
                        {
                            continue;
                        }
                        for (int dx = 0; dx < KW; dx++)
                        {
                            int x = ox * SW - Pads[1] + dx * DW;
                            if ((uint)x >= (uint)g.W)
                            {
                                continue;
                            }
                            for (int c = 0; c < C; c++)
                            {
                                int v = xc[((b * C + c) * g.H + y) * g.W + x];
                                if (v != 0)
                                {
                                    visit(i, c * kk + dy * KW + dx, v);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>acc[i·N + j] = bias[j] + Σ_k X'[i, k]·W'[k, j], exactly (throws if it leaves int32, which the engine would wrap).</summary>
    public int[] Accumulate(int[] xc, LayerGeometry g)
    {
        var acc = new long[checked(g.M * N)];
        for (int i = 0; i < g.M; i++)
        {
            for (int j = 0; j < N; j++)
            {
                acc[i * N + j] = Bias[j];
            }
        }
        var w = Weights;
        int n = N;
        ForEachEntry(xc, g, (i, k, v) =>
        {
            int row = i * n;
            int wrow = k * n;
            for (int j = 0; j < n; j++)
            {
                acc[row + j] += (long)v * w[wrow + j];
            }
        });
        var result = new int[acc.Length];
        for (int i = 0; i < acc.Length; i++)
        {
            if (acc[i] is < int.MinValue or > int.MaxValue)
            {
                throw new ProofException(ProofErrorCode.Unsupported, $"layer '{Name}': an accumulator leaves int32 (the engine wraps; the proof covers exact sums only)");
            }
            result[i] = (int)acc[i];
        }
        return result;
    }

    /// <summary>The shape of the layer's output for an input of the given shape.</summary>
    public int[] OutputShape(ReadOnlySpan<int> xShape, LayerGeometry g)
    {
        if (Kind == LayerKind.MatMul)
        {
            var shape = xShape.ToArray();
            shape[^1] = N;
            return shape;
        }
        return [g.Batch, N, g.OH, g.OW];
    }

    /// <summary>y[i·N + j] = requant_j(acc[i·N + j]): the layer's outputs as integers, row-major like the accumulators.</summary>
    public int[] Requantize(int[] acc)
    {
        var y = new int[acc.Length];
        for (int c = 0; c < acc.Length; c++)
        {
            y[c] = Requant[c % N].Apply(acc[c], YZero, Lo, Hi);
        }
        return y;
    }

    /// <summary>
    /// The layer's 8-bit output tensor (NCHW for convolutions) of the given shape from the outputs
    /// (rows × N, row-major). Null when the shape does not fit the number of outputs.
    /// </summary>
    public Tensor? OutputTensor(int[] y, int[] shape)
    {
        long rows = y.Length / N;
        int pixels = 1;
        if (Kind == LayerKind.MatMul)
        {
            if (shape.Length < 1 || shape[^1] != N || !HasElements(shape, y.Length))
            {
                return null;
            }
        }
        else
        {
            if (shape.Length != 4 || shape[1] != N || shape[0] < 1 || shape[2] < 1 || shape[3] < 1 || (long)shape[0] * shape[2] * shape[3] != rows || rows * N != y.Length)
            {
                return null;
            }
            pixels = shape[2] * shape[3];
        }
        if (Kind == LayerKind.MatMul)
        {
            return OutputType == DataType.UInt8
                ? Tensor.Create(shape, Array.ConvertAll(y, v => (byte)v))
                : Tensor.Create(shape, Array.ConvertAll(y, v => (sbyte)v));
        }
        var values = new int[y.Length];
        for (int i = 0; i < rows; i++)
        {
            for (int j = 0; j < N; j++)
            {
                values[((i / pixels) * N + j) * pixels + i % pixels] = y[i * N + j];
            }
        }
        return OutputType == DataType.UInt8
            ? Tensor.Create(shape, Array.ConvertAll(values, v => (byte)v))
            : Tensor.Create(shape, Array.ConvertAll(values, v => (sbyte)v));
    }

    /// <summary>True when the shape (dims ≥ 1) has exactly count elements; never overflows.</summary>
    private static bool HasElements(int[] shape, long count)
    {
        long product = 1;
        foreach (int d in shape)
        {
            if (d < 1)
            {
                return false;
            }
            product *= d;
            if (product > count)
            {
                return false;
            }
        }
        return product == count;
    }

    /// <summary>
    /// Per output channel, the accumulator interval of every output value (<see cref="RequantTable"/>),
    /// computed once per distinct multiplier/shift from the engine's own <see cref="Requant.Apply"/>.
    /// </summary>
    internal RequantTable[] Tables
    {
        get
        {
            var tables = Volatile.Read(ref _tables);
            if (tables is not null)
            {
                return tables;
            }
            var byRequant = new Dictionary<Requant, RequantTable>();
            tables = new RequantTable[N];
            for (int j = 0; j < N; j++)
            {
                if (!byRequant.TryGetValue(Requant[j], out var table))
                {
                    table = RequantTable.Create(Requant[j], YZero, Lo, Hi);
                    byRequant[Requant[j]] = table;
                }
                tables[j] = table;
            }
            Volatile.Write(ref _tables, tables);
            return tables;
        }
    }

    private RequantTable[]? _tables;
}

/// <summary>
/// Requantisation is non-decreasing in the accumulator (M0 &gt; 0), so every output value v ∈ [lo, hi]
/// comes from an integer interval of accumulators [A_lo(v), A_hi(v)] (empty when v is unreachable).
/// The boundaries are found by binary search over int32 with the engine's <see cref="Requant.Apply"/>
/// itself, so ties (half to even), the clamp and a fused Relu are exactly the engine's.
/// </summary>
internal sealed class RequantTable
{
    private readonly long[] _low;
    private readonly long[] _width;

    private RequantTable(int lo, long[] low, long[] width)
    {
        Lo = lo;
        _low = low;
        _width = width;
    }

    /// <summary>The smallest output value; values are indexed from it.</summary>
    public int Lo { get; }

    public int Hi => Lo + _low.Length - 1;

    /// <summary>A_lo(v): the smallest accumulator that requantises to v.</summary>
    public long Low(int v) => _low[v - Lo];

    /// <summary>A_hi(v) − A_lo(v) ∈ [0, 2^32): −1 when no int32 accumulator gives v.</summary>
    public long Width(int v) => _width[v - Lo];

    public bool Reachable(int v) => v >= Lo && v <= Hi && _width[v - Lo] >= 0;

    public static RequantTable Create(Requant rq, int zeroPoint, int lo, int hi)
    {
        int count = hi - lo + 1;
        var first = new long[count + 1];
        for (int v = lo; v <= hi + 1; v++)
        {
            first[v - lo] = FirstAtLeast(rq, zeroPoint, lo, hi, v);
        }
        var low = new long[count];
        var width = new long[count];
        for (int c = 0; c < count; c++)
        {
            low[c] = first[c];
            long high = first[c + 1] - 1;
            width[c] = Math.Max(-1, high - low[c]);
            // Monotonicity makes these hold; checked because the proof's soundness rests on them.
            if (width[c] >= 0 && (rq.Apply((int)low[c], zeroPoint, lo, hi) != lo + c || rq.Apply((int)high, zeroPoint, lo, hi) != lo + c
                || (low[c] > int.MinValue && rq.Apply((int)(low[c] - 1), zeroPoint, lo, hi) >= lo + c)))
            {
                throw new ProofException(ProofErrorCode.Unsupported, $"requantisation ({rq.Multiplier}, {rq.Shift}) is not monotone in the accumulator");
            }
        }
        return new RequantTable(lo, low, width);
    }

    /// <summary>The smallest int32 accumulator whose output is ≥ v, or 2^31 when there is none.</summary>
    private static long FirstAtLeast(Requant rq, int zeroPoint, int lo, int hi, int v)
    {
        long a = int.MinValue;
        long b = (long)int.MaxValue + 1;
        while (a < b)
        {
            long mid = a + ((b - a) >> 1);
            if (rq.Apply((int)mid, zeroPoint, lo, hi) >= v)
            {
                b = mid;
            }
            else
            {
                a = mid + 1;
            }
        }
        return a;
    }
}

/// <summary>Rows M of the product, and for convolutions batch, input height/width and output height/width.</summary>
public readonly record struct LayerGeometry(int M, int Batch, int H, int W, int OH, int OW);
