using Prova.Lm.Tests.Parity;
using Prova.Runtime.Generation;
using Xunit.Abstractions;

namespace Prova.Lm.Tests.Generation;

/// <summary>
/// Prova's generation engine against the reference KV loop on ONNX Runtime (<see cref="OrtDecoder"/>), on a tiny
/// random GPT-2 (Optimum layout) and tiny random Llamas (GenAI layout, fp32 and int4).
/// </summary>
public sealed class DecoderParityTests(ParityModels models, ITestOutputHelper output) : IClassFixture<ParityModels>
{
    [Theory]
    [MemberData(nameof(ParityModels.CaseNames), MemberType = typeof(ParityModels))]
    public void ProvaLogitsMatchOnnxRuntimeAtEveryStep(string name)
    {
        var c = ParityModels.Case(name);
        string path = models.PathOf(name);
        using var ort = new OrtDecoder(models.OraclePathOf(name));
        var (tokens, expected) = ort.Greedy(c.Prompt, ParityModels.Steps);
        using var session = DecoderSession.Load(path, new DecoderOptions { Threads = 1 });
        Assert.Equal(ort.VocabSize, session.VocabSize);
        using var state = session.Start(c.Prompt);
        float worst = 0f;
        for (int step = 0; step < tokens.Length; step++)
        {
            if (step > 0)
            {
                state.Append(tokens[step - 1]); // teacher-forced on ORT's tokens so every step compares the same context
            }
            Assert.Equal(c.Prompt.Length + step, state.Length);
            float diff = MaxAbsDiff(expected[step], state.Logits);
            worst = MathF.Max(worst, diff);
            Assert.True(diff <= c.Tolerance, $"{name} step {step}: Prova's logits differ from ORT's by {diff} (> {c.Tolerance})");
        }
        output.WriteLine($"{name}: worst |Prova − ORT| over {tokens.Length} steps = {worst} (tolerance {c.Tolerance})");
    }

    [Theory]
    [MemberData(nameof(ParityModels.CaseNames), MemberType = typeof(ParityModels))]
    public void ProvaGreedyTokensEqualOnnxRuntimeGreedyTokens(string name)
    {
        var c = ParityModels.Case(name);
        string path = models.PathOf(name);
        using var ort = new OrtDecoder(models.OraclePathOf(name));
        var (expected, logits) = ort.Greedy(c.Prompt, ParityModels.Steps);
        foreach (var l in logits)
        {
            Assert.True(OrtDecoder.TopMargin(l) >= c.MinMargin, "the fixture's greedy path has a near tie");
        }
        using var session = DecoderSession.Load(path, new DecoderOptions { Threads = 1 });
        var actual = Greedy(session, c.Prompt, ParityModels.Steps);
        output.WriteLine($"{name}: ORT {string.Join(' ', expected)} / Prova {string.Join(' ', actual)}");
        Assert.Equal(expected, actual);
    }

    [Theory]
    [MemberData(nameof(ParityModels.CaseNames), MemberType = typeof(ParityModels))]
    public void ProvaKvCacheGenerationEqualsRecomputingTheWholeSequence(string name)
    {
        var c = ParityModels.Case(name);
        using var session = DecoderSession.Load(models.PathOf(name), new DecoderOptions { Threads = 1 });
        var cached = Greedy(session, c.Prompt, ParityModels.Steps);
        var sequence = new List<int>(c.Prompt);
        for (int step = 0; step < cached.Length; step++)
        {
            using var fresh = session.Start(sequence.ToArray());
            int token = OrtDecoder.ArgMax(fresh.Logits);
            Assert.True(token == cached[step], $"{name} step {step}: recomputing without the cache picks {token}, the cached loop picked {cached[step]}");
            sequence.Add(token);
        }
    }

    [Theory]
    [MemberData(nameof(ParityModels.CaseNames), MemberType = typeof(ParityModels))]
    public void ProvaLogitsAreBitIdenticalAcrossThreadCounts(string name)
    {
        var c = ParityModels.Case(name);
        string path = models.PathOf(name);
        using var one = DecoderSession.Load(path, new DecoderOptions { Threads = 1 });
        using var two = DecoderSession.Load(path, new DecoderOptions { Threads = 2 });
        using var a = one.Start(c.Prompt);
        using var b = two.Start(c.Prompt);
        for (int step = 0; step < 4; step++)
        {
            Assert.True(a.Logits.SequenceEqual(b.Logits), $"{name} step {step}: logits differ between 1 and 2 threads");
            int token = OrtDecoder.ArgMax(a.Logits);
            a.Append(token);
            b.Append(token);
        }
    }

    private static int[] Greedy(DecoderSession session, int[] prompt, int steps)
    {
        var tokens = new int[steps];
        using var state = session.Start(prompt);
        for (int i = 0; i < steps; i++)
        {
            tokens[i] = OrtDecoder.ArgMax(state.Logits);
            if (i + 1 < steps)
            {
                state.Append(tokens[i]);
            }
        }
        return tokens;
    }

    private static float MaxAbsDiff(float[] expected, ReadOnlySpan<float> actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        float max = 0f;
        for (int i = 0; i < expected.Length; i++)
        {
            max = MathF.Max(max, MathF.Abs(expected[i] - actual[i]));
        }
        return max;
    }
}
