namespace Prova.Lm.Export;

/// <summary>The shape of a GPT-2 model (the fields of a Hugging Face GPT-2 config.json that the graph depends on).</summary>
public sealed record Gpt2Config(int Layers, int Heads, int Embd, int Vocab, int Positions, float LayerNormEpsilon = 1e-5f)
{
    public int HeadDim => Embd / Heads;

    /// <summary>Parameter count (tied lm_head counted once).</summary>
    public long ParameterCount => (long)Vocab * Embd + (long)Positions * Embd + 2L * Embd
        + Layers * (12L * Embd * Embd + 13L * Embd);

    /// <summary>Throws <see cref="LmException"/> when a size is not positive or the heads do not divide the width.</summary>
    public void Validate()
    {
        if (Layers < 1 || Heads < 1 || Embd < 1 || Vocab < 1 || Positions < 1)
        {
            throw new LmException($"GPT-2 config: layers {Layers}, heads {Heads}, n_embd {Embd}, vocab {Vocab} and n_positions {Positions} must all be at least 1");
        }
        if (Embd % Heads != 0)
        {
            throw new LmException($"GPT-2 config: n_embd {Embd} is not a multiple of n_head {Heads}");
        }
        if (!(LayerNormEpsilon > 0) || float.IsInfinity(LayerNormEpsilon))
        {
            throw new LmException($"GPT-2 config: layer_norm_epsilon {LayerNormEpsilon} must be a positive number");
        }
    }
}

/// <summary>
/// One GPT-2 block's weights in Hugging Face's layout: Conv1D weights are [in, out] (x·W + b), so c_attn is
/// [d, 3d] (q, k, v side by side), attn c_proj [d, d], mlp c_fc [d, 4d], mlp c_proj [4d, d].
/// </summary>
public sealed class Gpt2LayerWeights
{
    public required float[] Ln1Gamma { get; init; }
    public required float[] Ln1Beta { get; init; }
    public required float[] AttnW { get; init; }
    public required float[] AttnB { get; init; }
    public required float[] AttnProjW { get; init; }
    public required float[] AttnProjB { get; init; }
    public required float[] Ln2Gamma { get; init; }
    public required float[] Ln2Beta { get; init; }
    public required float[] FcW { get; init; }
    public required float[] FcB { get; init; }
    public required float[] FcProjW { get; init; }
    public required float[] FcProjB { get; init; }

    /// <summary>Zero-filled weights for a block of width <paramref name="d"/>.</summary>
    public static Gpt2LayerWeights Zeros(int d) => new()
    {
        Ln1Gamma = new float[d],
        Ln1Beta = new float[d],
        AttnW = new float[d * 3 * d],
        AttnB = new float[3 * d],
        AttnProjW = new float[d * d],
        AttnProjB = new float[d],
        Ln2Gamma = new float[d],
        Ln2Beta = new float[d],
        FcW = new float[d * 4 * d],
        FcB = new float[4 * d],
        FcProjW = new float[4 * d * d],
        FcProjB = new float[d],
    };
}

/// <summary>GPT-2 weights: token embedding wte [V, d] (also the tied lm_head), position embedding wpe [P, d], the blocks and ln_f.</summary>
public sealed class Gpt2Weights
{
    public required float[] Wte { get; init; }
    public required float[] Wpe { get; init; }
    public required Gpt2LayerWeights[] Layers { get; init; }
    public required float[] LnFGamma { get; init; }
    public required float[] LnFBeta { get; init; }

    /// <summary>Zero-filled weights of the given shape.</summary>
    public static Gpt2Weights Zeros(Gpt2Config config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        int d = config.Embd;
        var layers = new Gpt2LayerWeights[config.Layers];
        for (int i = 0; i < layers.Length; i++)
        {
            layers[i] = Gpt2LayerWeights.Zeros(d);
        }
        return new Gpt2Weights
        {
            Wte = new float[(long)config.Vocab * d],
            Wpe = new float[(long)config.Positions * d],
            Layers = layers,
            LnFGamma = new float[d],
            LnFBeta = new float[d],
        };
    }

    /// <summary>
    /// GPT-2's initialisation, reproducible from <paramref name="seed"/>: embeddings and linear weights
    /// N(0, 0.02), the two residual projections (attn c_proj, mlp c_proj) N(0, 0.02/√(2·layers)), biases 0,
    /// LayerNorm γ 1 and β 0. Normals come from Box–Muller over a seeded <see cref="Random"/>, drawn in
    /// a fixed order (wte, wpe, then per block c_attn, attn c_proj, c_fc, mlp c_proj).
    /// </summary>
    public static Gpt2Weights Random(Gpt2Config config, int seed)
    {
        var w = Zeros(config);
        var rng = new Random(seed);
        float std = 0.02f;
        float projStd = std / MathF.Sqrt(2f * config.Layers);
        Normal(rng, w.Wte, std);
        Normal(rng, w.Wpe, std);
        foreach (var layer in w.Layers)
        {
            Array.Fill(layer.Ln1Gamma, 1f);
            Array.Fill(layer.Ln2Gamma, 1f);
            Normal(rng, layer.AttnW, std);
            Normal(rng, layer.AttnProjW, projStd);
            Normal(rng, layer.FcW, std);
            Normal(rng, layer.FcProjW, projStd);
        }
        Array.Fill(w.LnFGamma, 1f);
        return w;
    }

    /// <summary>Fills <paramref name="values"/> with N(0, std²) draws (Box–Muller, both outputs used).</summary>
    public static void Normal(Random rng, Span<float> values, float std)
    {
        ArgumentNullException.ThrowIfNull(rng);
        for (int i = 0; i < values.Length; i += 2)
        {
            double u1 = 1.0 - rng.NextDouble();
            double u2 = rng.NextDouble();
            double r = Math.Sqrt(-2.0 * Math.Log(u1));
            values[i] = (float)(r * Math.Cos(2 * Math.PI * u2) * std);
            if (i + 1 < values.Length)
            {
                values[i + 1] = (float)(r * Math.Sin(2 * Math.PI * u2) * std);
            }
        }
    }

    /// <summary>Throws <see cref="LmException"/> naming the first array whose length does not match <paramref name="config"/>.</summary>
    public void Validate(Gpt2Config config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        int d = config.Embd;
        Check("wte", Wte, (long)config.Vocab * d);
        Check("wpe", Wpe, (long)config.Positions * d);
        Check("ln_f.weight", LnFGamma, d);
        Check("ln_f.bias", LnFBeta, d);
        if (Layers.Length != config.Layers)
        {
            throw new LmException($"GPT-2 weights have {Layers.Length} blocks but the config says n_layer {config.Layers}");
        }
        for (int i = 0; i < Layers.Length; i++)
        {
            var l = Layers[i];
            string p = $"h.{i}.";
            Check(p + "ln_1.weight", l.Ln1Gamma, d);
            Check(p + "ln_1.bias", l.Ln1Beta, d);
            Check(p + "attn.c_attn.weight", l.AttnW, 3L * d * d);
            Check(p + "attn.c_attn.bias", l.AttnB, 3L * d);
            Check(p + "attn.c_proj.weight", l.AttnProjW, (long)d * d);
            Check(p + "attn.c_proj.bias", l.AttnProjB, d);
            Check(p + "ln_2.weight", l.Ln2Gamma, d);
            Check(p + "ln_2.bias", l.Ln2Beta, d);
            Check(p + "mlp.c_fc.weight", l.FcW, 4L * d * d);
            Check(p + "mlp.c_fc.bias", l.FcB, 4L * d);
            Check(p + "mlp.c_proj.weight", l.FcProjW, 4L * d * d);
            Check(p + "mlp.c_proj.bias", l.FcProjB, d);
        }
    }

    private static void Check(string name, float[]? values, long expected)
    {
        if (values is null || values.LongLength != expected)
        {
            throw new LmException($"GPT-2 weight {name} has {values?.LongLength ?? 0} values; the config needs {expected}");
        }
    }
}
