using Prova.Core;
using Prova.Onnx;
using Xunit.Abstractions;
using static Prova.Runtime.Tests.Attention.LlmOpKit;

namespace Prova.Runtime.Tests.Attention;

/// <summary>
/// com.microsoft MultiHeadAttention against ONNX Runtime's CPU kernel (atol 1e-5, rtol 1e-4): separate and
/// BNSH key/value, bias, past → present with unidirectional, key_padding_mask (lengths and [B, T]),
/// attention_bias; packed QKV/KV (which ONNX Runtime's CPU kernel lacks) bit for bit against the same
/// data unpacked; named errors.
/// </summary>
public sealed class MultiHeadAttentionTests(ITestOutputHelper output)
{
    private const int B = 2, N = 2, S = 3, D = 8;

    private Dictionary<string, Tensor> Feeds(int seed, int l, int past, int dv = D)
    {
        output.WriteLine($"seed {seed}");
        var rng = new Random(seed);
        var f = new Dictionary<string, Tensor>
        {
            ["q"] = F([B, S, N * D], Random(rng, B * S * N * D)),
            ["k"] = F([B, l, N * D], Random(rng, B * l * N * D)),
            ["v"] = F([B, l, N * dv], Random(rng, B * l * N * dv)),
            ["bias"] = F([N * (2 * D + dv)], Random(rng, N * (2 * D + dv))),
            ["ab"] = F([1, N, S, past + l], Random(rng, N * S * (past + l))),
            ["lens"] = Tensor.Create([B], new[] { past + l, past + l - 2 }),
        };
        var m = new int[B * (past + l)];
        for (int i = 0; i < m.Length; i++)
        {
            m[i] = i % (past + l) == 0 || rng.Next(3) != 0 ? 1 : 0;
        }
        f["mask"] = Tensor.Create([B, past + l], m);
        if (past > 0)
        {
            f["pk"] = F([B, N, past, D], Random(rng, B * N * past * D));
            f["pv"] = F([B, N, past, dv], Random(rng, B * N * past * dv));
        }
        return f;
    }

    private static void Compare(Dictionary<string, Tensor> feeds, string[] inputs, string what, params OnnxAttribute[] attrs)
    {
        var all = new List<OnnxAttribute> { Int("num_heads", N) };
        all.AddRange(attrs);
        var model = Model(Ms, "MultiHeadAttention", inputs, feeds, null, ["y", "present_k", "present_v"], 21, [.. all]);
        var ort = RunOrt(model, feeds);
        var prova = RunProva(model, feeds);
        var prova2 = RunProva(model, feeds, 2);
        foreach (var name in new[] { "y", "present_k", "present_v" })
        {
            AssertClose(ort[name], Floats(prova[name]), 1e-5f, 1e-4f, $"{what}: {name}");
            AssertBits(Floats(prova[name]), Floats(prova2[name]), $"{what}: {name} (2 threads)");
        }
    }

    [Fact]
    public void SeparateQkvMatchesOnnxRuntime() => Compare(Feeds(1, 4, 0), ["q", "k", "v"], "separate");

    [Fact]
    public void BiasAndDistinctValueHeadMatchOnnxRuntime() => Compare(Feeds(2, 5, 0, dv: 12), ["q", "k", "v", "bias"], "bias, v head 12");

    [Fact]
    public void PastWithUnidirectionalMatchesOnnxRuntime()
        => Compare(Feeds(3, 3, 4), ["q", "k", "v", "", "", "", "pk", "pv"], "past + unidirectional", Int("unidirectional", 1));

    [Fact]
    public void MasksAndAttentionBiasMatchOnnxRuntime()
    {
        Compare(Feeds(4, 3, 2), ["q", "k", "v", "", "mask", "ab", "pk", "pv"], "[B, T] mask and attention_bias");
        Compare(Feeds(5, 4, 0), ["q", "k", "v", "", "lens"], "key lengths");
    }

    [Fact]
    public void BnshKeyValueMatchesOnnxRuntime()
    {
        var rng = new Random(6);
        var feeds = new Dictionary<string, Tensor>
        {
            ["q"] = F([B, S, N * D], Random(rng, B * S * N * D)),
            ["k"] = F([B, N, 5, D], Random(rng, B * N * 5 * D)),
            ["v"] = F([B, N, 5, D], Random(rng, B * N * 5 * D)),
        };
        var model = Model(Ms, "MultiHeadAttention", ["q", "k", "v"], feeds, null, ["y"], 21, Int("num_heads", N));
        AssertClose(RunOrt(model, feeds)["y"], Floats(RunProva(model, feeds)["y"]), 1e-5f, 1e-4f, "BNSH key/value");
    }

    [Fact]
    public void PackedQkvAndKvEqualTheUnpackedResultBitForBit()
    {
        var rng = new Random(7);
        var q = Random(rng, B * S * N * D);
        var k = Random(rng, B * S * N * D);
        var v = Random(rng, B * S * N * D);
        var qkv = new float[B * S * N * 3 * D];
        var kv = new float[B * S * N * 2 * D];
        for (int i = 0; i < B * S * N; i++)
        {
            for (int j = 0; j < D; j++)
            {
                qkv[(i * 3 + 0) * D + j] = q[i * D + j];
                qkv[(i * 3 + 1) * D + j] = k[i * D + j];
                qkv[(i * 3 + 2) * D + j] = v[i * D + j];
                kv[(i * 2 + 0) * D + j] = k[i * D + j];
                kv[(i * 2 + 1) * D + j] = v[i * D + j];
            }
        }
        var sep = new Dictionary<string, Tensor> { ["q"] = F([B, S, N * D], q), ["k"] = F([B, S, N * D], k), ["v"] = F([B, S, N * D], v) };
        var expected = Floats(RunProva(Model(Ms, "MultiHeadAttention", ["q", "k", "v"], sep, null, ["y"], 21, Int("num_heads", N)), sep)["y"]);
        var packed = new Dictionary<string, Tensor> { ["qkv"] = F([B, S, N, 3, D], qkv) };
        AssertBits(expected, Floats(RunProva(Model(Ms, "MultiHeadAttention", ["qkv"], packed, null, ["y"], 21, Int("num_heads", N)), packed)["y"]), "packed QKV");
        var packedKv = new Dictionary<string, Tensor> { ["q"] = F([B, S, N * D], q), ["kv"] = F([B, S, N, 2, D], kv) };
        AssertBits(expected, Floats(RunProva(Model(Ms, "MultiHeadAttention", ["q", "kv"], packedKv, null, ["y"], 21, Int("num_heads", N)), packedKv)["y"]), "packed KV");
    }

    [Fact]
    public void MaskOfTheWrongShapeIsNamed()
    {
        var feeds = Feeds(8, 4, 0);
        feeds["mask"] = Tensor.Create([B, 3], new int[B * 3]);
        var model = Model(Ms, "MultiHeadAttention", ["q", "k", "v", "", "mask"], feeds, null, ["y"], 21, Int("num_heads", N));
        var ex = Assert.Throws<ModelException>(() => RunProva(model, feeds));
        Assert.Contains("key_padding_mask of shape [2, 3]", ex.Message);
    }
}
