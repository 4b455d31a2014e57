using Prova.Core;
using Prova.Onnx;
using Prova.Runtime.Generation;
using Xunit.Abstractions;

namespace Prova.Runtime.Tests.Generation;

public sealed class DecoderSessionTests(ITestOutputHelper output)
{
    private static readonly int[] s_prompt = [3, 14, 15, 9, 26, 5];

    /// <summary>Logits of the last position when the whole sequence runs at once, without any cache.</summary>
    private static float[] Recompute(InferenceSession session, DecoderLayout layout, IReadOnlyList<int> sequence)
    {
        int n = sequence.Count;
        var ids = new long[n];
        var positions = new long[n];
        var ones = new long[n];
        for (int i = 0; i < n; i++)
        {
            ids[i] = sequence[i];
            positions[i] = i;
            ones[i] = 1;
        }
        var inputs = new Dictionary<string, Tensor>(StringComparer.Ordinal)
        {
            ["input_ids"] = Tensor.Create([1, n], ids),
            ["attention_mask"] = Tensor.Create([1, n], ones),
        };
        if (layout.PositionIds is not null)
        {
            inputs["position_ids"] = Tensor.Create([1, n], positions);
        }
        foreach (var layer in layout.Layers)
        {
            inputs[layer.PastKey] = Tensor.Zeros(DataType.Float32, [1, layout.KvHeads, 0, layout.HeadDim]);
            inputs[layer.PastValue] = Tensor.Zeros(DataType.Float32, [1, layout.KvHeads, 0, layout.HeadDim]);
        }
        var logits = session.Run(inputs)["logits"].Span<float>();
        return logits[^ToyDecoder.Vocab..].ToArray();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void EveryStepWithTheCacheMatchesRecomputingTheWholeSequence(bool positionIds)
    {
        var model = ToyDecoder.Build(seed: 5, withPositionIds: positionIds);
        using var decoder = new DecoderSession(model, new DecoderOptions { Threads = 2, MaxContext = 300 });
        using var reference = new InferenceSession(model, new SessionOptions { Threads = 1, MaxCachedPlans = 2 });
        Assert.Equal(positionIds, decoder.Layout.PadsSafely);
        var sequence = new List<int>(s_prompt);
        using var state = decoder.Start(s_prompt);
        double worst = 0;
        // 70 steps cross the first capacity (64 slots) into the next (128).
        for (int step = 0; step < 70; step++)
        {
            var expected = Recompute(reference, decoder.Layout, sequence);
            var actual = state.Logits;
            for (int i = 0; i < expected.Length; i++)
            {
                worst = Math.Max(worst, Math.Abs(expected[i] - actual[i]));
            }
            int token = Sampler.ArgMax(expected);
            Assert.Equal(token, Sampler.ArgMax(actual));
            sequence.Add(token);
            state.Append(token);
        }
        output.WriteLine($"largest logit difference over 70 steps: {worst:E2}; capacity now {state.Capacity}");
        Assert.True(worst < 1e-4, $"cached and recomputed logits differ by {worst}");
        Assert.Equal(sequence.Count, state.Length);
        if (positionIds)
        {
            Assert.Equal(128, state.Capacity);
        }
    }

    [Fact]
    public void TokensAndLogitsAreBitIdenticalAcrossThreadCounts()
    {
        var model = ToyDecoder.Build(seed: 8, layers: 3, heads: 4, headDim: 16);
        var options = new GenerationOptions { MaxNewTokens = 80, Sampling = new SamplingOptions { Temperature = 0.9f, TopP = 0.95f, Seed = 42 } };
        var runs = new List<(int[] Ids, float[] Last)>();
        foreach (int threads in (int[])[1, 2, 3])
        {
            using var decoder = new DecoderSession(model, new DecoderOptions { Threads = threads });
            var result = Generator.Generate(decoder, s_prompt, options);
            using var state = decoder.Start([.. s_prompt, .. result.Ids[..^1]]);
            runs.Add((result.Ids, state.Logits.ToArray()));
        }
        Assert.Equal(80, runs[0].Ids.Length);
        foreach (var run in runs.Skip(1))
        {
            Assert.Equal(runs[0].Ids, run.Ids);
            Assert.Equal(runs[0].Last, run.Last);
        }
    }

    [Fact]
    public void SamplingIsAPureFunctionOfTheSeed()
    {
        var model = ToyDecoder.Build(seed: 9);
        using var decoder = new DecoderSession(model, new DecoderOptions { Threads = 2 });
        GenerationOptions With(ulong seed) => new() { MaxNewTokens = 40, Sampling = new SamplingOptions { Temperature = 1.5f, Seed = seed } };
        var a = Generator.Generate(decoder, s_prompt, With(1));
        var b = Generator.Generate(decoder, s_prompt, With(1));
        var c = Generator.Generate(decoder, s_prompt, With(2));
        Assert.Equal(a.Ids, b.Ids);
        Assert.Equal(a.OutputHash, b.OutputHash);
        Assert.NotEqual(a.Ids, c.Ids);
    }

    [Fact]
    public void GenerationStopsAtStopTokensTheLimitAndTheContext()
    {
        var model = ToyDecoder.Build(seed: 10);
        using var decoder = new DecoderSession(model, new DecoderOptions { Threads = 1, MaxContext = 20 });
        var greedy = Generator.Generate(decoder, s_prompt, new GenerationOptions { MaxNewTokens = 10 });
        Assert.Equal(StopReason.MaxTokens, greedy.Reason);
        Assert.Equal(10, greedy.Ids.Length);

        int stop = greedy.Ids[3];
        int first = Array.IndexOf(greedy.Ids, stop);
        var stopped = Generator.Generate(decoder, s_prompt, new GenerationOptions { MaxNewTokens = 10, StopTokens = [stop] });
        Assert.Equal(StopReason.StopToken, stopped.Reason);
        Assert.Equal(greedy.Ids[..(first + 1)], stopped.Ids);

        var full = Generator.Generate(decoder, s_prompt, new GenerationOptions { MaxNewTokens = 100 });
        Assert.Equal(StopReason.ContextFull, full.Reason);
        Assert.Equal(20 - s_prompt.Length, full.Ids.Length);
        Assert.Equal(greedy.Ids, full.Ids[..10]);

        using var state = decoder.Start([.. s_prompt, .. full.Ids]);
        Assert.Equal(20, state.Length);
        var ex = Assert.Throws<InputException>(() => state.Append(1));
        Assert.Contains("context length of 20", ex.Message);
    }

    [Fact]
    public void BadPromptsAreRejectedWithTheReason()
    {
        using var decoder = new DecoderSession(ToyDecoder.Build(seed: 11), new DecoderOptions { Threads = 1, MaxContext = 16 });
        Assert.Contains("not in the model's vocabulary", Assert.Throws<InputException>(() => decoder.Start([1, ToyDecoder.Vocab])).Message);
        Assert.Contains("token id -1", Assert.Throws<InputException>(() => decoder.Start([-1])).Message);
        Assert.Contains("empty", Assert.Throws<InputException>(() => decoder.Start([])).Message);
        Assert.Contains("more than the model's context of 16", Assert.Throws<InputException>(() => decoder.Start(new int[17])).Message);
    }

    [Fact]
    public void AModelThatIsNotADecoderIsRejectedAtLoad()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", DataType.Float32, 1, 4);
        b.Output(b.Node("Relu", [x]), "y");
        var ex = Assert.Throws<ModelException>(() => new DecoderSession(b.Build()));
        Assert.Contains("not a decoder-only language model", ex.Message);
    }

    [Fact]
    public void ADecodeStepAllocatesNothing()
    {
        using var decoder = new DecoderSession(ToyDecoder.Build(seed: 12), new DecoderOptions { Threads = 1 });
        using var state = decoder.Start(s_prompt);
        for (int i = 0; i < 5; i++)
        {
            state.Append(Sampler.ArgMax(state.Logits));
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 20; i++)
        {
            state.Append(Sampler.ArgMax(state.Logits));
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        output.WriteLine($"20 decode steps allocated {allocated} bytes");
        Assert.Equal(0, allocated);
    }
}
