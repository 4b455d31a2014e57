using Prova.Core;
using Prova.Onnx;

namespace Prova.Trainer;

/// <summary>
/// Small CNN: Conv 3×3 (1→8, pad 1) → Relu → MaxPool 2 → Conv 3×3 (8→16, pad 1) → Relu → MaxPool 2
/// → Flatten → Gemm (784→10). Convolutions run as im2col + row updates.
/// </summary>
internal sealed class Cnn : Network
{
    private const int C1 = 8;
    private const int C2 = 16;
    private const int H1 = 28;
    private const int H2 = 14;
    private const int H3 = 7;
    private const int K1 = 1 * 9;
    private const int K2 = C1 * 9;
    private const int Flat = C2 * H3 * H3;
    private const int OffW1 = 0;
    private const int OffB1 = OffW1 + C1 * K1;
    private const int OffW2 = OffB1 + C1;
    private const int OffB2 = OffW2 + C2 * K2;
    private const int OffW3 = OffB2 + C2;
    private const int OffB3 = OffW3 + Classes * Flat;
    private const int Count = OffB3 + Classes;

    public Cnn()
    {
        Params = new float[Count];
    }

    public override string Name => "cnn";

    public override string Description => "Conv8-Pool-Conv16-Pool-Gemm10 CNN";

    private sealed class Ws : Workspace
    {
        public float[] Cols1 { get; } = new float[K1 * H1 * H1];
        public float[] Act1 { get; } = new float[C1 * H1 * H1];
        public float[] Pool1 { get; } = new float[C1 * H2 * H2];
        public int[] Arg1 { get; } = new int[C1 * H2 * H2];
        public float[] Cols2 { get; } = new float[K2 * H2 * H2];
        public float[] Act2 { get; } = new float[C2 * H2 * H2];
        public float[] Pool2 { get; } = new float[Flat];
        public int[] Arg2 { get; } = new int[Flat];
        public float[] DPool2 { get; } = new float[Flat];
        public float[] DAct2 { get; } = new float[C2 * H2 * H2];
        public float[] DCols2 { get; } = new float[K2 * H2 * H2];
        public float[] DPool1 { get; } = new float[C1 * H2 * H2];
        public float[] DAct1 { get; } = new float[C1 * H1 * H1];
    }

    public override Workspace NewWorkspace() => new Ws();

    public override void Init(Random random)
    {
        HeNormal(random, Params.AsSpan(OffW1, C1 * K1), K1);
        HeNormal(random, Params.AsSpan(OffW2, C2 * K2), K2);
        HeNormal(random, Params.AsSpan(OffW3, Classes * Flat), Flat);
    }

    public override void Forward(ReadOnlySpan<float> image, Workspace workspace)
    {
        var ws = (Ws)workspace;
        var p = Params.AsSpan();
        Im2Col(image, 1, H1, ws.Cols1);
        ConvRelu(p.Slice(OffW1, C1 * K1), p.Slice(OffB1, C1), ws.Cols1, C1, K1, H1 * H1, ws.Act1);
        MaxPool(ws.Act1, C1, H1, ws.Pool1, ws.Arg1);
        Im2Col(ws.Pool1, C1, H2, ws.Cols2);
        ConvRelu(p.Slice(OffW2, C2 * K2), p.Slice(OffB2, C2), ws.Cols2, C2, K2, H2 * H2, ws.Act2);
        MaxPool(ws.Act2, C2, H2, ws.Pool2, ws.Arg2);
        for (int k = 0; k < Classes; k++)
        {
            ws.Logits[k] = p[OffB3 + k] + Blas.Dot(p.Slice(OffW3 + k * Flat, Flat), ws.Pool2);
        }
    }

    public override float Backward(ReadOnlySpan<float> image, int label, Span<float> grad, Workspace workspace)
    {
        var ws = (Ws)workspace;
        Forward(image, ws);
        float loss = Blas.SoftmaxCrossEntropy(ws.Logits, label, ws.DLogits);
        var p = Params.AsSpan();

        Array.Clear(ws.DPool2);
        for (int k = 0; k < Classes; k++)
        {
            float d = ws.DLogits[k];
            grad[OffB3 + k] += d;
            Blas.Axpy(d, ws.Pool2, grad.Slice(OffW3 + k * Flat, Flat));
            Blas.Axpy(d, p.Slice(OffW3 + k * Flat, Flat), ws.DPool2);
        }

        Unpool(ws.DPool2, ws.Arg2, ws.Act2, ws.DAct2);
        ConvBackward(p.Slice(OffW2, C2 * K2), ws.Cols2, ws.DAct2, C2, K2, H2 * H2,
            grad.Slice(OffW2, C2 * K2), grad.Slice(OffB2, C2), ws.DCols2);
        Col2Im(ws.DCols2, C1, H2, ws.DPool1);
        Unpool(ws.DPool1, ws.Arg1, ws.Act1, ws.DAct1);
        ConvBackward(p.Slice(OffW1, C1 * K1), ws.Cols1, ws.DAct1, C1, K1, H1 * H1,
            grad.Slice(OffW1, C1 * K1), grad.Slice(OffB1, C1), []);
        return loss;
    }

    /// <summary>cols[(c·9 + ky·3 + kx), y·size + x] = input[c, y + ky - 1, x + kx - 1] (zero outside).</summary>
    private static void Im2Col(ReadOnlySpan<float> input, int channels, int size, Span<float> cols)
    {
        int plane = size * size;
        for (int c = 0; c < channels; c++)
        {
            for (int ky = 0; ky < 3; ky++)
            {
                for (int kx = 0; kx < 3; kx++)
                {
                    var row = cols.Slice((c * 9 + ky * 3 + kx) * plane, plane);
                    for (int y = 0; y < size; y++)
                    {
                        int iy = y + ky - 1;
                        for (int x = 0; x < size; x++)
                        {
                            int ix = x + kx - 1;
                            row[y * size + x] = iy >= 0 && iy < size && ix >= 0 && ix < size ? input[c * plane + iy * size + ix] : 0f;
                        }
                    }
                }
            }
        }
    }

    private static void Col2Im(ReadOnlySpan<float> cols, int channels, int size, Span<float> output)
    {
        int plane = size * size;
        output.Clear();
        for (int c = 0; c < channels; c++)
        {
            for (int ky = 0; ky < 3; ky++)
            {
                for (int kx = 0; kx < 3; kx++)
                {
                    var row = cols.Slice((c * 9 + ky * 3 + kx) * plane, plane);
                    for (int y = 0; y < size; y++)
                    {
                        int iy = y + ky - 1;
                        if (iy < 0 || iy >= size)
                        {
                            continue;
                        }
                        for (int x = 0; x < size; x++)
                        {
                            int ix = x + kx - 1;
                            if (ix >= 0 && ix < size)
                            {
                                output[c * plane + iy * size + ix] += row[y * size + x];
                            }
                        }
                    }
                }
            }
        }
    }

    private static void ConvRelu(ReadOnlySpan<float> w, ReadOnlySpan<float> bias, ReadOnlySpan<float> cols, int outChannels, int k, int plane, Span<float> output)
    {
        for (int m = 0; m < outChannels; m++)
        {
            var row = output.Slice(m * plane, plane);
            row.Fill(bias[m]);
            for (int j = 0; j < k; j++)
            {
                Blas.Axpy(w[m * k + j], cols.Slice(j * plane, plane), row);
            }
            for (int i = 0; i < plane; i++)
            {
                row[i] = MathF.Max(0, row[i]);
            }
        }
    }

    private static void ConvBackward(ReadOnlySpan<float> w, ReadOnlySpan<float> cols, ReadOnlySpan<float> dOut, int outChannels, int k, int plane,
        Span<float> dW, Span<float> dB, Span<float> dCols)
    {
        bool wantCols = !dCols.IsEmpty;
        if (wantCols)
        {
            dCols.Clear();
        }
        for (int m = 0; m < outChannels; m++)
        {
            var d = dOut.Slice(m * plane, plane);
            float sum = 0;
            foreach (float v in d)
            {
                sum += v;
            }
            dB[m] += sum;
            for (int j = 0; j < k; j++)
            {
                dW[m * k + j] += Blas.Dot(d, cols.Slice(j * plane, plane));
                if (wantCols)
                {
                    Blas.Axpy(w[m * k + j], d, dCols.Slice(j * plane, plane));
                }
            }
        }
    }

    private static void MaxPool(ReadOnlySpan<float> input, int channels, int size, Span<float> output, Span<int> arg)
    {
        int half = size / 2;
        for (int c = 0; c < channels; c++)
        {
            for (int y = 0; y < half; y++)
            {
                for (int x = 0; x < half; x++)
                {
                    int best = c * size * size + 2 * y * size + 2 * x;
                    ReadOnlySpan<int> offsets = [1, size, size + 1];
                    int first = best;
                    foreach (int o in offsets)
                    {
                        if (input[first + o] > input[best])
                        {
                            best = first + o;
                        }
                    }
                    int at = c * half * half + y * half + x;
                    output[at] = input[best];
                    arg[at] = best;
                }
            }
        }
    }

    /// <summary>Routes each pooled gradient back to the max it came from, through the Relu before it.</summary>
    private static void Unpool(ReadOnlySpan<float> dPooled, ReadOnlySpan<int> arg, ReadOnlySpan<float> act, Span<float> dAct)
    {
        dAct.Clear();
        for (int i = 0; i < dPooled.Length; i++)
        {
            if (act[arg[i]] > 0)
            {
                dAct[arg[i]] += dPooled[i];
            }
        }
    }

    public override OnnxModel Export(IReadOnlyDictionary<string, string> metadata)
    {
        var b = new ModelBuilder(opset: 17, graphName: "fashion_cnn");
        foreach (var (key, value) in metadata)
        {
            b.Metadata(key, value);
        }
        var x = b.Input("image", DataType.Float32, -1, 1, 28, 28);
        (string, object)[] conv = [("kernel_shape", new[] { 3, 3 }), ("pads", new[] { 1, 1, 1, 1 })];
        (string, object)[] pool = [("kernel_shape", new[] { 2, 2 }), ("strides", new[] { 2, 2 })];
        var w1 = b.Initializer("conv1.weight", Tensor.Create([C1, 1, 3, 3], Params[OffW1..OffB1]));
        var b1 = b.Initializer("conv1.bias", Tensor.Create([C1], Params[OffB1..OffW2]));
        var h = b.Node("Conv", [x, w1, b1], conv, name: "conv1");
        h = b.Node("Relu", [h], name: "relu1");
        h = b.Node("MaxPool", [h], pool, name: "pool1");
        var w2 = b.Initializer("conv2.weight", Tensor.Create([C2, C1, 3, 3], Params[OffW2..OffB2]));
        var b2 = b.Initializer("conv2.bias", Tensor.Create([C2], Params[OffB2..OffW3]));
        h = b.Node("Conv", [h, w2, b2], conv, name: "conv2");
        h = b.Node("Relu", [h], name: "relu2");
        h = b.Node("MaxPool", [h], pool, name: "pool2");
        h = b.Node("Flatten", [h], [("axis", 1)], name: "flatten");
        var w3 = b.Initializer("fc.weight", Tensor.Create([Classes, Flat], Params[OffW3..OffB3]));
        var b3 = b.Initializer("fc.bias", Tensor.Create([Classes], Params[OffB3..Count]));
        var z = b.Node("Gemm", [h, w3, b3], [("transB", 1)], name: "fc");
        b.Output(z, "logits", DataType.Float32, [-1, Classes]);
        return b.Build();
    }
}
