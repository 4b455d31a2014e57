using Prova.Core;
using Prova.Onnx;
using Ort = Microsoft.ML.OnnxRuntime;

namespace Prova.Runtime.Tests.Attention;

/// <summary>One-node models for the LLM ops, run on Prova and on ONNX Runtime (the oracle) in-process.</summary>
internal static class LlmOpKit
{
    public const string Ms = "com.microsoft";

    public static OnnxAttribute Int(string name, long v) => new() { Name = name, Kind = AttributeKind.Int, Int = v };

    public static OnnxAttribute Float(string name, float v) => new() { Name = name, Kind = AttributeKind.Float, Float = v };

    /// <summary>
    /// A model with one node. Inputs with an empty name are omitted optional inputs; inputs whose
    /// tensor is in <paramref name="initializers"/> become initializers, the rest graph inputs typed
    /// from <paramref name="feeds"/>.
    /// </summary>
    public static OnnxModel Model(string domain, string op, string[] inputs, Dictionary<string, Tensor> feeds, Dictionary<string, Tensor>? initializers, string[] outputs, int opset, params OnnxAttribute[] attributes)
    {
        var graph = new OnnxGraph { Name = "g" };
        foreach (var name in inputs)
        {
            if (name.Length == 0)
            {
                continue;
            }
            if (initializers is not null && initializers.TryGetValue(name, out var init))
            {
                graph.Initializers[name] = init;
            }
            else
            {
                var t = feeds[name];
                graph.Inputs.Add(new ValueInfo { Name = name, ElementType = t.Type, Shape = t.ShapeArray().Select(d => Dim.Fixed(d)).ToArray() });
            }
        }
        var attrs = new Dictionary<string, OnnxAttribute>(StringComparer.Ordinal);
        foreach (var a in attributes)
        {
            attrs[a.Name] = a;
        }
        graph.Nodes.Add(new OnnxNode { Name = "n", OpType = op, Domain = domain, Inputs = inputs, Outputs = outputs, Attributes = attrs });
        foreach (var o in outputs)
        {
            if (o.Length > 0)
            {
                graph.Outputs.Add(new ValueInfo { Name = o, ElementType = DataType.Float32 });
            }
        }
        var opsets = new Dictionary<string, long>(StringComparer.Ordinal) { [""] = opset };
        if (domain.Length > 0)
        {
            opsets[domain] = 1;
        }
        return new OnnxModel { IrVersion = opset >= 23 ? 11 : 8, Opsets = opsets, Graph = graph };
    }

    public static Dictionary<string, Tensor> RunProva(OnnxModel model, Dictionary<string, Tensor> feeds, int threads = 1)
    {
        using var session = new InferenceSession(model, new SessionOptions { Threads = threads });
        return session.Run(feeds);
    }

    public static Dictionary<string, float[]> RunOrt(OnnxModel model, Dictionary<string, Tensor> feeds)
    {
        using var options = new Ort.SessionOptions { IntraOpNumThreads = 1 };
        using var session = new Ort.InferenceSession(OnnxWriter.Write(model), options);
        var names = new List<string>();
        var values = new List<Ort.OrtValue>();
        try
        {
            foreach (var input in model.Graph.Inputs)
            {
                names.Add(input.Name);
                values.Add(ToOrt(feeds[input.Name]));
            }
            var outNames = model.Graph.Outputs.Select(o => o.Name).ToArray();
            using var run = new Ort.RunOptions();
            using var results = session.Run(run, names, values, outNames);
            var dict = new Dictionary<string, float[]>(StringComparer.Ordinal);
            for (int i = 0; i < outNames.Length; i++)
            {
                dict[outNames[i]] = results[i].GetTensorDataAsSpan<float>().ToArray();
            }
            return dict;
        }
        finally
        {
            foreach (var v in values)
            {
                v.Dispose();
            }
        }
    }

    private static Ort.OrtValue ToOrt(Tensor t)
    {
        long[] shape = t.ShapeArray().Select(d => (long)d).ToArray();
        return t.Data switch
        {
            float[] f => Ort.OrtValue.CreateTensorValueFromMemory(f, shape),
            int[] i => Ort.OrtValue.CreateTensorValueFromMemory(i, shape),
            long[] l => Ort.OrtValue.CreateTensorValueFromMemory(l, shape),
            byte[] b => Ort.OrtValue.CreateTensorValueFromMemory(b, shape),
            bool[] b => Ort.OrtValue.CreateTensorValueFromMemory(b, shape),
            _ => throw new NotSupportedException(t.Data.GetType().Name),
        };
    }

    public static float[] Floats(Tensor t) => (float[])t.Data;

    public static Tensor F(int[] shape, float[] data) => Tensor.Create(shape, data);

    public static float[] Random(Random rng, int count, float range = 1f)
    {
        var v = new float[count];
        for (int i = 0; i < count; i++)
        {
            v[i] = (float)(rng.NextDouble() * 2 - 1) * range;
        }
        return v;
    }

    /// <summary>|a − e| ≤ atol + rtol·|e| for every element, naming the first that is not.</summary>
    public static void AssertClose(float[] expected, float[] actual, float atol, float rtol, string what)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: {actual.Length} elements, expected {expected.Length}");
        for (int i = 0; i < expected.Length; i++)
        {
            float e = expected[i];
            float a = actual[i];
            if (!(MathF.Abs(a - e) <= atol + rtol * MathF.Abs(e)))
            {
                Assert.Fail($"{what}: element {i} is {a:R}, ONNX Runtime gives {e:R} (atol {atol}, rtol {rtol})");
            }
        }
    }

    public static void AssertBits(float[] expected, float[] actual, string what)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: length {actual.Length}, expected {expected.Length}");
        for (int i = 0; i < expected.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
            {
                Assert.Fail($"{what}: element {i} is {actual[i]:R}, expected {expected[i]:R} bit for bit");
            }
        }
    }
}
