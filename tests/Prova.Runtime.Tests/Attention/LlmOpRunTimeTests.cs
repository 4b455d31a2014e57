using System.Diagnostics;
using Prova.Core;
using Prova.Onnx;
using Xunit.Abstractions;
using static Prova.Runtime.Tests.Attention.LlmOpKit;

namespace Prova.Runtime.Tests.Attention;

/// <summary>The LLM ops at run time: a warm run allocates only its outputs; decode attention timed against ONNX Runtime.</summary>
public sealed class LlmOpRunTimeTests(ITestOutputHelper output)
{
    /// <summary>GQA decode step of a small Llama-like layer: 32 query heads, 8 kv heads, head 64, 511 cached tokens, rotary.</summary>
    private static (OnnxModel Model, Dictionary<string, Tensor> Feeds) GqaDecode(int seed, int past = 511)
    {
        const int nq = 32, nkv = 8, d = 64;
        var rng = new Random(seed);
        var feeds = new Dictionary<string, Tensor>
        {
            ["q"] = F([1, 1, nq * d], Random(rng, nq * d)),
            ["k"] = F([1, 1, nkv * d], Random(rng, nkv * d)),
            ["v"] = F([1, 1, nkv * d], Random(rng, nkv * d)),
            ["pk"] = F([1, nkv, past, d], Random(rng, nkv * past * d)),
            ["pv"] = F([1, nkv, past, d], Random(rng, nkv * past * d)),
            ["seqlens"] = Tensor.Create([1], new[] { past }),
        };
        int rows = past + 8;
        var inits = new Dictionary<string, Tensor>
        {
            ["total"] = Tensor.Create<int>([], [past + 1]),
            ["cos"] = F([rows, d / 2], Random(rng, rows * d / 2)),
            ["sin"] = F([rows, d / 2], Random(rng, rows * d / 2)),
        };
        var model = Model(Ms, "GroupQueryAttention", ["q", "k", "v", "pk", "pv", "seqlens", "total", "cos", "sin"], feeds, inits, ["y", "present_k", "present_v"], 21, Int("num_heads", nq), Int("kv_num_heads", nkv), Int("do_rotary", 1));
        return (model, feeds);
    }

    private static (OnnxModel Model, Dictionary<string, Tensor> Feeds) Attention23(int seed)
    {
        var rng = new Random(seed);
        var feeds = new Dictionary<string, Tensor>
        {
            ["q"] = F([1, 8, 1, 32], Random(rng, 8 * 32)),
            ["k"] = F([1, 2, 1, 32], Random(rng, 2 * 32)),
            ["v"] = F([1, 2, 1, 32], Random(rng, 2 * 32)),
            ["pk"] = F([1, 2, 40, 32], Random(rng, 2 * 40 * 32)),
            ["pv"] = F([1, 2, 40, 32], Random(rng, 2 * 40 * 32)),
        };
        return (Model("", "Attention", ["q", "k", "v", "", "pk", "pv"], feeds, null, ["y", "present_k", "present_v"], 23, Int("is_causal", 1)), feeds);
    }

    public static TheoryData<string> Ops => ["gqa", "attention"];

    [Theory]
    [MemberData(nameof(Ops))]
    public void WarmRunAllocatesOnlyItsOutputs(string op)
    {
        var (model, feeds) = op == "gqa" ? GqaDecode(1, past: 64) : Attention23(2);
        using var session = new InferenceSession(model, new SessionOptions { Threads = 1 });
        for (int i = 0; i < 3; i++)
        {
            session.Run(feeds);
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        var outputs = session.Run(feeds);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        long outputBytes = outputs.Values.Sum(t => (long)t.Bytes().Length);
        output.WriteLine($"{op}: {allocated} bytes allocated by a warm run, outputs {outputBytes} bytes");
        Assert.True(allocated <= outputBytes + 2048, $"a warm run allocated {allocated} bytes for {outputBytes} bytes of outputs");
    }

    [Fact]
    [Trait("Category", "Benchmark")]
    public void GqaDecodeTimeAgainstOnnxRuntime()
    {
        var (model, feeds) = GqaDecode(3);
        foreach (int threads in new[] { 1, 2 })
        {
            using var prova = new InferenceSession(model, new SessionOptions { Threads = threads });
            using var options = new Microsoft.ML.OnnxRuntime.SessionOptions { IntraOpNumThreads = threads };
            using var ort = new Microsoft.ML.OnnxRuntime.InferenceSession(OnnxWriter.Write(model), options);
            var names = model.Graph.Inputs.Select(i => i.Name).ToArray();
            var values = names.Select(n => feeds[n].Data switch
            {
                float[] f => Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(f, feeds[n].ShapeArray().Select(x => (long)x).ToArray()),
                int[] i => Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(i, feeds[n].ShapeArray().Select(x => (long)x).ToArray()),
                _ => throw new NotSupportedException(),
            }).ToArray();
            using var run = new Microsoft.ML.OnnxRuntime.RunOptions();
            Action runProva = () => prova.Run(feeds);
            Action runOrt = () =>
            {
                using var r = ort.Run(run, names, values, ["y", "present_k", "present_v"]);
            };
            var warm = Stopwatch.StartNew();
            while (warm.ElapsedMilliseconds < 2000)
            {
                runProva();
                runOrt();
            }
            double provaMs = double.MaxValue;
            double ortMs = double.MaxValue;
            var total = Stopwatch.StartNew();
            while (total.ElapsedMilliseconds < 4000)
            {
                provaMs = Math.Min(provaMs, Block(runProva));
                ortMs = Math.Min(ortMs, Block(runOrt));
            }
            foreach (var v in values)
            {
                v.Dispose();
            }
            output.WriteLine($"GroupQueryAttention decode (32/8 heads, head 64, 512 keys, rotary), {threads} thread(s): Prova {provaMs * 1000:F1} µs, ONNX Runtime {ortMs * 1000:F1} µs, ratio {provaMs / ortMs:F2}");
        }
    }

    private static double Block(Action run)
    {
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < 5; i++)
        {
            run();
        }
        return sw.Elapsed.TotalMilliseconds / 5;
    }
}
