using Prova.Core;
using Prova.Onnx;

namespace Prova.Runtime.Tests;

/// <summary>Models that take a shape as an input run with plans specialised on that input's value.</summary>
public sealed class SpecializedPlanTests
{
    private static OnnxModel ReshapeModel()
    {
        var b = new ModelBuilder(opset: 17);
        var x = b.Input("x", DataType.Float32, 2, 3);
        var shape = b.Input("shape", DataType.Int64, -1);
        b.Output(b.Node("Relu", [b.Node("Reshape", [x, shape])]), "y");
        return b.Build();
    }

    private static Dictionary<string, Tensor> Inputs(params long[] shape) => new()
    {
        ["x"] = Tensor.Create([2, 3], new[] { -1f, 2, -3, 4, -5, 6 }),
        ["shape"] = Tensor.Create([shape.Length], shape),
    };

    [Fact]
    public void EachShapeValueGetsItsOwnPlanAndTheRightAnswer()
    {
        using var session = new InferenceSession(ReshapeModel(), new SessionOptions { Threads = 1 });

        var a = session.Run(Inputs(3, 2))["y"];
        var b = session.Run(Inputs(6))["y"];
        var c = session.Run(Inputs(1, -1))["y"];
        var again = session.Run(Inputs(3, 2))["y"];

        Assert.Equal([3, 2], a.ShapeArray());
        Assert.Equal([6], b.ShapeArray());
        Assert.Equal([1, 6], c.ShapeArray());
        Assert.Equal([0f, 2, 0, 4, 0, 6], b.Span<float>().ToArray());
        Assert.Equal(a.Span<float>().ToArray(), again.Span<float>().ToArray());
        Assert.Equal(3, session.CachedPlanCount);
    }

    [Fact]
    public void AShapeValueThatDoesNotFitIsAClearModelError()
    {
        using var session = new InferenceSession(ReshapeModel(), new SessionOptions { Threads = 1 });
        var e = Assert.Throws<ModelException>(() => session.Run(Inputs(4, 2)));
        Assert.Contains("Reshape", e.Message);
    }
}
