using System.Text.Json;
using Prova.Core;

namespace Prova.Cli.Tests;

/// <summary>The real executable, as a user runs it.</summary>
public sealed class ProcessTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void RunAsChildProcessPrintsJson()
    {
        var (model, inputs, _) = TestModels.Write(TestModels.Linear(), _dir, "linear");
        var result = CliHarness.RunProcess(["run", model, "--input", inputs, "--json"]);
        Assert.True(result.ExitCode == 0, result.ToString());
        var outputs = TensorJson.ReadNamedTensors(result.Out, "outputs");
        using var doc = JsonDocument.Parse(result.Out);
        Assert.Equal(TensorEncoding.Hash(outputs), doc.RootElement.GetProperty("outputHash").GetString());
    }

    [Fact]
    public void BadInputAsChildProcessIsOneLineAndExit2()
    {
        string garbage = _dir.File("garbage.onnx");
        File.WriteAllBytes(garbage, [0x08, 0xFF, 0xFF, 0xFF, 0x12, 0x34, 0x00, 0x7A]);
        string request = _dir.File("in.json");
        File.WriteAllText(request, """{"inputs": {}}""");
        foreach (var args in new[] { new[] { "run", garbage, "--input", request }, ["run", _dir.File("missing.onnx"), "--input", request], ["run"] })
        {
            var result = CliHarness.RunProcess(args);
            Assert.True(result.ExitCode == 2, result.ToString());
            Assert.Single(result.Err.TrimEnd('\n').Split('\n'));
            Assert.StartsWith("error: ", result.Err);
        }
    }
}
