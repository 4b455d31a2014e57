using System.Diagnostics;
using Prova.Lm.Tests.Parity;
using Prova.Runtime.Generation;
using Xunit.Abstractions;

namespace Prova.Lm.Tests.Generation;

/// <summary>
/// Hugging Face Optimum's merged decoder (decoder_model_merged.onnx: one If on use_cache_branch choosing the
/// decoder with past or without past) runs as the same model as the un-merged export: same logits, same tokens,
/// and the bundle loader accepts it. Its parity with ONNX Runtime on the merged file itself is the "gpt2-merged"
/// row of <see cref="DecoderParityTests"/>.
/// </summary>
public sealed class MergedDecoderTests(ParityModels models, ITestOutputHelper output) : IClassFixture<ParityModels>
{
    [Fact]
    public void MergedDecoderIsDetectedWithItsBranchInput()
    {
        using var merged = DecoderSession.Load(models.PathOf("gpt2-merged"), new DecoderOptions { Threads = 1 });
        Assert.Equal("use_cache_branch", merged.Layout.UseCacheBranch);
        using var plain = DecoderSession.Load(models.PathOf("gpt2-fp32"), new DecoderOptions { Threads = 1 });
        Assert.Null(plain.Layout.UseCacheBranch);
    }

    [Fact]
    public void MergedDecoderGivesTheUnmergedDecodersLogitsAndTokens()
    {
        var c = ParityModels.Case("gpt2-merged");
        using var merged = DecoderSession.Load(models.PathOf("gpt2-merged"), new DecoderOptions { Threads = 1 });
        using var plain = DecoderSession.Load(models.PathOf("gpt2-fp32"), new DecoderOptions { Threads = 1 });
        var (mergedTokens, mergedLogits, mergedTime) = Greedy(merged, c.Prompt, ParityModels.Steps);
        var (plainTokens, plainLogits, plainTime) = Greedy(plain, c.Prompt, ParityModels.Steps);
        output.WriteLine($"merged {string.Join(' ', mergedTokens)} in {mergedTime.TotalMilliseconds:F1} ms / un-merged {string.Join(' ', plainTokens)} in {plainTime.TotalMilliseconds:F1} ms");
        Assert.Equal(plainTokens, mergedTokens);
        // The taken branch is inlined and optimized like the un-merged graph, so the numbers are the same bits.
        for (int step = 0; step < plainLogits.Count; step++)
        {
            Assert.True(plainLogits[step].AsSpan().SequenceEqual(mergedLogits[step]), $"step {step}: the merged decoder's logits differ from the un-merged decoder's");
        }
    }

    [Fact]
    public void BundleFolderWithOnlyTheMergedDecoderLoads()
    {
        string dir = Path.GetDirectoryName(models.PathOf("gpt2-merged"))!;
        using var lm = LanguageModel.Load(dir, threads: 1);
        Assert.Equal("decoder_model_merged.onnx", Path.GetFileName(lm.ModelPath));
        Assert.Equal("use_cache_branch", lm.Decoder.Layout.UseCacheBranch);
    }

    private static (int[] Tokens, List<float[]> Logits, TimeSpan Decode) Greedy(DecoderSession session, int[] prompt, int steps)
    {
        var tokens = new int[steps];
        var logits = new List<float[]>();
        using var state = session.Start(prompt);
        var watch = new Stopwatch();
        for (int i = 0; i < steps; i++)
        {
            logits.Add(state.Logits.ToArray());
            tokens[i] = OrtDecoder.ArgMax(state.Logits);
            if (i + 1 < steps)
            {
                watch.Start();
                state.Append(tokens[i]);
                watch.Stop();
            }
        }
        return (tokens, logits, watch.Elapsed);
    }
}
