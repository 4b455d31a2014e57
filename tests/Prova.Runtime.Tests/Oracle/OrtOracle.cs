using Prova.Core;
using Prova.Onnx;
using Prova.Runtime.Ops.Linear;
using Ort = Microsoft.ML.OnnxRuntime;

namespace Prova.Runtime.Tests.Oracle;

/// <summary>
/// ONNX Runtime (in-process, CPU) as the oracle: runs the same <see cref="OnnxModel"/> in ORT and in
/// Prova and compares the outputs. ORT is never the engine, only the reference a test checks against.
/// </summary>
internal static class OrtOracle
{
    /// <summary>Runs the model in ONNX Runtime with graph optimisations off (so ORT runs the ops as written).</summary>
    public static Dictionary<string, Tensor> Run(OnnxModel model, IReadOnlyDictionary<string, Tensor> feeds)
    {
        using var options = new Ort.SessionOptions { GraphOptimizationLevel = Ort.GraphOptimizationLevel.ORT_DISABLE_ALL };
        using var session = new Ort.InferenceSession(OnnxWriter.Write(model), options);
        var names = new List<string>();
        var values = new List<Ort.OrtValue>();
        try
        {
            foreach (var (name, tensor) in feeds)
            {
                names.Add(name);
                values.Add(ToOrt(tensor));
            }
            var outputNames = model.Graph.Outputs.Select(o => o.Name).ToArray();
            using var runOptions = new Ort.RunOptions();
            using var results = session.Run(runOptions, names, values, outputNames);
            var outputs = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            for (int i = 0; i < outputNames.Length; i++)
            {
                outputs[outputNames[i]] = FromOrt(results[i]);
            }
            return outputs;
        }
        finally
        {
            foreach (var v in values)
            {
                v.Dispose();
            }
        }
    }

    /// <summary>Runs the model in Prova with the given thread count.</summary>
    public static Dictionary<string, Tensor> RunProva(OnnxModel model, IReadOnlyDictionary<string, Tensor> feeds, int threads = 1)
    {
        using var session = new InferenceSession(model, new SessionOptions { Threads = threads });
        return session.Run(feeds.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal));
    }

    /// <summary>
    /// Runs the model in ORT and in Prova (threads 1 and 2, every vector width the kernels can be
    /// limited to); asserts Prova's bytes are the same on every path and within
    /// |a - e| ≤ atol + rtol·|e| of ORT (integers and booleans exactly). Returns Prova's outputs.
    /// </summary>
    public static Dictionary<string, Tensor> AssertMatches(OnnxModel model, IReadOnlyDictionary<string, Tensor> feeds, double atol, double rtol)
    {
        var expected = Run(model, feeds);
        Dictionary<string, Tensor>? first = null;
        int saved = SimdLevel.MaxVectorBits;
        try
        {
            foreach (int bits in (int[])[512, 256, 128, 0])
            {
                SimdLevel.MaxVectorBits = bits;
                foreach (int threads in (int[])[1, 2])
                {
                    var actual = RunProva(model, feeds, threads);
                    if (first is null)
                    {
                        first = actual;
                        foreach (var (name, e) in expected)
                        {
                            AssertClose(e, actual[name], atol, rtol, name);
                        }
                    }
                    else
                    {
                        foreach (var (name, e) in first)
                        {
                            Assert.True(e.Bytes().SequenceEqual(actual[name].Bytes()),
                                $"output '{name}' differs from the first run with threads {threads}, max vector bits {bits}");
                        }
                    }
                }
            }
        }
        finally
        {
            SimdLevel.MaxVectorBits = saved;
        }
        return first!;
    }

    public static void AssertClose(Tensor expected, Tensor actual, double atol, double rtol, string what)
    {
        Assert.True(expected.Type == actual.Type, $"{what}: element type {DataTypes.Name(actual.Type)}, ORT gives {DataTypes.Name(expected.Type)}");
        Assert.True(expected.Shape.SequenceEqual(actual.Shape), $"{what}: shape {actual.ShapeString()}, ORT gives {expected.ShapeString()}");
        if (expected.Data is float[] e && actual.Data is float[] a)
        {
            for (int i = 0; i < e.Length; i++)
            {
                bool ok = float.IsNaN(e[i]) ? float.IsNaN(a[i]) : e[i] == a[i] || Math.Abs((double)a[i] - e[i]) <= atol + rtol * Math.Abs((double)e[i]);
                Assert.True(ok, $"{what}: element {i} is {a[i]:R}, ORT gives {e[i]:R} (atol {atol}, rtol {rtol})");
            }
        }
        else
        {
            Assert.True(expected.Bytes().SequenceEqual(actual.Bytes()), $"{what}: {DataTypes.Name(actual.Type)} values differ from ORT's");
        }
    }

    private static Ort.OrtValue ToOrt(Tensor t)
    {
        var shape = t.ShapeArray().Select(d => (long)d).ToArray();
        var value = Ort.OrtValue.CreateAllocatedTensorValue(Ort.OrtAllocator.DefaultInstance, ElementType(t.Type), shape);
        var bytes = t.Bytes();
        if (bytes.Length > 0)
        {
            bytes.CopyTo(value.GetTensorMutableRawData());
        }
        return value;
    }

    private static Tensor FromOrt(Ort.OrtValue value)
    {
        var info = value.GetTensorTypeAndShape();
        var shape = info.Shape.Select(d => checked((int)d)).ToArray();
        var type = info.ElementDataType switch
        {
            Ort.Tensors.TensorElementType.Float => DataType.Float32,
            Ort.Tensors.TensorElementType.Int32 => DataType.Int32,
            Ort.Tensors.TensorElementType.Int64 => DataType.Int64,
            Ort.Tensors.TensorElementType.Bool => DataType.Bool,
            Ort.Tensors.TensorElementType.UInt8 => DataType.UInt8,
            Ort.Tensors.TensorElementType.Int8 => DataType.Int8,
            var other => throw new NotSupportedException($"ORT output of type {other}"),
        };
        ReadOnlySpan<byte> bytes = Tensor.ElementCount(shape) == 0 ? [] : value.GetTensorMutableRawData();
        return Tensor.FromBytes(type, shape, bytes);
    }

    private static Ort.Tensors.TensorElementType ElementType(DataType type) => type switch
    {
        DataType.Float32 => Ort.Tensors.TensorElementType.Float,
        DataType.Int32 => Ort.Tensors.TensorElementType.Int32,
        DataType.Int64 => Ort.Tensors.TensorElementType.Int64,
        DataType.Bool => Ort.Tensors.TensorElementType.Bool,
        DataType.UInt8 => Ort.Tensors.TensorElementType.UInt8,
        DataType.Int8 => Ort.Tensors.TensorElementType.Int8,
        _ => throw new NotSupportedException($"{DataTypes.Name(type)} feed"),
    };

    /// <summary>Uniform floats in [-scale, scale) from a seeded generator.</summary>
    public static float[] Floats(Random rng, int count, float scale = 1f)
    {
        var v = new float[count];
        for (int i = 0; i < count; i++)
        {
            v[i] = (float)((rng.NextDouble() * 2 - 1) * scale);
        }
        return v;
    }
}
