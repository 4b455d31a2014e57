namespace Prova.Cli.Tests;

public sealed class DemoCommandTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void DemoTellsTheWholeStoryAndCatchesTheLyingNode()
    {
        var result = CliHarness.Run("demo", "--dir", _dir.Path);
        Assert.True(result.ExitCode == 0, result.ToString());
        string output = result.Out;
        // The trained model classifies held-out images with real class names.
        Assert.Contains("predicted Ankle boot ✓", output);
        Assert.Contains("true      Ankle boot", output);
        // Determinism, the devnet, publication (a CID), replication, both modes and their verification.
        Assert.Contains("✓ bit-identical across thread counts", output);
        Assert.Matches(@"CID\s+bafkrei[a-z2-7]{52}", output);
        Assert.Contains("✓ every node holds the model", output);
        Assert.Contains("✓ verified offline: genuine receipt, and re-running the model gives the same bytes", output);
        Assert.Contains("✓ quorum        3 distinct nodes signed the same output hash", output);
        Assert.Contains("✓ the honest nodes agree", output);
        // The lying node is caught and named.
        Assert.Contains("✗ the nodes disagree", output);
        Assert.Matches(@"node 3 \(0x[0-9a-fA-F]{40}\) lied", output);
        Assert.Contains("✓ the lying node is caught and named", output);
        Assert.DoesNotContain("✗ the lying", output);
        // On chain (anvil, installed by scripts/setup.sh): the liar's receipt is challenged, the committee slashes
        // half its stake, the honest nodes collect their vouchers' fees after the window, a contract gets its answer.
        Assert.DoesNotContain("anvil was not found", output);
        Assert.Contains("✓ the model is registered on chain", output);
        Assert.Contains("✓ every node posted its receipts as Settlement.postBatch", output);
        Assert.Matches(@"stake of node 3: 1 ETH → 0\.5 ETH", output);
        Assert.Contains("✓ verdict NodeLied: node 3 lost 0.5 ETH of its stake", output);
        Assert.Contains("✓ fees collected: each honest node received 0.001 ETH", output);
        Assert.Contains("✓ consumer callback: the contract's output hash equals this machine's engine", output);
        // The chat step: the default language model under quorum:3, a one-token lie caught, challenged (the committee
        // regenerates) and slashed, and a contract asking the model a question gets the text this engine writes.
        Assert.Contains("✓ every node holds the language model", output);
        Assert.Contains("✓ the streamed answer's receipt verifies and generating it again here gives every token", output);
        Assert.Matches(@"✓ three nodes signed the same \d+ tokens, and generating here gives every one of them", output);
        Assert.Matches(@"node 3 \(0x[0-9a-fA-F]{40}\) signed token #\d+ = \d+", output);
        Assert.Contains("✓ the lying node is caught on a generation", output);
        Assert.Contains("challenge the generation lie on chain: the committee regenerates", output);
        Assert.Contains("✓ the contract received the text, token for token what this machine's engine writes", output);
        Assert.DoesNotContain("✗", output.Replace("✗ the nodes disagree", ""));

        // The files it wrote verify with `prova verify`; the evidence names the liar; a changed result fails with exit 1.
        Assert.Equal(0, CliHarness.Run("verify", _dir.File("result.json")).ExitCode);
        Assert.Equal(0, CliHarness.Run("verify", _dir.File("result-quorum.json")).ExitCode);
        var evidence = CliHarness.Run("verify", _dir.File("evidence.json"), "--model", RepoFiles.Get("models/fashion-cnn.onnx"));
        Assert.True(evidence.ExitCode == 0, evidence.ToString());
        Assert.Matches(@"node 0x[0-9a-fA-F]{40} lied", evidence.Out);
        string text = File.ReadAllText(_dir.File("result-quorum.json"));
        File.WriteAllText(_dir.File("result-quorum.json"), text.Replace("\"quorum:3\"", "\"quorum:2\""));
        Assert.Equal(1, CliHarness.Run("verify", _dir.File("result-quorum.json")).ExitCode);
    }
}
