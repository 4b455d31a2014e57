using System.Diagnostics;
using Prova.Core;
using Xunit.Abstractions;

namespace Prova.Onnx.Tests;

/// <summary>
/// Random and mutated bytes must give a model or a <see cref="ModelException"/>: never another
/// exception, a hang, or a crash. Seeds are fixed and printed so a failure can be replayed.
/// </summary>
public sealed class FuzzTests(ITestOutputHelper output)
{
    private static readonly TimeSpan s_caseTimeout = TimeSpan.FromSeconds(10);

    // PROVA_FUZZ_SCALE=100 runs a long campaign locally; the default keeps the suite fast.
    private static readonly int s_scale = int.TryParse(Environment.GetEnvironmentVariable("PROVA_FUZZ_SCALE"), out int scale) && scale > 0 ? scale : 1;

    private static readonly string[] s_seedModels =
    [
        "node/test_conv_with_strides_padding",
        "node/test_gemm_default_no_bias",
        "node/test_if",
        "node/test_loop11",
        "node/test_constant",
        "node/test_reshape_reordered_all_dims",
        "node/test_lstm_defaults",
        "node/test_cast_FLOAT_to_STRING",
        "pytorch-converted/test_Conv2d",
        "simple/test_single_relu_model",
    ];

    private static List<byte[]> Corpus()
    {
        var corpus = new List<byte[]>();
        foreach (var name in s_seedModels)
        {
            string path = Path.Combine(BackendModelTests.DataRoot, name, "model.onnx");
            if (File.Exists(path))
            {
                corpus.Add(File.ReadAllBytes(path));
            }
        }
        // A builder model with typed attributes and several initializers, independent of test data.
        var b = new ModelBuilder();
        var x = b.Input("x", DataType.Float32, -1, 8);
        var w = b.Initializer("w", Tensor.Create([8, 4], Enumerable.Range(0, 32).Select(i => (float)i).ToArray()));
        var shape = b.Constant(Tensor.Create([2], new long[] { -1, 4 }));
        var y = b.Node("MatMul", [x, w]);
        var r = b.Node("Reshape", [y, shape]);
        var t = b.Node("Transpose", [r], [("perm", new long[] { 1, 0 })]);
        b.Output(b.Node("LeakyRelu", [t], [("alpha", 0.1f)]), "out");
        corpus.Add(OnnxWriter.Write(b.Build()));
        // A merged-decoder-like model: an If on a bool input whose branches read outer values and hold a nested If.
        var m = new ModelBuilder();
        var cond = m.Input("use_cache_branch", DataType.Bool, 1);
        var v = m.Input("v", DataType.Float32, 2, 3);
        var bias = m.Initializer("bias", Tensor.Create([3], new float[] { 1, 2, 3 }));
        var inner = m.Subgraph("inner_then");
        inner.Output(inner.Node("Add", [v, bias]), "inner_out");
        var innerElse = m.Subgraph("inner_else");
        innerElse.Output(innerElse.Node("Neg", [v]), "inner_out_e");
        var then = m.Subgraph("then");
        var nested = then.Node("If", [cond], [("then_branch", inner.BuildGraph()), ("else_branch", innerElse.BuildGraph())]);
        then.Output(then.Node("Relu", [nested]), "then_out");
        var otherwise = m.Subgraph("else");
        otherwise.Output(otherwise.Node("Mul", [v, otherwise.Constant(Tensor.Create([1], new float[] { 2 }))]), "else_out");
        m.Output(m.Node("If", [cond], [("then_branch", then.BuildGraph()), ("else_branch", otherwise.BuildGraph())]), "y");
        corpus.Add(OnnxWriter.Write(m.Build()));
        return corpus;
    }

    [Theory]
    [InlineData(20240601, 1500)]
    [InlineData(7, 1500)]
    [InlineData(424242, 1500)]
    public void MutatedModelsLoadOrFailWithModelException(int seed, int iterations)
    {
        iterations *= s_scale;
        output.WriteLine($"seed {seed}, {iterations} iterations");
        var corpus = Corpus();
        Assert.True(corpus.Count >= 5, "need real models to mutate");
        var random = new Random(seed);
        int loaded = 0, rejected = 0;
        var watch = Stopwatch.StartNew();
        for (int i = 0; i < iterations; i++)
        {
            var (kind, bytes) = Mutate(random, corpus);
            if (Run(() => OnnxLoader.Load(bytes), seed, i, kind))
            {
                loaded++;
            }
            else
            {
                rejected++;
            }
        }
        output.WriteLine($"loaded {loaded}, rejected {rejected} in {watch.ElapsedMilliseconds} ms");
        Assert.True(rejected > 0, "mutations never produced an invalid model: the fuzzer is not fuzzing");
    }

    [Theory]
    [InlineData(99, 1000)]
    public void RandomBytesFailWithModelException(int seed, int iterations)
    {
        iterations *= s_scale;
        output.WriteLine($"seed {seed}, {iterations} iterations");
        var random = new Random(seed);
        for (int i = 0; i < iterations; i++)
        {
            var bytes = new byte[random.Next(0, 600)];
            random.NextBytes(bytes);
            Run(() => OnnxLoader.Load(bytes), seed, i, "random");
        }
    }

    [Theory]
    [InlineData(5150, 1000)]
    public void MutatedTensorFilesParseOrFailWithModelException(int seed, int iterations)
    {
        iterations *= s_scale;
        output.WriteLine($"seed {seed}, {iterations} iterations");
        var corpus = new List<byte[]>();
        foreach (var name in s_seedModels)
        {
            string file = Path.Combine(BackendModelTests.DataRoot, name, "test_data_set_0", "input_0.pb");
            if (File.Exists(file))
            {
                corpus.Add(File.ReadAllBytes(file));
            }
        }
        corpus.Add(OnnxTensors.WriteTensorProto("t", Tensor.Create([3, 2], new long[] { 1, 2, 3, 4, 5, 6 })));
        var random = new Random(seed);
        for (int i = 0; i < iterations; i++)
        {
            var (kind, bytes) = Mutate(random, corpus);
            Run(() => OnnxTensors.ParseTensorProto(bytes), seed, i, kind);
        }
    }

    /// <summary>Runs one case with a timeout; true when it succeeded, false on ModelException.</summary>
    private static bool Run(Action action, int seed, int iteration, string kind)
    {
        var task = Task.Run(() =>
        {
            try
            {
                action();
                return (Exception?)null;
            }
            catch (Exception e)
            {
                return e;
            }
        });
        if (!task.Wait(s_caseTimeout))
        {
            Assert.Fail($"seed {seed} iteration {iteration} ({kind}): no result within {s_caseTimeout.TotalSeconds} s");
        }
        var error = task.Result;
        if (error is null)
        {
            return true;
        }
        if (error is ModelException)
        {
            return false;
        }
        Assert.Fail($"seed {seed} iteration {iteration} ({kind}): {error.GetType().Name}: {error}");
        return false;
    }

    private static (string Kind, byte[] Bytes) Mutate(Random random, List<byte[]> corpus)
    {
        var source = corpus[random.Next(corpus.Count)];
        switch (random.Next(6))
        {
            case 0:
                {
                    var bytes = (byte[])source.Clone();
                    int flips = 1 + random.Next(8);
                    for (int f = 0; f < flips; f++)
                    {
                        bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8));
                    }
                    return ("bit flips", bytes);
                }
            case 1:
                return ("truncation", source[..random.Next(source.Length)]);
            case 2:
                {
                    var other = corpus[random.Next(corpus.Count)];
                    int a = random.Next(source.Length + 1), b = random.Next(other.Length + 1);
                    return ("splice", [.. source[..a], .. other[b..]]);
                }
            case 3:
                {
                    var insert = new byte[1 + random.Next(16)];
                    random.NextBytes(insert);
                    int at = random.Next(source.Length + 1);
                    return ("insertion", [.. source[..at], .. insert, .. source[at..]]);
                }
            case 4:
                {
                    // Large varints in place: huge lengths, dims and counts.
                    var bytes = (byte[])source.Clone();
                    int at = random.Next(bytes.Length);
                    int run = Math.Min(bytes.Length - at, 1 + random.Next(9));
                    bytes.AsSpan(at, run).Fill(random.Next(2) == 0 ? (byte)0xff : (byte)0x80);
                    return ("varint overwrite", bytes);
                }
            default:
                {
                    var bytes = (byte[])source.Clone();
                    int count = 1 + random.Next(4);
                    for (int c = 0; c < count; c++)
                    {
                        bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
                    }
                    return ("byte replace", bytes);
                }
        }
    }
}
