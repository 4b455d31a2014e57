using System.Diagnostics;

namespace Prova.Trainer.Lm;

/// <summary>Training settings of <see cref="GptTrainer"/>.</summary>
internal sealed record GptTrainingOptions
{
    public int Steps { get; init; } = 3000;
    public float LearningRate { get; init; } = 1e-3f;
    public float MinLearningRateFraction { get; init; } = 0.1f;
    public int Warmup { get; init; } = 100;
    public float WeightDecay { get; init; } = 0.1f;
    public float Beta1 { get; init; } = 0.9f;
    public float Beta2 { get; init; } = 0.95f;
    public float ClipNorm { get; init; } = 1f;
    public int EvalEvery { get; init; } = 250;
    public int Seed { get; init; } = 1;
    public double MaxMinutes { get; init; } = double.PositiveInfinity;
}

/// <summary>
/// AdamW (decoupled weight decay on matrices only) with linear warmup then cosine decay to a floor, global
/// gradient-norm clipping, random training windows drawn from a seeded <see cref="Random"/>, and periodic
/// held-out evaluation that keeps the best parameters.
/// </summary>
internal sealed unsafe class GptTrainer
{
    private readonly Gpt _model;
    private readonly GptTrainingOptions _options;
    private readonly float[] _m, _v;
    private readonly bool[] _decay;

    public GptTrainer(Gpt model, GptTrainingOptions options)
    {
        _model = model;
        _options = options;
        _m = new float[model.ParamCount];
        _v = new float[model.ParamCount];
        _decay = model.DecayMask();
    }

    public float[]? Best { get; private set; }

    public double BestEvalLoss { get; private set; } = double.PositiveInfinity;

    public int BestStep { get; private set; }

    /// <summary>The best evaluation's summed loss and position count.</summary>
    public (double TotalLoss, long Count) BestEval { get; private set; }

    public float LearningRate(int step)
    {
        var o = _options;
        if (step < o.Warmup)
        {
            return o.LearningRate * (step + 1) / o.Warmup;
        }
        double progress = Math.Min(1.0, (double)(step - o.Warmup) / Math.Max(1, o.Steps - o.Warmup));
        double cosine = 0.5 * (1 + Math.Cos(Math.PI * progress));
        return (float)(o.LearningRate * (o.MinLearningRateFraction + (1 - o.MinLearningRateFraction) * cosine));
    }

    /// <summary>Trains on <paramref name="train"/>, evaluating on <paramref name="eval"/>; logs to <paramref name="log"/>.</summary>
    public void Run(int[] train, int[] eval, TextWriter log)
    {
        int b = _model.Batch, t = _model.Context;
        var rng = new Random(_options.Seed);
        var inputs = new int[b * t];
        var targets = new int[b * t];
        var clock = Stopwatch.StartNew();
        double smoothed = double.NaN;
        int step = 0;
        for (; step < _options.Steps; step++)
        {
            for (int s = 0; s < b; s++)
            {
                int start = rng.Next(train.Length - t - 1);
                Array.Copy(train, start, inputs, s * t, t);
                Array.Copy(train, start + 1, targets, s * t, t);
            }
            _model.ZeroGrad();
            float loss = _model.Forward(inputs, targets);
            _model.Backward();
            float norm = Update(step);
            smoothed = double.IsNaN(smoothed) ? loss : 0.98 * smoothed + 0.02 * loss;
            if (step % 10 == 0 || step == _options.Steps - 1)
            {
                double seconds = clock.Elapsed.TotalSeconds;
                log.WriteLine($"step {step}: loss {loss:F4} (avg {smoothed:F4}), grad norm {norm:F3}, lr {LearningRate(step):E2}, {seconds:F0} s, {(step + 1) * (double)b * t / seconds:F0} tokens/s");
            }
            bool last = step == _options.Steps - 1 || clock.Elapsed.TotalMinutes >= _options.MaxMinutes;
            if (_options.EvalEvery > 0 && ((step + 1) % _options.EvalEvery == 0 || last))
            {
                var (evalLoss, evalTotal, evalCount) = Evaluate(eval);
                bool better = evalLoss < BestEvalLoss;
                if (better)
                {
                    BestEvalLoss = evalLoss;
                    BestEval = (evalTotal, evalCount);
                    BestStep = step + 1;
                    Best = new float[_model.ParamCount];
                    new ReadOnlySpan<float>(_model.Params, Best.Length).CopyTo(Best);
                }
                log.WriteLine($"eval after step {step + 1}: held-out loss {evalLoss:F4}, perplexity {Math.Exp(evalLoss):F2}{(better ? " (best)" : "")}");
            }
            if (last)
            {
                break;
            }
        }
    }

    /// <summary>
    /// Mean cross-entropy over every position of <paramref name="stream"/> after the first, each predicted with up to
    /// one context of history: non-overlapping windows of T, the final partial one taken as the last T+1 tokens and
    /// counting only its new positions. Returns the summed loss too.
    /// </summary>
    public (double MeanLoss, double TotalLoss, long Count) Evaluate(int[] stream)
    {
        int b = _model.Batch, t = _model.Context;
        var windows = new List<(int Start, int From)>();
        int next = 0;
        while (next + t + 1 <= stream.Length)
        {
            windows.Add((next, 0));
            next += t;
        }
        if (next + 1 < stream.Length)
        {
            int start = stream.Length - t - 1;
            windows.Add((start, next - start));
        }
        var inputs = new int[b * t];
        var targets = new int[b * t];
        double total = 0;
        long count = 0;
        for (int w0 = 0; w0 < windows.Count; w0 += b)
        {
            int used = Math.Min(b, windows.Count - w0);
            for (int s = 0; s < b; s++)
            {
                var (start, _) = windows[w0 + Math.Min(s, used - 1)];
                Array.Copy(stream, start, inputs, s * t, t);
                Array.Copy(stream, start + 1, targets, s * t, t);
            }
            _model.Forward(inputs, targets);
            for (int s = 0; s < used; s++)
            {
                for (int i = windows[w0 + s].From; i < t; i++)
                {
                    total += _model.LossAt(s * t + i);
                    count++;
                }
            }
        }
        return (total / count, total, count);
    }

    private float Update(int step)
    {
        var o = _options;
        long n = _model.ParamCount;
        float* g = _model.Grads;
        float* p = _model.Params;
        double sq = 0;
        for (long i = 0; i < n; i++)
        {
            sq += (double)g[i] * g[i];
        }
        float norm = (float)Math.Sqrt(sq);
        float clip = norm > o.ClipNorm ? o.ClipNorm / norm : 1f;
        float lr = LearningRate(step);
        float b1 = o.Beta1, b2 = o.Beta2;
        float c1 = 1f / (1f - MathF.Pow(b1, step + 1));
        float c2 = 1f / (1f - MathF.Pow(b2, step + 1));
        for (long i = 0; i < n; i++)
        {
            float gi = g[i] * clip;
            float m = _m[i] = b1 * _m[i] + (1 - b1) * gi;
            float v = _v[i] = b2 * _v[i] + (1 - b2) * gi * gi;
            float update = m * c1 / (MathF.Sqrt(v * c2) + 1e-8f);
            if (_decay[i])
            {
                update += o.WeightDecay * p[i];
            }
            p[i] -= lr * update;
        }
        return norm;
    }
}
