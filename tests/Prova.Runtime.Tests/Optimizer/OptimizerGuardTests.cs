using Prova.Core;
using Prova.Onnx;
using Prova.Runtime.Optimizer;
using Prova.Runtime.Tests.TestModels;
using Xunit.Abstractions;
using static Prova.Runtime.Tests.Optimizer.OptimizerTestKit;

namespace Prova.Runtime.Tests.Optimizer;

/// <summary>
/// When a rewrite must not fire (the intermediate is read twice or is a graph output, a weight is
/// not a constant), and the optimizer's promises on whole models: determinism, no mutation of the
/// input model, thread-count independence of the optimized run, pinned output hashes.
/// </summary>
public sealed class OptimizerGuardTests(ITestOutputHelper output)
{
    private static readonly (string, object)[] s_conv3x3 = [("kernel_shape", new long[] { 3, 3 }), ("pads", new long[] { 1, 1, 1, 1 })];

    /// <summary>
    /// x → Conv → BatchNormalization → Relu, where <paramref name="variant"/> breaks one precondition:
    /// "two-readers" (the Conv output also feeds a Sigmoid that is an output), "output" (the Conv
    /// output is also a graph output), "weights-input" (W is a graph input), "scale-input" (the
    /// BatchNorm scale is a graph input), "training" (training_mode = 1 is never folded).
    /// </summary>
    private static OnnxModel Broken(string variant)
    {
        var rng = new Random(601);
        var b = new ModelBuilder(opset: 15);
        var x = b.Input("x", DataType.Float32, 1, 2, 6, 6);
        var w = variant == "weights-input" ? b.Input("w", DataType.Float32, 4, 2, 3, 3) : b.Initializer("w", Uniform(rng, 0.3f, 4, 2, 3, 3));
        var scale = variant == "scale-input" ? b.Input("scale", DataType.Float32, 4) : b.Initializer("scale", RandomModels.Between(rng, 0.5f, 1.5f, 4));
        var h = b.Node("Conv", [x, w, b.Initializer("b", Uniform(rng, 0.1f, 4))], s_conv3x3);
        var c = h;
        (string, object)[] bnAttributes = variant == "training" ? [("training_mode", 1L)] : [];
        h = b.Node("BatchNormalization",
            [h, scale, b.Initializer("beta", Uniform(rng, 0.1f, 4)), b.Initializer("mean", Uniform(rng, 0.1f, 4)), b.Initializer("var", RandomModels.Between(rng, 0.5f, 1.5f, 4))],
            bnAttributes);
        b.Output(b.Node("Relu", [h]), "y");
        if (variant == "two-readers")
        {
            b.Output(b.Node("Sigmoid", [c]), "s");
        }
        if (variant == "output")
        {
            b.Output(c, "conv_out");
        }
        return b.Build();
    }

    [Theory]
    [InlineData("two-readers")]
    [InlineData("output")]
    [InlineData("weights-input")]
    [InlineData("scale-input")]
    [InlineData("training")]
    public void BatchNormIsNotFoldedWhenAPreconditionFails(string variant)
    {
        var model = Broken(variant);
        var optimized = OptimizeWithFusedKernels(model);
        Assert.Contains("BatchNormalization", OpTypes(optimized));
        Assert.Contains("Conv", OpTypes(optimized));
        if (variant != "training")
        {
            // Correct results either way (training_mode = 1 is unsupported by the kernel itself).
            AssertOptimizedMatches(model, 602, output, exact: true);
        }
    }

    [Fact]
    public void TheSameGraphWithoutTheBrokenPreconditionIsFolded()
    {
        // Guards the test above: the base model does fold.
        var model = Broken("none");
        Assert.Equal(["Conv", "Relu"], OpTypes(OptimizeWithoutFusedKernels(model)));
        Assert.Equal(["prova.internal:FusedConv"], OpTypes(OptimizeWithFusedKernels(model)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ABiasAddThatIsAlsoAGraphOutputStaysSeparate(bool addIsOutput)
    {
        var rng = new Random(603);
        var b = new ModelBuilder(opset: 17);
        var x = b.Input("x", DataType.Float32, 3, 8);
        var h = b.Node("MatMul", [x, b.Initializer("w", Uniform(rng, 0.3f, 8, 5))]);
        if (!addIsOutput)
        {
            b.Output(h, "product");
        }
        var sum = b.Node("Add", [h, b.Initializer("bias", Uniform(rng, 0.3f, 5))]);
        if (addIsOutput)
        {
            b.Output(sum, "sum");
        }
        b.Output(b.Node("Relu", [sum]), "y");
        var model = b.Build();
        var optimized = OptimizeWithFusedKernels(model);
        AssertWellFormed(model, optimized);
        if (addIsOutput)
        {
            // MatMul + Add fuse (the Add's output is kept by name); the Relu stays.
            Assert.Equal(["prova.internal:FusedMatMul", "Relu"], OpTypes(optimized));
            Assert.Equal("sum", optimized.Graph.Nodes[0].Outputs[0]);
        }
        else
        {
            Assert.Same(model, optimized);
        }
    }

    [Fact]
    public void TheOptimizerIsAPureFunctionOfTheModelAndDoesNotModifyIt()
    {
        var model = RandomModels.Cnn(3232);
        var before = Describe(model);
        var first = OptimizeWithFusedKernels(model);
        var second = OptimizeWithFusedKernels(RandomModels.Cnn(3232));
        Assert.Equal(before, Describe(model));
        Assert.Equal(Describe(first), Describe(second));
        Assert.NotEqual(before, Describe(first));
    }

    /// <summary>Every node (op, inputs, outputs, attributes) and every initializer's bytes, as text.</summary>
    private static string Describe(OnnxModel model)
    {
        var lines = new List<string>();
        foreach (var n in model.Graph.Nodes)
        {
            var attributes = n.Attributes.Values.OrderBy(a => a.Name, StringComparer.Ordinal)
                .Select(a => $"{a.Name}={a.Kind}:{a.Int}:{a.Float:R}:{a.String}:{string.Join(",", a.Ints)}");
            lines.Add($"{n.Domain}:{n.OpType} {n.Name} ({string.Join(",", n.Inputs)}) -> ({string.Join(",", n.Outputs)}) {string.Join(" ", attributes)}");
        }
        foreach (var (name, t) in model.Graph.Initializers.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            lines.Add($"{name} {t} {Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(t.Bytes()))}");
        }
        lines.Add(string.Join(",", model.Opsets.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}={kv.Value}")));
        return string.Join("\n", lines);
    }

    public static TheoryData<string, int> Models => new()
    {
        { "cnn", 3232 },
        { "transformer", 6404 },
    };

    private static OnnxModel Build(string kind, int seed) => kind == "cnn" ? RandomModels.Cnn(seed) : RandomModels.TransformerBlock(seed);

    [Theory]
    [MemberData(nameof(Models))]
    public void OptimizedWholeModelsMatchTheUnoptimizedOnes(string kind, int seed)
    {
        output.WriteLine($"model {kind}: weight seed {seed}");
        var model = Build(kind, seed);
        var optimized = GraphOptimizer.Optimize(model);
        AssertWellFormed(model, optimized);
        output.WriteLine($"  {model.Graph.Nodes.Count} nodes → {optimized.Graph.Nodes.Count}: {string.Join(" ", OpTypes(optimized))}");
        Assert.True(optimized.Graph.Nodes.Count < model.Graph.Nodes.Count);
        AssertOptimizedMatches(model, seed + 1, output);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void OptimizedRunsAreBitIdenticalForAnyThreadCount(string kind, int seed)
    {
        output.WriteLine($"model {kind}: weight seed {seed}, input seed {seed + 1}");
        var model = Build(kind, seed);
        var inputs = RandomModels.Inputs(model, seed + 1);
        string? reference = null;
        foreach (int threads in new[] { 1, 2, 3 })
        {
            string hash = TensorEncoding.Hash(Run(model, inputs, optimize: true, threads));
            output.WriteLine($"  threads {threads}: {hash}");
            reference ??= hash;
            Assert.Equal(reference, hash);
        }
    }

    /// <summary>
    /// Output hashes of the optimized models (seed + 1 inputs, the default SessionOptions). The
    /// rewrites are part of the protocol: a change to what the optimizer produces (or to a fused
    /// kernel's arithmetic) changes these, and must be announced in docs/determinism.md.
    /// </summary>
    public static TheoryData<string, int, string> OptimizedGoldenHashes => new()
    {
        { "cnn", 3232, "0529c2637e7f4f70d076e4c70f79fbe1361881093307648d191821d4dffabb89" },
        { "transformer", 6404, "5ab25ae337a46797bab817f80a50cb23f2000776a226a01d197978052055ac84" },
    };

    [Theory]
    [MemberData(nameof(OptimizedGoldenHashes))]
    public void OptimizedOutputHashesArePinned(string kind, int seed, string expected)
    {
        var model = Build(kind, seed);
        using var session = new InferenceSession(model, new SessionOptions { Threads = 2 });
        string hash = TensorEncoding.Hash(session.Run(RandomModels.Inputs(model, seed + 1)));
        output.WriteLine($"model {kind}: weight seed {seed}, input seed {seed + 1}: {hash}");
        Assert.Equal(expected, hash);
    }
}
