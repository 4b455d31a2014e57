using Prova.Core;
using Prova.Onnx;

namespace Prova.Runtime.Tests.Shape;

/// <summary>Runs official ONNX backend node tests (libonnx-testdata) through an <see cref="InferenceSession"/>.</summary>
internal static class BackendOracle
{
    public const string NodeRoot = "/usr/share/libonnx-testdata/data/node";

    /// <summary>Case names starting with one of the prefixes, minus the expanded variants (other ops) and the excluded ones.</summary>
    public static TheoryData<string> Cases(string[] prefixes, string[] excluded)
    {
        var data = new TheoryData<string>();
        if (!Directory.Exists(NodeRoot))
        {
            return data;
        }
        foreach (var dir in Directory.GetDirectories(NodeRoot).Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileName(dir);
            bool match = false;
            foreach (var p in prefixes)
            {
                match |= name.StartsWith(p, StringComparison.Ordinal);
            }
            if (match && !name.Contains("_expanded", StringComparison.Ordinal) && Array.IndexOf(excluded, name) < 0)
            {
                data.Add(name);
            }
        }
        return data;
    }

    /// <summary>
    /// Runs every test data set of a case. The backend tests feed shapes, axes, pads and the like
    /// as graph inputs, while Prova needs them at plan time; when the model is rejected for that
    /// reason, the integer and scalar inputs are turned into initializers and the case is run again.
    /// </summary>
    public static void Run(string name)
    {
        string dir = Path.Combine(NodeRoot, name);
        var model = OnnxLoader.Load(Path.Combine(dir, "model.onnx"));
        var sets = Directory.GetDirectories(dir, "test_data_set_*");
        Assert.NotEmpty(sets);
        foreach (var set in sets)
        {
            var inputs = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            for (int i = 0; File.Exists(Path.Combine(set, $"input_{i}.pb")); i++)
            {
                var (_, value) = OnnxTensors.ParseTensorProto(File.ReadAllBytes(Path.Combine(set, $"input_{i}.pb")));
                inputs[model.Graph.Inputs[i].Name] = value;
            }
            Dictionary<string, Tensor> outputs;
            try
            {
                using var session = new InferenceSession(model);
                outputs = session.Run(inputs);
            }
            catch (ModelException e) when (e.IsUnsupported && e.Message.Contains("must be known before running", StringComparison.Ordinal))
            {
                var (constModel, rest) = WithConstantInputs(model, inputs);
                using var session = new InferenceSession(constModel);
                outputs = session.Run(rest);
            }
            for (int i = 0; File.Exists(Path.Combine(set, $"output_{i}.pb")); i++)
            {
                var (_, expected) = OnnxTensors.ParseTensorProto(File.ReadAllBytes(Path.Combine(set, $"output_{i}.pb")));
                var actual = outputs[model.Graph.Outputs[i].Name];
                AssertClose(expected, actual, $"{name}/{Path.GetFileName(set)} output {i}");
            }
        }
    }

    private static (OnnxModel, Dictionary<string, Tensor>) WithConstantInputs(OnnxModel model, Dictionary<string, Tensor> inputs)
    {
        var initializers = new Dictionary<string, Tensor>(model.Graph.Initializers, StringComparer.Ordinal);
        var graphInputs = new List<ValueInfo>();
        var rest = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var info in model.Graph.Inputs)
        {
            var t = inputs[info.Name];
            if (t.Type is DataType.Int64 or DataType.Int32 || t.Length <= 1)
            {
                initializers[info.Name] = t;
            }
            else
            {
                graphInputs.Add(info);
                rest[info.Name] = t;
            }
        }
        var g = model.Graph;
        var graph = new OnnxGraph { Name = g.Name, Nodes = g.Nodes, Inputs = graphInputs, Outputs = g.Outputs, ValueInfos = g.ValueInfos, Initializers = initializers };
        return (new OnnxModel { IrVersion = model.IrVersion, Opsets = model.Opsets, Graph = graph }, rest);
    }

    public static void AssertClose(Tensor expected, Tensor actual, string what)
    {
        Assert.True(expected.Type == actual.Type, $"{what}: type {actual.Type}, expected {expected.Type}");
        Assert.True(expected.Shape.SequenceEqual(actual.Shape), $"{what}: shape {actual.ShapeString()}, expected {expected.ShapeString()}");
        if (expected.Type is DataType.Float32 or DataType.Float64)
        {
            for (int i = 0; i < expected.Length; i++)
            {
                double e = Convert.ToDouble(expected.Data.GetValue(i));
                double a = Convert.ToDouble(actual.Data.GetValue(i));
                bool ok = (double.IsNaN(e) && double.IsNaN(a)) || e == a || Math.Abs(a - e) <= 1e-7 + 1e-3 * Math.Abs(e);
                Assert.True(ok, $"{what}: element {i} is {a}, expected {e}");
            }
        }
        else
        {
            Assert.True(expected.Bytes().SequenceEqual(actual.Bytes()), $"{what}: values differ");
        }
    }
}
