using Prova.Core;
using Prova.Onnx;

namespace Prova.Runtime.Tests;

/// <summary>
/// The planner and the session around it: input validation, one cached plan per input shape,
/// arena reuse, constant folding of shape arithmetic, view ops sharing buffers, and how models the
/// engine cannot run are reported.
/// </summary>
public sealed class PlannerTests
{
    private const int Side = 64;
    private const long BufferBytes = Side * Side * sizeof(float);

    private static Tensor Floats(int[] shape, Func<int, float> value)
    {
        var data = new float[Tensor.ElementCount(shape)];
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = value(i);
        }
        return Tensor.Create<float>(shape, data);
    }

    private static Tensor Ramp(params int[] shape) => Floats(shape, i => (i % 7) - 3.25f + i * 0.001f);

    private static Dictionary<string, Tensor> Feed(params (string Name, Tensor Value)[] inputs)
        => inputs.ToDictionary(p => p.Name, p => p.Value, StringComparer.Ordinal);

    private static OnnxModel AddModel()
    {
        var b = new ModelBuilder();
        var sum = b.Node("Add", [b.Input("a", DataType.Float32, 2, 3), b.Input("b", DataType.Float32, 2, 3)]);
        b.Output(sum, "sum");
        return b.Build();
    }

    [Fact]
    public void AMissingInputIsRejectedWithItsName()
    {
        using var session = new InferenceSession(AddModel(), new SessionOptions { Threads = 1 });
        var ex = Assert.Throws<InputException>(() => session.Run(Feed(("a", Ramp(2, 3)))));
        Assert.Contains("missing input 'b'", ex.Message);
    }

    [Fact]
    public void AnUnknownInputIsRejectedAndTheModelsInputsAreListed()
    {
        using var session = new InferenceSession(AddModel(), new SessionOptions { Threads = 1 });
        var ex = Assert.Throws<InputException>(() => session.Run(Feed(("a", Ramp(2, 3)), ("b", Ramp(2, 3)), ("c", Ramp(2, 3)))));
        Assert.Contains("no input 'c'", ex.Message);
        Assert.Contains("a: float32[2, 3]", ex.Message);
    }

    [Fact]
    public void AWrongElementTypeIsRejected()
    {
        using var session = new InferenceSession(AddModel(), new SessionOptions { Threads = 1 });
        var ex = Assert.Throws<InputException>(() => session.Run(Feed(("a", Ramp(2, 3)), ("b", Tensor.Create<long>([2, 3], new long[6])))));
        Assert.Contains("input 'b' should be float32 but is int64", ex.Message);
    }

    [Theory]
    [InlineData(new[] { 3, 2 })]
    [InlineData(new[] { 2, 3, 1 })]
    [InlineData(new[] { 6 })]
    public void AWrongShapeIsRejected(int[] shape)
    {
        using var session = new InferenceSession(AddModel(), new SessionOptions { Threads = 1 });
        var ex = Assert.Throws<InputException>(() => session.Run(Feed(("a", Ramp(2, 3)), ("b", Ramp(shape)))));
        Assert.Contains($"input 'b' should have shape [2, 3] but has [{string.Join(", ", shape)}]", ex.Message);
    }

    [Fact]
    public void ASessionStillRunsAfterRejectingInputs()
    {
        using var session = new InferenceSession(AddModel(), new SessionOptions { Threads = 1 });
        Assert.Throws<InputException>(() => session.Run(Feed(("a", Ramp(2, 3)))));
        Assert.Throws<InputException>(() => session.Run(Feed(("a", Ramp(2, 3)), ("b", Ramp(3, 2)))));
        var sum = session.Run(Feed(("a", Ramp(2, 3)), ("b", Floats([2, 3], i => i))))["sum"];
        Assert.Equal(Floats([2, 3], i => Ramp(2, 3).Span<float>()[i] + i).Span<float>().ToArray(), sum.Span<float>().ToArray());
    }

    private static OnnxModel SymbolicModel()
    {
        // y = Relu(x) * w, x[N, 4]
        var b = new ModelBuilder();
        var x = b.Input("x", DataType.Float32, -1, 4);
        var w = b.Initializer("w", Tensor.Create<float>([4], [1f, -2f, 0.5f, 3f]));
        b.Output(b.Node("Mul", [b.Node("Relu", [x]), w]), "y");
        return b.Build();
    }

    private static float[] SymbolicExpected(Tensor x)
    {
        float[] w = [1f, -2f, 0.5f, 3f];
        var v = x.Span<float>();
        var y = new float[v.Length];
        for (int i = 0; i < y.Length; i++)
        {
            y[i] = MathF.Max(v[i], 0f) * w[i % 4];
        }
        return y;
    }

    [Fact]
    public void SymbolicDimsGetOnePlanPerShapeWhichIsReused()
    {
        using var session = new InferenceSession(SymbolicModel(), new SessionOptions { Threads = 2 });
        Assert.Equal(0, session.CachedPlanCount);
        var arena = new Dictionary<int, long>();
        foreach (int n in new[] { 1, 3, 1, 50, 3, 50, 1 })
        {
            var x = Ramp(n, 4);
            var y = session.Run(Feed(("x", x)))["y"];
            Assert.Equal([n, 4], y.ShapeArray());
            Assert.Equal(SymbolicExpected(x), y.Span<float>().ToArray());
            if (arena.TryGetValue(n, out long bytes))
            {
                Assert.Equal(bytes, session.ArenaBytes);
            }
            arena[n] = session.ArenaBytes;
        }
        Assert.Equal(3, session.CachedPlanCount);
        Assert.True(arena[50] > arena[1], $"the plan for N=50 uses {arena[50]} bytes, the plan for N=1 {arena[1]}");
    }

    [Fact]
    public void ThePlanCacheKeepsAtMostMaxCachedPlansAndStaysCorrectAfterEviction()
    {
        using var session = new InferenceSession(SymbolicModel(), new SessionOptions { Threads = 1, MaxCachedPlans = 2 });
        foreach (int n in new[] { 1, 2, 3, 4, 5, 6, 1, 6, 2 })
        {
            var x = Ramp(n, 4);
            Assert.Equal(SymbolicExpected(x), session.Run(Feed(("x", x)))["y"].Span<float>().ToArray());
            Assert.True(session.CachedPlanCount <= 2, $"{session.CachedPlanCount} plans cached with MaxCachedPlans = 2");
        }
    }

    [Fact]
    public void ASymbolicDimStillChecksRankAndFixedDims()
    {
        using var session = new InferenceSession(SymbolicModel(), new SessionOptions { Threads = 1 });
        Assert.Contains("should have shape [N, 4] but has [3]", Assert.Throws<InputException>(() => session.Run(Feed(("x", Ramp(3))))).Message);
        Assert.Contains("should have shape [N, 4] but has [3, 5]", Assert.Throws<InputException>(() => session.Run(Feed(("x", Ramp(3, 5))))).Message);
    }

    /// <summary>x → Abs, Neg, Add 1, Neg, Abs, Add 1, Neg, Abs, Add 1, Neg → y: ten [64, 64] values in a chain.</summary>
    private static (OnnxModel Model, Func<float, float> Expected) ChainModel()
    {
        string[] ops = ["Abs", "Neg", "Add", "Neg", "Abs", "Add", "Neg", "Abs", "Add", "Neg"];
        var b = new ModelBuilder();
        var v = b.Input("x", DataType.Float32, Side, Side);
        var one = b.Constant(Tensor.Create<float>([], [1f]));
        foreach (var op in ops)
        {
            v = op == "Add" ? b.Node("Add", [v, one]) : b.Node(op, [v]);
        }
        b.Output(v, "y");
        float Expected(float x)
        {
            foreach (var op in ops)
            {
                x = op switch { "Abs" => MathF.Abs(x), "Neg" => -x, _ => x + 1f };
            }
            return x;
        }
        return (b.Build(), Expected);
    }

    [Fact]
    public void TheArenaReusesBuffersOfDeadIntermediates()
    {
        var (model, expected) = ChainModel();
        using var session = new InferenceSession(model, new SessionOptions { Threads = 1 });
        var x = Ramp(Side, Side);
        var y = session.Run(Feed(("x", x)))["y"];
        Assert.Equal(x.Span<float>().ToArray().Select(expected).ToArray(), y.Span<float>().ToArray());

        long sumOfIntermediates = 10 * BufferBytes;
        // At any step at most the step's input and output are live, plus the graph input at the start.
        Assert.True(session.ArenaBytes <= 3 * BufferBytes + 128,
            $"arena of {session.ArenaBytes} bytes for a chain whose intermediates total {sumOfIntermediates} bytes (each {BufferBytes})");
    }

    [Fact]
    public void AValueStillNeededLaterIsNotOverwrittenByReusedBuffers()
    {
        // a = Abs(x); d = Neg(Add(Neg(a), 1)); y = a + d: a must survive three steps.
        var b = new ModelBuilder();
        var x = b.Input("x", DataType.Float32, Side, Side);
        var a = b.Node("Abs", [x]);
        var d = b.Node("Neg", [b.Node("Add", [b.Node("Neg", [a]), b.Constant(Tensor.Create<float>([], [1f]))])]);
        b.Output(b.Node("Add", [a, d]), "y");
        using var session = new InferenceSession(b.Build(), new SessionOptions { Threads = 1 });
        var input = Ramp(Side, Side);
        var y = session.Run(Feed(("x", input)))["y"];
        var want = input.Span<float>().ToArray().Select(v => MathF.Abs(v) + -(-MathF.Abs(v) + 1f)).ToArray();
        Assert.Equal(want, y.Span<float>().ToArray());
    }

    private static OnnxModel ShapeChainModel()
    {
        // y = Relu(Reshape(x, Concat(Gather(Shape(x), [0]), [12]))), x[N, 3, 4] → y[N, 12]
        var b = new ModelBuilder(opset: 17);
        var x = b.Input("x", DataType.Float32, -1, 3, 4);
        var batch = b.Node("Gather", [b.Node("Shape", [x]), b.Constant(Tensor.Create<long>([1], [0L]))], [("axis", 0L)]);
        var shape = b.Node("Concat", [batch, b.Constant(Tensor.Create<long>([1], [12L]))], [("axis", 0L)]);
        b.Output(b.Node("Relu", [b.Node("Reshape", [x, shape])]), "y");
        return b.Build();
    }

    [Fact]
    public void ShapeGatherConcatReshapeChainsAreFoldedAtPlanTime()
    {
        var model = ShapeChainModel();
        using var pool = new WorkerPool(1);
        using var plan = Plan.Build(model, new Dictionary<string, (DataType, int[])> { ["x"] = (DataType.Float32, [5, 3, 4]) }, pool);
        // Shape, Gather and Concat are folded; Reshape of a run-time value is a view: only Relu runs.
        Assert.Equal(["Relu"], plan.Steps.Select(s => s.Kernel.Node.OpType).ToArray());

        using var session = new InferenceSession(model, new SessionOptions { Threads = 1 });
        foreach (int n in new[] { 2, 5 })
        {
            var x = Ramp(n, 3, 4);
            var y = session.Run(Feed(("x", x)))["y"];
            Assert.Equal([n, 12], y.ShapeArray());
            Assert.Equal(x.Span<float>().ToArray().Select(v => MathF.Max(v, 0f)).ToArray(), y.Span<float>().ToArray());
        }
    }

    [Fact]
    public unsafe void ViewOpsShareTheBufferOfTheirInput()
    {
        // x[2,3,4] → Relu → Reshape [6,4] → Unsqueeze [0] → Flatten(1) → Identity → Neg → y[1,24]
        var b = new ModelBuilder(opset: 17);
        var x = b.Input("x", DataType.Float32, 2, 3, 4);
        var r = b.Node("Relu", [x]);
        var reshaped = b.Node("Reshape", [r, b.Constant(Tensor.Create<long>([2], [6L, 4L]))]);
        var unsqueezed = b.Node("Unsqueeze", [reshaped, b.Constant(Tensor.Create<long>([1], [0L]))]);
        var flat = b.Node("Flatten", [unsqueezed], [("axis", 1L)]);
        var same = b.Node("Identity", [flat]);
        b.Output(b.Node("Neg", [same]), "y");
        var model = b.Build();

        using var pool = new WorkerPool(1);
        using var plan = Plan.Build(model, new Dictionary<string, (DataType, int[])> { ["x"] = (DataType.Float32, [2, 3, 4]) }, pool);
        Assert.Equal(["Relu", "Neg"], plan.Steps.Select(s => s.Kernel.Node.OpType).ToArray());
        byte* relu = plan.Pointers[plan.Steps[0].Outputs[0]];
        foreach (var view in new[] { reshaped, unsqueezed, flat, same })
        {
            int slot = Array.FindIndex(plan.Values, v => v.Name == view);
            Assert.True(plan.Pointers[slot] == relu, $"view '{view}' does not share the Relu output's buffer");
        }
        Assert.Equal([1, 24], plan.Values[plan.OutputSlots[0]].Shape);

        using var session = new InferenceSession(model, new SessionOptions { Threads = 1 });
        var input = Ramp(2, 3, 4);
        var y = session.Run(Feed(("x", input)))["y"];
        Assert.Equal([1, 24], y.ShapeArray());
        Assert.Equal(input.Span<float>().ToArray().Select(v => -MathF.Max(v, 0f)).ToArray(), y.Span<float>().ToArray());
    }

    [Fact]
    public void AViewOfAGraphInputAsOutputCopiesAndLeavesTheCallersTensorsAlone()
    {
        var b = new ModelBuilder(opset: 17);
        var x = b.Input("x", DataType.Float32, 2, 6);
        b.Output(b.Node("Reshape", [x, b.Constant(Tensor.Create<long>([3], [3L, 2L, 2L]))]), "y");
        b.Output(x, "same");
        using var session = new InferenceSession(b.Build(), new SessionOptions { Threads = 1 });

        var input = Ramp(2, 6);
        var before = input.Span<float>().ToArray();
        var first = session.Run(Feed(("x", input)));
        Assert.Equal([3, 2, 2], first["y"].ShapeArray());
        Assert.Equal(before, first["y"].Span<float>().ToArray());
        Assert.Equal(before, first["same"].Span<float>().ToArray());

        first["y"].Span<float>().Fill(99f);
        var second = session.Run(Feed(("x", Floats([2, 6], i => i))));
        Assert.Equal(before, input.Span<float>().ToArray());
        Assert.Equal(Enumerable.Range(0, 12).Select(i => (float)i).ToArray(), second["y"].Span<float>().ToArray());
        Assert.All(first["y"].Span<float>().ToArray(), v => Assert.Equal(99f, v));
        Assert.Equal(before, first["same"].Span<float>().ToArray());
    }

    [Fact]
    public void OutputsComputedOnlyFromConstantsAreFoldedAndReturned()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", DataType.Float32, 2);
        var c = b.Node("Add", [b.Constant(Tensor.Create<float>([2], [1f, 2f])), b.Constant(Tensor.Create<float>([2], [10f, 20f]))]);
        b.Output(c, "c");
        b.Output(b.Node("Mul", [x, c]), "y");
        var model = b.Build();

        using var pool = new WorkerPool(1);
        using var plan = Plan.Build(model, new Dictionary<string, (DataType, int[])> { ["x"] = (DataType.Float32, [2]) }, pool);
        Assert.Equal(["Mul"], plan.Steps.Select(s => s.Kernel.Node.OpType).ToArray());

        using var session = new InferenceSession(model, new SessionOptions { Threads = 1 });
        var outputs = session.Run(Feed(("x", Tensor.Create<float>([2], [2f, 3f]))));
        Assert.Equal([11f, 22f], outputs["c"].Span<float>().ToArray());
        Assert.Equal([22f, 66f], outputs["y"].Span<float>().ToArray());
    }

    [Fact]
    public void AnUnknownOperatorIsReportedAsUnsupportedWhenTheSessionIsCreated()
    {
        var b = new ModelBuilder();
        b.Output(b.Node("FancyNewOp", [b.Input("x", DataType.Float32, 2)]), "y");
        var ex = Assert.Throws<ModelException>(() => new InferenceSession(b.Build()));
        Assert.True(ex.IsUnsupported, ex.Message);
        Assert.Contains("FancyNewOp", ex.Message);
    }

    [Fact]
    public void AnUndefinedValueIsAModelErrorNamingTheValue()
    {
        var model = new OnnxModel
        {
            Opsets = new Dictionary<string, long> { [""] = 17 },
            Graph = new OnnxGraph
            {
                Inputs = [new ValueInfo { Name = "x", ElementType = DataType.Float32, Shape = [Dim.Fixed(2)] }],
                Outputs = [new ValueInfo { Name = "y", ElementType = DataType.Float32 }],
                Nodes = [new OnnxNode { OpType = "Add", Inputs = ["x", "nowhere"], Outputs = ["y"] }],
            },
        };
        var ex = Assert.Throws<ModelException>(() => new InferenceSession(model));
        Assert.False(ex.IsUnsupported, ex.Message);
        Assert.Contains("'nowhere'", ex.Message);
    }

    [Fact]
    public void AnOpsetNewerThanSupportedIsUnsupported()
    {
        var b = new ModelBuilder(opset: KernelRegistry.MaxOpset + 1);
        b.Output(b.Node("Relu", [b.Input("x", DataType.Float32, 2)]), "y");
        var ex = Assert.Throws<ModelException>(() => new InferenceSession(b.Build()));
        Assert.True(ex.IsUnsupported, ex.Message);
        Assert.Contains($"opset {KernelRegistry.MaxOpset + 1}", ex.Message);
    }

    [Fact]
    public void AModelImportingOnlyAnotherDomainIsUnsupportedNamingTheDomain()
    {
        var model = new OnnxModel
        {
            Opsets = new Dictionary<string, long> { ["ai.onnx.preview.training"] = 1 },
            Graph = new OnnxGraph
            {
                Inputs = [new ValueInfo { Name = "x", ElementType = DataType.Float32, Shape = [Dim.Fixed(2)] }],
                Outputs = [new ValueInfo { Name = "y", ElementType = DataType.Float32 }],
                Nodes = [new OnnxNode { OpType = "Adagrad", Domain = "ai.onnx.preview.training", Inputs = ["x"], Outputs = ["y"] }],
            },
        };
        var ex = Assert.Throws<ModelException>(() => new InferenceSession(model));
        Assert.True(ex.IsUnsupported, ex.Message);
        Assert.Contains("ai.onnx.preview.training", ex.Message);
    }

    [Fact]
    public void AGraphInputOfAnUnsupportedElementTypeIsUnsupported()
    {
        var b = new ModelBuilder();
        b.Output(b.Node("Identity", [b.Input("x", DataType.Float16, 2)]), "y", DataType.Float16);
        var ex = Assert.Throws<ModelException>(() => new InferenceSession(b.Build()));
        Assert.True(ex.IsUnsupported, ex.Message);
        Assert.Contains("graph input 'x'", ex.Message);
        Assert.Contains("float16", ex.Message);
    }
}
