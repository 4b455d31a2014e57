using Prova.Core;
using Prova.Onnx;
using static Prova.Runtime.Tests.Linear.LinearTestKit;

namespace Prova.Runtime.Tests.Linear;

/// <summary>Bad shapes and unsupported variants surface at load time as ModelException with a clear message.</summary>
public sealed class LinearShapeErrorTests
{
    private static ModelException Fails(OnnxModel model) => Assert.Throws<ModelException>(() => new InferenceSession(model, new SessionOptions { Threads = 1 }).Dispose());

    [Fact]
    public void MatMulInnerDimMismatchNamesBothShapes()
    {
        var e = Fails(Model("MatMul", [("a", [1, 784], null), ("b", [785, 128], null)]));
        Assert.False(e.IsUnsupported);
        Assert.Contains("inner dims differ: [1, 784] x [785, 128]", e.Message);
    }

    [Fact]
    public void GemmWithUnbroadcastableCIsRejected()
    {
        var e = Fails(Model("Gemm", [("a", [3, 4], null), ("b", [4, 5], null), ("c", [2, 5], null)]));
        Assert.Contains("cannot be broadcast to [3, 5]", e.Message);
    }

    [Fact]
    public void ConvChannelMismatchIsRejected()
    {
        var w = T([4, 2, 3, 3], new float[72]);
        var e = Fails(Model("Conv", [("x", [1, 3, 8, 8], null), ("w", [4, 2, 3, 3], w)], opset: 11));
        Assert.Contains("input channels per group", e.Message);
    }

    [Fact]
    public void Conv3DIsUnsupported()
    {
        var w = T([1, 1, 2, 2, 2], new float[8]);
        var e = Fails(Model("Conv", [("x", [1, 1, 4, 4, 4], null), ("w", [1, 1, 2, 2, 2], w)], opset: 11));
        Assert.True(e.IsUnsupported);
    }

    [Fact]
    public void BatchNormTrainingModeIsUnsupported()
    {
        var c = T([2], new float[2]);
        var e = Fails(Model("BatchNormalization", [("x", [1, 2, 3, 3], null), ("s", [2], c), ("b", [2], c), ("m", [2], c), ("v", [2], c)], opset: 15, attributes: [Int("training_mode", 1)]));
        Assert.True(e.IsUnsupported);
    }

    [Fact]
    public void KernelLargerThanInputIsRejected()
    {
        var e = Fails(Model("MaxPool", [("x", [1, 1, 3, 3], null)], attributes: [Ints("kernel_shape", 5, 5)]));
        Assert.Contains("empty", e.Message);
    }

    [Fact]
    public void PoolIndicesFollowStorageOrder()
    {
        // 1x1x2x3 input, 2x2 pool, stride 1: maxima at (1,1) and (1,2).
        var x = T([1, 1, 2, 3], [1f, 2f, 3f, 4f, 8f, 9f]);
        foreach (var (order, expected) in new[] { (0L, new long[] { 4, 5 }), (1L, new long[] { 3, 5 }) })
        {
            var model = Model("MaxPool", [("x", [1, 1, 2, 3], null)], outputs: 2, opset: 12, attributes: [Ints("kernel_shape", 2, 2), Int("storage_order", order)]);
            model.Graph.Outputs[1] = new ValueInfo { Name = "y1", ElementType = DataType.Int64 };
            var outs = Run(model, 1, new() { ["x"] = x });
            Assert.Equal(new[] { 8f, 9f }, (float[])outs["y0"].Data);
            Assert.Equal(expected, (long[])outs["y1"].Data);
        }
    }
}
