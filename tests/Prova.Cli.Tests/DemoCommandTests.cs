namespace Prova.Cli.Tests;

public sealed class DemoCommandTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void DemoRunsAndShowsIdenticalHashes()
    {
        var result = CliHarness.Run("demo", "--dir", _dir.Path);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("bit-identical across thread counts", result.Out);
        Assert.True(File.Exists(_dir.File("lenet.onnx")));
        Assert.True(File.Exists(_dir.File("input.json")));

        // The files it wrote work with `prova run`, with the same hash the demo printed.
        var run = CliHarness.Run("run", _dir.File("lenet.onnx"), "--input", _dir.File("input.json"), "--json", "--threads", "1");
        Assert.True(run.ExitCode == 0, run.ToString());
        string hash = System.Text.Json.JsonDocument.Parse(run.Out).RootElement.GetProperty("outputHash").GetString()!;
        Assert.Contains(hash, result.Out);
    }
}
