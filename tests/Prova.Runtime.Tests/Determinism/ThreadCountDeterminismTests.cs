using Prova.Core;
using Prova.Onnx;
using Prova.Runtime.Tests.TestModels;
using Xunit.Abstractions;

namespace Prova.Runtime.Tests.Determinism;

/// <summary>
/// The determinism contract on whole models: seeded random MLP, CNN and transformer-block models
/// give the same output bytes for 1, 2, 3 and 4 threads, on repeated runs of one session, and in
/// fresh sessions. The shapes are large enough that the kernels split their work across threads.
/// </summary>
public sealed class ThreadCountDeterminismTests(ITestOutputHelper output)
{
    private static readonly int[] s_threadCounts = [1, 2, 3, 4];

    public static TheoryData<string, int> Models => new()
    {
        { "mlp", 7841 },
        { "cnn", 3232 },
        { "transformer", 6404 },
    };

    private static OnnxModel Build(string kind, int seed) => kind switch
    {
        "mlp" => RandomModels.Mlp(seed),
        "cnn" => RandomModels.Cnn(seed),
        "transformer" => RandomModels.TransformerBlock(seed),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown model kind"),
    };

    [Theory]
    [MemberData(nameof(Models))]
    public void OutputBytesAreIdenticalForAnyThreadCountRepetitionAndSession(string kind, int seed)
    {
        int inputSeed = seed + 1;
        output.WriteLine($"model {kind}: weight seed {seed}, input seed {inputSeed}");
        var model = Build(kind, seed);
        var inputs = RandomModels.Inputs(model, inputSeed);

        string? reference = null;
        foreach (int threads in s_threadCounts)
        {
            using var session = new InferenceSession(model, new SessionOptions { Threads = threads });
            for (int run = 0; run < 3; run++)
            {
                var outputs = session.Run(inputs);
                string hash = TensorEncoding.Hash(outputs);
                output.WriteLine($"  threads {threads}, run {run + 1}: {hash}");
                if (reference is null)
                {
                    AssertMeaningful(kind, outputs);
                    reference = hash;
                }
                Assert.True(hash == reference, $"{kind} (seed {seed}): threads {threads} run {run + 1} gave {hash}, threads 1 run 1 gave {reference}");
            }
        }
        foreach (int threads in new[] { 1, 4 })
        {
            using var fresh = new InferenceSession(model, new SessionOptions { Threads = threads });
            string hash = TensorEncoding.Hash(fresh.Run(inputs));
            output.WriteLine($"  fresh session, threads {threads}: {hash}");
            Assert.True(hash == reference, $"{kind} (seed {seed}): a fresh session with {threads} threads gave {hash}, the first gave {reference}");
        }
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void DifferentInputsGiveDifferentHashes(string kind, int seed)
    {
        // Guards the test above: the hash must actually depend on the computed values.
        output.WriteLine($"model {kind}: weight seed {seed}, input seeds {seed + 1} and {seed + 2}");
        var model = Build(kind, seed);
        using var session = new InferenceSession(model, new SessionOptions { Threads = 2 });
        string a = TensorEncoding.Hash(session.Run(RandomModels.Inputs(model, seed + 1)));
        string b = TensorEncoding.Hash(session.Run(RandomModels.Inputs(model, seed + 2)));
        Assert.NotEqual(a, b);
    }

    /// <summary>
    /// Output hashes recorded on an AVX-512 machine and checked there with AVX-512, AVX2 and all hardware
    /// intrinsics disabled. Every machine and SIMD level must reproduce them: the bytes are a protocol
    /// (receipts sign them). A kernel change that alters them changes some output element's formula —
    /// if that is intended, it is a protocol change: update the hashes and say so in docs/determinism.md.
    /// </summary>
    public static TheoryData<string, int, string> GoldenHashes => new()
    {
        { "mlp", 7841, "a0410abcc15c85a043281e51a4ac198dee09833a58adb57eb3dc0d434c84d888" },
        { "cnn", 3232, "6c54e8ca70269ceda90856c1a12caa0ede6d54d8b70279c016415f3e4f61e117" },
        { "transformer", 6404, "0dd95813a900f9d5ba9b7fc0ac9bdebbe7e55c5624a9fe1c1d9c920c471d23c1" },
    };

    [Theory]
    [MemberData(nameof(GoldenHashes))]
    public void OutputHashesMatchTheValuesRecordedOnAnotherMachine(string kind, int seed, string expected)
    {
        output.WriteLine($"model {kind}: weight seed {seed}, input seed {seed + 1}; SIMD: {System.Numerics.Vector<byte>.Count * 8}-bit Vector<T>, AVX-512F {System.Runtime.Intrinsics.X86.Avx512F.IsSupported}, AVX2 {System.Runtime.Intrinsics.X86.Avx2.IsSupported}");
        var model = Build(kind, seed);
        // The kernels' arithmetic on the graph as written; the optimized graph's hashes are pinned in Optimizer/OptimizerGuardTests.
        using var session = new InferenceSession(model, new SessionOptions { Threads = 2, Optimize = false });
        string hash = TensorEncoding.Hash(session.Run(RandomModels.Inputs(model, seed + 1)));
        output.WriteLine($"  hash {hash}");
        Assert.True(hash == expected, $"{kind} (seed {seed}) hashes to {hash} here, {expected} where it was recorded: some kernel's arithmetic depends on the machine or SIMD level, or its formula changed");
    }

    /// <summary>The outputs are finite, not constant, and (for the MLP) rows of probabilities.</summary>
    private void AssertMeaningful(string kind, Dictionary<string, Tensor> outputs)
    {
        Assert.Single(outputs);
        var tensor = outputs.Values.Single();
        var values = tensor.Span<float>().ToArray();
        output.WriteLine($"  output {outputs.Keys.Single()}: {tensor}");
        Assert.All(values, v => Assert.True(float.IsFinite(v), $"{kind} produced a non-finite value {v}"));
        Assert.True(values.Distinct().Count() > values.Length / 4, $"{kind} output is nearly constant");
        if (kind == "mlp")
        {
            int classes = tensor.Shape[^1];
            for (int row = 0; row < values.Length / classes; row++)
            {
                float sum = values.AsSpan(row * classes, classes).ToArray().Sum();
                Assert.True(MathF.Abs(sum - 1f) < 1e-4f, $"softmax row {row} sums to {sum}");
            }
        }
    }
}
