namespace Prova.Cli.Tests;

public sealed class DemoCommandTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void DemoTellsTheWholeStoryAndCatchesTheTamperedResult()
    {
        var result = CliHarness.Run("demo", "--dir", _dir.Path);
        Assert.True(result.ExitCode == 0, result.ToString());
        string output = result.Out;
        // The trained model classifies held-out images with real class names.
        Assert.Contains("predicted Ankle boot ✓", output);
        Assert.Contains("true      Ankle boot", output);
        // Determinism, hosting (a CID), the node's answer and the offline verification.
        Assert.Contains("✓ bit-identical across thread counts", output);
        Assert.Matches(@"CID\s+bafkrei[a-z2-7]{52}", output);
        Assert.Contains("✓ the receipt is signed by the node", output);
        Assert.Contains("✓ re-execution", output);
        Assert.Contains("✓ verified: genuine receipt, and re-running the model gives the same bytes", output);
        // The tampered copy is rejected, with the reason.
        Assert.Contains("✗ outputs", output);
        Assert.Contains("✓ tampering caught", output);
        Assert.DoesNotContain("✗ the", output);

        // The result file it wrote verifies with `prova verify`; the tampered one fails with exit 1.
        Assert.Equal(0, CliHarness.Run("verify", _dir.File("result.json")).ExitCode);
        var tampered = CliHarness.Run("verify", _dir.File("result-tampered.json"));
        Assert.Equal(1, tampered.ExitCode);
        Assert.Contains("outputs", tampered.Err);
    }
}
