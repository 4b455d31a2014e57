using Prova.Core;
using Prova.Onnx;
using Xunit.Abstractions;

namespace Prova.Runtime.Tests.Elementwise;

/// <summary>The official ONNX backend node cases for the elementwise ops (rtol 1e-3, atol 1e-7).</summary>
public sealed class ElementwiseBackendTests
{
    private const string Root = "/usr/share/libonnx-testdata/data/node";

    private static readonly HashSet<string> s_ops =
    [
        "Add", "Sub", "Mul", "Div", "Pow", "PRelu", "Mod", "Min", "Max", "Sum", "Mean", "Neg", "Abs", "Sign",
        "Sqrt", "Reciprocal", "Exp", "Log", "Tanh", "Sigmoid", "Erf", "Floor", "Ceil", "Relu", "LeakyRelu",
        "HardSigmoid", "HardSwish", "Elu", "Selu", "Softplus", "Gelu", "Clip", "Equal", "Less", "LessOrEqual",
        "Greater", "GreaterOrEqual", "And", "Or", "Xor", "Not", "Where", "Cast", "Softmax", "LogSoftmax",
    ];

    private readonly ITestOutputHelper _output;

    public ElementwiseBackendTests(ITestOutputHelper output)
    {
        _output = output;
    }

    [Fact]
    public void EveryBackendCaseOfTheseOpsPassesOrIsReportedUnsupported()
    {
        if (!Directory.Exists(Root))
        {
            _output.WriteLine("libonnx-testdata not installed; skipped");
            return;
        }
        var failures = new List<string>();
        var unsupported = new List<string>();
        int passed = 0;
        foreach (var dir in Directory.GetDirectories(Root).Order(StringComparer.Ordinal))
        {
            OnnxModel model;
            try
            {
                model = OnnxLoader.Load(Path.Combine(dir, "model.onnx"));
            }
            catch (ModelException)
            {
                continue;
            }
            if (model.Graph.Nodes.Count == 0 || !model.Graph.Nodes.TrueForAll(n => s_ops.Contains(n.OpType)))
            {
                continue;
            }
            string name = Path.GetFileName(dir);
            if (!model.Graph.Inputs.TrueForAll(v => DataTypes.IsSupported(v.ElementType)) || !model.Graph.Outputs.TrueForAll(v => DataTypes.IsSupported(v.ElementType)))
            {
                unsupported.Add($"{name}: graph input/output element type not held by Prova");
                continue;
            }
            try
            {
                using var session = new InferenceSession(model, new SessionOptions { Threads = 1 });
                foreach (var set in Directory.GetDirectories(dir, "test_data_set_*"))
                {
                    var inputs = new Dictionary<string, Tensor>();
                    for (int i = 0; i < model.Graph.Inputs.Count; i++)
                    {
                        var (_, value) = OnnxTensors.ParseTensorProto(File.ReadAllBytes(Path.Combine(set, $"input_{i}.pb")));
                        inputs[model.Graph.Inputs[i].Name] = value;
                    }
                    var outputs = session.Run(inputs);
                    for (int i = 0; i < model.Graph.Outputs.Count; i++)
                    {
                        var (_, expected) = OnnxTensors.ParseTensorProto(File.ReadAllBytes(Path.Combine(set, $"output_{i}.pb")));
                        string? problem = Compare(expected, outputs[model.Graph.Outputs[i].Name]);
                        if (problem is not null)
                        {
                            failures.Add($"{name}/{Path.GetFileName(set)} output {i}: {problem}");
                        }
                    }
                }
                passed++;
            }
            catch (ModelException ex) when (ex.IsUnsupported)
            {
                unsupported.Add($"{name}: {ex.Message}");
            }
            catch (Exception ex)
            {
                failures.Add($"{name}: {ex.GetType().Name}: {ex.Message}");
            }
        }
        _output.WriteLine($"{passed} cases run, {failures.Count} failures, {unsupported.Count} unsupported");
        foreach (var u in unsupported)
        {
            _output.WriteLine("unsupported: " + u);
        }
        foreach (var f in failures)
        {
            _output.WriteLine("FAIL: " + f);
        }
        Assert.True(passed > 100, $"only {passed} cases ran");
        Assert.Empty(failures);
    }

    private static string? Compare(Tensor expected, Tensor actual)
    {
        if (expected.Type != actual.Type)
        {
            return $"type {actual.Type}, expected {expected.Type}";
        }
        if (!expected.Shape.SequenceEqual(actual.Shape))
        {
            return $"shape {actual.ShapeString()}, expected {expected.ShapeString()}";
        }
        for (int i = 0; i < expected.Length; i++)
        {
            double e = Convert.ToDouble(expected.Data.GetValue(i));
            double a = Convert.ToDouble(actual.Data.GetValue(i));
            if (double.IsNaN(e) && double.IsNaN(a))
            {
                continue;
            }
            if (e == a)
            {
                continue;
            }
            if (!(System.Math.Abs(a - e) <= 1e-7 + 1e-3 * System.Math.Abs(e)))
            {
                return $"element {i}: {a}, expected {e}";
            }
        }
        return null;
    }
}
