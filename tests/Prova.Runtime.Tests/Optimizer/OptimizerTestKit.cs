using Prova.Core;
using Prova.Onnx;
using Prova.Runtime.Optimizer;
using Prova.Runtime.Tests.TestModels;
using Xunit.Abstractions;

namespace Prova.Runtime.Tests.Optimizer;

/// <summary>Runs models with and without the optimizer and compares what comes out.</summary>
internal static class OptimizerTestKit
{
    public const double RelativeTolerance = 1e-5;
    public const double AbsoluteTolerance = 1e-6;

    /// <summary>Optimizes for a build where the fused kernels exist, whether or not this one has them.</summary>
    public static OnnxModel OptimizeWithFusedKernels(OnnxModel model) => GraphOptimizer.Optimize(model, static _ => true);

    /// <summary>Optimizes for a build without the fused kernels.</summary>
    public static OnnxModel OptimizeWithoutFusedKernels(OnnxModel model) => GraphOptimizer.Optimize(model, static _ => false);

    /// <summary>The op types of the graph, in node order ("domain:op" outside the default domain).</summary>
    public static string[] OpTypes(OnnxModel model)
        => [.. model.Graph.Nodes.Select(n => KernelRegistry.Key(n.OpType, n.Domain))];

    /// <summary>Checks the rewrite kept the graph valid and its interface unchanged.</summary>
    public static void AssertWellFormed(OnnxModel original, OnnxModel optimized)
    {
        OnnxLoader.Validate(optimized.Graph);
        Assert.Equal(original.Graph.Inputs.Select(i => i.ToString()), optimized.Graph.Inputs.Select(i => i.ToString()));
        Assert.Equal(original.Graph.Outputs.Select(i => i.ToString()), optimized.Graph.Outputs.Select(i => i.ToString()));
    }

    public static Dictionary<string, Tensor> Run(OnnxModel model, Dictionary<string, Tensor> inputs, bool optimize, int threads = 1)
    {
        using var session = new InferenceSession(model, new SessionOptions { Threads = threads, Optimize = optimize });
        return session.Run(inputs);
    }

    /// <summary>Runs the model unoptimized and optimized on seeded random inputs; outputs must agree within the tolerances.</summary>
    public static void AssertOptimizedMatches(OnnxModel model, int seed, ITestOutputHelper output, bool exact = false)
    {
        output.WriteLine($"input seed {seed}");
        var inputs = RandomModels.Inputs(model, seed);
        var expected = Run(model, inputs, optimize: false);
        var actual = Run(model, inputs, optimize: true);
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (name, e) in expected)
        {
            var a = actual[name];
            Assert.Equal(e.ShapeString(), a.ShapeString());
            if (exact)
            {
                Assert.True(e.Bytes().SequenceEqual(a.Bytes()), $"output '{name}' (seed {seed}) is not bit-identical to the unoptimized run");
                continue;
            }
            var ev = (float[])e.Data;
            var av = (float[])a.Data;
            double worst = 0;
            for (int i = 0; i < ev.Length; i++)
            {
                double diff = Math.Abs((double)ev[i] - av[i]);
                double allowed = AbsoluteTolerance + RelativeTolerance * Math.Abs((double)ev[i]);
                Assert.True(diff <= allowed, $"output '{name}' (seed {seed}) element {i}: optimized {av[i]:R}, unoptimized {ev[i]:R}");
                worst = Math.Max(worst, diff);
            }
            output.WriteLine($"  {name}: {ev.Length} elements, worst |diff| {worst:E2}");
        }
    }

    public static Tensor Uniform(Random rng, float scale, params int[] shape) => RandomModels.Uniform(rng, scale, shape);
}
