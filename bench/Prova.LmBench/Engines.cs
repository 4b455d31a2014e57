using System.Diagnostics;
using System.Globalization;
using Microsoft.ML.OnnxRuntimeGenAI;
using Prova.Testing;

namespace Prova.LmBench;

/// <summary>One way to run greedy generation on a decoder-with-past model: a prefill, then one token per step.</summary>
internal interface ILmEngine : IDisposable
{
    string Name { get; }

    /// <summary>Greedy generation of <paramref name="newTokens"/> tokens; times the prefill and the decode steps separately.</summary>
    RunResult Run(int[] prompt, int newTokens);
}

/// <summary>Prefill time (prompt in, first logits out) and decode time (the remaining steps, one token each).</summary>
internal sealed record RunResult(double PrefillMs, double DecodeMs, int DecodeSteps, int[] Tokens)
{
    public double TokensPerSecond => DecodeSteps / (DecodeMs / 1000.0);
}

/// <summary>ONNX Runtime through <see cref="OrtDecoder"/>, the same KV loop the tests use.</summary>
internal sealed class OrtEngine(string modelPath, int threads) : ILmEngine
{
    private readonly OrtDecoder _decoder = new(modelPath, threads);

    public string Name => "ORT";

    public RunResult Run(int[] prompt, int newTokens)
    {
        var tokens = new int[newTokens];
        long t0 = Stopwatch.GetTimestamp();
        float[] logits = _decoder.Prefill(prompt);
        double prefill = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        tokens[0] = OrtDecoder.ArgMax(logits);
        long t1 = Stopwatch.GetTimestamp();
        for (int i = 1; i < newTokens; i++)
        {
            tokens[i] = OrtDecoder.ArgMax(_decoder.Append(tokens[i - 1]));
        }
        double decode = Stopwatch.GetElapsedTime(t1).TotalMilliseconds;
        return new RunResult(prefill, decode, newTokens - 1, tokens);
    }

    public void Dispose() => _decoder.Dispose();
}

/// <summary>
/// ONNX Runtime GenAI 0.20 on the model folder (genai_config.json): greedy search, the thread count set through a
/// config overlay of the decoder's session options, EOS suppressed through min_length so every run decodes the same count.
/// </summary>
internal sealed class GenAiEngine : ILmEngine
{
    private readonly Config _config;
    private readonly Model _model;

    public GenAiEngine(string modelDirectory, int threads)
    {
        _config = new Config(modelDirectory);
        string t = threads.ToString(CultureInfo.InvariantCulture);
        _config.Overlay("{\"model\":{\"decoder\":{\"session_options\":{\"intra_op_num_threads\":" + t + ",\"inter_op_num_threads\":1}}}}");
        _model = new Model(_config);
    }

    public string Name => "GenAI";

    public RunResult Run(int[] prompt, int newTokens)
    {
        using var options = new GeneratorParams(_model);
        int total = prompt.Length + newTokens;
        options.SetSearchOption("max_length", total);
        options.SetSearchOption("min_length", total);
        options.SetSearchOption("do_sample", false);
        using var generator = new Generator(_model, options);
        // AppendTokens may defer the model run to the first GenerateNextToken, so the prefill is both; each later
        // GenerateNextToken runs the model on the token before it and picks the next one: newTokens − 1 decode steps.
        long t0 = Stopwatch.GetTimestamp();
        generator.AppendTokens(prompt);
        generator.GenerateNextToken();
        double prefill = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        long t1 = Stopwatch.GetTimestamp();
        int steps = 0;
        while (!generator.IsDone() && steps < newTokens - 1)
        {
            generator.GenerateNextToken();
            steps++;
        }
        double decode = Stopwatch.GetElapsedTime(t1).TotalMilliseconds;
        var sequence = generator.GetSequence(0);
        int[] tokens = sequence[prompt.Length..].ToArray();
        return new RunResult(prefill, decode, Math.Max(1, steps), tokens);
    }

    public void Dispose()
    {
        _model.Dispose();
        _config.Dispose();
    }
}

/// <summary>Prova's generation engine: <c>DecoderSession.Start</c> (prefill) and <c>DecoderState.Append</c> (one step).</summary>
internal sealed class ProvaEngine(string modelPath, int threads) : ILmEngine
{
    private readonly Prova.Runtime.Generation.DecoderSession _session =
        Prova.Runtime.Generation.DecoderSession.Load(modelPath, new Prova.Runtime.Generation.DecoderOptions { Threads = threads });

    public string Name => "Prova";

    public RunResult Run(int[] prompt, int newTokens)
    {
        var tokens = new int[newTokens];
        long t0 = Stopwatch.GetTimestamp();
        using var state = _session.Start(prompt);
        double prefill = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        tokens[0] = OrtDecoder.ArgMax(state.Logits);
        long t1 = Stopwatch.GetTimestamp();
        for (int i = 1; i < newTokens; i++)
        {
            state.Append(tokens[i - 1]);
            tokens[i] = OrtDecoder.ArgMax(state.Logits);
        }
        double decode = Stopwatch.GetElapsedTime(t1).TotalMilliseconds;
        return new RunResult(prefill, decode, newTokens - 1, tokens);
    }

    public void Dispose() => _session.Dispose();
}
