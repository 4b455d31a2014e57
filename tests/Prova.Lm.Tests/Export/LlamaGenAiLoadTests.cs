using Microsoft.ML.OnnxRuntimeGenAI;
using Prova.Lm.Export;
using Xunit.Abstractions;

namespace Prova.Lm.Tests.Export;

/// <summary>
/// ONNX Runtime GenAI 0.20 opens the exporter's folder (model.onnx + genai_config.json, no tokenizer) and its own
/// greedy loop picks the tokens the reference KV loop on ONNX Runtime picks: the layout and the config agree with
/// what GenAI expects.
/// </summary>
public sealed class LlamaGenAiLoadTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("prova-genai-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData(LlamaPrecision.Fp32)]
    [InlineData(LlamaPrecision.Int4)]
    public void GenAiLoadsTheFolderAndGreedyDecodesLikeTheOrtLoop(LlamaPrecision precision)
    {
        const ulong seed = 18;
        output.WriteLine($"seed {seed}, {precision}");
        string path = LlamaGenAiExport.Save(_dir, LlamaConfig.Tiny, precision, seed);
        int[] prompt = [1, 42, 7, 199, 3, 64, 250, 18];
        const int newTokens = 12;

        using var ort = new OrtDecoder(path);
        var (expected, logits) = ort.Greedy(prompt, newTokens);
        // Both run ONNX Runtime's kernels on the same file (GenAI with a shared past/present buffer), so their logits
        // differ only in rounding; a clear top-2 margin keeps that from flipping a token.
        float margin = logits.Min(l => OrtDecoder.TopMargin(l));
        output.WriteLine($"smallest top-2 margin {margin}");
        Assert.True(margin >= 0.01f, $"near tie ({margin}) on the ORT greedy path; pick another seed");

        using var model = new Model(_dir);
        using var options = new GeneratorParams(model);
        options.SetSearchOption("max_length", prompt.Length + newTokens);
        options.SetSearchOption("min_length", prompt.Length + newTokens); // random weights may pick EOS; decode them all
        using var generator = new Generator(model, options);
        generator.AppendTokens(prompt);
        while (!generator.IsDone())
        {
            generator.GenerateNextToken();
        }
        int[] actual = generator.GetSequence(0)[prompt.Length..].ToArray();
        output.WriteLine($"ORT loop {string.Join(' ', expected)} / GenAI {string.Join(' ', actual)}");
        Assert.Equal(expected, actual);
    }
}
