using Prova.Core;
using Prova.Onnx;
using Prova.Runtime.Ops.Linear;
using Xunit.Abstractions;
using static Prova.Runtime.Tests.Attention.LlmOpKit;

namespace Prova.Runtime.Tests.Attention;

/// <summary>
/// com.microsoft GroupQueryAttention against ONNX Runtime's CPU kernel (atol 1e-5, rtol 1e-4: both compute
/// in float32 with different summation orders): prefill and decode, head ratios 1 and &gt; 1, rotary
/// (half and interleaved, partial), softcap, local window, packed QKV, batch 2 with right padding;
/// bit-identical across thread counts and vector widths; named errors for bad nodes.
/// </summary>
[Collection("SimdLevel")]
public sealed class GroupQueryAttentionTests(ITestOutputHelper output)
{
    private sealed record Setup(OnnxModel Model, Dictionary<string, Tensor> Feeds);

    private Setup Make(int seed, int batch, int seq, int past, int total, int[] seqlens, int nq, int nkv, int d, bool packed = false, int rotaryHalf = 0, bool interleaved = false, float softcap = 0f, int window = -1, float scale = 0f)
    {
        output.WriteLine($"seed {seed}");
        var rng = new Random(seed);
        var feeds = new Dictionary<string, Tensor>();
        string[] inputs = ["q", packed ? "" : "k", packed ? "" : "v", past > 0 ? "pk" : "", past > 0 ? "pv" : "", "seqlens", "total", rotaryHalf > 0 ? "cos" : "", rotaryHalf > 0 ? "sin" : ""];
        int qWidth = packed ? (nq + 2 * nkv) * d : nq * d;
        feeds["q"] = F([batch, seq, qWidth], Random(rng, batch * seq * qWidth));
        if (!packed)
        {
            feeds["k"] = F([batch, seq, nkv * d], Random(rng, batch * seq * nkv * d));
            feeds["v"] = F([batch, seq, nkv * d], Random(rng, batch * seq * nkv * d));
        }
        if (past > 0)
        {
            feeds["pk"] = F([batch, nkv, past, d], Random(rng, batch * nkv * past * d));
            feeds["pv"] = F([batch, nkv, past, d], Random(rng, batch * nkv * past * d));
        }
        feeds["seqlens"] = Tensor.Create([batch], seqlens);
        var inits = new Dictionary<string, Tensor> { ["total"] = Tensor.Create<int>([], [total]) };
        if (rotaryHalf > 0)
        {
            int rows = Math.Max(total, past) + 4;
            var cos = new float[rows * rotaryHalf];
            var sin = new float[rows * rotaryHalf];
            for (int p = 0; p < rows; p++)
            {
                for (int i = 0; i < rotaryHalf; i++)
                {
                    double theta = p / Math.Pow(10000, 2.0 * i / (2 * rotaryHalf));
                    cos[p * rotaryHalf + i] = (float)Math.Cos(theta);
                    sin[p * rotaryHalf + i] = (float)Math.Sin(theta);
                }
            }
            inits["cos"] = F([rows, rotaryHalf], cos);
            inits["sin"] = F([rows, rotaryHalf], sin);
        }
        var attrs = new List<OnnxAttribute> { Int("num_heads", nq), Int("kv_num_heads", nkv) };
        if (rotaryHalf > 0)
        {
            attrs.Add(Int("do_rotary", 1));
            attrs.Add(Int("rotary_interleaved", interleaved ? 1 : 0));
        }
        if (softcap > 0)
        {
            attrs.Add(Float("softcap", softcap));
        }
        if (window > 0)
        {
            attrs.Add(Int("local_window_size", window));
        }
        if (scale != 0)
        {
            attrs.Add(Float("scale", scale));
        }
        var model = Model(Ms, "GroupQueryAttention", inputs, feeds, inits, ["y", "present_k", "present_v"], 21, [.. attrs]);
        return new Setup(model, feeds);
    }

    private static void Compare(Setup s, string what, int[]? validRowsPerBatch = null, int seq = 0, int width = 0)
    {
        var ort = RunOrt(s.Model, s.Feeds);
        var prova = RunProva(s.Model, s.Feeds);
        foreach (var name in new[] { "y", "present_k", "present_v" })
        {
            var e = ort[name];
            var a = Floats(prova[name]);
            if (name == "y" && validRowsPerBatch is not null)
            {
                // Padding query rows (beyond seqlens_k + 1 on a first prompt) are unspecified in ONNX Runtime.
                e = KeepRows(e, validRowsPerBatch, seq, width);
                a = KeepRows(a, validRowsPerBatch, seq, width);
            }
            AssertClose(e, a, 1e-5f, 1e-4f, $"{what}: {name}");
        }
    }

    private static float[] KeepRows(float[] y, int[] valid, int seq, int width)
    {
        var kept = new List<float>();
        for (int b = 0; b < valid.Length; b++)
        {
            kept.AddRange(y.AsSpan((b * seq) * width, valid[b] * width).ToArray());
        }
        return [.. kept];
    }

    [Theory]
    [InlineData(2, 2)]
    [InlineData(4, 1)]
    [InlineData(6, 2)]
    public void PrefillMatchesOnnxRuntime(int nq, int nkv)
        => Compare(Make(11 + nq, 1, 7, 0, 7, [6], nq, nkv, 16), $"prefill {nq}/{nkv} heads");

    [Theory]
    [InlineData(2, 2)]
    [InlineData(8, 2)]
    public void DecodeWithPastMatchesOnnxRuntime(int nq, int nkv)
        => Compare(Make(21 + nq, 1, 1, 9, 10, [9], nq, nkv, 32), $"decode {nq}/{nkv} heads");

    [Theory]
    [InlineData(false, 8)]
    [InlineData(true, 8)]
    [InlineData(false, 16)]
    public void RotaryMatchesOnnxRuntime(bool interleaved, int rotaryHalf)
    {
        Compare(Make(31, 1, 5, 0, 5, [4], 4, 2, 32, rotaryHalf: rotaryHalf, interleaved: interleaved), $"rotary prefill interleaved={interleaved} rd={2 * rotaryHalf}");
        Compare(Make(32, 1, 1, 5, 6, [5], 4, 2, 32, rotaryHalf: rotaryHalf, interleaved: interleaved), $"rotary decode interleaved={interleaved} rd={2 * rotaryHalf}");
    }

    [Fact]
    public void PackedQkvMatchesOnnxRuntime()
    {
        Compare(Make(41, 1, 4, 0, 4, [3], 4, 2, 16, packed: true), "packed prefill");
        Compare(Make(42, 1, 1, 6, 7, [6], 4, 2, 16, packed: true, rotaryHalf: 8), "packed decode with rotary");
    }

    [Fact]
    public void SoftcapScaleAndLocalWindowMatchOnnxRuntime()
    {
        Compare(Make(51, 1, 6, 0, 6, [5], 4, 2, 16, softcap: 2f, scale: 0.5f), "softcap and scale");
        Compare(Make(52, 1, 6, 0, 6, [5], 4, 2, 16, window: 2), "local window prefill");
        Compare(Make(53, 1, 1, 8, 9, [8], 4, 2, 16, window: 3), "local window decode");
    }

    [Fact]
    public void RightPaddedBatchMatchesOnnxRuntime()
    {
        // Prefill: batch 1 has 3 real tokens of 5; decode: the shorter sequence writes at position seqlens_k.
        Compare(Make(61, 2, 5, 0, 5, [4, 2], 4, 2, 16, rotaryHalf: 8), "padded prefill", [5, 3], 5, 4 * 16);
        Compare(Make(62, 2, 1, 5, 6, [5, 3], 4, 2, 16, rotaryHalf: 8), "padded decode");
    }

    [Fact]
    public void OutputsAreBitIdenticalAcrossThreadsAndVectorWidths()
    {
        var cases = new[] { Make(71, 2, 6, 0, 6, [5, 3], 8, 2, 64, rotaryHalf: 16, softcap: 5f), Make(72, 1, 1, 40, 41, [40], 8, 2, 80) };
        foreach (var c in cases)
        {
            var baseline = RunProva(c.Model, c.Feeds, 1);
            int saved = SimdLevel.MaxVectorBits;
            try
            {
                foreach (int bits in new[] { 512, 256, 128, 0 })
                {
                    SimdLevel.MaxVectorBits = bits;
                    foreach (int threads in new[] { 1, 2, 3 })
                    {
                        var y = RunProva(c.Model, c.Feeds, threads);
                        foreach (var name in new[] { "y", "present_k", "present_v" })
                        {
                            AssertBits(Floats(baseline[name]), Floats(y[name]), $"{name} (threads {threads}, bits {bits})");
                        }
                    }
                }
            }
            finally
            {
                SimdLevel.MaxVectorBits = saved;
            }
        }
    }

    [Fact]
    public void BadHeadCountsAreNamed()
    {
        var s = Make(81, 1, 2, 0, 2, [1], 4, 2, 16);
        var node = s.Model.Graph.Nodes[0];
        var attrs = new Dictionary<string, OnnxAttribute>(node.Attributes) { ["kv_num_heads"] = Int("kv_num_heads", 3) };
        var model = Model(Ms, "GroupQueryAttention", node.Inputs, s.Feeds, new Dictionary<string, Tensor>(s.Model.Graph.Initializers), ["y", "present_k", "present_v"], 21, [.. attrs.Values]);
        var ex = Assert.Throws<ModelException>(() => RunProva(model, s.Feeds));
        Assert.Contains("kv_num_heads=3", ex.Message);
    }

    [Fact]
    public void KeyOfTheWrongWidthIsNamed()
    {
        var s = Make(82, 1, 2, 0, 2, [1], 4, 2, 16);
        s.Feeds["k"] = F([1, 2, 48], new float[96]);
        var model = Model(Ms, "GroupQueryAttention", s.Model.Graph.Nodes[0].Inputs, s.Feeds, new Dictionary<string, Tensor>(s.Model.Graph.Initializers), ["y", "present_k", "present_v"], 21, [.. s.Model.Graph.Nodes[0].Attributes.Values]);
        var ex = Assert.Throws<ModelException>(() => RunProva(model, s.Feeds));
        Assert.Contains("key of shape [1, 2, 48]", ex.Message);
    }

    [Fact]
    public void SeqlensBeyondThePresentIsAnInputError()
    {
        var s = Make(83, 1, 1, 4, 5, [9], 4, 2, 16);
        var ex = Assert.Throws<InputException>(() => RunProva(s.Model, s.Feeds));
        Assert.Contains("seqlens_k[0] = 9", ex.Message);
    }
}
