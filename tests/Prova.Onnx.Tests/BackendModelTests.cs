using Prova.Core;
using Xunit.Abstractions;

namespace Prova.Onnx.Tests;

/// <summary>Loads the official ONNX backend test models (libonnx-testdata) with the loader.</summary>
public sealed class BackendModelTests(ITestOutputHelper output)
{
    internal const string DataRoot = "/usr/share/libonnx-testdata/data";

    public static bool HaveData => Directory.Exists(Path.Combine(DataRoot, "node"));

    [Fact]
    public void EveryBackendTestModelLoadsOrIsReportedAsUnsupported()
    {
        Assert.True(HaveData, $"libonnx-testdata not installed at {DataRoot}");
        int loaded = 0;
        var unsupported = new List<string>();
        var invalid = new List<string>();
        foreach (var path in ModelPaths())
        {
            string dir = Path.GetDirectoryName(path)!;
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
        Assert.True(loaded > 1000, $"only {loaded} models loaded");
    }

    /// <summary>Every backend model, written back by <see cref="OnnxWriter"/>, loads to the same graph.</summary>
    [Fact]
    public void EveryLoadableModelSurvivesWriteAndReload()
    {
        int checkedModels = 0;
        foreach (var path in ModelPaths())
        {
            OnnxModel model;
            try
            {
                model = OnnxLoader.Load(path);
            }
            catch (ModelException)
            {
                continue;
            }
            var again = OnnxLoader.Load(OnnxWriter.Write(model));
            ModelAssert.Equal(model, again, path);
            checkedModels++;
        }
        output.WriteLine($"{checkedModels} models written and reloaded identically");
        Assert.True(checkedModels > 1000);
    }

    internal static IEnumerable<string> ModelPaths()
    {
        foreach (var group in new[] { "node", "simple", "pytorch-converted", "pytorch-operator", "real" })
        {
            string root = Path.Combine(DataRoot, group);
            if (!Directory.Exists(root))
            {
                continue;
            }
            foreach (var dir in Directory.GetDirectories(root).Order(StringComparer.Ordinal))
            {
                string path = Path.Combine(dir, "model.onnx");
                if (File.Exists(path))
                {
                    yield return path;
                }
            }
        }
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
