using System.Text;
using System.Text.Json;
using Prova.Core;
using Prova.Onnx;

namespace Prova.Lm.Export;

/// <summary>Shape of a Llama-architecture decoder (the fields of a Hugging Face LlamaConfig that the graph needs).</summary>
public sealed record LlamaConfig
{
    public int VocabSize { get; init; } = 32000;

    public int HiddenSize { get; init; } = 768;

    public int NumLayers { get; init; } = 8;

    public int NumHeads { get; init; } = 12;

    public int NumKvHeads { get; init; } = 4;

    public int IntermediateSize { get; init; } = 2048;

    /// <summary>max_position_embeddings: rows of the cos/sin caches and genai_config's context_length.</summary>
    public int ContextLength { get; init; } = 2048;

    public float RopeTheta { get; init; } = 10000f;

    public float RmsNormEps { get; init; } = 1e-5f;

    public int BosTokenId { get; init; } = 1;

    public int EosTokenId { get; init; } = 2;

    public int HeadSize => HiddenSize / NumHeads;

    /// <summary>A 2-layer model small enough for unit tests (vocab 256, hidden 64, 4 heads over 2 KV heads).</summary>
    public static LlamaConfig Tiny => new()
    {
        VocabSize = 256,
        HiddenSize = 64,
        NumLayers = 2,
        NumHeads = 4,
        NumKvHeads = 2,
        IntermediateSize = 128,
        ContextLength = 256,
    };

    /// <summary>About 105M parameters: vocab 32000, hidden 768, 8 layers, 12 heads over 4 KV heads, MLP 2048.</summary>
    public static LlamaConfig Small100M => new();

    /// <summary>Parameters of the model (embedding and lm_head counted separately: they are not tied).</summary>
    public long ParameterCount
    {
        get
        {
            long h = HiddenSize, kv = (long)NumKvHeads * HeadSize;
            long perLayer = h * (h + 2 * kv) + h * h + 3 * h * IntermediateSize + 2 * h;
            return 2 * (long)VocabSize * h + NumLayers * perLayer + h;
        }
    }

    internal void Validate()
    {
        static void Positive(int value, string name)
        {
            if (value <= 0)
            {
                throw new LmException($"Llama config: {name} must be positive, got {value}");
            }
        }
        Positive(VocabSize, nameof(VocabSize));
        Positive(HiddenSize, nameof(HiddenSize));
        Positive(NumLayers, nameof(NumLayers));
        Positive(NumHeads, nameof(NumHeads));
        Positive(NumKvHeads, nameof(NumKvHeads));
        Positive(IntermediateSize, nameof(IntermediateSize));
        Positive(ContextLength, nameof(ContextLength));
        if (HiddenSize % NumHeads != 0)
        {
            throw new LmException($"Llama config: HiddenSize {HiddenSize} is not a multiple of NumHeads {NumHeads}");
        }
        if (NumHeads % NumKvHeads != 0)
        {
            throw new LmException($"Llama config: NumHeads {NumHeads} is not a multiple of NumKvHeads {NumKvHeads}");
        }
        if (HeadSize % 2 != 0)
        {
            throw new LmException($"Llama config: the head size {HeadSize} must be even for rotary embeddings");
        }
        if (!(RopeTheta > 1f) || !(RmsNormEps > 0f))
        {
            throw new LmException($"Llama config: RopeTheta must be > 1 and RmsNormEps > 0 (got {RopeTheta}, {RmsNormEps})");
        }
    }
}

/// <summary>Weight precision of an exported model, as the GenAI model builder's <c>-p</c> option for the CPU provider.</summary>
public enum LlamaPrecision
{
    /// <summary>float32 weights, plain MatMul (<c>-p fp32 -e cpu</c>).</summary>
    Fp32,

    /// <summary>
    /// 4-bit weights in <c>com.microsoft:MatMulNBits</c> (<c>-p int4 -e cpu</c>): block 32, symmetric (no zero points),
    /// accuracy_level 4; every MatMul including lm_head; the embedding stays float32.
    /// </summary>
    Int4,
}

/// <summary>
/// Writes Llama-architecture decoders with random weights in the layout of the ONNX Runtime GenAI model builder
/// (onnxruntime-genai src/python/py/models/builder.py with builders/base.py, CPU execution provider), so that
/// ONNX Runtime, ONNX Runtime GenAI and Prova load the same file.
/// <para>
/// Graph, as the builder emits it for a CPU fp32/int4 Llama: inputs <c>input_ids</c> [batch, seq] int64,
/// <c>attention_mask</c> [batch, total_seq] int64, <c>past_key_values.{i}.key/value</c> [batch, kv_heads, past, head];
/// outputs <c>logits</c> [batch, seq, vocab] and <c>present.{i}.key/value</c> [batch, kv_heads, total_seq, head].
/// The attention-mask subgraph turns the mask into GroupQueryAttention's <c>seqlens_k</c> = ReduceSum(mask, axis 1) − 1
/// (int32) and <c>total_sequence_length</c> = Shape(mask)[1] (int32). Embedding is a Gather; each layer is
/// (Skip)SimplifiedLayerNormalization → packed QKV MatMul → GroupQueryAttention with do_rotary and the cos/sin caches
/// (no position_ids input: GQA derives positions from seqlens_k) → o_proj → SkipSimplifiedLayerNormalization →
/// gate/up MatMul → SiLU as Sigmoid·x → Mul → down MatMul; then a final SkipSimplifiedLayerNormalization and lm_head.
/// Node, value and initializer names follow the builder's ("/model/layers.0/attn/qkv_proj/MatMul",
/// "model.layers.0.attn.qkv_proj.MatMul.weight", int4: "…MatMul_Q4" with "…weight_Q4" and "…weight_scales").
/// </para>
/// <para>
/// Deliberate differences: the KV cache's last dim is the fixed head size (newer builders write a symbolic
/// "kv_cache_dim"), no type/shape annotations of intermediate values, producer name "prova".
/// Int4 quantisation reproduces ORT's MatMulNBitsQuantizer default (MLAS blockwise, column-wise blocks of 32 along K):
/// scale = (the block's value of largest magnitude) / −8, q = clamp(roundf(w / scale + 8), 0, 15), two rows per byte
/// (low nibble first), B laid out [N, K/32, 16], scales [N·K/32].
/// </para>
/// </summary>
public static class LlamaGenAiExport
{
    public const int BlockSize = 32;
    public const int AccuracyLevel = 4;

    /// <summary>
    /// Builds the model. Weights are drawn from <paramref name="seed"/> (same seed, same bytes on every machine):
    /// uniform with standard deviation 1/sqrt(fan_in) for projections, 1 for the embedding, norm weights 1 ± 0.1;
    /// <paramref name="logitScale"/> multiplies lm_head so the next-token distribution is peaked enough for greedy tests.
    /// </summary>
    public static OnnxModel Build(LlamaConfig config, LlamaPrecision precision, ulong seed, float logitScale = 4f)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        var g = new GraphWriter(precision);
        var rng = new SplitMix64(seed);
        int h = config.HiddenSize, hd = config.HeadSize, kvSize = config.NumKvHeads * hd, qSize = config.NumHeads * hd;
        int layers = config.NumLayers;

        // Graph inputs and outputs, in the builder's order.
        g.Inputs.Add(Value("input_ids", DataType.Int64, Sym("batch_size"), Sym("sequence_length")));
        g.Inputs.Add(Value("attention_mask", DataType.Int64, Sym("batch_size"), Sym("total_sequence_length")));
        for (int i = 0; i < layers; i++)
        {
            g.Inputs.Add(Value($"past_key_values.{i}.key", DataType.Float32, Sym("batch_size"), Dim.Fixed(config.NumKvHeads), Sym("past_sequence_length"), Dim.Fixed(hd)));
            g.Inputs.Add(Value($"past_key_values.{i}.value", DataType.Float32, Sym("batch_size"), Dim.Fixed(config.NumKvHeads), Sym("past_sequence_length"), Dim.Fixed(hd)));
        }
        g.Outputs.Add(Value("logits", DataType.Float32, Sym("batch_size"), Sym("sequence_length"), Dim.Fixed(config.VocabSize)));
        for (int i = 0; i < layers; i++)
        {
            g.Outputs.Add(Value($"present.{i}.key", DataType.Float32, Sym("batch_size"), Dim.Fixed(config.NumKvHeads), Sym("total_sequence_length"), Dim.Fixed(hd)));
            g.Outputs.Add(Value($"present.{i}.value", DataType.Float32, Sym("batch_size"), Dim.Fixed(config.NumKvHeads), Sym("total_sequence_length"), Dim.Fixed(hd)));
        }

        // Attention-mask reformatting for GroupQueryAttention.
        const string mask = "/model/attn_mask_reformat/attn_mask_subgraph";
        string one1d = g.Constant("/model/constants/INT64/[1]", Tensor.Create([1], new long[] { 1 }));
        g.Node("ReduceSum", $"{mask}/ReduceSum", ["attention_mask", one1d], attributes: [("keepdims", 0L)]);
        g.Node("Sub", $"{mask}/Sub", [$"{mask}/ReduceSum/output_0", one1d]);
        g.Node("Cast", $"{mask}/Sub/Cast", [$"{mask}/Sub/output_0"], attributes: [("to", (long)DataType.Int32)]);
        g.Node("Shape", $"{mask}/Shape", ["attention_mask"]);
        string oneScalar = g.Constant("/model/constants/INT64/1", Tensor.Create([], new long[] { 1 }));
        g.Node("Gather", $"{mask}/Gather", [$"{mask}/Shape/output_0", oneScalar], attributes: [("axis", 0L)]);
        g.Node("Cast", $"{mask}/Gather/Cast", [$"{mask}/Gather/output_0"], attributes: [("to", (long)DataType.Int32)]);
        string seqlensK = $"{mask}/Sub/Cast/output_0", totalSeqLen = $"{mask}/Gather/Cast/output_0";

        // Embedding.
        g.Initializers["model.embed_tokens.weight"] = RandomTensor(rng, [config.VocabSize, h], MathF.Sqrt(3f));
        g.Node("Gather", "/model/embed_tokens/Gather", ["model.embed_tokens.weight", "input_ids"]);
        string root = "/model/embed_tokens/Gather/output_0", skip = root;

        var (cos, sin) = RotaryCaches(config);
        float projectionBound(int fanIn) => MathF.Sqrt(3f / fanIn);
        for (int i = 0; i < layers; i++)
        {
            string p = $"/model/layers.{i}";
            string w = $"model.layers.{i}";

            // input_layernorm: plain for layer 0, Skip (residual add fused) afterwards.
            string inputNormWeight = NormWeight(g, rng, $"{w}.input_layernorm.weight", h);
            string normed;
            if (i == 0)
            {
                normed = g.Node("SimplifiedLayerNormalization", $"{p}/input_layernorm/LayerNorm", [root, inputNormWeight],
                    outputs: [$"{p}/input_layernorm/output_0"],
                    attributes: [("epsilon", config.RmsNormEps), ("axis", -1L), ("stash_type", 1L)]);
            }
            else
            {
                normed = SkipNorm(g, $"{p}/input_layernorm", root, skip, inputNormWeight, config.RmsNormEps, last: false);
                root = $"{p}/input_layernorm/output_3";
            }

            // Attention: packed QKV projection, GQA with rotary inside, o_proj.
            var qkv = RandomMatrix(rng, h, qSize + 2 * kvSize, projectionBound(h));
            string qkvOut = g.MatMul($"{p}/attn/qkv_proj/MatMul", normed, $"{w}.attn.qkv_proj.MatMul.weight", qkv, h, qSize + 2 * kvSize);
            if (i == 0)
            {
                g.Initializers["cos_cache"] = cos;
                g.Initializers["sin_cache"] = sin;
            }
            string[] attnOut = g.NodeMulti("GroupQueryAttention", $"{p}/attn/GroupQueryAttention",
                [qkvOut, "", "", $"past_key_values.{i}.key", $"past_key_values.{i}.value", seqlensK, totalSeqLen, "cos_cache", "sin_cache"],
                [$"{p}/attn/GroupQueryAttention/output_0", $"present.{i}.key", $"present.{i}.value"],
                domain: "com.microsoft",
                attributes:
                [
                    ("num_heads", (long)config.NumHeads),
                    ("kv_num_heads", (long)config.NumKvHeads),
                    ("scale", 1f / MathF.Sqrt(hd)),
                    ("local_window_size", -1L),
                    ("softcap", 0f),
                    ("do_rotary", 1L),
                    ("rotary_interleaved", 0L),
                ]);
            var o = RandomMatrix(rng, qSize, h, projectionBound(qSize));
            skip = g.MatMul($"{p}/attn/o_proj/MatMul", attnOut[0], $"{w}.attn.o_proj.MatMul.weight", o, qSize, h);

            string postNormWeight = NormWeight(g, rng, $"{w}.post_attention_layernorm.weight", h);
            normed = SkipNorm(g, $"{p}/post_attention_layernorm", root, skip, postNormWeight, config.RmsNormEps, last: false);
            root = $"{p}/post_attention_layernorm/output_3";

            // SiLU-gated MLP.
            int m = config.IntermediateSize;
            string gate = g.MatMul($"{p}/mlp/gate_proj/MatMul", normed, $"{w}.mlp.gate_proj.MatMul.weight", RandomMatrix(rng, h, m, projectionBound(h)), h, m);
            string up = g.MatMul($"{p}/mlp/up_proj/MatMul", normed, $"{w}.mlp.up_proj.MatMul.weight", RandomMatrix(rng, h, m, projectionBound(h)), h, m);
            string sigmoid = g.Node("Sigmoid", $"{p}/mlp/act_fn/Sigmoid", [gate]);
            string silu = g.Node("Mul", $"{p}/mlp/act_fn/Mul", [gate, sigmoid]);
            string gated = g.Node("Mul", $"{p}/mlp/Mul", [silu, up]);
            skip = g.MatMul($"{p}/mlp/down_proj/MatMul", gated, $"{w}.mlp.down_proj.MatMul.weight", RandomMatrix(rng, m, h, projectionBound(m)), m, h);
        }

        string finalWeight = NormWeight(g, rng, $"model.layers.{layers}.final_norm_layernorm.weight", h);
        string final = SkipNorm(g, $"/model/layers.{layers}/final_norm_layernorm", root, skip, finalWeight, config.RmsNormEps, last: true);
        g.MatMul("/lm_head/MatMul", final, "lm_head.MatMul.weight", RandomMatrix(rng, h, config.VocabSize, logitScale * projectionBound(h)), h, config.VocabSize, output: "logits");

        return new OnnxModel
        {
            IrVersion = 10,
            ProducerName = "prova",
            Opsets = new Dictionary<string, long>(StringComparer.Ordinal) { [""] = 21, ["com.microsoft"] = 1 },
            Metadata = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["prova.lm.architecture"] = "llama",
                ["prova.lm.layout"] = "onnxruntime-genai",
                ["prova.lm.seed"] = seed.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["prova.lm.precision"] = precision == LlamaPrecision.Int4 ? "int4" : "fp32",
            },
            Graph = new OnnxGraph
            {
                Name = "main_graph",
                Nodes = g.Nodes,
                Inputs = g.Inputs,
                Outputs = g.Outputs,
                Initializers = g.Initializers,
            },
        };
    }

    /// <summary>
    /// Writes a model folder ORT GenAI can open: <c>model.onnx</c> (initializers over 1 KiB in <c>model.onnx.data</c>
    /// when the model passes 1 GiB) and <c>genai_config.json</c>. No tokenizer files: feed token ids.
    /// Returns the path of model.onnx.
    /// </summary>
    public static string Save(string directory, LlamaConfig config, LlamaPrecision precision, ulong seed, float logitScale = 4f)
    {
        var model = Build(config, precision, seed, logitScale);
        Directory.CreateDirectory(directory);
        string path = Path.Combine(directory, "model.onnx");
        long bytes = 0;
        foreach (var t in model.Graph.Initializers.Values)
        {
            bytes += (long)t.Length * DataTypes.SizeOf(t.Type);
        }
        OnnxWriter.Save(model, path, bytes > (1L << 30) ? 1024 : null);
        File.WriteAllText(Path.Combine(directory, "genai_config.json"), GenAiConfigJson(config));
        return path;
    }

    /// <summary>The genai_config.json the builder writes for this model (CPU provider, greedy search defaults).</summary>
    public static string GenAiConfigJson(LlamaConfig config, string fileName = "model.onnx")
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        using var stream = new MemoryStream();
        using (var j = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            j.WriteStartObject();
            j.WriteStartObject("model");
            j.WriteNumber("bos_token_id", config.BosTokenId);
            j.WriteNumber("context_length", config.ContextLength);
            j.WriteStartObject("decoder");
            j.WriteStartObject("session_options");
            j.WriteString("log_id", "onnxruntime-genai");
            j.WriteStartArray("provider_options");
            j.WriteEndArray();
            j.WriteEndObject();
            j.WriteString("filename", fileName);
            j.WriteNumber("head_size", config.HeadSize);
            j.WriteNumber("hidden_size", config.HiddenSize);
            j.WriteStartObject("inputs");
            j.WriteString("input_ids", "input_ids");
            j.WriteString("attention_mask", "attention_mask");
            j.WriteString("past_key_names", "past_key_values.%d.key");
            j.WriteString("past_value_names", "past_key_values.%d.value");
            j.WriteEndObject();
            j.WriteStartObject("outputs");
            j.WriteString("logits", "logits");
            j.WriteString("present_key_names", "present.%d.key");
            j.WriteString("present_value_names", "present.%d.value");
            j.WriteEndObject();
            j.WriteNumber("num_attention_heads", config.NumHeads);
            j.WriteNumber("num_hidden_layers", config.NumLayers);
            j.WriteNumber("num_key_value_heads", config.NumKvHeads);
            j.WriteEndObject();
            j.WriteNumber("eos_token_id", config.EosTokenId);
            j.WriteNumber("pad_token_id", config.EosTokenId);
            j.WriteString("type", "llama");
            j.WriteNumber("vocab_size", config.VocabSize);
            j.WriteEndObject();
            j.WriteStartObject("search");
            j.WriteNumber("diversity_penalty", 0.0);
            j.WriteBoolean("do_sample", false);
            j.WriteBoolean("early_stopping", true);
            j.WriteNumber("length_penalty", 1.0);
            j.WriteNumber("max_length", config.ContextLength);
            j.WriteNumber("min_length", 0);
            j.WriteNumber("no_repeat_ngram_size", 0);
            j.WriteNumber("num_beams", 1);
            j.WriteNumber("num_return_sequences", 1);
            j.WriteBoolean("past_present_share_buffer", true);
            j.WriteNumber("repetition_penalty", 1.0);
            j.WriteNumber("temperature", 1.0);
            j.WriteNumber("top_k", 50);
            j.WriteNumber("top_p", 1.0);
            j.WriteEndObject();
            j.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>
    /// Quantises a row-major float matrix [k, n] (MatMul's B) the way ORT's default MatMulNBits quantizer does with
    /// symmetric 4-bit blocks of <see cref="BlockSize"/> along K. Returns B as [n, kBlocks, 16] bytes and scales [n·kBlocks].
    /// </summary>
    public static (byte[] Packed, float[] Scales) QuantizeInt4(ReadOnlySpan<float> weight, int k, int n)
    {
        if (weight.Length != (long)k * n)
        {
            throw new ArgumentException($"weight has {weight.Length} values, expected {k}×{n}", nameof(weight));
        }
        int kBlocks = (k + BlockSize - 1) / BlockSize;
        const int blob = BlockSize / 2;
        var packed = new byte[(long)n * kBlocks * blob];
        var scales = new float[(long)n * kBlocks];
        Span<byte> q = stackalloc byte[BlockSize];
        for (int col = 0; col < n; col++)
        {
            for (int b = 0; b < kBlocks; b++)
            {
                int r0 = b * BlockSize, r1 = Math.Min(r0 + BlockSize, k);
                float min = float.MaxValue, max = -float.MaxValue;
                for (int r = r0; r < r1; r++)
                {
                    float v = weight[r * n + col];
                    min = v < min ? v : min;
                    max = v > max ? v : max;
                }
                // MLAS range2scale: the value of largest magnitude (ties go to min) maps to −8.
                float extreme = MathF.Abs(max) > MathF.Abs(min) ? max : min;
                float scale = extreme / -8f;
                float reciprocal = scale != 0f ? 1f / scale : 0f;
                scales[(long)col * kBlocks + b] = scale;
                q.Clear();
                for (int r = r0; r < r1; r++)
                {
                    // Padded rows (past K) quantise 0 to the zero point 8, as MLAS's padded input does.
                    float t = weight[r * n + col] * reciprocal;
                    t += 8f;
                    q[r - r0] = (byte)Math.Clamp(MathF.Round(t, MidpointRounding.AwayFromZero), 0f, 15f);
                }
                for (int r = r1 - r0; r < BlockSize; r++)
                {
                    q[r] = 8;
                }
                long dst = ((long)col * kBlocks + b) * blob;
                for (int i = 0; i < blob; i++)
                {
                    packed[dst + i] = (byte)((q[2 * i] & 0xF) | (q[2 * i + 1] << 4));
                }
            }
        }
        return (packed, scales);
    }

    /// <summary>Cos/sin caches [context, head/2] as the builder computes them (theta^(−2i/d) in float32, positions as floats).</summary>
    internal static (Tensor Cos, Tensor Sin) RotaryCaches(LlamaConfig config)
    {
        int half = config.HeadSize / 2, dim = config.HeadSize;
        var invFreq = new float[half];
        for (int i = 0; i < half; i++)
        {
            // torch: 1 / theta ** (arange(0, dim, 2).float() / dim), computed in float32.
            float exponent = (2f * i) / dim;
            invFreq[i] = 1f / (float)Math.Pow(config.RopeTheta, exponent);
        }
        var cos = new float[config.ContextLength * half];
        var sin = new float[config.ContextLength * half];
        for (int t = 0; t < config.ContextLength; t++)
        {
            for (int i = 0; i < half; i++)
            {
                float angle = t * invFreq[i];
                cos[t * half + i] = (float)Math.Cos(angle);
                sin[t * half + i] = (float)Math.Sin(angle);
            }
        }
        return (Tensor.Create([config.ContextLength, half], cos), Tensor.Create([config.ContextLength, half], sin));
    }

    private static string NormWeight(GraphWriter g, SplitMix64 rng, string name, int size)
    {
        var w = new float[size];
        for (int i = 0; i < size; i++)
        {
            w[i] = 1f + 0.1f * rng.NextSigned();
        }
        g.Initializers[name] = Tensor.Create([size], w);
        return name;
    }

    private static string SkipNorm(GraphWriter g, string prefix, string root, string skip, string weight, float eps, bool last)
    {
        string[] outputs = last
            ? [$"{prefix}/output_0"]
            : [$"{prefix}/output_0", "", "", $"{prefix}/output_3"];
        g.NodeMulti("SkipSimplifiedLayerNormalization", $"{prefix}/SkipLayerNorm", [root, skip, weight], outputs,
            domain: "com.microsoft", attributes: [("epsilon", eps)]);
        return outputs[0];
    }

    private static float[] RandomMatrix(SplitMix64 rng, int rows, int cols, float bound)
    {
        var data = new float[(long)rows * cols];
        for (long i = 0; i < data.LongLength; i++)
        {
            data[i] = bound * rng.NextSigned();
        }
        return data;
    }

    private static Tensor RandomTensor(SplitMix64 rng, int[] shape, float bound)
    {
        var data = RandomMatrix(rng, shape[0], shape[1], bound);
        return Tensor.Create(shape, data);
    }

    private static Dim Sym(string name) => Dim.Symbolic(name);

    private static ValueInfo Value(string name, DataType type, params Dim[] shape) => new() { Name = name, ElementType = type, Shape = shape };

    /// <summary>SplitMix64 (Steele, Lea, Flood 2014): fixed, portable, fast; the weights depend only on the seed.</summary>
    private sealed class SplitMix64(ulong seed)
    {
        private ulong _state = seed;

        public ulong Next()
        {
            ulong z = _state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }

        /// <summary>Uniform in [−1, 1) with 24 random bits (exact in float32).</summary>
        public float NextSigned() => (int)(Next() >> 40) * (1f / (1 << 23)) - 1f;
    }

    /// <summary>Collects nodes and initializers under the builder's naming rules.</summary>
    private sealed class GraphWriter(LlamaPrecision precision)
    {
        public List<OnnxNode> Nodes { get; } = [];

        public List<ValueInfo> Inputs { get; } = [];

        public List<ValueInfo> Outputs { get; } = [];

        public Dictionary<string, Tensor> Initializers { get; } = new(StringComparer.Ordinal);

        private readonly HashSet<string> _constants = new(StringComparer.Ordinal);

        /// <summary>The builder's "/model/constants/TYPE/VALUE" values: a Constant node named "/model/constant_nodes/…".</summary>
        public string Constant(string name, Tensor value)
        {
            if (_constants.Add(name))
            {
                Nodes.Add(new OnnxNode
                {
                    Name = name.Replace("constants", "constant_nodes", StringComparison.Ordinal),
                    OpType = "Constant",
                    Outputs = [name],
                    Attributes = new(StringComparer.Ordinal) { ["value"] = new OnnxAttribute { Name = "value", Kind = AttributeKind.Tensor, Tensor = value } },
                });
            }
            return name;
        }

        public string Node(string op, string name, string[] inputs, string[]? outputs = null, (string Name, object Value)[]? attributes = null, string domain = "")
            => NodeMulti(op, name, inputs, outputs ?? [$"{name}/output_0"], domain, attributes)[0];

        public string[] NodeMulti(string op, string name, string[] inputs, string[] outputs, string domain = "", (string Name, object Value)[]? attributes = null)
        {
            var node = new OnnxNode { Name = name, OpType = op, Domain = domain, Inputs = inputs, Outputs = outputs };
            foreach (var (key, value) in attributes ?? [])
            {
                node.Attributes[key] = value switch
                {
                    long v => new OnnxAttribute { Name = key, Kind = AttributeKind.Int, Int = v },
                    float v => new OnnxAttribute { Name = key, Kind = AttributeKind.Float, Float = v },
                    _ => throw new ArgumentException($"attribute {key}: unsupported value type {value.GetType().Name}"),
                };
            }
            Nodes.Add(node);
            return outputs;
        }

        /// <summary>fp32: MatMul with B [k, n]; int4: MatMulNBits "name_Q4" over "weight_Q4" and "weight_scales".</summary>
        public string MatMul(string name, string input, string weightName, float[] weight, int k, int n, string? output = null)
        {
            output ??= $"{name}/output_0";
            if (precision == LlamaPrecision.Fp32)
            {
                Initializers[weightName] = Tensor.Create([k, n], weight);
                return Node("MatMul", name, [input, weightName], outputs: [output]);
            }
            var (packed, scales) = QuantizeInt4(weight, k, n);
            int kBlocks = (k + BlockSize - 1) / BlockSize;
            Initializers[weightName + "_Q4"] = Tensor.Create([n, kBlocks, BlockSize / 2], packed);
            Initializers[weightName + "_scales"] = Tensor.Create([n * kBlocks], scales);
            return Node("MatMulNBits", name + "_Q4", [input, weightName + "_Q4", weightName + "_scales"], outputs: [output], domain: "com.microsoft",
                attributes: [("K", (long)k), ("N", (long)n), ("bits", 4L), ("block_size", (long)BlockSize), ("accuracy_level", (long)AccuracyLevel)]);
        }
    }
}
