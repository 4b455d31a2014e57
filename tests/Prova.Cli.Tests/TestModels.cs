using Prova.Core;
using Prova.Onnx;

namespace Prova.Cli.Tests;

/// <summary>Models built in C# with seeded pseudo-random weights (nothing downloaded).</summary>
internal static class TestModels
{
    /// <summary>x float32 [1, 16] → Gemm 16→32 → MatMul 32→4 → y float32 [1, 4].</summary>
    public static OnnxModel Linear(int seed = 1)
    {
        var rng = new Random(seed);
        var b = new ModelBuilder(opset: 17, graphName: "linear");
        var x = b.Input("x", DataType.Float32, 1, 16);
        var w1 = b.Initializer("w1", Tensor.Create([32, 16], Uniform(rng, 32 * 16, 0.5f)));
        var b1 = b.Initializer("b1", Tensor.Create([32], Uniform(rng, 32, 0.1f)));
        var h = b.Node("Gemm", [x, w1, b1], [("transB", 1L)], name: "fc1");
        var w2 = b.Initializer("w2", Tensor.Create([32, 4], Uniform(rng, 32 * 4, 0.5f)));
        b.Output(b.Node("MatMul", [h, w2], name: "fc2"), "y", DataType.Float32, [1, 4]);
        return b.Build();
    }

    /// <summary>
    /// A small ResNet-ish CNN: Conv, Relu, MaxPool, Conv, AveragePool, GlobalAveragePool, Flatten,
    /// Gemm, Softmax on x float32 [2, 3, 32, 32].
    /// </summary>
    public static OnnxModel Cnn(int seed = 2)
    {
        var rng = new Random(seed);
        var b = new ModelBuilder(opset: 17, graphName: "cnn");
        var x = b.Input("x", DataType.Float32, 2, 3, 32, 32);
        var w1 = b.Initializer("conv1.w", Tensor.Create([16, 3, 3, 3], Uniform(rng, 16 * 27, 0.4f)));
        var b1 = b.Initializer("conv1.b", Tensor.Create([16], Uniform(rng, 16, 0.1f)));
        var h = b.Node("Conv", [x, w1, b1], [("kernel_shape", new long[] { 3, 3 }), ("pads", new long[] { 1, 1, 1, 1 })], name: "conv1");
        h = b.Node("Relu", [h]);
        h = b.Node("MaxPool", [h], [("kernel_shape", new long[] { 2, 2 }), ("strides", new long[] { 2, 2 })]);
        var w2 = b.Initializer("conv2.w", Tensor.Create([32, 16, 3, 3], Uniform(rng, 32 * 16 * 9, 0.15f)));
        var b2 = b.Initializer("conv2.b", Tensor.Create([32], Uniform(rng, 32, 0.1f)));
        h = b.Node("Conv", [h, w2, b2], [("kernel_shape", new long[] { 3, 3 }), ("pads", new long[] { 1, 1, 1, 1 })], name: "conv2");
        h = b.Node("AveragePool", [h], [("kernel_shape", new long[] { 2, 2 }), ("strides", new long[] { 2, 2 })]);
        h = b.Node("GlobalAveragePool", [h]);
        h = b.Node("Flatten", [h], [("axis", 1L)]);
        var w3 = b.Initializer("fc.w", Tensor.Create([10, 32], Uniform(rng, 320, 0.5f)));
        var b3 = b.Initializer("fc.b", Tensor.Create([10], Uniform(rng, 10, 0.1f)));
        h = b.Node("Gemm", [h, w3, b3], [("transB", 1L)], name: "fc");
        b.Output(b.Node("Softmax", [h], [("axis", -1L)]), "probabilities", DataType.Float32, [2, 10]);
        return b.Build();
    }

    /// <summary>
    /// A transformer-style block on x float32 [1, 64, 128]: LayerNormalization, MatMul, GELU via Erf,
    /// MatMul, then Softmax, Tanh, Sigmoid→Log and Exp heads as four outputs.
    /// </summary>
    public static OnnxModel Transformer(int seed = 3)
    {
        var rng = new Random(seed);
        var b = new ModelBuilder(opset: 17, graphName: "block");
        var x = b.Input("x", DataType.Float32, 1, 64, 128);
        var gamma = b.Initializer("ln.scale", Tensor.Create([128], Uniform(rng, 128, 0.5f, 1f)));
        var beta = b.Initializer("ln.bias", Tensor.Create([128], Uniform(rng, 128, 0.1f)));
        var h = b.Node("LayerNormalization", [x, gamma, beta], [("axis", -1L), ("epsilon", 1e-5f)], name: "ln");
        var w1 = b.Initializer("ffn.w1", Tensor.Create([128, 256], Uniform(rng, 128 * 256, 0.15f)));
        var b1 = b.Initializer("ffn.b1", Tensor.Create([256], Uniform(rng, 256, 0.1f)));
        h = b.Node("Add", [b.Node("MatMul", [h, w1]), b1]);
        // GELU(h) = 0.5 · h · (1 + erf(h / √2))
        var erf = b.Node("Erf", [b.Node("Div", [h, b.Constant(Tensor.Create([], new[] { MathF.Sqrt(2f) }))])]);
        var one = b.Constant(Tensor.Create([], new[] { 1f }));
        var half = b.Constant(Tensor.Create([], new[] { 0.5f }));
        h = b.Node("Mul", [b.Node("Mul", [h, half]), b.Node("Add", [erf, one])]);
        var w2 = b.Initializer("ffn.w2", Tensor.Create([256, 128], Uniform(rng, 256 * 128, 0.1f)));
        h = b.Node("MatMul", [h, w2]);
        b.Output(b.Node("Softmax", [h], [("axis", -1L)]), "softmax", DataType.Float32, [1, 64, 128]);
        b.Output(b.Node("Tanh", [h]), "tanh", DataType.Float32, [1, 64, 128]);
        b.Output(b.Node("Log", [b.Node("Sigmoid", [h])]), "logsigmoid", DataType.Float32, [1, 64, 128]);
        b.Output(b.Node("Exp", [h]), "exp", DataType.Float32, [1, 64, 128]);
        return b.Build();
    }

    public static float[] Uniform(Random rng, int count, float scale, float offset = 0f)
    {
        var values = new float[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = offset + (rng.NextSingle() * 2f - 1f) * scale;
        }
        return values;
    }

    /// <summary>Writes the model and a request file with seeded random inputs for its declared inputs.</summary>
    public static (string Model, string Inputs, Dictionary<string, Tensor> Values) Write(OnnxModel model, TempDir dir, string name, int seed = 7)
    {
        var rng = new Random(seed);
        var inputs = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var info in model.Graph.Inputs)
        {
            var shape = info.Shape!.Select(d => (int)d.Value!.Value).ToArray();
            long count = Tensor.ElementCount(shape);
            inputs[info.Name] = Tensor.Create(shape, Uniform(rng, (int)count, 2f));
        }
        string modelPath = dir.File(name + ".onnx");
        string inputPath = dir.File(name + ".inputs.json");
        OnnxWriter.Save(model, modelPath);
        File.WriteAllBytes(inputPath, TensorJson.WriteNamedTensors(inputs));
        return (modelPath, inputPath, inputs);
    }
}
