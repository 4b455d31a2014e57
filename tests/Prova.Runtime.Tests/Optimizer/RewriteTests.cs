using Prova.Core;
using Prova.Onnx;
using Prova.Runtime.Optimizer;
using Xunit.Abstractions;
using static Prova.Runtime.Tests.Optimizer.OptimizerTestKit;

namespace Prova.Runtime.Tests.Optimizer;

/// <summary>
/// Each rewrite on small graphs: the optimized graph has the expected nodes, is valid, keeps its
/// interface, and computes what the unoptimized graph computes (exactly for the bias moves,
/// within rtol 1e-5 / atol 1e-6 for the BatchNorm fold and GELU).
/// </summary>
public sealed class RewriteTests(ITestOutputHelper output)
{
    private static readonly (string, object)[] s_conv3x3 = [("kernel_shape", new long[] { 3, 3 }), ("pads", new long[] { 1, 1, 1, 1 })];

    /// <summary>x[2, 4, 9, 9] → Conv 3×3 (8 channels, optional bias) → BatchNormalization [→ Relu].</summary>
    private static OnnxModel ConvBatchNorm(int seed, bool convBias, bool relu, int group = 1)
    {
        var rng = new Random(seed);
        var b = new ModelBuilder(opset: 17);
        var x = b.Input("x", DataType.Float32, 2, 4, 9, 9);
        string[] convInputs = convBias
            ? [x, b.Initializer("w", Uniform(rng, 0.3f, 8, 4 / group, 3, 3)), b.Initializer("b", Uniform(rng, 0.2f, 8))]
            : [x, b.Initializer("w", Uniform(rng, 0.3f, 8, 4 / group, 3, 3))];
        var h = b.Node("Conv", convInputs, [.. s_conv3x3, ("group", (long)group)], name: "conv");
        h = b.Node("BatchNormalization",
            [h, b.Initializer("scale", RandomBetween(rng, 0.5f, 1.5f, 8)), b.Initializer("beta", Uniform(rng, 0.3f, 8)),
                b.Initializer("mean", Uniform(rng, 0.3f, 8)), b.Initializer("var", RandomBetween(rng, 0.2f, 2f, 8))],
            [("epsilon", 1e-3f)]);
        if (relu)
        {
            h = b.Node("Relu", [h]);
        }
        b.Output(h, "y");
        return b.Build();
    }

    private static Tensor RandomBetween(Random rng, float min, float max, params int[] shape) => TestModels.RandomModels.Between(rng, min, max, shape);

    [Theory]
    [InlineData(101, true, 1)]
    [InlineData(102, false, 1)]
    [InlineData(103, true, 2)]
    public void ConvBatchNormFoldsIntoOneConv(int seed, bool convBias, int group)
    {
        output.WriteLine($"weight seed {seed}");
        var model = ConvBatchNorm(seed, convBias, relu: false, group);
        var optimized = GraphOptimizer.Optimize(model);
        AssertWellFormed(model, optimized);
        Assert.Equal(["Conv"], OpTypes(optimized));
        Assert.Equal(3, optimized.Graph.Nodes[0].Inputs.Length);
        // The original weights and BatchNorm parameters are no longer read, so they are gone.
        Assert.DoesNotContain("scale", optimized.Graph.Initializers.Keys);
        Assert.DoesNotContain("w", optimized.Graph.Initializers.Keys);
        AssertOptimizedMatches(model, seed + 1000, output);
    }

    [Fact]
    public void FoldedWeightsFollowTheDocumentedFormula()
    {
        float[] w = [0.5f, -1.25f, 3f, 0.1f];
        float[] b = [0.3f, -0.7f];
        float[] scale = [1.5f, 0.9f];
        float[] bias = [0.25f, -0.125f];
        float[] mean = [0.2f, -0.4f];
        float[] variance = [0.8f, 1.7f];
        const float Epsilon = 1e-5f;
        var (fw, fb) = GraphRewriter.Fold(w, 2, b, scale, bias, mean, variance, Epsilon);
        for (int c = 0; c < 2; c++)
        {
            float s = scale[c] / MathF.Sqrt(variance[c] + Epsilon);
            Assert.Equal(w[2 * c] * s, fw[2 * c]);
            Assert.Equal(w[2 * c + 1] * s, fw[2 * c + 1]);
            float centred = b[c] - mean[c];
            float scaled = centred * s;
            Assert.Equal(scaled + bias[c], fb[c]);
            // Not the fused form: fma would round once, and the protocol fixes the unfused one.
            Assert.Equal(BitConverter.SingleToInt32Bits(scaled + bias[c]), BitConverter.SingleToInt32Bits(fb[c]));
        }
    }

    [Fact]
    public void ConvBatchNormReluBecomesOneFusedConvWhenTheKernelExists()
    {
        var model = ConvBatchNorm(104, convBias: true, relu: true);
        var optimized = OptimizeWithFusedKernels(model);
        AssertWellFormed(model, optimized);
        Assert.Equal(["prova.internal:FusedConv"], OpTypes(optimized));
        var node = optimized.Graph.Nodes[0];
        Assert.Equal("Relu", node.GetString("activation", "?"));
        Assert.Equal(3, node.GetInts("kernel_shape")![0]);
        Assert.Equal(GraphOptimizer.InternalOpsetVersion, optimized.Opsets[KernelRegistry.InternalDomain]);

        var withoutKernel = OptimizeWithoutFusedKernels(model);
        AssertWellFormed(model, withoutKernel);
        Assert.Equal(["Conv", "Relu"], OpTypes(withoutKernel));
        Assert.False(withoutKernel.Opsets.ContainsKey(KernelRegistry.InternalDomain));
    }

    /// <summary>x[2, 4, 9, 9] → Conv without bias → Add(bias of the given shape) → Relu.</summary>
    private static OnnxModel ConvAddRelu(int seed, int[] biasShape, bool convBias = false)
    {
        var rng = new Random(seed);
        var b = new ModelBuilder(opset: 17);
        var x = b.Input("x", DataType.Float32, 2, 4, 9, 9);
        string[] convInputs = convBias
            ? [x, b.Initializer("w", Uniform(rng, 0.3f, 8, 4, 3, 3)), b.Initializer("b", Uniform(rng, 0.2f, 8))]
            : [x, b.Initializer("w", Uniform(rng, 0.3f, 8, 4, 3, 3))];
        var h = b.Node("Conv", convInputs, s_conv3x3, name: "conv");
        h = b.Node("Add", [h, b.Initializer("bias", Uniform(rng, 0.5f, biasShape))]);
        b.Output(b.Node("Relu", [h]), "y");
        return b.Build();
    }

    [Theory]
    [InlineData(201, new[] { 8, 1, 1 })]
    [InlineData(202, new[] { 1, 8, 1, 1 })]
    [InlineData(203, new int[0])]
    [InlineData(204, new[] { 1, 1, 1 })]
    public void ConvBiasAddMovesIntoTheConvExactly(int seed, int[] biasShape)
    {
        output.WriteLine($"weight seed {seed}");
        var model = ConvAddRelu(seed, biasShape);
        var optimized = OptimizeWithoutFusedKernels(model);
        AssertWellFormed(model, optimized);
        Assert.Equal(["Conv", "Relu"], OpTypes(optimized));
        Assert.Equal([8], optimized.Graph.Initializers[optimized.Graph.Nodes[0].Inputs[2]].ShapeArray());
        var fused = OptimizeWithFusedKernels(model);
        AssertWellFormed(model, fused);
        Assert.Equal(["prova.internal:FusedConv"], OpTypes(fused));
        // Same "+ bias" after the same accumulation: bit-identical, not just close.
        AssertOptimizedMatches(model, seed + 1000, output, exact: true);
    }

    [Theory]
    [InlineData(new[] { 1, 8, 9, 9 })]   // a full tensor, not a per-channel bias
    [InlineData(new[] { 1, 1, 1, 9 })]   // varies along the width
    [InlineData(new[] { 2, 1, 1, 1 })]   // varies along the batch
    [InlineData(new[] { 1, 1, 8, 1, 1 })] // would raise the rank
    public void ConvAddWithANonChannelOperandIsLeftAlone(int[] biasShape)
    {
        var model = ConvAddRelu(205, biasShape);
        Assert.Same(model, OptimizeWithoutFusedKernels(model));
        Assert.Same(model, OptimizeWithFusedKernels(model));
    }

    [Fact]
    public void AConvThatHasABiasDoesNotTakeASecond()
    {
        var model = ConvAddRelu(206, [8, 1, 1], convBias: true);
        Assert.Same(model, OptimizeWithoutFusedKernels(model));
        // The Relu after the Add cannot move either: the Add stands between.
        Assert.Same(model, OptimizeWithFusedKernels(model));
    }

    /// <summary>x[6, 20] → Gemm (optionally transB, no C) → Add(bias) → Relu.</summary>
    private static OnnxModel GemmAddRelu(int seed, bool transB, int[] biasShape)
    {
        var rng = new Random(seed);
        var b = new ModelBuilder(opset: 13);
        var x = b.Input("x", DataType.Float32, 6, 20);
        var w = b.Initializer("w", transB ? Uniform(rng, 0.3f, 12, 20) : Uniform(rng, 0.3f, 20, 12));
        var h = b.Node("Gemm", [x, w], [("transB", transB ? 1L : 0L), ("alpha", 0.75f), ("beta", 0.5f)]);
        h = b.Node("Add", [b.Initializer("bias", Uniform(rng, 0.5f, biasShape)), h]);
        b.Output(b.Node("Relu", [h]), "y");
        return b.Build();
    }

    [Theory]
    [InlineData(301, false, new[] { 12 })]
    [InlineData(302, true, new[] { 1, 12 })]
    [InlineData(303, true, new int[0])]
    public void GemmBiasAddBecomesItsCExactly(int seed, bool transB, int[] biasShape)
    {
        output.WriteLine($"weight seed {seed}");
        var model = GemmAddRelu(seed, transB, biasShape);
        var optimized = OptimizeWithoutFusedKernels(model);
        AssertWellFormed(model, optimized);
        Assert.Equal(["Gemm", "Relu"], OpTypes(optimized));
        var gemm = optimized.Graph.Nodes[0];
        Assert.Equal("bias", gemm.Inputs[2]);
        Assert.Equal(1f, gemm.GetFloat("beta", 0f));
        Assert.Equal(0.75f, gemm.GetFloat("alpha", 0f));
        var fused = OptimizeWithFusedKernels(model);
        AssertWellFormed(model, fused);
        Assert.Equal(["prova.internal:FusedGemm"], OpTypes(fused));
        Assert.Equal("Relu", fused.Graph.Nodes[0].GetString("activation", "?"));
        AssertOptimizedMatches(model, seed + 1000, output, exact: true);
    }

    [Fact]
    public void GemmAddOfAFullMatrixIsLeftAlone()
    {
        var model = GemmAddRelu(304, false, [6, 12]);
        Assert.Same(model, OptimizeWithoutFusedKernels(model));
        Assert.Same(model, OptimizeWithFusedKernels(model));
    }

    /// <summary>x[2, 5, 16] → MatMul [16, 24] → Add(bias) [→ Relu].</summary>
    private static OnnxModel MatMulAdd(int seed, int[] biasShape, bool relu)
    {
        var rng = new Random(seed);
        var b = new ModelBuilder(opset: 17);
        var x = b.Input("x", DataType.Float32, 2, 5, 16);
        var h = b.Node("MatMul", [x, b.Initializer("w", Uniform(rng, 0.3f, 16, 24))]);
        h = b.Node("Add", [h, b.Initializer("bias", Uniform(rng, 0.5f, biasShape))]);
        if (relu)
        {
            h = b.Node("Relu", [h]);
        }
        b.Output(h, "y");
        return b.Build();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void MatMulAddReluBecomesFusedMatMulWhenTheKernelExists(bool relu)
    {
        var model = MatMulAdd(401, [24], relu);
        // Gemm is 2-D only, so without the fused kernel a 3-D MatMul keeps its Add.
        Assert.Same(model, OptimizeWithoutFusedKernels(model));
        var fused = OptimizeWithFusedKernels(model);
        AssertWellFormed(model, fused);
        Assert.Equal(["prova.internal:FusedMatMul"], OpTypes(fused));
        var node = fused.Graph.Nodes[0];
        Assert.Equal(["x", "w", "bias"], node.Inputs);
        Assert.Equal(relu ? "Relu" : "", node.GetString("activation", "?"));
    }

    [Theory]
    [InlineData(new[] { 1, 24 })]
    [InlineData(new[] { 5, 24 })]
    [InlineData(new[] { 1 })]
    public void MatMulAddOfANonVectorIsLeftAlone(int[] biasShape)
    {
        var model = MatMulAdd(402, biasShape, relu: false);
        Assert.Same(model, OptimizeWithFusedKernels(model));
    }

    [Fact]
    public void ABiasThatIsAGraphInputIsNotMoved()
    {
        var rng = new Random(403);
        var b = new ModelBuilder(opset: 17);
        var x = b.Input("x", DataType.Float32, 3, 16);
        var bias = b.Input("bias", DataType.Float32, 24);
        var h = b.Node("Gemm", [x, b.Initializer("w", Uniform(rng, 0.3f, 16, 24))]);
        b.Output(b.Node("Add", [h, bias]), "y");
        var model = b.Build();
        Assert.Same(model, OptimizeWithFusedKernels(model));
        Assert.Same(model, OptimizeWithoutFusedKernels(model));
    }

    [Fact]
    public void AReluAloneMovesIntoTheFusedKernel()
    {
        var b = new ModelBuilder(opset: 17);
        var x = b.Input("x", DataType.Float32, 3, 8);
        var w = b.Input("w", DataType.Float32, 8, 4); // not a constant: fine, nothing is folded
        b.Output(b.Node("Relu", [b.Node("MatMul", [x, w])]), "y");
        var model = b.Build();
        Assert.Same(model, OptimizeWithoutFusedKernels(model));
        var fused = OptimizeWithFusedKernels(model);
        AssertWellFormed(model, fused);
        Assert.Equal(["prova.internal:FusedMatMul"], OpTypes(fused));
        Assert.Equal(["x", "w"], fused.Graph.Nodes[0].Inputs);
    }
}
