using Xunit.Abstractions;

namespace Prova.Lm.Tests.Parity;

/// <summary>
/// The parity fixtures are fit for comparing greedy tokens: on ONNX Runtime's greedy path every step's top-2 logit
/// margin is at least the case's MinMargin, far above its logit tolerance, and the path is the one recomputing the
/// whole sequence without the cache also takes.
/// </summary>
public sealed class OracleMarginTests(ParityModels models, ITestOutputHelper output) : IClassFixture<ParityModels>
{
    [Theory]
    [MemberData(nameof(ParityModels.CaseNames), MemberType = typeof(ParityModels))]
    public void OnnxRuntimeGreedyPathHasNoNearTies(string name)
    {
        var c = ParityModels.Case(name);
        output.WriteLine($"{name}: seed {c.Seed}, prompt {string.Join(' ', c.Prompt)}");
        Assert.True(c.MinMargin >= 4 * c.Tolerance, "the margin must dwarf the tolerance");
        using var ort = new OrtDecoder(models.OraclePathOf(name));
        var (tokens, logits) = ort.Greedy(c.Prompt, ParityModels.Steps);
        float smallest = float.PositiveInfinity;
        for (int i = 0; i < tokens.Length; i++)
        {
            smallest = MathF.Min(smallest, OrtDecoder.TopMargin(logits[i]));
        }
        float largest = logits.Max(l => l.Max(MathF.Abs));
        output.WriteLine($"tokens {string.Join(' ', tokens)}; smallest top-2 margin {smallest}; largest |logit| {largest}");
        Assert.True(smallest >= c.MinMargin, $"{name}: a greedy step has top-2 margin {smallest} < {c.MinMargin}");
        Assert.True(tokens.Distinct().Count() > 1, $"{name}: greedy path repeats one token; pick another seed");
    }
}
