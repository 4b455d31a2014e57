using Prova.Core;
using Prova.Onnx;

namespace Prova.Runtime.Tests.TestModels;

/// <summary>
/// Seeded random models and inputs for tests: a model or input built from the same seed is the same
/// bytes on every machine (values come from <see cref="Random"/>'s seeded integer sequence, no libm).
/// Shapes are large enough that the kernels split their work across threads.
/// </summary>
internal static class RandomModels
{
    /// <summary>Uniform values in [-scale, scale].</summary>
    public static Tensor Uniform(Random rng, float scale, params int[] shape)
    {
        var data = new float[Tensor.ElementCount(shape)];
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = (float)((rng.NextDouble() * 2 - 1) * scale);
        }
        return Tensor.Create<float>(shape, data);
    }

    /// <summary>Uniform values in [min, max].</summary>
    public static Tensor Between(Random rng, float min, float max, params int[] shape)
    {
        var data = new float[Tensor.ElementCount(shape)];
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = (float)(min + rng.NextDouble() * (max - min));
        }
        return Tensor.Create<float>(shape, data);
    }

    public static Tensor Scalar(float value) => Tensor.Create<float>([], [value]);

    public static Tensor Int64s(params long[] values) => Tensor.Create<long>([values.Length], values);

    /// <summary>Random float inputs in [-1, 1] for every graph input (all dims must be fixed).</summary>
    public static Dictionary<string, Tensor> Inputs(OnnxModel model, int seed)
    {
        var rng = new Random(seed);
        var inputs = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var info in model.Graph.Inputs)
        {
            var dims = info.Shape ?? throw new ArgumentException($"input {info} has no declared shape");
            var shape = dims.Select(d => (int)(d.Value ?? throw new ArgumentException($"input {info} has a symbolic dim"))).ToArray();
            inputs[info.Name] = Uniform(rng, 1f, shape);
        }
        return inputs;
    }

    /// <summary>x[batch, inputs] → MatMul, Add, Relu → MatMul, Add → Softmax.</summary>
    public static OnnxModel Mlp(int seed, int batch = 8, int inputs = 784, int hidden = 256, int classes = 10)
    {
        var rng = new Random(seed);
        var b = new ModelBuilder(opset: 17, graphName: "mlp");
        var x = b.Input("x", DataType.Float32, batch, inputs);
        var h = b.Node("MatMul", [x, b.Initializer("w1", Uniform(rng, Fan(inputs), inputs, hidden))]);
        h = b.Node("Add", [h, b.Initializer("b1", Uniform(rng, 0.1f, hidden))]);
        h = b.Node("Relu", [h]);
        var y = b.Node("MatMul", [h, b.Initializer("w2", Uniform(rng, Fan(hidden), hidden, classes))]);
        y = b.Node("Add", [y, b.Initializer("b2", Uniform(rng, 0.1f, classes))]);
        b.Output(b.Node("Softmax", [y], [("axis", -1L)]), "probs");
        return b.Build();
    }

    /// <summary>
    /// x[batch, 3, 32, 32] → Conv 3×3 pads 1, BatchNormalization, Relu, MaxPool 2×2 → Conv 3×3 stride 2,
    /// Relu → GlobalAveragePool, Flatten → Gemm (transB).
    /// </summary>
    public static OnnxModel Cnn(int seed, int batch = 8, int size = 32, int c1 = 16, int c2 = 32, int classes = 10)
    {
        var rng = new Random(seed);
        var b = new ModelBuilder(opset: 17, graphName: "cnn");
        var x = b.Input("x", DataType.Float32, batch, 3, size, size);
        var h = b.Node("Conv", [x, b.Initializer("conv1.w", Uniform(rng, Fan(3 * 9), c1, 3, 3, 3)), b.Initializer("conv1.b", Uniform(rng, 0.1f, c1))],
            [("kernel_shape", new long[] { 3, 3 }), ("pads", new long[] { 1, 1, 1, 1 })]);
        h = b.Node("BatchNormalization",
            [h, b.Initializer("bn.scale", Between(rng, 0.5f, 1.5f, c1)), b.Initializer("bn.bias", Uniform(rng, 0.2f, c1)),
                b.Initializer("bn.mean", Uniform(rng, 0.2f, c1)), b.Initializer("bn.var", Between(rng, 0.5f, 2f, c1))],
            [("epsilon", 1e-5f)]);
        h = b.Node("Relu", [h]);
        h = b.Node("MaxPool", [h], [("kernel_shape", new long[] { 2, 2 }), ("strides", new long[] { 2, 2 })]);
        h = b.Node("Conv", [h, b.Initializer("conv2.w", Uniform(rng, Fan(c1 * 9), c2, c1, 3, 3)), b.Initializer("conv2.b", Uniform(rng, 0.1f, c2))],
            [("kernel_shape", new long[] { 3, 3 }), ("pads", new long[] { 1, 1, 1, 1 }), ("strides", new long[] { 2, 2 })]);
        h = b.Node("Relu", [h]);
        h = b.Node("GlobalAveragePool", [h]);
        h = b.Node("Flatten", [h], [("axis", 1L)]);
        var y = b.Node("Gemm", [h, b.Initializer("fc.w", Uniform(rng, Fan(c2), classes, c2)), b.Initializer("fc.b", Uniform(rng, 0.1f, classes))],
            [("transB", 1L)]);
        b.Output(y, "logits");
        return b.Build();
    }

    /// <summary>
    /// A post-norm transformer encoder block on x[batch, seq, d]: multi-head self-attention (MatMul, Add,
    /// Reshape, Transpose, Div, Softmax), residual Add, LayerNormalization, a feed-forward layer with
    /// erf-GELU (Div, Erf, Add, Mul), residual Add, LayerNormalization.
    /// </summary>
    public static OnnxModel TransformerBlock(int seed, int batch = 8, int seq = 64, int d = 64, int heads = 4, int ffn = 256)
    {
        var rng = new Random(seed);
        int dh = d / heads;
        var b = new ModelBuilder(opset: 17, graphName: "encoder");
        var x = b.Input("x", DataType.Float32, batch, seq, d);

        string Linear(string input, string name, int fanIn, int fanOut)
        {
            var y = b.Node("MatMul", [input, b.Initializer(name + ".w", Uniform(rng, Fan(fanIn), fanIn, fanOut))]);
            return b.Node("Add", [y, b.Initializer(name + ".b", Uniform(rng, 0.1f, fanOut))]);
        }

        string LayerNorm(string input, string name) => b.Node("LayerNormalization",
            [input, b.Initializer(name + ".scale", Between(rng, 0.8f, 1.2f, d)), b.Initializer(name + ".bias", Uniform(rng, 0.1f, d))],
            [("axis", -1L), ("epsilon", 1e-5f)]);

        var split = b.Constant(Int64s(batch, seq, heads, dh));
        string Heads(string v, long[] perm) => b.Node("Transpose", [b.Node("Reshape", [v, split])], [("perm", perm)]);

        var q = Heads(Linear(x, "q", d, d), [0, 2, 1, 3]);   // [batch, heads, seq, dh]
        var k = Heads(Linear(x, "k", d, d), [0, 2, 3, 1]);   // [batch, heads, dh, seq]
        var v = Heads(Linear(x, "v", d, d), [0, 2, 1, 3]);
        var scores = b.Node("Div", [b.Node("MatMul", [q, k]), b.Constant(Scalar(MathF.Sqrt(dh)))]);
        var attention = b.Node("MatMul", [b.Node("Softmax", [scores], [("axis", -1L)]), v]);
        var merged = b.Node("Reshape", [b.Node("Transpose", [attention], [("perm", new long[] { 0, 2, 1, 3 })]), b.Constant(Int64s(batch, seq, d))]);
        var h = LayerNorm(b.Node("Add", [x, Linear(merged, "o", d, d)]), "ln1");

        var f = Linear(h, "ffn1", d, ffn);
        var erf = b.Node("Erf", [b.Node("Div", [f, b.Constant(Scalar(MathF.Sqrt(2f)))])]);
        var gelu = b.Node("Mul", [b.Node("Mul", [f, b.Node("Add", [erf, b.Constant(Scalar(1f))])]), b.Constant(Scalar(0.5f))]);
        var y = LayerNorm(b.Node("Add", [h, Linear(gelu, "ffn2", ffn, d)]), "ln2");
        b.Output(y, "y");
        return b.Build();
    }

    /// <summary>A uniform bound that keeps activations of order one (Xavier-like).</summary>
    private static float Fan(int fanIn) => MathF.Sqrt(3f / fanIn);
}
