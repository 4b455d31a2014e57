using Prova.Core;
using Prova.Onnx;

namespace Prova.Runtime.Tests.Elementwise;

/// <summary>Kernels run through InferenceSession on IR graphs built in code.</summary>
public sealed class ElementwiseKernelTests
{
    private static OnnxModel Model(string op, (string Name, DataType Type)[] inputs, int opset = 17, Dictionary<string, OnnxAttribute>? attributes = null, Dictionary<string, Tensor>? initializers = null, DataType outType = DataType.Float32)
    {
        var names = new string[inputs.Length];
        var infos = new List<ValueInfo>();
        for (int i = 0; i < inputs.Length; i++)
        {
            names[i] = inputs[i].Name;
            if (inputs[i].Name.Length > 0 && (initializers is null || !initializers.ContainsKey(inputs[i].Name)))
            {
                infos.Add(new ValueInfo { Name = inputs[i].Name, ElementType = inputs[i].Type });
            }
        }
        return new OnnxModel
        {
            Opsets = new Dictionary<string, long> { [""] = opset },
            Graph = new OnnxGraph
            {
                Nodes = [new OnnxNode { OpType = op, Inputs = names, Outputs = ["y"], Attributes = attributes ?? new(StringComparer.Ordinal) }],
                Inputs = infos,
                Outputs = [new ValueInfo { Name = "y", ElementType = outType }],
                Initializers = initializers ?? new(StringComparer.Ordinal),
            },
        };
    }

    private static Tensor Run(OnnxModel model, int threads, params (string Name, Tensor Value)[] inputs)
    {
        using var session = new InferenceSession(model, new SessionOptions { Threads = threads });
        var dict = new Dictionary<string, Tensor>();
        foreach (var (name, value) in inputs)
        {
            dict[name] = value;
        }
        return session.Run(dict)["y"];
    }

    private static float[] Seq(int n, float scale = 1f, float offset = 0f)
    {
        var x = new float[n];
        for (int i = 0; i < n; i++)
        {
            x[i] = i * scale + offset;
        }
        return x;
    }

    [Fact]
    public void RowBroadcastAddsBiasToEveryRow()
    {
        var model = Model("Add", [("a", DataType.Float32), ("b", DataType.Float32)]);
        var y = Run(model, 1, ("a", Tensor.Create([3, 4], Seq(12))), ("b", Tensor.Create([4], new[] { 10f, 20f, 30f, 40f })));
        Assert.Equal([3, 4], y.ShapeArray());
        Assert.Equal(new[] { 10f, 21, 32, 43, 14, 25, 36, 47, 18, 29, 40, 51 }, y.Span<float>().ToArray());
    }

    [Fact]
    public void ChannelBroadcastMultipliesEachChannel()
    {
        var model = Model("Mul", [("a", DataType.Float32), ("b", DataType.Float32)]);
        var y = Run(model, 1, ("a", Tensor.Create([2, 3, 2, 2], Seq(24))), ("b", Tensor.Create([3, 1, 1], new[] { 1f, 10f, 100f })));
        var expected = new float[24];
        for (int i = 0; i < 24; i++)
        {
            int c = i / 4 % 3;
            expected[i] = i * (c == 0 ? 1f : c == 1 ? 10f : 100f);
        }
        Assert.Equal(expected, y.Span<float>().ToArray());
    }

    [Fact]
    public void GeneralBroadcastOuterProductAndScalarFirst()
    {
        var model = Model("Sub", [("a", DataType.Float32), ("b", DataType.Float32)]);
        var y = Run(model, 1, ("a", Tensor.Create([3, 1], new[] { 1f, 2f, 3f })), ("b", Tensor.Create([1, 2], new[] { 10f, 20f })));
        Assert.Equal([3, 2], y.ShapeArray());
        Assert.Equal(new[] { -9f, -19, -8, -18, -7, -17 }, y.Span<float>().ToArray());
        var z = Run(model, 1, ("a", Tensor.Create([], new[] { 5f })), ("b", Tensor.Create([2, 1, 3], Seq(6))));
        Assert.Equal(new[] { 5f, 4, 3, 2, 1, 0 }, z.Span<float>().ToArray());
    }

    [Fact]
    public void IncompatibleShapesAreAModelError()
    {
        var model = Model("Add", [("a", DataType.Float32), ("b", DataType.Float32)]);
        var ex = Assert.ThrowsAny<ProvaException>(() => Run(model, 1, ("a", Tensor.Create([3], Seq(3))), ("b", Tensor.Create([4], Seq(4)))));
        Assert.Contains("broadcast", ex.Message);
    }

    [Fact]
    public void IntegerDivTruncatesAndNeverCrashes()
    {
        var model = Model("Div", [("a", DataType.Int64), ("b", DataType.Int64)], outType: DataType.Int64);
        var y = Run(model, 1, ("a", Tensor.Create([5], new long[] { 7, -7, 7, long.MinValue, 3 })), ("b", Tensor.Create([5], new long[] { 2, 2, -2, -1, 0 })));
        Assert.Equal(new long[] { 3, -3, -3, long.MinValue, 0 }, y.Span<long>().ToArray());
    }

    [Fact]
    public void IntegerModFollowsTheDivisorSign()
    {
        var model = Model("Mod", [("a", DataType.Int32), ("b", DataType.Int32)], outType: DataType.Int32);
        var y = Run(model, 1, ("a", Tensor.Create([4], new[] { -4, 7, 5, -5 })), ("b", Tensor.Create([4], new[] { 3, -3, 0, 3 })));
        Assert.Equal(new[] { 2, -2, 0, 1 }, y.Span<int>().ToArray());
    }

    [Fact]
    public void ThreadCountDoesNotChangeBytes()
    {
        const int n = 300_000;
        var rng = new Random(5);
        var a = new float[n];
        for (int i = 0; i < n; i++)
        {
            a[i] = (float)(rng.NextDouble() * 20 - 10);
        }
        foreach (var op in new[] { "Erf", "Tanh", "Sigmoid", "Softmax" })
        {
            var model = Model(op, [("a", DataType.Float32)]);
            var one = Run(model, 1, ("a", Tensor.Create([300, 1000], a)));
            var two = Run(model, 2, ("a", Tensor.Create([300, 1000], a)));
            Assert.True(one.Bytes().SequenceEqual(two.Bytes()), op);
        }
        var add = Model("Add", [("a", DataType.Float32), ("b", DataType.Float32)]);
        var bias = Seq(1000, 0.5f);
        Assert.True(Run(add, 1, ("a", Tensor.Create([300, 1000], a)), ("b", Tensor.Create([1000], bias))).Bytes()
            .SequenceEqual(Run(add, 2, ("a", Tensor.Create([300, 1000], a)), ("b", Tensor.Create([1000], bias))).Bytes()));
    }

    [Fact]
    public void SoftmaxAxisSemanticsDependOnOpset()
    {
        var x = Seq(12, 0.25f);
        var attrs = new Dictionary<string, OnnxAttribute>(StringComparer.Ordinal) { ["axis"] = new() { Name = "axis", Kind = AttributeKind.Int, Int = 1 } };
        var old = Run(Model("Softmax", [("x", DataType.Float32)], opset: 11, attributes: attrs), 1, ("x", Tensor.Create([2, 2, 3], x))).Span<float>().ToArray();
        var now = Run(Model("Softmax", [("x", DataType.Float32)], opset: 13, attributes: attrs), 1, ("x", Tensor.Create([2, 2, 3], x))).Span<float>().ToArray();
        // Opset 11: softmax over the 6 trailing elements of each batch; opset 13: over axis 1 (2 elements).
        double denom = 0;
        for (int i = 0; i < 6; i++)
        {
            denom += System.Math.Exp(x[i] - x[5]);
        }
        Assert.Equal(System.Math.Exp(x[0] - x[5]) / denom, old[0], 6);
        Assert.Equal(1 / (1 + System.Math.Exp(0.75)), now[0], 6);
        Assert.Equal(1f, now[0] + now[3], 6);
    }

    [Fact]
    public void LogSoftmaxMatchesDoubleReference()
    {
        var x = new[] { 1f, 2f, 3f, 1000f, -1000f };
        var y = Run(Model("LogSoftmax", [("x", DataType.Float32)]), 1, ("x", Tensor.Create([5], x))).Span<float>().ToArray();
        Assert.Equal(-999.0, y[0], 3);
        Assert.Equal(0.0, y[3], 6);
        Assert.Equal(-2000.0, y[4], 3);
    }

    [Fact]
    public void ClipUsesOptionalInputsFromOpset11AndAttributesBefore()
    {
        var attrs = new Dictionary<string, OnnxAttribute>(StringComparer.Ordinal) { ["min"] = new() { Name = "min", Kind = AttributeKind.Float, Float = -1 }, ["max"] = new() { Name = "max", Kind = AttributeKind.Float, Float = 1 } };
        var x = Tensor.Create([4], new[] { -5f, -0.5f, 0.5f, 5f });
        Assert.Equal(new[] { -1f, -0.5f, 0.5f, 1f }, Run(Model("Clip", [("x", DataType.Float32)], opset: 6, attributes: attrs), 1, ("x", x)).Span<float>().ToArray());
        var inits = new Dictionary<string, Tensor>(StringComparer.Ordinal) { ["lo"] = Tensor.Create([], new[] { 0f }) };
        var y = Run(Model("Clip", [("x", DataType.Float32), ("lo", DataType.Float32)], opset: 13, initializers: inits), 1, ("x", x));
        Assert.Equal(new[] { 0f, 0f, 0.5f, 5f }, y.Span<float>().ToArray());
        var z = Run(Model("Clip", [("x", DataType.Float32), ("", DataType.Float32), ("hi", DataType.Float32)], opset: 13), 1, ("x", x), ("hi", Tensor.Create([], new[] { 0.25f })));
        Assert.Equal(new[] { -5f, -0.5f, 0.25f, 0.25f }, z.Span<float>().ToArray());
    }

    [Fact]
    public void CastTruncatesFloatsTowardZeroAndSaturates()
    {
        var attrs = new Dictionary<string, OnnxAttribute>(StringComparer.Ordinal) { ["to"] = new() { Name = "to", Kind = AttributeKind.Int, Int = (long)DataType.Int32 } };
        var y = Run(Model("Cast", [("x", DataType.Float32)], attributes: attrs, outType: DataType.Int32), 1, ("x", Tensor.Create([5], new[] { 2.7f, -2.7f, float.NaN, 1e20f, -1e20f })));
        Assert.Equal(new[] { 2, -2, 0, int.MaxValue, int.MinValue }, y.Span<int>().ToArray());
        attrs["to"] = new() { Name = "to", Kind = AttributeKind.Int, Int = (long)DataType.Bool };
        var b = Run(Model("Cast", [("x", DataType.Float32)], attributes: attrs, outType: DataType.Bool), 1, ("x", Tensor.Create([3], new[] { 0f, -0f, 0.1f })));
        Assert.Equal(new[] { false, false, true }, b.Span<bool>().ToArray());
    }

    [Fact]
    public void WhereAndComparisonsBroadcast()
    {
        var less = Run(Model("Less", [("a", DataType.Int64), ("b", DataType.Int64)], outType: DataType.Bool), 1, ("a", Tensor.Create([3], new long[] { 1, 5, 3 })), ("b", Tensor.Create([], new long[] { 3 })));
        Assert.Equal(new[] { true, false, false }, less.Span<bool>().ToArray());
        var where = Run(Model("Where", [("c", DataType.Bool), ("x", DataType.Float32), ("z", DataType.Float32)]), 1,
            ("c", Tensor.Create([2, 1], new[] { true, false })), ("x", Tensor.Create([3], new[] { 1f, 2f, 3f })), ("z", Tensor.Create([], new[] { -1f })));
        Assert.Equal(new[] { 1f, 2f, 3f, -1f, -1f, -1f }, where.Span<float>().ToArray());
    }

    [Fact]
    public void MeanOfThreeBroadcastInputs()
    {
        var y = Run(Model("Mean", [("a", DataType.Float32), ("b", DataType.Float32), ("c", DataType.Float32)]), 1,
            ("a", Tensor.Create([2], new[] { 3f, 6f })), ("b", Tensor.Create([2, 1], new[] { 0f, 3f })), ("c", Tensor.Create([], new[] { 0f })));
        Assert.Equal(new[] { 1f, 2f, 2f, 3f }, y.Span<float>().ToArray());
    }

    [Fact]
    public void UnsupportedElementTypeIsReportedAsUnsupported()
    {
        var model = Model("Add", [("a", DataType.UInt8), ("b", DataType.UInt8)], outType: DataType.UInt8);
        var ex = Assert.Throws<ModelException>(() => Run(model, 1, ("a", Tensor.Create([1], new byte[] { 1 })), ("b", Tensor.Create([1], new byte[] { 1 }))));
        Assert.True(ex.IsUnsupported);
    }

    [Fact]
    public void PowWithConstantIntegerExponentMatchesGeneralPow()
    {
        var x = Seq(100, 0.37f, -18f);
        var inits = new Dictionary<string, Tensor>(StringComparer.Ordinal) { ["e"] = Tensor.Create([], new[] { 3f }) };
        var fast = Run(Model("Pow", [("x", DataType.Float32), ("e", DataType.Float32)], initializers: inits), 1, ("x", Tensor.Create([100], x))).Span<float>().ToArray();
        for (int i = 0; i < x.Length; i++)
        {
            Assert.Equal(BitConverter.SingleToInt32Bits(DetMath.Pow(x[i], 3f)), BitConverter.SingleToInt32Bits(fast[i]));
        }
    }
}
