using Prova.Core;
using Prova.Onnx;

namespace Prova.Runtime.Tests.Shape;

/// <summary>Builds a one-node model from IR objects and runs it through an <see cref="InferenceSession"/>.</summary>
internal static class OpRunner
{
    /// <summary>
    /// Runs op on the inputs (null = omitted optional input). Inputs whose index is in
    /// <paramref name="constants"/> become initializers; the rest are graph inputs.
    /// </summary>
    public static Tensor[] Run(string op, Tensor?[] inputs, (string Name, object Value)[]? attributes = null, int opset = 17,
        int outputs = 1, int[]? constants = null, int threads = 1)
    {
        using var session = new InferenceSession(Model(op, inputs, attributes, opset, outputs, constants), new SessionOptions { Threads = threads });
        var feed = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        for (int i = 0; i < inputs.Length; i++)
        {
            if (inputs[i] is { } t && (constants is null || Array.IndexOf(constants, i) < 0))
            {
                feed[$"in{i}"] = t;
            }
        }
        var result = session.Run(feed);
        var r = new Tensor[outputs];
        for (int i = 0; i < outputs; i++)
        {
            r[i] = result[$"out{i}"];
        }
        return r;
    }

    public static OnnxModel Model(string op, Tensor?[] inputs, (string Name, object Value)[]? attributes = null, int opset = 17,
        int outputs = 1, int[]? constants = null)
    {
        var graph = new OnnxGraph();
        var names = new string[inputs.Length];
        for (int i = 0; i < inputs.Length; i++)
        {
            if (inputs[i] is not { } t)
            {
                names[i] = "";
                continue;
            }
            names[i] = $"in{i}";
            if (constants is not null && Array.IndexOf(constants, i) >= 0)
            {
                graph.Initializers[names[i]] = t;
            }
            else
            {
                graph.Inputs.Add(new ValueInfo { Name = names[i], ElementType = t.Type });
            }
        }
        var outNames = new string[outputs];
        for (int i = 0; i < outputs; i++)
        {
            outNames[i] = $"out{i}";
            graph.Outputs.Add(new ValueInfo { Name = outNames[i] });
        }
        var node = new OnnxNode { OpType = op, Name = "n", Inputs = names, Outputs = outNames };
        foreach (var (name, value) in attributes ?? [])
        {
            node.Attributes[name] = Attribute(name, value);
        }
        graph.Nodes.Add(node);
        return new OnnxModel { IrVersion = 8, Opsets = new Dictionary<string, long> { [""] = opset }, Graph = graph };
    }

    public static OnnxAttribute Attribute(string name, object value) => value switch
    {
        int v => new OnnxAttribute { Name = name, Kind = AttributeKind.Int, Int = v },
        long v => new OnnxAttribute { Name = name, Kind = AttributeKind.Int, Int = v },
        float v => new OnnxAttribute { Name = name, Kind = AttributeKind.Float, Float = v },
        string v => new OnnxAttribute { Name = name, Kind = AttributeKind.String, String = v },
        long[] v => new OnnxAttribute { Name = name, Kind = AttributeKind.Ints, Ints = v },
        float[] v => new OnnxAttribute { Name = name, Kind = AttributeKind.Floats, Floats = v },
        Tensor v => new OnnxAttribute { Name = name, Kind = AttributeKind.Tensor, Tensor = v },
        _ => throw new ArgumentException($"attribute value {value.GetType().Name}"),
    };

    public static Tensor F(int[] shape, params float[] values) => Tensor.Create(shape, values);

    public static Tensor L(params long[] values) => Tensor.Create([values.Length], values);

    /// <summary>0, 1, 2, ... as float32 of the given shape.</summary>
    public static Tensor Iota(params int[] shape)
    {
        var v = new float[Tensor.ElementCount(shape)];
        for (int i = 0; i < v.Length; i++)
        {
            v[i] = i;
        }
        return Tensor.Create(shape, v);
    }

    public static Tensor Random(Random rng, params int[] shape)
    {
        var v = new float[Tensor.ElementCount(shape)];
        for (int i = 0; i < v.Length; i++)
        {
            v[i] = (float)(rng.NextDouble() * 2 - 1);
        }
        return Tensor.Create(shape, v);
    }

    public static T[] Values<T>(Tensor t) where T : unmanaged => t.Span<T>().ToArray();
}
