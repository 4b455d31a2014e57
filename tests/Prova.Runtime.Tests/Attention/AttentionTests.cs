using Prova.Core;
using Prova.Onnx;
using Prova.Runtime.Ops.Linear;
using Xunit.Abstractions;
using static Prova.Runtime.Tests.Attention.LlmOpKit;

namespace Prova.Runtime.Tests.Attention;

/// <summary>
/// ONNX Attention-23 against ONNX Runtime (atol 1e-5, rtol 1e-4): 4-D and 3-D inputs, past → present,
/// causal with a past offset, GQA ratios 1 and &gt; 1, float and bool masks with broadcasting, softcap and
/// scale, a value head size different from the key's; bit-identical across threads and widths; named errors.
/// </summary>
[Collection("SimdLevel")]
public sealed class AttentionTests(ITestOutputHelper output)
{
    private sealed record Spec(int Batch, int QHeads, int KvHeads, int S, int L, int Past, int D, int Dv, bool ThreeD = false, bool Causal = false, int[]? MaskShape = null, bool BoolMask = false, float Softcap = 0f, float Scale = 0f);

    private (OnnxModel Model, Dictionary<string, Tensor> Feeds) Make(int seed, Spec p)
    {
        output.WriteLine($"seed {seed}");
        var rng = new Random(seed);
        var feeds = new Dictionary<string, Tensor>();
        if (p.ThreeD)
        {
            feeds["q"] = F([p.Batch, p.S, p.QHeads * p.D], Random(rng, p.Batch * p.S * p.QHeads * p.D));
            feeds["k"] = F([p.Batch, p.L, p.KvHeads * p.D], Random(rng, p.Batch * p.L * p.KvHeads * p.D));
            feeds["v"] = F([p.Batch, p.L, p.KvHeads * p.Dv], Random(rng, p.Batch * p.L * p.KvHeads * p.Dv));
        }
        else
        {
            feeds["q"] = F([p.Batch, p.QHeads, p.S, p.D], Random(rng, p.Batch * p.S * p.QHeads * p.D));
            feeds["k"] = F([p.Batch, p.KvHeads, p.L, p.D], Random(rng, p.Batch * p.L * p.KvHeads * p.D));
            feeds["v"] = F([p.Batch, p.KvHeads, p.L, p.Dv], Random(rng, p.Batch * p.L * p.KvHeads * p.Dv));
        }
        if (p.MaskShape is { } ms)
        {
            int count = ms.Aggregate(1, (a, b) => a * b);
            if (p.BoolMask)
            {
                var m = new bool[count];
                for (int i = 0; i < count; i++)
                {
                    m[i] = rng.Next(4) != 0 || i % ms[^1] == 0;
                }
                feeds["mask"] = Tensor.Create(ms, m);
            }
            else
            {
                feeds["mask"] = F(ms, Random(rng, count, 2f));
            }
        }
        if (p.Past > 0)
        {
            feeds["pk"] = F([p.Batch, p.KvHeads, p.Past, p.D], Random(rng, p.Batch * p.KvHeads * p.Past * p.D));
            feeds["pv"] = F([p.Batch, p.KvHeads, p.Past, p.Dv], Random(rng, p.Batch * p.KvHeads * p.Past * p.Dv));
        }
        var attrs = new List<OnnxAttribute>();
        if (p.ThreeD)
        {
            attrs.Add(Int("q_num_heads", p.QHeads));
            attrs.Add(Int("kv_num_heads", p.KvHeads));
        }
        if (p.Causal)
        {
            attrs.Add(Int("is_causal", 1));
        }
        if (p.Softcap > 0)
        {
            attrs.Add(Float("softcap", p.Softcap));
        }
        if (p.Scale != 0)
        {
            attrs.Add(Float("scale", p.Scale));
        }
        string[] inputs = ["q", "k", "v", p.MaskShape is null ? "" : "mask", p.Past > 0 ? "pk" : "", p.Past > 0 ? "pv" : ""];
        var model = Model("", "Attention", inputs, feeds, null, ["y", "present_k", "present_v"], 23, [.. attrs]);
        return (model, feeds);
    }

    private void Compare(int seed, Spec p)
    {
        var (model, feeds) = Make(seed, p);
        var ort = RunOrt(model, feeds);
        var prova = RunProva(model, feeds);
        foreach (var name in new[] { "y", "present_k", "present_v" })
        {
            AssertClose(ort[name], Floats(prova[name]), 1e-5f, 1e-4f, $"{p}: {name}");
        }
    }

    [Fact]
    public void FourDPrefillMatchesOnnxRuntime() => Compare(1, new Spec(2, 2, 2, 5, 5, 0, 16, 16));

    [Fact]
    public void CausalDecodeWithPastAndGqaMatchesOnnxRuntime()
    {
        Compare(2, new Spec(1, 8, 2, 1, 1, 9, 32, 32, Causal: true));
        Compare(3, new Spec(2, 4, 2, 3, 3, 4, 16, 16, Causal: true));
        Compare(4, new Spec(1, 4, 4, 6, 6, 0, 16, 16, Causal: true));
    }

    [Fact]
    public void ThreeDWithFloatMaskAndDistinctValueHeadMatchesOnnxRuntime()
    {
        Compare(5, new Spec(2, 4, 2, 3, 5, 0, 8, 12, ThreeD: true, MaskShape: [3, 5]));
        Compare(6, new Spec(1, 2, 1, 2, 2, 3, 8, 8, ThreeD: true, MaskShape: [1, 2, 2, 5], Causal: true));
    }

    [Fact]
    public void BoolMaskBroadcastMatchesOnnxRuntime()
    {
        Compare(7, new Spec(2, 2, 2, 4, 4, 0, 16, 16, MaskShape: [2, 1, 4, 4], BoolMask: true));
        Compare(8, new Spec(1, 2, 2, 1, 1, 5, 16, 16, MaskShape: [1, 6], BoolMask: true));
    }

    [Fact]
    public void SoftcapAndScaleMatchOnnxRuntime() => Compare(9, new Spec(1, 2, 2, 4, 4, 0, 16, 16, Causal: true, Softcap: 1.5f, Scale: 0.7f));

    [Fact]
    public void OutputsAreBitIdenticalAcrossThreadsAndVectorWidths()
    {
        var (model, feeds) = Make(10, new Spec(2, 8, 2, 5, 5, 7, 24, 40, Causal: true, MaskShape: [5, 12], Softcap: 3f));
        var baseline = RunProva(model, feeds, 1);
        int saved = SimdLevel.MaxVectorBits;
        try
        {
            foreach (int bits in new[] { 512, 256, 128, 0 })
            {
                SimdLevel.MaxVectorBits = bits;
                foreach (int threads in new[] { 1, 2, 3 })
                {
                    var y = RunProva(model, feeds, threads);
                    AssertBits(Floats(baseline["y"]), Floats(y["y"]), $"y (threads {threads}, bits {bits})");
                }
            }
        }
        finally
        {
            SimdLevel.MaxVectorBits = saved;
        }
    }

    [Fact]
    public void HeadsThatDoNotDivideAreNamed()
    {
        var (_, feeds) = Make(11, new Spec(1, 3, 2, 2, 2, 0, 8, 8));
        var model = Model("", "Attention", ["q", "k", "v"], feeds, null, ["y"], 23);
        var ex = Assert.Throws<ModelException>(() => RunProva(model, feeds));
        Assert.Contains("3 query heads are not a multiple of the 2", ex.Message);
    }

    [Fact]
    public void MaskThatDoesNotBroadcastIsNamed()
    {
        var (model, feeds) = Make(12, new Spec(1, 2, 2, 3, 3, 0, 8, 8, MaskShape: [2, 3]));
        var ex = Assert.Throws<ModelException>(() => RunProva(model, feeds));
        Assert.Contains("attn_mask of shape [2, 3] does not broadcast", ex.Message);
    }

    [Fact]
    public void AttentionBeforeOpset23IsNamed()
    {
        var (_, feeds) = Make(13, new Spec(1, 2, 2, 2, 2, 0, 8, 8));
        var model = Model("", "Attention", ["q", "k", "v"], feeds, null, ["y"], 21);
        var ex = Assert.Throws<ModelException>(() => RunProva(model, feeds));
        Assert.Contains("from opset 23", ex.Message);
    }
}
