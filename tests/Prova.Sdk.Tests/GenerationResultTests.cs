using System.Text;
using Prova.Core;
using Prova.Core.Content;
using Prova.Core.Crypto;
using Prova.Core.Keys;
using Prova.Core.Receipts;
using Prova.Lm;
using Prova.Runtime.Generation;

namespace Prova.Sdk.Tests;

/// <summary>A real node with the default language model (models/lm) published as a bundle, and one generation it signed through /v1/infer.</summary>
public sealed class GenerationNodeFixture : IAsyncLifetime
{
    private readonly NodeFixture _node = new();

    public static string ModelFolder => RepoFiles.Get("models", "lm");

    public NodeFixture Node => _node;

    public Cid Model { get; private set; }

    /// <summary>A sampled generation (temperature 0.8, seed 7, 12 tokens) as the node signed it.</summary>
    public ResultFile Result { get; private set; } = null!;

    public static GenerationRequest Request => new()
    {
        PromptText = "The jury said",
        MaxTokens = 12,
        Sampling = new SamplingOptions { Temperature = 0.8f, TopK = 40, TopP = 0.95f, RepetitionPenalty = 1f, Seed = 7 },
    };

    public async Task InitializeAsync()
    {
        await _node.InitializeAsync();
        using var client = _node.Client();
        var pushed = await client.PushDirectoryAsync(ModelFolder, new PushOptions { Name = "sdk/lm" }, _node.Owner);
        Model = pushed.Cid;
        var answer = await client.InferAsync(Model, Request.ToTensors());
        Assert.True(answer.Verification.IsValid, answer.Verification.Message);
        Result = answer.ToResultFile();
    }

    public Task DisposeAsync() => _node.DisposeAsync();
}

/// <summary>
/// Verification of generation results and evidence: the signed request is re-run from the model folder with
/// <see cref="LanguageModel.Run"/> and every token compared; a liar that changed one token and signed anyway is named.
/// </summary>
public sealed class GenerationResultTests(GenerationNodeFixture f) : IClassFixture<GenerationNodeFixture>
{
    private static readonly PrivateKey s_liar = PrivateKey.FromHex("0x" + new string('5', 64));

    /// <summary>The result with output token <paramref name="index"/> replaced, re-signed by <see cref="s_liar"/> (a node lying on purpose).</summary>
    private ResultFile Lie(int index, out int signedId)
    {
        var (ids, text) = GenerationOutput.Read(f.Result.Outputs);
        ids = (int[])ids.Clone();
        ids[index] = ids[index] == 0 ? 1 : ids[index] - 1;
        signedId = ids[index];
        var outputs = GenerationOutput.ToTensors(ids, text);
        var receipt = (f.Result.Receipts[0] with { OutputHash = Receipt.HashTensors(outputs) }).SignWith(s_liar);
        return f.Result with { Outputs = outputs, Receipts = [receipt] };
    }

    [Fact]
    public void AGenerationSignedByANodeIsReExecutedTokenByTokenFromTheBundleFolder()
    {
        var v = ResultVerifier.Verify(f.Result.ToJsonBytes(), new ResultVerifierOptions { ModelPath = GenerationNodeFixture.ModelFolder });
        Assert.True(v.IsValid, v.Failure?.Message);
        Assert.True(v.Result!.IsGeneration);
        var (ids, _) = GenerationOutput.Read(f.Result.Outputs);
        Assert.Equal(12, ids.Length);
        Assert.Contains(v.Checks, c => c.Name == "re-execution" && c.Message.Contains("all 12 tokens", StringComparison.Ordinal));
        Assert.Contains(v.Checks, c => c.Name == "model" && c.Message.Contains(f.Model.ToString(), StringComparison.Ordinal));
    }

    [Fact]
    public async Task TheFolderResolvedFromTheNodeByCidReExecutesToo()
    {
        using var cache = new TempDir();
        using var client = f.Node.Client();
        string folder = await ModelFolders.ResolveAsync(f.Model, cache.Path, client: client);
        var v = ResultVerifier.Verify(f.Result.ToJsonBytes(), new ResultVerifierOptions { ModelPath = folder, Threads = 1 });
        Assert.True(v.IsValid, v.Failure?.Message);
    }

    [Fact]
    public void OneTokenChangedAndReSignedFailsReExecutionNamingTheTokenAndBothIds()
    {
        var (honest, _) = GenerationOutput.Read(f.Result.Outputs);
        foreach (int index in new[] { 0, 5, 11 })
        {
            var lie = Lie(index, out int signedId);
            // The receipt is genuine (the liar signed what it returned): only re-execution can tell.
            Assert.True(ResultVerifier.Verify(lie.ToJsonBytes()).IsValid);
            var v = ResultVerifier.Verify(lie.ToJsonBytes(), new ResultVerifierOptions { ModelPath = GenerationNodeFixture.ModelFolder });
            Assert.False(v.IsValid);
            Assert.Equal("re-execution", v.Failure!.Name);
            Assert.StartsWith($"token {index} differs: Prova's re-execution gives id {honest[index]}, the result signs id {signedId}", v.Failure.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void AChangedTokenWithoutANewSignatureFailsAtTheSignedOutputHash()
    {
        var lie = Lie(3, out _) with { Receipts = f.Result.Receipts };
        var v = ResultVerifier.Verify(lie.ToJsonBytes(), new ResultVerifierOptions { ModelPath = GenerationNodeFixture.ModelFolder });
        Assert.Equal("outputs", v.Failure?.Name);
    }

    [Fact]
    public void AShortenedGenerationAndAnotherModelFolderAreRefused()
    {
        var (ids, text) = GenerationOutput.Read(f.Result.Outputs);
        var outputs = GenerationOutput.ToTensors(ids.AsSpan(0, 10), text);
        var shorter = f.Result with
        {
            Outputs = outputs,
            Receipts = [(f.Result.Receipts[0] with { OutputHash = Receipt.HashTensors(outputs) }).SignWith(s_liar)],
        };
        var v = ResultVerifier.Verify(shorter.ToJsonBytes(), new ResultVerifierOptions { ModelPath = GenerationNodeFixture.ModelFolder });
        Assert.Equal("re-execution", v.Failure?.Name);
        Assert.Contains("signs 10 tokens, Prova's re-execution gives 12", v.Failure!.Message, StringComparison.Ordinal);

        using var dir = new TempDir();
        foreach (var file in Directory.GetFiles(GenerationNodeFixture.ModelFolder))
        {
            File.Copy(file, dir.File(Path.GetFileName(file)));
        }
        File.AppendAllText(dir.File("config.json"), " ");
        var other = ResultVerifier.Verify(f.Result.ToJsonBytes(), new ResultVerifierOptions { ModelPath = dir.Path });
        Assert.Equal("model", other.Failure?.Name);
        Assert.Contains($"not {f.Model}", other.Failure!.Message, StringComparison.Ordinal);
    }

    /// <summary>Evidence of a two-node disagreement on the fixture's request: the honest receipt and the liar's.</summary>
    private EvidenceFile Evidence(Receipt honest, Receipt lie) => new()
    {
        Model = f.Model,
        InputHash = honest.InputHash,
        Inputs = f.Result.Inputs,
        Receipts = [honest, lie],
        Outputs = [new EvidenceOutput(honest.Node, honest.OutputHash), new EvidenceOutput(s_liar.Address, lie.OutputHash)],
    };

    [Fact]
    public void GenerationEvidenceNamesTheNodeWhoseTokensDifferFromTheReExecution()
    {
        var honest = f.Result.Receipts[0];
        var lie = Lie(11, out _);
        var evidence = Evidence(honest, lie.Receipts[0]);
        var unexecuted = EvidenceVerifier.Verify(evidence.ToJsonBytes());
        Assert.True(unexecuted.IsValid, unexecuted.Failure?.Message);
        Assert.Empty(unexecuted.Liars);

        var v = EvidenceVerifier.Verify(evidence.ToJsonBytes(), new ResultVerifierOptions { ModelPath = GenerationNodeFixture.ModelFolder });
        Assert.True(v.IsValid, v.Failure?.Message);
        Assert.Equal([s_liar.Address], v.Liars);
        Assert.Equal([honest.Node], v.Honest);
        Assert.Equal(honest.OutputHash, v.RecomputedOutputHash);
    }

    [Fact]
    public void AVerdictRoundTripsThroughTheResultFileWithItsEvidence()
    {
        var honest = f.Result.Receipts[0];
        var lie = Lie(1, out _);
        var evidence = Evidence(honest, lie.Receipts[0]);
        var withVerdict = f.Result with { Verdict = new QuorumVerdict(false, honest.OutputHash, evidence.Outputs) { Evidence = evidence, Quorum = 2 } };
        var read = ResultVerifier.Verify(withVerdict.ToJsonBytes()).Result!;
        Assert.False(read.Verdict!.Agreed);
        Assert.Equal(evidence.Outputs, read.Verdict.Nodes);
        Assert.Equal(2, read.Verdict.Quorum);
        Assert.Equal(evidence.ToJson(), read.Verdict.Evidence!.ToJson());
        Assert.Equal(withVerdict.ToJson(), read.ToJson());
        string text = Encoding.UTF8.GetString(withVerdict.ToJsonBytes()).Replace("\"agreed\": false", "\"agreed\": \"no\"", StringComparison.Ordinal);
        Assert.Equal("verdict", ResultVerifier.Verify(Encoding.UTF8.GetBytes(text)).Failure?.Name);
    }
}
