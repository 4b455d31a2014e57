using System.Text.Json;
using Prova.Core;
using Prova.Runtime;

namespace Prova.Cli.Tests;

public sealed class RunCommandTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly string _model;
    private readonly string _inputs;
    private readonly Dictionary<string, Tensor> _values;

    public RunCommandTests()
    {
        (_model, _inputs, _values) = TestModels.Write(TestModels.Linear(), _dir, "linear");
    }

    public void Dispose() => _dir.Dispose();

    private string Request(string json)
    {
        string path = _dir.File(Guid.NewGuid().ToString("N") + ".json");
        File.WriteAllText(path, json);
        return path;
    }

    private static void AssertBadInput(CliResult result, string expected)
    {
        Assert.True(result.ExitCode == ExitCodes.BadInput, result.ToString());
        string err = result.Err.TrimEnd('\n', '\r');
        Assert.DoesNotContain('\n', err);
        Assert.StartsWith("error: ", err);
        Assert.Contains(expected, err);
        Assert.DoesNotContain(" at Prova.", result.Err);
        Assert.Equal("", result.Out);
    }

    [Fact]
    public void JsonOutputHasTheOutputsAndTheirHash()
    {
        var result = CliHarness.Run("run", _model, "--input", _inputs, "--json", "--threads", "1");
        Assert.True(result.ExitCode == 0, result.ToString());
        using var doc = JsonDocument.Parse(result.Out);
        var root = doc.RootElement;
        Assert.Equal(["outputs", "outputHash", "latencyMs"], root.EnumerateObject().Select(p => p.Name).ToArray());
        var outputs = TensorJson.ReadNamedTensors(result.Out, "outputs");
        var y = Assert.Single(outputs).Value;
        Assert.Equal([1, 4], y.ShapeArray());
        Assert.Equal(DataType.Float32, y.Type);
        Assert.Equal(TensorEncoding.Hash(outputs), root.GetProperty("outputHash").GetString());
        Assert.True(root.GetProperty("latencyMs").GetDouble() > 0);

        // The same numbers as running the engine directly.
        using var session = new InferenceSession(TestModels.Linear(), new SessionOptions { Threads = 1 });
        Assert.Equal(TensorEncoding.Hash(session.Run(_values)), root.GetProperty("outputHash").GetString());
    }

    [Fact]
    public void BenchReportsIterationsMedianAndP99()
    {
        var result = CliHarness.Run("run", _model, "-i", _inputs, "--json", "--bench", "25");
        Assert.True(result.ExitCode == 0, result.ToString());
        using var doc = JsonDocument.Parse(result.Out);
        var bench = doc.RootElement.GetProperty("bench");
        Assert.Equal(25, bench.GetProperty("iterations").GetInt32());
        double median = bench.GetProperty("medianMs").GetDouble();
        double p99 = bench.GetProperty("p99Ms").GetDouble();
        Assert.True(median > 0 && p99 >= median, $"median {median}, p99 {p99}");
    }

    [Fact]
    public void HumanOutputShowsOutputsHashAndLatency()
    {
        var result = CliHarness.Run("run", _model, "--input", _inputs, "--bench", "5");
        Assert.True(result.ExitCode == 0, result.ToString());
        var json = CliHarness.Run("run", _model, "--input", _inputs, "--json");
        string hash = JsonDocument.Parse(json.Out).RootElement.GetProperty("outputHash").GetString()!;
        Assert.Contains(hash, result.Out);
        Assert.Contains("float32", result.Out);
        Assert.Contains("[1, 4]", result.Out);
        Assert.Contains("latency", result.Out);
        Assert.Contains("median", result.Out);
        Assert.Equal("", result.Err);
    }

    [Fact]
    public void OutputFileCanBeReadBack()
    {
        string path = _dir.File("out.json");
        var result = CliHarness.Run("run", _model, "--input", _inputs, "-o", path, "--json");
        Assert.True(result.ExitCode == 0, result.ToString());
        var written = TensorJson.ReadNamedTensors(File.ReadAllBytes(path), "outputs");
        string hash = JsonDocument.Parse(result.Out).RootElement.GetProperty("outputHash").GetString()!;
        Assert.Equal(hash, TensorEncoding.Hash(written));
    }

    [Fact]
    public void GarbageModelIsBadInput()
    {
        string path = _dir.File("garbage.onnx");
        var bytes = new byte[4096];
        new Random(5).NextBytes(bytes);
        File.WriteAllBytes(path, bytes);
        var result = CliHarness.Run("run", path, "--input", _inputs);
        Assert.True(result.ExitCode == ExitCodes.BadInput, result.ToString());
        Assert.StartsWith("error: ", result.Err);
        Assert.Single(result.Err.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public void MissingInputIsBadInput()
        => AssertBadInput(CliHarness.Run("run", _model, "--input", Request("""{"inputs": {}}""")), "missing input 'x'");

    [Fact]
    public void UnknownInputIsBadInput()
    {
        var request = Request("""{"inputs": {"x": {"dtype": "float32", "shape": [1, 16], "data": [0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]}, "z": {"dtype": "float32", "shape": [1], "data": [1]}}}""");
        AssertBadInput(CliHarness.Run("run", _model, "--input", request), "the model has no input 'z'");
    }

    [Fact]
    public void WrongDtypeIsBadInput()
    {
        var request = Request("""{"inputs": {"x": {"dtype": "int64", "shape": [1, 16], "data": [0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]}}}""");
        AssertBadInput(CliHarness.Run("run", _model, "--input", request), "input 'x' should be float32 but is int64");
    }

    [Fact]
    public void WrongShapeIsBadInput()
    {
        var request = Request("""{"inputs": {"x": {"dtype": "float32", "shape": [1, 15], "data": [0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]}}}""");
        AssertBadInput(CliHarness.Run("run", _model, "--input", request), "input 'x' should have shape [1, 16] but has [1, 15]");
    }

    [Fact]
    public void MalformedRequestIsBadInput()
    {
        var request = Request("""{"inputs": {"x": {"dtype": "float32", "shape": [1, 16], "data": [1, 2]}}}""");
        AssertBadInput(CliHarness.Run("run", _model, "--input", request), "tensor 'x': shape [1, 16] needs 16 elements but \"data\" has 2");
        AssertBadInput(CliHarness.Run("run", _model, "--input", Request("{\"inputs\": ")), "invalid JSON");
    }

    [Fact]
    public void NonexistentFilesAreBadInput()
    {
        AssertBadInput(CliHarness.Run("run", _dir.File("nope.onnx"), "--input", _inputs), "model file");
        AssertBadInput(CliHarness.Run("run", _model, "--input", _dir.File("nope.json")), "input file");
        AssertBadInput(CliHarness.Run("run", _dir.Path, "--input", _inputs), "is a directory");
    }

    [Fact]
    public void BadUsageIsExitCode2()
    {
        AssertBadInput(CliHarness.Run("run", _model), "--input");
        AssertBadInput(CliHarness.Run("run", _model, "--input", _inputs, "--threads", "0"), "--threads must be between 1 and");
        AssertBadInput(CliHarness.Run("run", _model, "--input", _inputs, "--threads", "many"), "many");
        AssertBadInput(CliHarness.Run("run", _model, "--input", _inputs, "--bench", "0"), "--bench must be at least 1");
        AssertBadInput(CliHarness.Run("frobnicate"), "frobnicate");
    }

    [Fact]
    public void VersionAndHelp()
    {
        var version = CliHarness.Run("--version");
        Assert.Equal(0, version.ExitCode);
        Assert.Matches(@"^\d+\.\d+\.\d+", version.Out);
        var help = CliHarness.Run("run", "--help");
        Assert.Equal(0, help.ExitCode);
        Assert.Contains("--input", help.Out);
        Assert.Contains("--bench", help.Out);
        var demoHelp = CliHarness.Run("demo", "-h");
        Assert.Equal(0, demoHelp.ExitCode);
        Assert.Contains("--dir", demoHelp.Out);
        var rootHelp = CliHarness.Run();
        Assert.Equal(0, rootHelp.ExitCode);
        Assert.Contains("run", rootHelp.Out);
        Assert.Contains("demo", rootHelp.Out);
    }

    [Fact]
    public void AReshapeMissingItsShapeInputIsBadInputNamingTheNode()
    {
        // Issue #14, defect 5: this was an IndexOutOfRangeException, exit 3.
        var b = new Onnx.ModelBuilder(opset: 17);
        var x = b.Input("x", DataType.Float32, 1, 16);
        b.Output(b.Node("Reshape", [x], name: "flatten_it"), "y");
        string path = _dir.File("reshape-one-input.onnx");
        Onnx.OnnxWriter.Save(b.Build(), path);

        AssertBadInput(CliHarness.Run("run", path, "--input", _inputs), "node 'flatten_it' (Reshape): has 1 input but Reshape (opset 17) requires exactly 2");
    }

    [Fact]
    public void AnInputOfTwoMillionDimensionsGivesOneBoundedErrorLine()
    {
        // Issue #14, defect 6: the error quoted the whole declared shape, a 6 MB line.
        var b = new Onnx.ModelBuilder(opset: 17);
        var dims = new int[2_000_000];
        Array.Fill(dims, 1);
        var x = b.Input("x", DataType.Float32, dims);
        b.Output(b.Node("Relu", [x]), "y");
        string path = _dir.File("two-million-dims.onnx");
        Onnx.OnnxWriter.Save(b.Build(), path);

        var result = CliHarness.Run("run", path, "--input", _inputs);
        AssertBadInput(result, "input 'x'");
        Assert.True(result.Err.Length <= "error: ".Length + ErrorText.MaxMessageChars + Environment.NewLine.Length, $"{result.Err.Length} chars");
        Assert.Contains("more)", result.Err);
    }

    [Theory]
    [InlineData("FASHION-CNN", "fashion-cnn")]
    [InlineData("fashion-cnn/", "fashion-cnn")]
    public void ModelPushRefusesALookAlikeNameBeforeUploading(string name, string normal)
    {
        // Issue #14, defect 7: refused by the CLI itself (no node runs at this address), exit 2 and one line.
        var result = CliHarness.Run("model", "push", _model, "--name", name, "--version", "1.0.0", "--node", "http://127.0.0.1:9");
        AssertBadInput(result, $"the model name '{name}' is not in normal form; use '{normal}'");
    }
}
