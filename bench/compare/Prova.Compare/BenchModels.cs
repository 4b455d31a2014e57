using Prova.Core;
using Prova.Onnx;

namespace Prova.Compare;

/// <summary>One benchmark model: how to build it and what its single input looks like (batch dim excluded).</summary>
public sealed record BenchModel(string Name, string Description, Func<OnnxModel> Build, string InputName, int[] SampleShape, float InputLow, float InputHigh)
{
    /// <summary>A seeded random input for the given batch size.</summary>
    public Tensor MakeInput(int batch, int seed)
    {
        var shape = new int[SampleShape.Length + 1];
        shape[0] = batch;
        SampleShape.CopyTo(shape, 1);
        var rng = new Random(seed);
        var data = new float[Tensor.ElementCount(shape)];
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = InputLow + ((InputHigh - InputLow) * rng.NextSingle());
        }
        return Tensor.Create(shape, data);
    }
}

/// <summary>
/// The models of the engine-vs-ONNX-Runtime comparison, written with <see cref="ModelBuilder"/> (opset 17)
/// with a symbolic batch dim ("N") and seeded He-uniform weights so activations keep a sane scale.
/// </summary>
public static class BenchModels
{
    public const int Opset = 17;

    public static IReadOnlyList<BenchModel> All { get; } =
    [
        new("mlp-small", "MLP 784-128-10 (MatMul+Add+Relu, Softmax)", () => Mlp("mlp-small", [784, 128, 10], seed: 11), "x", [784], -1f, 1f),
        new("mlp-large", "MLP 784-1024-1024-10 (MatMul+Add+Relu, Softmax)", () => Mlp("mlp-large", [784, 1024, 1024, 10], seed: 12), "x", [784], -1f, 1f),
        new("lenet5", "LeNet-5 CNN 1x28x28 (2x Conv5x5+Relu+MaxPool, Gemm 120-84-10)", LeNet5, "x", [1, 28, 28], 0f, 1f),
        new("resnet8", "ResNet-style CNN 3x32x32 (8 Conv, BatchNorm, residual Add, GlobalAveragePool, Gemm)", ResNet8, "x", [3, 32, 32], 0f, 1f),
        new("transformer", "Transformer encoder block d=256, 4 heads, seq 64, FFN 1024 (LayerNorm, GELU-Erf)", Transformer, "x", [64, 256], -1f, 1f),
    ];

    public static BenchModel Get(string name)
    {
        foreach (var m in All)
        {
            if (m.Name == name)
            {
                return m;
            }
        }
        throw new ArgumentException($"unknown model '{name}' (known: {string.Join(", ", All.Select(m => m.Name))})");
    }

    /// <summary>MatMul+Add(+Relu) layers, Softmax on the last.</summary>
    public static OnnxModel Mlp(string name, int[] widths, int seed)
    {
        var b = new ModelBuilder(Opset, name);
        var w = new Weights(seed);
        var h = b.Input("x", DataType.Float32, -1, widths[0]);
        for (int i = 0; i + 1 < widths.Length; i++)
        {
            var weight = b.Initializer($"fc{i}.weight", w.He([widths[i], widths[i + 1]], fanIn: widths[i]));
            var bias = b.Initializer($"fc{i}.bias", w.Uniform([widths[i + 1]], -0.05f, 0.05f));
            h = b.Node("Add", [b.Node("MatMul", [h, weight], name: $"fc{i}.matmul"), bias], name: $"fc{i}.add");
            if (i + 2 < widths.Length)
            {
                h = b.Node("Relu", [h], name: $"fc{i}.relu");
            }
        }
        b.Output(b.Node("Softmax", [h], [("axis", -1L)], name: "softmax"), "y");
        return b.Build();
    }

    public static OnnxModel LeNet5()
    {
        var b = new ModelBuilder(Opset, "lenet5");
        var w = new Weights(13);
        var x = b.Input("x", DataType.Float32, -1, 1, 28, 28);
        var h = Conv(b, w, "conv1", x, 1, 6, kernel: 5, stride: 1, pad: 2, bias: true);
        h = b.Node("Relu", [h], name: "conv1.relu");
        h = MaxPool2(b, "pool1", h);
        h = Conv(b, w, "conv2", h, 6, 16, kernel: 5, stride: 1, pad: 0, bias: true);
        h = b.Node("Relu", [h], name: "conv2.relu");
        h = MaxPool2(b, "pool2", h);
        h = b.Node("Flatten", [h], [("axis", 1L)], name: "flatten");
        h = b.Node("Relu", [Gemm(b, w, "fc1", h, 400, 120)], name: "fc1.relu");
        h = b.Node("Relu", [Gemm(b, w, "fc2", h, 120, 84)], name: "fc2.relu");
        b.Output(Gemm(b, w, "fc3", h, 84, 10), "y");
        return b.Build();
    }

    /// <summary>
    /// Stem conv 3→32, three residual stages of two 3x3 convs (BatchNorm, Relu, Add skip; stages 2 and 3
    /// downsample with a stride-2 first conv and an AveragePool skip), a final conv 32→64, GlobalAveragePool,
    /// Gemm 64→10: exactly 8 Conv nodes.
    /// </summary>
    public static OnnxModel ResNet8()
    {
        var b = new ModelBuilder(Opset, "resnet8");
        var w = new Weights(14);
        const int C = 32;
        var x = b.Input("x", DataType.Float32, -1, 3, 32, 32);
        var h = ConvBnRelu(b, w, "stem", x, 3, C, stride: 1, relu: true);
        for (int stage = 1; stage <= 3; stage++)
        {
            int stride = stage == 1 ? 1 : 2;
            var p = $"stage{stage}";
            var y = ConvBnRelu(b, w, p + ".conv1", h, C, C, stride, relu: true);
            y = ConvBnRelu(b, w, p + ".conv2", y, C, C, 1, relu: false);
            var skip = stride == 1
                ? h
                : b.Node("AveragePool", [h], [("kernel_shape", new long[] { 2, 2 }), ("strides", new long[] { 2, 2 })], name: p + ".skip");
            h = b.Node("Relu", [b.Node("Add", [y, skip], name: p + ".add")], name: p + ".relu");
        }
        h = ConvBnRelu(b, w, "final", h, C, 2 * C, 1, relu: true);
        h = b.Node("GlobalAveragePool", [h], name: "gap");
        h = b.Node("Flatten", [h], [("axis", 1L)], name: "flatten");
        b.Output(Gemm(b, w, "fc", h, 2 * C, 10), "y");
        return b.Build();
    }

    /// <summary>
    /// One pre-LayerNorm transformer encoder block: x + Attention(LN1(x)), then h + FFN(LN2(h)) with
    /// GELU in its Erf form. Input and output [N, 64, 256].
    /// </summary>
    public static OnnxModel Transformer()
    {
        const int D = 256, Heads = 4, HeadDim = D / Heads, Seq = 64, Ffn = 1024;
        var b = new ModelBuilder(Opset, "transformer");
        var w = new Weights(15);
        var x = b.Input("x", DataType.Float32, -1, Seq, D);

        string LayerNorm(string p, string v)
        {
            var scale = b.Initializer(p + ".scale", w.Uniform([D], 0.9f, 1.1f));
            var bias = b.Initializer(p + ".bias", w.Uniform([D], -0.05f, 0.05f));
            return b.Node("LayerNormalization", [v, scale, bias], [("axis", -1L), ("epsilon", 1e-5f)], name: p);
        }

        string Linear(string p, string v, int inDim, int outDim)
        {
            var weight = b.Initializer(p + ".weight", w.He([inDim, outDim], fanIn: inDim, gain: MathF.Sqrt(0.5f)));
            var bias = b.Initializer(p + ".bias", w.Uniform([outDim], -0.05f, 0.05f));
            return b.Node("Add", [b.Node("MatMul", [v, weight], name: p + ".matmul"), bias], name: p + ".add");
        }

        var toHeads = b.Initializer("shape.heads", Tensor.Create<long>([4], [0, 0, Heads, HeadDim]));
        var fromHeads = b.Initializer("shape.model", Tensor.Create<long>([3], [0, 0, D]));
        var n1 = LayerNorm("ln1", x);
        string Heads4(string p, string v, long[] perm)
            => b.Node("Transpose", [b.Node("Reshape", [v, toHeads], name: p + ".reshape")], [("perm", perm)], name: p + ".transpose");
        var q = Heads4("q", Linear("q", n1, D, D), [0, 2, 1, 3]);       // [N, H, S, Dh]
        var k = Heads4("k", Linear("k", n1, D, D), [0, 2, 3, 1]);       // [N, H, Dh, S]
        var v = Heads4("v", Linear("v", n1, D, D), [0, 2, 1, 3]);       // [N, H, S, Dh]
        var scores = b.Node("MatMul", [q, k], name: "attn.qk");
        var scale = b.Initializer("attn.scale.value", Tensor.Create<float>([], [1f / MathF.Sqrt(HeadDim)]));
        scores = b.Node("Mul", [scores, scale], name: "attn.scale");
        var probs = b.Node("Softmax", [scores], [("axis", -1L)], name: "attn.softmax");
        var ctx = b.Node("MatMul", [probs, v], name: "attn.pv");      // [N, H, S, Dh]
        ctx = b.Node("Transpose", [ctx], [("perm", new long[] { 0, 2, 1, 3 })], name: "attn.merge.transpose");
        ctx = b.Node("Reshape", [ctx, fromHeads], name: "attn.merge.reshape");
        var h = b.Node("Add", [x, Linear("attn.out", ctx, D, D)], name: "attn.residual");

        var n2 = LayerNorm("ln2", h);
        var f = Linear("ffn.up", n2, D, Ffn);
        var erf = b.Node("Erf", [b.Node("Div", [f, b.Initializer("gelu.sqrt2", Tensor.Create<float>([], [MathF.Sqrt(2f)]))], name: "gelu.div")], name: "gelu.erf");
        var gelu = b.Node("Mul", [b.Node("Mul", [f, b.Node("Add", [erf, b.Initializer("gelu.one", Tensor.Create<float>([], [1f]))], name: "gelu.add")], name: "gelu.mul"),
            b.Initializer("gelu.half.value", Tensor.Create<float>([], [0.5f]))], name: "gelu.half");
        var down = Linear("ffn.down", gelu, Ffn, D);
        b.Output(b.Node("Add", [h, down], name: "ffn.residual"), "y");
        return b.Build();
    }

    private static string Conv(ModelBuilder b, Weights w, string p, string x, int cin, int cout, int kernel, int stride, int pad, bool bias)
    {
        var weight = b.Initializer(p + ".weight", w.He([cout, cin, kernel, kernel], fanIn: cin * kernel * kernel));
        (string, object)[] attrs =
        [
            ("kernel_shape", new long[] { kernel, kernel }),
            ("strides", new long[] { stride, stride }),
            ("pads", new long[] { pad, pad, pad, pad }),
        ];
        string[] inputs = bias
            ? [x, weight, b.Initializer(p + ".bias", w.Uniform([cout], -0.05f, 0.05f))]
            : [x, weight];
        return b.Node("Conv", inputs, attrs, name: p);
    }

    private static string ConvBnRelu(ModelBuilder b, Weights w, string p, string x, int cin, int cout, int stride, bool relu)
    {
        var h = Conv(b, w, p, x, cin, cout, kernel: 3, stride, pad: 1, bias: false);
        string[] bn =
        [
            h,
            b.Initializer(p + ".bn.scale", w.Uniform([cout], 0.8f, 1.2f)),
            b.Initializer(p + ".bn.bias", w.Uniform([cout], -0.1f, 0.1f)),
            b.Initializer(p + ".bn.mean", w.Uniform([cout], -0.1f, 0.1f)),
            b.Initializer(p + ".bn.var", w.Uniform([cout], 0.5f, 1.5f)),
        ];
        h = b.Node("BatchNormalization", bn, [("epsilon", 1e-5f)], name: p + ".bn");
        return relu ? b.Node("Relu", [h], name: p + ".relu") : h;
    }

    private static string MaxPool2(ModelBuilder b, string p, string x)
        => b.Node("MaxPool", [x], [("kernel_shape", new long[] { 2, 2 }), ("strides", new long[] { 2, 2 })], name: p);

    /// <summary>Gemm with transB=1 (weights [out, in], as exporters write fully connected layers).</summary>
    private static string Gemm(ModelBuilder b, Weights w, string p, string x, int inDim, int outDim)
    {
        var weight = b.Initializer(p + ".weight", w.He([outDim, inDim], fanIn: inDim));
        var bias = b.Initializer(p + ".bias", w.Uniform([outDim], -0.05f, 0.05f));
        return b.Node("Gemm", [x, weight, bias], [("transB", 1L)], name: p);
    }

    /// <summary>Seeded weights. Uniform only (no transcendental functions), so every machine builds identical models.</summary>
    private sealed class Weights(int seed)
    {
        private readonly Random _rng = new(seed);

        /// <summary>He-uniform: U(-a, a) with a = gain * sqrt(6 / fanIn), keeping ReLU activations near unit scale.</summary>
        public Tensor He(int[] shape, int fanIn, float gain = 1f)
        {
            float a = gain * MathF.Sqrt(6f / fanIn);
            return Uniform(shape, -a, a);
        }

        public Tensor Uniform(int[] shape, float low, float high)
        {
            var data = new float[Tensor.ElementCount(shape)];
            for (int i = 0; i < data.Length; i++)
            {
                data[i] = low + ((high - low) * _rng.NextSingle());
            }
            return Tensor.Create(shape, data);
        }
    }
}
