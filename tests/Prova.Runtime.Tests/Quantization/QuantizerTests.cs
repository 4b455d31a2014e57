using Prova.Core;
using Prova.Onnx;
using Prova.Runtime.Quantization;

namespace Prova.Runtime.Tests.Quantization;

public class QuantizerTests
{
    [Fact]
    public void PerChannelScalesAreMaxAbsOver127AlongTheAxis()
    {
        // Rows are output channels (axis 0): max |w| = 2.54, 0.127, 0 (an all-zero channel gets scale 1).
        float[] w = [1.27f, -2.54f, 0.5f, 0.127f, -0.0635f, 0f, 0f, 0f, 0f];
        var (q, scales) = QuantMath.PerChannelWeights(w, [3, 3], axis: 0);
        Assert.Equal([0.02f, 0.001f, 1f], scales);
        Assert.Equal(new sbyte[] { 64, -127, 25, 127, -64, 0, 0, 0, 0 }, q);

        // Columns as channels (axis 1, a MatMul weight [K, N]).
        var (qt, scalesT) = QuantMath.PerChannelWeights(w, [3, 3], axis: 1);
        Assert.Equal([1.27f / 127f, 2.54f / 127f, 0.5f / 127f], scalesT);
        Assert.Equal(127, qt[0]);
        Assert.Equal(-127, qt[1]);
        Assert.Equal(127, qt[2]);
    }

    [Fact]
    public void WeightRoundingIsHalfToEven()
    {
        // Scale 1 (max 127): 2.5 → 2, 3.5 → 4, -2.5 → -2.
        var (q, _) = QuantMath.PerChannelWeights([127f, 2.5f, 3.5f, -2.5f], [1, 4], axis: 0);
        Assert.Equal(new sbyte[] { 127, 2, 4, -2 }, q);
    }

    [Fact]
    public void BiasIsInt32WithScaleInputTimesWeightScale()
    {
        var (q, scales) = QuantMath.Bias([0.5f, -0.25f, 1e6f], inputScale: 0.01f, weightScales: [0.02f, 0.5f, 1e-9f]);
        Assert.Equal([0.01f * 0.02f, 0.01f * 0.5f, 0.01f * 1e-9f], scales);
        Assert.Equal(2500, q[0]);
        Assert.Equal(-50, q[1]);
        Assert.Equal(int.MaxValue, q[2]); // saturates instead of wrapping
    }

    [Fact]
    public void ActivationParametersCoverTheRangeAndZero()
    {
        var relu = QuantMath.Activation(0f, 2.55f);
        Assert.Equal(0.01f, relu.Scale, 1e-7f);
        Assert.Equal(-128, relu.ZeroPoint);

        var positive = QuantMath.Activation(1f, 2.55f); // widened to include 0
        Assert.Equal(relu, positive);

        var symmetric = QuantMath.Activation(-1.275f, 1.275f);
        Assert.Equal(0.01f, symmetric.Scale, 1e-7f);
        Assert.Equal(0, symmetric.ZeroPoint); // -128 + 127.5 rounds to even

        Assert.Equal(new ActivationQuant(1f, 0), QuantMath.Activation(0f, 0f));
        Assert.Throws<QuantizationException>(() => QuantMath.Activation(float.NegativeInfinity, 1f));
    }

    [Fact]
    public void QdqModelHasTheStandardStructureAndLoads()
    {
        var model = SmallCnn(seed: 7);
        var result = QdqQuantizer.Quantize(model, Inputs(seed: 8, count: 4));
        var bytes = OnnxWriter.Write(result.Model);
        var loaded = OnnxLoader.Load(bytes);

        Assert.True(loaded.Opset >= 13);
        Assert.Equal(["conv", "fc"], result.QuantizedNodes);
        var producers = new Dictionary<string, OnnxNode>();
        foreach (var node in loaded.Graph.Nodes)
        {
            foreach (var output in node.Outputs)
            {
                producers[output] = node;
            }
        }
        foreach (var node in loaded.Graph.Nodes.Where(n => n.OpType is "Conv" or "Gemm"))
        {
            // Activation, weight and bias all arrive through DequantizeLinear.
            for (int i = 0; i < 3; i++)
            {
                Assert.Equal("DequantizeLinear", producers[node.Inputs[i]].OpType);
            }
            var weightDq = producers[node.Inputs[1]];
            Assert.Equal(DataType.Int8, loaded.Graph.Initializers[weightDq.Inputs[0]].Type);
            Assert.Equal(0, weightDq.GetInt("axis", -1));
            var biasDq = producers[node.Inputs[2]];
            Assert.Equal(DataType.Int32, loaded.Graph.Initializers[biasDq.Inputs[0]].Type);

            // Bias scale = activation scale × weight scale, channel by channel.
            var activationDq = producers[node.Inputs[0]];
            float inputScale = ((float[])loaded.Graph.Initializers[activationDq.Inputs[1]].Data)[0];
            var weightScales = (float[])loaded.Graph.Initializers[weightDq.Inputs[1]].Data;
            var biasScales = (float[])loaded.Graph.Initializers[biasDq.Inputs[1]].Data;
            for (int c = 0; c < weightScales.Length; c++)
            {
                Assert.Equal(inputScale * weightScales[c], biasScales[c]);
            }
        }
        // No float weight is left behind.
        Assert.DoesNotContain(loaded.Graph.Initializers.Values, t => t.Type == DataType.Float32 && t.Length > 8);
        // The output keeps its name and comes out of a DequantizeLinear.
        Assert.Equal("DequantizeLinear", producers["logits"].OpType);

        // MaxPool and Flatten pass values through: the Gemm input reuses the Relu output's parameters.
        var relu = loaded.Graph.Nodes.Single(n => n.OpType == "Relu");
        var reluQ = loaded.Graph.Nodes.Single(n => n.OpType == "QuantizeLinear" && n.Inputs[0] == relu.Outputs[0]);
        var fc = loaded.Graph.Nodes.Single(n => n.OpType == "Gemm");
        Assert.Equal(reluQ.Inputs[1], producers[fc.Inputs[0]].Inputs[1]);
    }

    [Fact]
    public void SimulatedQuantizedModelTracksTheFloatModel()
    {
        var model = SmallCnn(seed: 11);
        var calibration = Inputs(seed: 12, count: 8);
        var quantized = QdqQuantizer.Quantize(model, calibration).Model;
        using var floatSession = new InferenceSession(model);
        using var intSession = new InferenceSession(QdqSimulation.Lower(quantized));
        var input = Inputs(seed: 13, count: 1)[0];
        var expected = (float[])floatSession.Run(input)["logits"].Data;
        var actual = (float[])intSession.Run(input)["logits"].Data;
        float range = expected.Max() - expected.Min();
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(MathF.Abs(expected[i] - actual[i]) < 0.05f * range, $"logit {i}: float {expected[i]}, int8 {actual[i]} (seeds 11-13)");
        }
    }

    [Fact]
    public void SimulatedQuantizeLinearRoundsHalfToEvenAndSaturates()
    {
        var b = new ModelBuilder(opset: 13);
        var x = b.Input("x", DataType.Float32, 6);
        var s = b.Initializer("s", Tensor.Create([], new[] { 0.5f }));
        var z = b.Initializer("z", Tensor.Create([], new sbyte[] { 1 }));
        var q = b.Node("QuantizeLinear", [x, s, z]);
        b.Output(b.Node("DequantizeLinear", [q, s, z]), "y");
        using var session = new InferenceSession(QdqSimulation.Lower(b.Build()));
        var y = (float[])session.Run(new Dictionary<string, Tensor> { ["x"] = Tensor.Create([6], new[] { 1.25f, 1.75f, -1.25f, 100f, -100f, 0.3f }) })["y"].Data;
        // x/s = 2.5 → 2, 3.5 → 4, -2.5 → -2; +1 then saturate to [-128, 127]; minus 1, times 0.5.
        Assert.Equal([1f, 2f, -1f, 63f, -64.5f, 0.5f], y);
        Assert.Equal(2, QuantMath.Quantize(1.25f, new ActivationQuant(0.5f, 0)));
    }

    [Fact]
    public void AModelWithoutWeightsToQuantizeIsRefused()
    {
        var b = new ModelBuilder();
        b.Output(b.Node("Relu", [b.Input("x", DataType.Float32, 4)]), "y");
        var ex = Assert.Throws<QuantizationException>(() => QdqQuantizer.Quantize(b.Build(), new Dictionary<string, (float, float)>()));
        Assert.Contains("MatMul, Gemm or Conv", ex.Message);
    }

    /// <summary>Conv 3×3 (1→4) → Relu → MaxPool 2 → Flatten → Gemm (4·3·3 → 5) on 1×6×6 images.</summary>
    private static OnnxModel SmallCnn(int seed)
    {
        var random = new Random(seed);
        float[] Random(int n) => Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        var b = new ModelBuilder(opset: 17);
        var x = b.Input("image", DataType.Float32, -1, 1, 6, 6);
        var w = b.Initializer("w", Tensor.Create([4, 1, 3, 3], Random(36)));
        var bias = b.Initializer("b", Tensor.Create([4], Random(4)));
        var h = b.Node("Conv", [x, w, bias], [("kernel_shape", new[] { 3, 3 }), ("pads", new[] { 1, 1, 1, 1 })], name: "conv");
        h = b.Node("Relu", [h], name: "relu");
        h = b.Node("MaxPool", [h], [("kernel_shape", new[] { 2, 2 }), ("strides", new[] { 2, 2 })], name: "pool");
        h = b.Node("Flatten", [h], [("axis", 1)], name: "flatten");
        var w2 = b.Initializer("w2", Tensor.Create([5, 36], Random(180)));
        var b2 = b.Initializer("b2", Tensor.Create([5], Random(5)));
        b.Output(b.Node("Gemm", [h, w2, b2], [("transB", 1)], name: "fc"), "logits");
        return b.Build();
    }

    private static List<IReadOnlyDictionary<string, Tensor>> Inputs(int seed, int count)
    {
        var random = new Random(seed);
        var result = new List<IReadOnlyDictionary<string, Tensor>>();
        for (int i = 0; i < count; i++)
        {
            var data = Enumerable.Range(0, 36).Select(_ => (float)random.NextDouble()).ToArray();
            result.Add(new Dictionary<string, Tensor> { ["image"] = Tensor.Create([1, 1, 6, 6], data) });
        }
        return result;
    }
}
