using Prova.Core;
using Prova.Onnx;
using Prova.Runtime.Quantization;

namespace Prova.Cli.Tests;

public sealed class QuantizeCommandTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static void AssertBadInput(CliResult result, string expected)
    {
        Assert.True(result.ExitCode == ExitCodes.BadInput, result.ToString());
        string err = result.Err.TrimEnd('\n', '\r');
        Assert.DoesNotContain('\n', err);
        Assert.StartsWith("error: ", err);
        Assert.Contains(expected, err);
        Assert.DoesNotContain(" at Prova.", result.Err);
    }

    [Fact]
    public void QuantizesTheFashionCnnAndReportsAgreementAndAccuracy()
    {
        string output = _dir.File("cnn.int8.onnx");
        var result = CliHarness.Run("model", "quantize", RepoFiles.Get("models", "fashion-cnn.onnx"),
            "--calibration", RepoFiles.Get("models", "examples"), "-o", output, "--threads", "1");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("", result.Err);
        Assert.Contains("quantized 3 node(s) to int8: conv1, conv2, fc", result.Out);
        // 8 example files: the last 2 are held out.
        Assert.Matches(@"top-1 agreement float vs int8 on 2 held-out input\(s\): \d+\.\d\d %", result.Out);
        Assert.Matches(@"accuracy on the held-out inputs: float \d+\.\d\d %, int8 \d+\.\d\d %", result.Out);

        var model = OnnxLoader.Load(output);
        Assert.Contains(model.Graph.Nodes, n => n.OpType == "QuantizeLinear");
        Assert.Contains(model.Graph.Initializers.Values, t => t.Type == DataType.Int8);
        Assert.True(model.Opset >= 13);
    }

    [Fact]
    public void ASingleBatchedFileIsSplitByRows()
    {
        // Five example images in one request [5, 1, 28, 28]: four calibrate, the last is held out.
        var images = new List<float>();
        var labels = new List<int>();
        for (int i = 0; i < 5; i++)
        {
            string file = RepoFiles.Get("models", "examples", $"fashion-test-{i:D5}.json");
            images.AddRange((float[])TensorJson.ReadRequestFile(file)["image"].Data);
            labels.Add(int.Parse(System.Text.RegularExpressions.Regex.Match(File.ReadAllText(file), @"""labels"":\[(\d)\]").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        }
        string batch = _dir.File("batch.json");
        using (var stream = File.Create(batch))
        using (var writer = new System.Text.Json.Utf8JsonWriter(stream))
        {
            writer.WriteStartObject();
            writer.WritePropertyName("inputs");
            TensorJson.WriteTensorMap(writer, new Dictionary<string, Tensor> { ["image"] = Tensor.Create([5, 1, 28, 28], images.ToArray()) });
            writer.WriteStartArray("labels");
            labels.ForEach(writer.WriteNumberValue);
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        var result = CliHarness.Run("model", "quantize", RepoFiles.Get("models", "fashion-mlp.onnx"), "--calibration", batch, "-o", _dir.File("q.onnx"));
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("on 1 request(s), 4 input(s)", result.Out);
        Assert.Contains("top-1 agreement float vs int8 on 1 held-out input(s)", result.Out);
        Assert.Contains("accuracy on the held-out inputs", result.Out);
    }

    [Fact]
    public void WithoutLabelsOnlyAgreementIsReported()
    {
        var model = TestModels.Linear();
        string modelPath = _dir.File("linear.onnx");
        OnnxWriter.Save(model, modelPath);
        var random = new Random(5);
        for (int i = 0; i < 2; i++)
        {
            var x = Tensor.Create([1, 16], Enumerable.Range(0, 16).Select(_ => (float)random.NextDouble()).ToArray());
            File.WriteAllBytes(_dir.File($"calib{i}.json"), TensorJson.WriteNamedTensors(new Dictionary<string, Tensor> { ["x"] = x }));
        }
        var result = CliHarness.Run("model", "quantize", modelPath, "--calibration", _dir.File("calib0.json"), "--holdout", _dir.File("calib1.json"), "-o", _dir.File("q.onnx"));
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("quantized 2 node(s) to int8: fc1, fc2", result.Out);
        Assert.Contains("top-1 agreement float vs int8 on 1 held-out input(s)", result.Out);
        Assert.DoesNotContain("accuracy", result.Out);
    }

    [Fact]
    public void OneInputWithoutHoldoutIsRefused()
    {
        string one = RepoFiles.Get("models", "examples", "fashion-test-00000.json");
        AssertBadInput(CliHarness.Run("model", "quantize", RepoFiles.Get("models", "fashion-mlp.onnx"), "--calibration", one, "-o", _dir.File("q.onnx")),
            "give --holdout");
    }

    [Fact]
    public void BadInputsEndWithExitCode2AndOneLine()
    {
        string model = RepoFiles.Get("models", "fashion-mlp.onnx");
        string calibration = RepoFiles.Get("models", "examples");
        AssertBadInput(CliHarness.Run("model", "quantize", _dir.File("missing.onnx"), "--calibration", calibration, "-o", _dir.File("q.onnx")), "does not exist");
        AssertBadInput(CliHarness.Run("model", "quantize", model, "--calibration", _dir.File("missing.json"), "-o", _dir.File("q.onnx")), "does not exist");
        AssertBadInput(CliHarness.Run("model", "quantize", model, "--calibration", _dir.Path, "-o", _dir.File("q.onnx")), "no *.json request files");
        AssertBadInput(CliHarness.Run("model", "quantize", model, "-o", _dir.File("q.onnx")), "--calibration");

        // Inputs that do not fit the model.
        string wrong = _dir.File("wrong.json");
        File.WriteAllText(wrong, """{"inputs": {"x": {"dtype": "float32", "shape": [1], "data": [1]}}}""");
        AssertBadInput(CliHarness.Run("model", "quantize", model, "--calibration", wrong, "--holdout", wrong, "-o", _dir.File("q.onnx")), "");

        // Nothing to quantize.
        var b = new ModelBuilder();
        b.Output(b.Node("Relu", [b.Input("image", DataType.Float32, -1, 1, 28, 28)]), "y");
        string relu = _dir.File("relu.onnx");
        OnnxWriter.Save(b.Build(), relu);
        AssertBadInput(CliHarness.Run("model", "quantize", relu, "--calibration", calibration, "-o", _dir.File("q.onnx")), "MatMul, Gemm or Conv");

        // Labels that are not class indices.
        string labels = _dir.File("labels.json");
        File.WriteAllText(labels, File.ReadAllText(RepoFiles.Get("models", "examples", "fashion-test-00000.json")).Replace("\"labels\":[9]", "\"labels\":[\"boot\"]"));
        AssertBadInput(CliHarness.Run("model", "quantize", model, "--calibration", calibration, "--holdout", labels, "-o", _dir.File("q.onnx")), "labels");
    }
}
