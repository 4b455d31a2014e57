using Prova.Core;
using Prova.Onnx;

namespace Prova.Runtime.Tests;

/// <summary>A hostile model must not make the planner allocate unbounded memory before any input arrives.</summary>
public sealed class PlanLimitsTests
{
    [Fact]
    public void ConstantOfShapeWithAHugeShapeIsRejectedWhilePlanning()
    {
        var b = new ModelBuilder(opset: 17);
        var x = b.Input("x", DataType.Float32, 1);
        var shape = b.Constant(Tensor.Create([2], new long[] { 20_000, 20_000 }));
        var big = b.Node("ConstantOfShape", [shape]);
        b.Output(b.Node("Add", [x, big]), "y");

        var ex = Assert.Throws<ModelException>(() => new InferenceSession(b.Build(), new SessionOptions { Threads = 1 }));
        Assert.Contains("ConstantOfShape", ex.Message);
        Assert.Contains("limit", ex.Message);
    }

    [Fact]
    public void RangeWithAHugeCountIsRejectedWhilePlanning()
    {
        var b = new ModelBuilder(opset: 17);
        var x = b.Input("x", DataType.Int64, 1);
        var start = b.Constant(Tensor.Create([], new long[] { 0 }));
        var limit = b.Constant(Tensor.Create([], new long[] { 1_000_000_000 }));
        var delta = b.Constant(Tensor.Create([], new long[] { 1 }));
        b.Output(b.Node("Add", [x, b.Node("Range", [start, limit, delta])]), "y");

        var ex = Assert.Throws<ModelException>(() => new InferenceSession(b.Build(), new SessionOptions { Threads = 1 }));
        Assert.Contains("Range", ex.Message);
    }

    [Fact]
    public void LargeConstantExpressionsRunAtRunTimeInsteadOfBeingFolded()
    {
        // Expand of a constant to 96 Mi floats (384 MiB) is over the folding limit: it is
        // planned as a run-time step and still gives the right answer.
        var b = new ModelBuilder(opset: 17);
        var x = b.Input("x", DataType.Float32, 1);
        var one = b.Constant(Tensor.Create([1], new[] { 2f }));
        var shape = b.Constant(Tensor.Create([2], new long[] { 96, 1 << 20 }));
        var expanded = b.Node("Expand", [one, shape]);
        var sum = b.Node("ReduceMax", [expanded], [("keepdims", 0L)]);
        b.Output(b.Node("Add", [x, sum]), "y");

        using var session = new InferenceSession(b.Build(), new SessionOptions { Threads = 1 });
        var y = session.Run(new Dictionary<string, Tensor> { ["x"] = Tensor.Create([1], new[] { 1f }) })["y"];
        Assert.Equal(3f, y.Span<float>()[0]);
    }

    /// <summary>y = Expand(x, shape): the plan is specialised on the shape input's value.</summary>
    private static OnnxModel ExpandModel()
    {
        var b = new ModelBuilder(opset: 17);
        var x = b.Input("x", DataType.Float32, 1);
        var shape = b.Input("shape", DataType.Int64, 1);
        b.Output(b.Node("Expand", [x, shape]), "y");
        return b.Build();
    }

    private static Dictionary<string, Tensor> ExpandInputs(long length) => new()
    {
        ["x"] = Tensor.Create([1], new[] { 2.5f }),
        ["shape"] = Tensor.Create([1], new[] { length }),
    };

    [Fact]
    public void AnOutputOverMaxOutputBytesIsRefusedWhilePlanningBeforeItsMemoryIsTaken()
    {
        using var session = new InferenceSession(ExpandModel(), new SessionOptions { Threads = 1, MaxOutputBytes = 1 << 20 });
        var info = session.Prepare(ExpandInputs(1000));
        Assert.Equal("y", info.Outputs[0].Name);
        Assert.Equal([1000], info.Outputs[0].Shape);
        Assert.Equal(4000, info.OutputBytes);
        Assert.True(info.ArenaBytes >= 4000, $"arena {info.ArenaBytes}");
        Assert.All(session.Run(ExpandInputs(1000))["y"].Span<float>().ToArray(), v => Assert.Equal(2.5f, v));

        // 25M floats (100 MB) from 16 bytes of input.
        long before = GC.GetAllocatedBytesForCurrentThread();
        var ex = Assert.Throws<ResourceLimitException>(() => session.Run(ExpandInputs(25_000_000)));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(nameof(SessionOptions.MaxOutputBytes), ex.Limit);
        Assert.Equal(1 << 20, ex.MaxBytes);
        Assert.Contains("output 'y'", ex.Message);
        Assert.True(allocated < 1 << 20, $"refusing the plan allocated {allocated} bytes");
        // The session still serves inputs within the limit.
        Assert.Equal(4000, session.Run(ExpandInputs(1000))["y"].Bytes().Length);
    }

    [Fact]
    public void APlanOverMaxPlanBytesIsRefusedAndCachedPlansStayWithinMaxCachedPlanBytes()
    {
        using var session = new InferenceSession(ExpandModel(), new SessionOptions { Threads = 1, MaxPlanBytes = 1 << 20, MaxCachedPlanBytes = 0 });
        var ex = Assert.Throws<ResourceLimitException>(() => session.Prepare(ExpandInputs(1_000_000)));
        Assert.Equal(nameof(SessionOptions.MaxPlanBytes), ex.Limit);
        foreach (long n in new long[] { 10, 20, 30 })
        {
            Assert.Equal(n * 4, session.Run(ExpandInputs(n))["y"].Bytes().Length);
        }
        // With no cache budget only the latest plan is kept.
        Assert.Equal(1, session.CachedPlanCount);
    }

    [Fact]
    public void BuildingASessionOfAHugeGraphStopsWhenItsTokenIsCancelled()
    {
        var b = new ModelBuilder(opset: 17);
        string v = b.Input("x", DataType.Float32, 1, 4);
        string one = b.Initializer("one", Tensor.Create([1, 4], new float[4]));
        for (int i = 0; i < 50_000; i++)
        {
            v = b.Node("Relu", [b.Node("Add", [v, one])]);
        }
        b.Output(v, "y", DataType.Float32, [1, 4]);
        var model = b.Build();
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(20));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Assert.ThrowsAny<OperationCanceledException>(() => new InferenceSession(model, new SessionOptions { Threads = 1 }, cancel.Token));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"stopped after {clock.Elapsed.TotalSeconds:F1} s");
    }
}
