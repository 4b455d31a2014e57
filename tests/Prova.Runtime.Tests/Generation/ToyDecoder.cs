using Prova.Core;
using Prova.Onnx;
using Prova.Runtime.Tests.TestModels;

namespace Prova.Runtime.Tests.Generation;

/// <summary>
/// A small decoder-only transformer with a KV cache in the Optimum layout (input_ids, attention_mask,
/// position_ids, past_key_values.N.key/value → logits, present.N.key/value; present = Concat(past, new)),
/// built from default-domain ops only: learned positions, causal mask sliced from a constant like the
/// original GPT-2 export, padding mask from attention_mask. Random weights from a seed.
/// </summary>
internal static class ToyDecoder
{
    public const int Vocab = 37;
    public const int Positions = 512;

    public static OnnxModel Build(int seed, int layers = 2, int heads = 2, int headDim = 8, bool withPositionIds = true)
    {
        var rng = new Random(seed);
        int d = heads * headDim;
        var b = new ModelBuilder(opset: 17, graphName: "toy_decoder");
        var ids = b.Input("input_ids", DataType.Int64, -1, -2);
        var mask = b.Input("attention_mask", DataType.Int64, -1, -3);
        string? positions = withPositionIds ? b.Input("position_ids", DataType.Int64, -1, -2) : null;
        var past = new List<(string K, string V)>();
        for (int l = 0; l < layers; l++)
        {
            past.Add((b.Input($"past_key_values.{l}.key", DataType.Float32, -1, heads, -4, headDim),
                b.Input($"past_key_values.{l}.value", DataType.Float32, -1, heads, -4, headDim)));
        }
        var wte = b.Initializer("wte", RandomModels.Uniform(rng, 1f, Vocab, d));
        var wpe = b.Initializer("wpe", RandomModels.Uniform(rng, 0.5f, Positions, d));
        var x = b.Node("Gather", [wte, ids]);
        if (positions is null)
        {
            // Positions from the mask, as older exports compute them: cumsum(mask) - 1 would need CumSum;
            // this toy uses the past length instead (Shape of the cache).
            var pastLen = b.Node("Gather", [b.Node("Shape", [past[0].K]), b.Constant(Tensor.Create<long>([], [2L]))]);
            var seqLen = b.Node("Gather", [b.Node("Shape", [ids]), b.Constant(Tensor.Create<long>([], [1L]))]);
            var range = b.Node("Range", [pastLen, b.Node("Add", [pastLen, seqLen]), b.Constant(Tensor.Create<long>([], [1L]))]);
            positions = b.Node("Unsqueeze", [range, b.Constant(RandomModels.Int64s(0))]);
        }
        x = b.Node("Add", [x, b.Node("Gather", [wpe, positions])]);

        // Causal mask rows [T - S, T) of a lower-triangular constant, as bool [S, T].
        var tri = new bool[Positions * Positions];
        for (int i = 0; i < Positions; i++)
        {
            for (int j = 0; j <= i; j++)
            {
                tri[i * Positions + j] = true;
            }
        }
        var bias = b.Initializer("causal", Tensor.Create<bool>([Positions, Positions], tri));
        var sLen = b.Node("Slice", [b.Node("Shape", [ids]), b.Constant(RandomModels.Int64s(1)), b.Constant(RandomModels.Int64s(2))]);
        var tLen = b.Node("Slice", [b.Node("Shape", [mask]), b.Constant(RandomModels.Int64s(1)), b.Constant(RandomModels.Int64s(2))]);
        var causal = b.Node("Slice", [bias, b.Node("Sub", [tLen, sLen]), tLen, b.Constant(RandomModels.Int64s(0))]);
        causal = b.Node("Slice", [causal, b.Constant(RandomModels.Int64s(0)), tLen, b.Constant(RandomModels.Int64s(1))]);
        var padding = b.Node("Cast", [b.Node("Unsqueeze", [mask, b.Constant(RandomModels.Int64s(1, 2))])], [("to", (long)DataType.Bool)]);
        var allowed = b.Node("And", [causal, padding]);
        var minusInf = b.Constant(Tensor.Create<float>([], [-3.4028234663852886e38f]));
        var scale = b.Constant(Tensor.Create<float>([], [1f / MathF.Sqrt(headDim)]));
        var headsShape = b.Constant(RandomModels.Int64s(0, -1, heads, headDim));
        var mergeShape = b.Constant(RandomModels.Int64s(0, -1, d));

        for (int l = 0; l < layers; l++)
        {
            string Heads(string t) => b.Node("Transpose", [b.Node("Reshape", [t, headsShape])], [("perm", new long[] { 0, 2, 1, 3 })]);
            string Proj(string t, string name) => b.Node("MatMul", [t, b.Initializer($"l{l}.{name}", RandomModels.Uniform(rng, 1f / MathF.Sqrt(d), d, d))]);
            var h = b.Node("LayerNormalization", [x, b.Constant(RandomModels.Between(rng, 0.8f, 1.2f, d)), b.Constant(RandomModels.Uniform(rng, 0.1f, d))], [("axis", -1L)]);
            var q = Heads(Proj(h, "q"));
            var k = b.Node("Concat", [past[l].K, Heads(Proj(h, "k"))], [("axis", 2L)]);
            var v = b.Node("Concat", [past[l].V, Heads(Proj(h, "v"))], [("axis", 2L)]);
            b.Output(k, $"present.{l}.key", DataType.Float32, [-1, heads, -3, headDim]);
            b.Output(v, $"present.{l}.value", DataType.Float32, [-1, heads, -3, headDim]);
            var scores = b.Node("Mul", [b.Node("MatMul", [q, b.Node("Transpose", [$"present.{l}.key"], [("perm", new long[] { 0, 1, 3, 2 })])]), scale]);
            scores = b.Node("Where", [allowed, scores, minusInf]);
            var attn = b.Node("MatMul", [b.Node("Softmax", [scores], [("axis", -1L)]), $"present.{l}.value"]);
            var merged = b.Node("Reshape", [b.Node("Transpose", [attn], [("perm", new long[] { 0, 2, 1, 3 })]), mergeShape]);
            x = b.Node("Add", [x, Proj(merged, "o")]);
            var ff = b.Node("Tanh", [b.Node("MatMul", [x, b.Initializer($"l{l}.fc", RandomModels.Uniform(rng, 1f / MathF.Sqrt(d), d, 2 * d))])]);
            x = b.Node("Add", [x, b.Node("MatMul", [ff, b.Initializer($"l{l}.proj", RandomModels.Uniform(rng, 1f / MathF.Sqrt(2 * d), 2 * d, d))])]);
        }
        var logits = b.Node("MatMul", [x, b.Initializer("lm_head", RandomModels.Uniform(rng, 2f / MathF.Sqrt(d), d, Vocab))]);
        b.Output(logits, "logits", DataType.Float32, [-1, -2, Vocab]);
        return b.Build();
    }
}
