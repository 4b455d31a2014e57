using Prova.Lm.Export;
using Prova.Lm.Tests.Export;
using Prova.Onnx;
using Prova.Trainer.Lm;
using Xunit.Abstractions;

namespace Prova.Lm.Tests.Trainer;

/// <summary>The trainer's GPT-2 (tools/Prova.Trainer): gradients against finite differences, forward against the exported model in ONNX Runtime.</summary>
public sealed unsafe class GptTrainingTests
{
    private static readonly Gpt2Config s_tiny = new(Layers: 2, Heads: 2, Embd: 8, Vocab: 13, Positions: 6);
    private readonly ITestOutputHelper _output;

    public GptTrainingTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public void GradientsMatchFiniteDifferences()
    {
        int seed = Random.Shared.Next();
        _output.WriteLine($"seed {seed}");
        var rng = new Random(seed);
        using var model = new Gpt(s_tiny, batch: 2, context: 5);
        model.Load(LargeWeights(seed));
        var inputs = new int[10];
        var targets = new int[10];
        for (int i = 0; i < 10; i++)
        {
            inputs[i] = rng.Next(s_tiny.Vocab);
            targets[i] = rng.Next(s_tiny.Vocab);
        }
        model.ZeroGrad();
        model.Forward(inputs, targets);
        model.Backward();
        var analytic = new ReadOnlySpan<float>(model.Grads, (int)model.ParamCount).ToArray();

        // Central differences in float, Richardson-extrapolated from steps h and h/2 so the large weights' curvature
        // (an O(h²) error of a single central difference) does not pass for a wrong gradient.
        const float eps = 1e-2f;
        int checkedCount = 0, nonZero = 0;
        double Central(long i, float h)
        {
            float saved = model.Params[i];
            model.Params[i] = saved + h;
            double plus = model.Forward(inputs, targets);
            model.Params[i] = saved - h;
            double minus = model.Forward(inputs, targets);
            model.Params[i] = saved;
            return (plus - minus) / (2 * h);
        }
        for (long i = 0; i < model.ParamCount; i++)
        {
            double numeric = (4 * Central(i, eps / 2) - Central(i, eps)) / 3;
            double tolerance = 2e-3 + 2e-2 * Math.Abs(numeric);
            Assert.True(Math.Abs(numeric - analytic[i]) <= tolerance, $"parameter {i}: finite difference {numeric:G6}, backward {analytic[i]:G6}");
            checkedCount++;
            if (Math.Abs(analytic[i]) > 1e-2)
            {
                nonZero++;
            }
        }
        _output.WriteLine($"{checkedCount} parameters checked, {nonZero} with |gradient| > 0.01");
        Assert.True(nonZero > checkedCount / 4, $"only {nonZero} of {checkedCount} gradients are sizeable; the check proves little");
    }

    [Fact]
    public void ForwardMatchesTheExportedModelInOnnxRuntime()
    {
        int seed = Random.Shared.Next();
        _output.WriteLine($"seed {seed}");
        var weights = LargeWeights(seed);
        using var model = new Gpt(s_tiny, batch: 1, context: 6);
        model.Load(weights);
        int[] ids = [1, 12, 5, 5, 0, 7];
        model.Forward(ids, []);
        var probs = model.Probabilities.ToArray();

        using var ort = new OrtGpt2(s_tiny, OnnxWriter.Write(Gpt2OnnxExport.Build(s_tiny, model.Export())));
        var (logits, _) = ort.Run([Array.ConvertAll(ids, x => (long)x)], [[1, 1, 1, 1, 1, 1]], [[0, 1, 2, 3, 4, 5]], OrtGpt2.EmptyPast(s_tiny, 1));
        var expected = new float[logits.Length];
        for (int t = 0; t < ids.Length; t++)
        {
            var row = logits.AsSpan(t * s_tiny.Vocab, s_tiny.Vocab);
            float max = float.NegativeInfinity;
            foreach (float v in row)
            {
                max = Math.Max(max, v);
            }
            double sum = 0;
            foreach (float v in row)
            {
                sum += Math.Exp(v - max);
            }
            for (int k = 0; k < row.Length; k++)
            {
                expected[t * s_tiny.Vocab + k] = (float)(Math.Exp(row[k] - max) / sum);
            }
        }
        Gpt2OnnxExportTests.AssertClose(expected, probs, 1e-4f);
    }

    [Fact]
    public void TrainingLowersTheLossOnARepeatedPattern()
    {
        var config = new Gpt2Config(Layers: 1, Heads: 2, Embd: 16, Vocab: 10, Positions: 8);
        using var model = new Gpt(config, batch: 4, context: 8);
        model.Load(Gpt2Weights.Random(config, 7));
        var stream = new int[400];
        for (int i = 0; i < stream.Length; i++)
        {
            stream[i] = i % 5 * 2;
        }
        var trainer = new GptTrainer(model, new GptTrainingOptions { Steps = 60, LearningRate = 1e-2f, Warmup = 5, EvalEvery = 60, Seed = 3 });
        double before = trainer.Evaluate(stream).MeanLoss;
        trainer.Run(stream, stream, TextWriter.Null);
        Assert.True(trainer.BestEvalLoss < 0.2 * before, $"held-out loss went from {before:F3} to {trainer.BestEvalLoss:F3}");
    }

    // Random weights at a scale where every path (biases, LayerNorm affine, attention) carries gradient.
    private static Gpt2Weights LargeWeights(int seed)
    {
        var w = Gpt2Weights.Random(s_tiny, seed);
        var rng = new Random(seed ^ 0x5eed);
        Gpt2Weights.Normal(rng, w.Wte, 0.5f);
        Gpt2Weights.Normal(rng, w.Wpe, 0.3f);
        foreach (var l in w.Layers)
        {
            foreach (var a in new[] { l.AttnW, l.AttnProjW, l.FcW, l.FcProjW, l.AttnB, l.AttnProjB, l.FcB, l.FcProjB, l.Ln1Beta, l.Ln2Beta })
            {
                Gpt2Weights.Normal(rng, a, 0.4f);
            }
            foreach (var g in new[] { l.Ln1Gamma, l.Ln2Gamma })
            {
                Gpt2Weights.Normal(rng, g, 0.3f);
                for (int i = 0; i < g.Length; i++)
                {
                    g[i] += 1f;
                }
            }
        }
        Gpt2Weights.Normal(rng, w.LnFBeta, 0.3f);
        return w;
    }
}
