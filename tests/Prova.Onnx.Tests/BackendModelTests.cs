using Prova.Core;
using Xunit.Abstractions;

namespace Prova.Onnx.Tests;

/// <summary>Loads the official ONNX backend test models (libonnx-testdata) with the loader.</summary>
public sealed class BackendModelTests(ITestOutputHelper output)
{
    internal const string DataRoot = "/usr/share/libonnx-testdata/data";

    public static bool HaveData => Directory.Exists(Path.Combine(DataRoot, "node"));

    [Fact]
    public void EveryNodeTestModelLoadsOrIsReportedAsModelException()
    {
        Assert.True(HaveData, $"libonnx-testdata not installed at {DataRoot}");
        int loaded = 0;
        var unsupported = new List<string>();
        var invalid = new List<string>();
        foreach (var dir in Directory.GetDirectories(Path.Combine(DataRoot, "node")).Order(StringComparer.Ordinal))
        {
            string path = Path.Combine(dir, "model.onnx");
            try
            {
                var model = OnnxLoader.Load(path);
                Assert.NotEmpty(model.Graph.Nodes);
                loaded++;
            }
            catch (ModelException e)
            {
                (e.IsUnsupported ? unsupported : invalid).Add($"{Path.GetFileName(dir)}: {e.Message}");
            }
        }
        output.WriteLine($"loaded {loaded}, unsupported {unsupported.Count}, invalid {invalid.Count}");
        foreach (var line in unsupported.Concat(invalid))
        {
            output.WriteLine(line);
        }
        Assert.Empty(invalid);
        Assert.True(loaded > 800, $"only {loaded} models loaded");
    }

    [Fact]
    public void EveryNodeTestTensorFileParsesOrIsReportedAsModelException()
    {
        int parsed = 0, rejected = 0;
        foreach (var file in Directory.GetFiles(Path.Combine(DataRoot, "node"), "*.pb", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            try
            {
                var (_, tensor) = OnnxTensors.ParseTensorProto(File.ReadAllBytes(file));
                Assert.True(DataTypes.IsSupported(tensor.Type));
                parsed++;
            }
            catch (ModelException)
            {
                rejected++;
            }
        }
        output.WriteLine($"parsed {parsed} tensor files, rejected {rejected}");
        Assert.True(parsed > 1500, $"only {parsed} tensor files parsed");
    }
}
