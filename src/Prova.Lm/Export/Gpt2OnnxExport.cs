using Prova.Core;
using Prova.Onnx;

namespace Prova.Lm.Export;

/// <summary>
/// Writes GPT-2 weights as an ONNX decoder with a KV cache in Hugging Face Optimum's layout (what
/// <c>optimum-cli export onnx --task text-generation-with-past</c> writes for GPT-2), so the file drops into
/// any runtime that loads Optimum exports:
/// <list type="bullet">
/// <item>inputs <c>input_ids</c> int64 [batch_size, sequence_length], <c>attention_mask</c> int64
/// [batch_size, past_sequence_length + sequence_length], <c>position_ids</c> int64 [batch_size, sequence_length],
/// <c>past_key_values.{i}.key</c>/<c>.value</c> float32 [batch_size, n_head, past_sequence_length, head_dim];</item>
/// <item>outputs <c>logits</c> float32 [batch_size, sequence_length, vocab] and <c>present.{i}.key</c>/<c>.value</c>
/// [batch_size, n_head, past_sequence_length + sequence_length, head_dim].</item>
/// </list>
/// The graph follows the torch trace of transformers' GPT2LMHeadModel: Gather embeddings, LayerNormalization,
/// MatMul+Add for each Conv1D, Split of c_attn into q/k/v, Reshape/Transpose into heads, Concat with the past
/// along axis 2, QKᵀ / √head_dim, a causal + padding mask built in-graph from attention_mask (key j of query i is
/// masked when j &gt; i + past or attention_mask[j] == 0; masked scores become float32's minimum, as transformers
/// fills them, so a fully masked row is uniform rather than NaN), Softmax, ·V, merged heads, c_proj, residuals,
/// gelu_new (0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))), ln_f, and logits = h · wteᵀ (the tied embedding,
/// stored once and transposed by a Transpose node). Default domain only, opset 17 or 18.
/// </summary>
public static class Gpt2OnnxExport
{
    /// <summary>Symbolic dims, spelled as Optimum writes them.</summary>
    public const string BatchDim = "batch_size";
    public const string SequenceDim = "sequence_length";
    public const string PastDim = "past_sequence_length";
    public const string TotalDim = "past_sequence_length + sequence_length";

    /// <summary>Builds the model; throws <see cref="LmException"/> when the weights do not fit the config.</summary>
    public static OnnxModel Build(Gpt2Config config, Gpt2Weights weights, int opset = 17, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(weights);
        weights.Validate(config);
        if (opset is not (17 or 18))
        {
            throw new LmException($"GPT-2 export: opset {opset} is not supported (17 or 18)");
        }
        int d = config.Embd;
        int heads = config.Heads;
        int hd = config.HeadDim;
        var b = new ModelBuilder(opset, "main_graph");

        string inputIds = b.Input("input_ids", DataType.Int64, -1, -2);
        string attentionMask = b.Input("attention_mask", DataType.Int64, -1, -3);
        string positionIds = b.Input("position_ids", DataType.Int64, -1, -2);
        var pastKeys = new string[config.Layers];
        var pastValues = new string[config.Layers];
        for (int i = 0; i < config.Layers; i++)
        {
            pastKeys[i] = b.Input($"past_key_values.{i}.key", DataType.Float32, -1, heads, -4, hd);
            pastValues[i] = b.Input($"past_key_values.{i}.value", DataType.Float32, -1, heads, -4, hd);
        }

        string wte = b.Initializer("transformer.wte.weight", Tensor.Create([config.Vocab, d], weights.Wte));
        string wpe = b.Initializer("transformer.wpe.weight", Tensor.Create([config.Positions, d], weights.Wpe));

        // Mask: allowed[b, 0, i, j] = (j <= past + i) and attention_mask[b, j] != 0.
        string one = b.Constant(I64Scalar(1));
        string zero = b.Constant(I64Scalar(0));
        string seqLen = b.Node("Gather", [b.Node("Shape", [inputIds]), one], [("axis", 0L)]);
        string totalLen = b.Node("Gather", [b.Node("Shape", [attentionMask]), one], [("axis", 0L)]);
        string pastLen = b.Node("Sub", [totalLen, seqLen]);
        string queryPos = b.Node("Unsqueeze", [b.Node("Range", [pastLen, totalLen, one]), b.Constant(I64(1))]);
        string keyPos = b.Node("Range", [zero, totalLen, one]);
        string causal = b.Node("LessOrEqual", [keyPos, queryPos]);
        string padding = b.Node("Unsqueeze", [b.Node("Cast", [attentionMask], [("to", (long)DataType.Bool)]), b.Constant(I64(1, 2))]);
        string allowed = b.Node("And", [causal, padding]);
        string maskFill = b.Constant(F32Scalar(float.MinValue));

        string headShape = b.Constant(I64(0, 0, heads, hd));
        string mergedShape = b.Constant(I64(0, 0, d));
        string qkvSplit = b.Constant(I64(d, d, d));
        string scale = b.Constant(F32Scalar(MathF.Sqrt(hd)));
        string half = b.Constant(F32Scalar(0.5f));
        string oneF = b.Constant(F32Scalar(1f));
        string three = b.Constant(F32Scalar(3f));
        string geluCoeff = b.Constant(F32Scalar(0.044715f));
        string geluScale = b.Constant(F32Scalar((float)Math.Sqrt(2.0 / Math.PI)));

        string x = b.Node("Add", [b.Node("Gather", [wte, inputIds]), b.Node("Gather", [wpe, positionIds])]);
        var presents = new List<(string Value, string Name)>();
        for (int i = 0; i < config.Layers; i++)
        {
            var l = weights.Layers[i];
            string p = $"transformer.h.{i}.";
            string h = LayerNorm(b, x, p + "ln_1", l.Ln1Gamma, l.Ln1Beta, config.LayerNormEpsilon);
            string qkv = Linear(b, h, p + "attn.c_attn", l.AttnW, l.AttnB, d, 3 * d);
            string[] parts = b.NodeMulti("Split", [qkv, qkvSplit], 3, [("axis", 2L)]);
            string q = Heads(b, parts[0], headShape);
            string key = b.Node("Concat", [pastKeys[i], Heads(b, parts[1], headShape)], [("axis", 2L)]);
            string value = b.Node("Concat", [pastValues[i], Heads(b, parts[2], headShape)], [("axis", 2L)]);
            presents.Add((key, $"present.{i}.key"));
            presents.Add((value, $"present.{i}.value"));
            string keyT = b.Node("Transpose", [key], [("perm", new long[] { 0, 1, 3, 2 })]);
            string scores = b.Node("Div", [b.Node("MatMul", [q, keyT]), scale]);
            scores = b.Node("Where", [allowed, scores, maskFill]);
            string probs = b.Node("Softmax", [scores], [("axis", -1L)]);
            string context = b.Node("MatMul", [probs, value]);
            context = b.Node("Transpose", [context], [("perm", new long[] { 0, 2, 1, 3 })]);
            context = b.Node("Reshape", [context, mergedShape]);
            x = b.Node("Add", [x, Linear(b, context, p + "attn.c_proj", l.AttnProjW, l.AttnProjB, d, d)]);

            h = LayerNorm(b, x, p + "ln_2", l.Ln2Gamma, l.Ln2Beta, config.LayerNormEpsilon);
            string fc = Linear(b, h, p + "mlp.c_fc", l.FcW, l.FcB, d, 4 * d);
            // gelu_new, in transformers' order: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
            string cube = b.Node("Pow", [fc, three]);
            string inner = b.Node("Mul", [b.Node("Add", [fc, b.Node("Mul", [geluCoeff, cube])]), geluScale]);
            string gelu = b.Node("Mul", [b.Node("Mul", [half, fc]), b.Node("Add", [oneF, b.Node("Tanh", [inner])])]);
            x = b.Node("Add", [x, Linear(b, gelu, p + "mlp.c_proj", l.FcProjW, l.FcProjB, 4 * d, d)]);
        }
        x = LayerNorm(b, x, "transformer.ln_f", weights.LnFGamma, weights.LnFBeta, config.LayerNormEpsilon);
        string logits = b.Node("MatMul", [x, b.Node("Transpose", [wte], [("perm", new long[] { 1, 0 })])]);

        b.Output(logits, "logits");
        foreach (var (value, name) in presents)
        {
            b.Output(value, name);
        }
        b.Metadata("model_type", "gpt2");
        foreach (var (key, value) in metadata ?? new Dictionary<string, string>())
        {
            b.Metadata(key, value);
        }
        var model = b.Build();
        NameDims(model, config);
        return model;
    }

    /// <summary>Builds and saves the model as one .onnx file.</summary>
    public static void Save(Gpt2Config config, Gpt2Weights weights, string path, int opset = 17, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var model = Build(config, weights, opset, metadata);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        OnnxWriter.Save(model, path);
    }

    // Replaces the builder's generic symbols by Optimum's dim names and declares the output shapes.
    private static void NameDims(OnnxModel model, Gpt2Config config)
    {
        var batch = Dim.Symbolic(BatchDim);
        var seq = Dim.Symbolic(SequenceDim);
        var past = Dim.Symbolic(PastDim);
        var total = Dim.Symbolic(TotalDim);
        var heads = Dim.Fixed(config.Heads);
        var hd = Dim.Fixed(config.HeadDim);
        var graph = model.Graph;
        for (int i = 0; i < graph.Inputs.Count; i++)
        {
            var input = graph.Inputs[i];
            Dim[] shape = input.Name switch
            {
                "input_ids" or "position_ids" => [batch, seq],
                "attention_mask" => [batch, total],
                _ => [batch, heads, past, hd],
            };
            graph.Inputs[i] = new ValueInfo { Name = input.Name, ElementType = input.ElementType, Shape = shape };
        }
        for (int i = 0; i < graph.Outputs.Count; i++)
        {
            var output = graph.Outputs[i];
            Dim[] shape = output.Name == "logits" ? [batch, seq, Dim.Fixed(config.Vocab)] : [batch, heads, total, hd];
            graph.Outputs[i] = new ValueInfo { Name = output.Name, ElementType = DataType.Float32, Shape = shape };
        }
    }

    private static string LayerNorm(ModelBuilder b, string x, string prefix, float[] gamma, float[] beta, float epsilon)
    {
        string g = b.Initializer(prefix + ".weight", Tensor.Create([gamma.Length], gamma));
        string bias = b.Initializer(prefix + ".bias", Tensor.Create([beta.Length], beta));
        return b.Node("LayerNormalization", [x, g, bias], [("axis", -1L), ("epsilon", epsilon)]);
    }

    private static string Linear(ModelBuilder b, string x, string prefix, float[] w, float[] bias, int input, int output)
    {
        string wName = b.Initializer(prefix + ".weight", Tensor.Create([input, output], w));
        string bName = b.Initializer(prefix + ".bias", Tensor.Create([output], bias));
        return b.Node("Add", [b.Node("MatMul", [x, wName]), bName]);
    }

    // [B, S, d] → [B, heads, S, head_dim].
    private static string Heads(ModelBuilder b, string x, string headShape) =>
        b.Node("Transpose", [b.Node("Reshape", [x, headShape])], [("perm", new long[] { 0, 2, 1, 3 })]);

    private static Tensor I64(params long[] values) => Tensor.Create([values.Length], values);

    private static Tensor I64Scalar(long value) => Tensor.Create<long>([], [value]);

    private static Tensor F32Scalar(float value) => Tensor.Create<float>([], [value]);
}
