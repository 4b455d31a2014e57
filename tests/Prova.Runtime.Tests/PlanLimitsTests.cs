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
}
