using Prova.Core;
using Prova.Onnx;
using Xunit.Abstractions;

namespace Prova.Runtime.Tests.Linear;

/// <summary>The official ONNX backend node tests for the linear ops (libonnx-testdata), rtol 1e-3, atol 1e-7.</summary>
public sealed class LinearBackendTests(ITestOutputHelper output)
{
    private const string NodeRoot = "/usr/share/libonnx-testdata/data/node";

    private static readonly string[] s_prefixes =
        ["test_matmul", "test_gemm", "test_conv", "test_maxpool", "test_averagepool", "test_globalaveragepool", "test_globalmaxpool", "test_batchnorm"];

    private static readonly HashSet<string> s_ops = ["MatMul", "Gemm", "Conv", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "BatchNormalization"];

    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        if (!Directory.Exists(NodeRoot))
        {
            return data;
        }
        foreach (var dir in Directory.GetDirectories(NodeRoot).Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileName(dir);
            if (s_prefixes.Any(p => name.StartsWith(p, StringComparison.Ordinal)))
            {
                data.Add(name);
            }
        }
        return data;
    }

    [Fact]
    public void BackendDataIsInstalled()
    {
        Assert.True(Directory.Exists(NodeRoot), $"libonnx-testdata not found at {NodeRoot}");
        Assert.True(Cases().Count > 50);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void BackendCasePasses(string name)
    {
        string dir = Path.Combine(NodeRoot, name);
        var model = OnnxLoader.Load(Path.Combine(dir, "model.onnx"));
        if (model.Graph.Nodes.Any(n => !s_ops.Contains(n.OpType)))
        {
            output.WriteLine($"skipped: not a linear op ({string.Join(", ", model.Graph.Nodes.Select(n => n.OpType))})");
            return;
        }
        if (model.Graph.Inputs.Any(i => i.ElementType != DataType.Float32))
        {
            output.WriteLine("skipped: non-float32 inputs");
            AssertUnsupported(model, dir);
            return;
        }
        foreach (int threads in new[] { 1, 2 })
        {
            InferenceSession session;
            try
            {
                session = new InferenceSession(model, new SessionOptions { Threads = threads });
            }
            catch (ModelException e) when (e.IsUnsupported && IsAllowedGap(e.Message))
            {
                output.WriteLine($"unsupported (allowed): {e.Message}");
                return;
            }
            using (session)
            {
                foreach (var set in Directory.GetDirectories(dir, "test_data_set_*").Order(StringComparer.Ordinal))
                {
                    var feeds = new Dictionary<string, Tensor>(StringComparer.Ordinal);
                    for (int i = 0; i < model.Graph.Inputs.Count; i++)
                    {
                        var (_, t) = OnnxTensors.ParseTensorProto(File.ReadAllBytes(Path.Combine(set, $"input_{i}.pb")));
                        feeds[model.Graph.Inputs[i].Name] = t;
                    }
                    var outputs = session.Run(feeds);
                    for (int i = 0; i < model.Graph.Outputs.Count; i++)
                    {
                        var (_, expected) = OnnxTensors.ParseTensorProto(File.ReadAllBytes(Path.Combine(set, $"output_{i}.pb")));
                        var actual = outputs[model.Graph.Outputs[i].Name];
                        Assert.Equal(expected.ShapeArray(), actual.ShapeArray());
                        Assert.Equal(expected.Type, actual.Type);
                        if (expected.Data is float[] e)
                        {
                            var a = (float[])actual.Data;
                            for (int j = 0; j < e.Length; j++)
                            {
                                Assert.True(MathF.Abs(a[j] - e[j]) <= 1e-7f + 1e-3f * MathF.Abs(e[j]), $"{name} output {i} element {j}: {a[j]} vs expected {e[j]} (threads {threads})");
                            }
                        }
                        else
                        {
                            Assert.Equal(expected.Bytes().ToArray(), actual.Bytes().ToArray());
                        }
                    }
                }
            }
        }
    }

    private static bool IsAllowedGap(string message)
        => message.Contains("3-D", StringComparison.Ordinal) || message.Contains("training_mode", StringComparison.Ordinal);

    private static void AssertUnsupported(OnnxModel model, string dir)
    {
        var e = Assert.Throws<ModelException>(() => new InferenceSession(model, new SessionOptions { Threads = 1 }).Dispose());
        Assert.True(e.IsUnsupported, $"{Path.GetFileName(dir)}: {e.Message}");
    }
}
