using Prova.Core;
using Prova.Onnx;
using Xunit.Abstractions;
using static Prova.Runtime.Tests.Shape.OpRunner;

namespace Prova.Runtime.Tests.Shape;

public sealed class ShapeOpTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(new[] { 1, 0 })]
    [InlineData(new[] { 0, 2, 1, 3 })]
    [InlineData(new[] { 0, 2, 3, 1 })]
    [InlineData(new[] { 0, 3, 1, 2 })]
    [InlineData(new[] { 3, 2, 1, 0 })]
    [InlineData(new[] { 2, 0, 1 })]
    public void TransposeMatchesIndexArithmeticForEveryElementSize(int[] perm)
    {
        int seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var rng = new Random(seed);
        int rank = perm.Length;
        var shape = new int[rank];
        for (int d = 0; d < rank; d++)
        {
            shape[d] = rng.Next(1, rank == 2 ? 40 : 7);
        }
        var outShape = new int[rank];
        for (int d = 0; d < rank; d++)
        {
            outShape[d] = shape[perm[d]];
        }
        long n = Tensor.ElementCount(shape);
        var expectedIndex = new long[n];
        var inStrides = new long[rank];
        long s = 1;
        for (int d = rank - 1; d >= 0; d--)
        {
            inStrides[d] = s;
            s *= shape[d];
        }
        var idx = new int[rank];
        for (long o = 0; o < n; o++)
        {
            long src = 0;
            for (int d = 0; d < rank; d++)
            {
                src += idx[d] * inStrides[perm[d]];
            }
            expectedIndex[o] = src;
            for (int d = rank - 1; d >= 0 && ++idx[d] == outShape[d]; d--)
            {
                idx[d] = 0;
            }
        }
        var permAttr = Array.ConvertAll(perm, p => (long)p);
        foreach (var type in new[] { DataType.UInt8, DataType.Int16, DataType.Float32, DataType.Int64 })
        {
            int size = DataTypes.SizeOf(type);
            var bytes = new byte[n * size];
            rng.NextBytes(bytes);
            var x = Tensor.FromBytes(type, shape, bytes);
            var y = Run("Transpose", [x], [("perm", permAttr)])[0];
            Assert.Equal(outShape, y.ShapeArray());
            var actual = y.Bytes();
            for (long o = 0; o < n; o++)
            {
                Assert.True(actual.Slice((int)(o * size), size).SequenceEqual(bytes.AsSpan((int)(expectedIndex[o] * size), size)), $"{DataTypes.Name(type)} element {o}");
            }
        }
    }

    [Fact]
    public void TransposeDefaultPermReversesAxes()
    {
        var y = Run("Transpose", [Iota(2, 3)])[0];
        Assert.Equal([3, 2], y.ShapeArray());
        Assert.Equal([0f, 3, 1, 4, 2, 5], Values<float>(y));
    }

    [Fact]
    public void LargeTransposeIsIdenticalOnOneAndTwoThreads()
    {
        var x = Random(new Random(7), 4, 64, 32, 48);
        var a = Run("Transpose", [x], [("perm", new long[] { 0, 2, 3, 1 })], threads: 1)[0];
        var b = Run("Transpose", [x], [("perm", new long[] { 0, 2, 3, 1 })], threads: 2)[0];
        Assert.True(a.Bytes().SequenceEqual(b.Bytes()));
        Assert.Equal(Values<float>(x)[1 * 32 * 48], Values<float>(a)[1]);
    }

    [Fact]
    public void ReshapeHandlesZeroMinusOneAndAllowZero()
    {
        var x = Iota(2, 3, 4);
        Assert.Equal([2, 12], Run("Reshape", [x, L(0, -1)], constants: [1])[0].ShapeArray());
        Assert.Equal([4, 3, 2], Run("Reshape", [x, L(4, -1, 2)], constants: [1])[0].ShapeArray());
        var empty = Tensor.Zeros(DataType.Float32, [0, 3]);
        Assert.Equal([3, 0], Run("Reshape", [empty, L(3, 0)], [("allowzero", 1L)], opset: 14, constants: [1])[0].ShapeArray());
        Assert.Equal([3, 3], Run("Reshape", [Iota(3, 3), L(0, 3)], opset: 14, constants: [1])[0].ShapeArray());
    }

    [Fact]
    public void ReshapeWithWrongElementCountNamesBothShapes()
    {
        var e = Assert.Throws<ModelException>(() => Run("Reshape", [Iota(2, 3), L(4, 2)], constants: [1]));
        Assert.Contains("[2, 3]", e.Message);
        Assert.Contains("[4, 2]", e.Message);
        Assert.False(e.IsUnsupported);
        Assert.Throws<ModelException>(() => Run("Reshape", [Iota(2, 3), L(-1, -1)], constants: [1]));
        Assert.Throws<ModelException>(() => Run("Reshape", [Iota(2, 3), L(4, -1)], constants: [1]));
    }

    [Fact]
    public void ReshapeWithRuntimeShapeIsReportedAsUnsupported()
    {
        var e = Assert.Throws<ModelException>(() => Run("Reshape", [Iota(2, 3), L(3, 2)]));
        Assert.True(e.IsUnsupported);
    }

    [Fact]
    public void ViewOpsCopyWhenFoldedAndShareWhenRun()
    {
        // Folded (constant input) and run (graph input) paths give the same bytes.
        var x = Iota(2, 1, 3);
        var run = Run("Squeeze", [x, L(1)], opset: 13, constants: [1])[0];
        var folded = Run("Squeeze", [x, L(1)], opset: 13, constants: [0, 1])[0];
        Assert.Equal([2, 3], run.ShapeArray());
        Assert.Equal(Values<float>(x), Values<float>(run));
        Assert.Equal(Values<float>(x), Values<float>(folded));
        Assert.Equal([2, 3], Run("Squeeze", [x], [("axes", new long[] { -2 })], opset: 11)[0].ShapeArray());
        Assert.Equal([1, 2, 1, 1, 3], Run("Unsqueeze", [x], [("axes", new long[] { 0, -2 })], opset: 11)[0].ShapeArray());
        Assert.Equal([2, 1, 3, 1], Run("Unsqueeze", [x, L(3)], opset: 13, constants: [1])[0].ShapeArray());
        Assert.Equal([2, 3], Run("Flatten", [x], [("axis", -2L)])[0].ShapeArray());
        var e = Assert.Throws<ModelException>(() => Run("Squeeze", [x, L(0)], opset: 13, constants: [1]));
        Assert.Contains("size is 2", e.Message);
    }

    [Fact]
    public void DropoutIsIdentityWithAllTrueMask()
    {
        var x = Iota(2, 3);
        var r = Run("Dropout", [x, F([], 0.5f)], opset: 13, outputs: 2, constants: [1]);
        Assert.Equal(Values<float>(x), Values<float>(r[0]));
        Assert.Equal(DataType.Bool, r[1].Type);
        Assert.All(Values<bool>(r[1]), Assert.True);
        var training = Tensor.Create([], new[] { true });
        Assert.True(Assert.Throws<ModelException>(() => Run("Dropout", [x, F([], 0.5f), training], opset: 13, constants: [1, 2])).IsUnsupported);
    }

    [Fact]
    public void ConcatJoinsAlongAxisAndRejectsMismatchedDims()
    {
        var y = Run("Concat", [Iota(2, 2), Iota(2, 1), Tensor.Zeros(DataType.Float32, [2, 0])], [("axis", -1L)])[0];
        Assert.Equal([2, 3], y.ShapeArray());
        Assert.Equal([0f, 1, 0, 2, 3, 1], Values<float>(y));
        var e = Assert.Throws<ModelException>(() => Run("Concat", [Iota(2, 2), Iota(3, 2)], [("axis", 1L)]));
        Assert.Contains("[3, 2]", e.Message);
        Assert.Contains("[2, 2]", e.Message);
        Assert.Throws<ModelException>(() => Run("Concat", [Iota(2, 2), Iota(2, 2)], [("axis", 2L)]));
    }

    [Fact]
    public void SplitSupportsAttributeInputAndUnevenNumOutputs()
    {
        var x = Iota(7);
        var a = Run("Split", [x], [("num_outputs", 3L)], opset: 18, outputs: 3);
        Assert.Equal([3, 3, 1], a.Select(t => t.Shape[0]).ToArray());
        Assert.Equal([6f], Values<float>(a[2]));
        var b = Run("Split", [x], [("split", new long[] { 2, 5 })], opset: 11, outputs: 2);
        Assert.Equal([2f, 3, 4, 5, 6], Values<float>(b[1]));
        var c = Run("Split", [Iota(2, 4), L(1, 3)], [("axis", 1L)], opset: 13, outputs: 2, constants: [1]);
        Assert.Equal([1f, 2, 3, 5, 6, 7], Values<float>(c[1]));
        Assert.Throws<ModelException>(() => Run("Split", [x], opset: 13, outputs: 2));
        Assert.Throws<ModelException>(() => Run("Split", [x, L(3, 3)], opset: 13, outputs: 2, constants: [1]));
    }

    [Fact]
    public void SliceClampsHugeEndsAndSupportsNegativeSteps()
    {
        var x = Iota(10);
        var all = Run("Slice", [x, L(0), L(long.MaxValue)], constants: [1, 2])[0];
        Assert.Equal(10, all.Length);
        var rev = Run("Slice", [x, L(-1), L(long.MinValue), L(0), L(-3)], constants: [1, 2, 3, 4])[0];
        Assert.Equal([9f, 6, 3, 0], Values<float>(rev));
        var none = Run("Slice", [x, L(5), L(2)], constants: [1, 2])[0];
        Assert.Equal(0, none.Length);
        var m = Run("Slice", [Iota(3, 4), L(1, 3), L(1000, 0), L(0, 1), L(1, -2)], constants: [1, 2, 3, 4])[0];
        Assert.Equal([2, 2], m.ShapeArray());
        Assert.Equal([7f, 5, 11, 9], Values<float>(m));
        var old = Run("Slice", [Iota(3, 4)], [("starts", new long[] { 1 }), ("ends", new long[] { 3 }), ("axes", new long[] { 1 })], opset: 9)[0];
        Assert.Equal([1f, 2, 5, 6, 9, 10], Values<float>(old));
        Assert.Throws<ModelException>(() => Run("Slice", [x, L(0), L(5), L(0), L(0)], constants: [1, 2, 3, 4]));
    }

    [Fact]
    public void GatherTakesNegativeIndicesOnAnyAxisWithInt32OrInt64()
    {
        var x = Iota(3, 4);
        var y = Run("Gather", [x, L(-1, 0)], [("axis", 1L)])[0];
        Assert.Equal([3, 2], y.ShapeArray());
        Assert.Equal([3f, 0, 7, 4, 11, 8], Values<float>(y));
        var y32 = Run("Gather", [x, Tensor.Create([], new[] { 2 })])[0];
        Assert.Equal([4], y32.ShapeArray());
        Assert.Equal([8f, 9, 10, 11], Values<float>(y32));
    }

    [Fact]
    public void GatherOutOfRangeIndexIsAModelErrorWhenConstantAndAnInputErrorAtRunTime()
    {
        var x = Iota(3, 4);
        var e = Assert.Throws<ModelException>(() => Run("Gather", [x, L(3)], constants: [1]));
        Assert.Contains("index 3", e.Message);
        var r = Assert.Throws<InputException>(() => Run("Gather", [x, L(0, -4)]));
        Assert.Contains("index -4", r.Message);
    }

    [Fact]
    public void ShapeSubgraphIsFoldedAtPlanTime()
    {
        // y = Reshape(x, Concat(Gather(Shape(x), 0), [-1])) — the shape comes from x's shape only.
        var graph = new OnnxGraph();
        graph.Inputs.Add(new ValueInfo { Name = "x", ElementType = DataType.Float32 });
        graph.Initializers["zero"] = Tensor.Create([1], new[] { 0L });
        graph.Initializers["minus1"] = Tensor.Create([1], new[] { -1L });
        graph.Nodes.Add(new OnnxNode { OpType = "Shape", Inputs = ["x"], Outputs = ["s"] });
        graph.Nodes.Add(new OnnxNode { OpType = "Gather", Inputs = ["s", "zero"], Outputs = ["b"] });
        graph.Nodes.Add(new OnnxNode { OpType = "Concat", Inputs = ["b", "minus1"], Outputs = ["t"], Attributes = { ["axis"] = Attribute("axis", 0L) } });
        graph.Nodes.Add(new OnnxNode { OpType = "Reshape", Inputs = ["x", "t"], Outputs = ["y"] });
        graph.Outputs.Add(new ValueInfo { Name = "y" });
        using var session = new InferenceSession(new OnnxModel { Opsets = new Dictionary<string, long> { [""] = 17 }, Graph = graph });
        var y = session.Run(new Dictionary<string, Tensor> { ["x"] = Iota(2, 3, 4) })["y"];
        Assert.Equal([2, 12], y.ShapeArray());
        Assert.Equal(23f, Values<float>(y)[23]);
    }

    [Fact]
    public void ShapeHonoursStartAndEnd()
    {
        var x = Iota(2, 3, 4);
        Assert.Equal([3L, 4], Values<long>(Run("Shape", [x], [("start", -2L)], opset: 15)[0]));
        Assert.Equal([2L, 3, 4], Values<long>(Run("Shape", [x], [("end", 10L)], opset: 15)[0]));
        Assert.Equal([24L], Values<long>(Run("Size", [x])[0]));
    }

    [Fact]
    public void ConstantConstantOfShapeAndRange()
    {
        Assert.Equal([1L, 2, 3], Values<long>(Run("Constant", [], [("value_ints", new long[] { 1, 2, 3 })])[0]));
        Assert.Equal([2.5f], Values<float>(Run("Constant", [], [("value_float", 2.5f)])[0]));
        var c = Run("ConstantOfShape", [L(2, 2)], [("value", Tensor.Create([1], new[] { 7 }))], constants: [0])[0];
        Assert.Equal(DataType.Int32, c.Type);
        Assert.Equal([7, 7, 7, 7], Values<int>(c));
        var r = Run("Range", [Tensor.Create([], new[] { 10L }), Tensor.Create([], new[] { 1L }), Tensor.Create([], new[] { -3L })], constants: [0, 1, 2])[0];
        Assert.Equal([10L, 7, 4], Values<long>(r));
    }

    [Fact]
    public void ExpandAndTileBroadcastAndRepeat()
    {
        var e = Run("Expand", [F([3, 1], 1, 2, 3), L(2, 1, 2)], constants: [1])[0];
        Assert.Equal([2, 3, 2], e.ShapeArray());
        Assert.Equal([1f, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3], Values<float>(e));
        Assert.Throws<ModelException>(() => Run("Expand", [F([3, 1], 1, 2, 3), L(2, 2)], constants: [1]));
        var t = Run("Tile", [F([2, 2], 1, 2, 3, 4), L(2, 2)], constants: [1])[0];
        Assert.Equal([4, 4], t.ShapeArray());
        Assert.Equal([1f, 2, 1, 2, 3, 4, 3, 4, 1, 2, 1, 2, 3, 4, 3, 4], Values<float>(t));
    }

    [Fact]
    public void PadModesAndNegativePadsCrop()
    {
        var x = F([1, 3], 1, 2, 3);
        Assert.Equal([9f, 1, 2, 3, 9, 9], Values<float>(Run("Pad", [x, L(0, 1, 0, 2), F([], 9)], constants: [1, 2])[0]));
        Assert.Equal([3f, 2, 1, 2, 3, 2, 1], Values<float>(Run("Pad", [x, L(0, 2, 0, 2)], [("mode", "reflect")], constants: [1])[0]));
        Assert.Equal([1f, 1, 2, 3, 3, 3], Values<float>(Run("Pad", [x, L(0, 1, 0, 2)], [("mode", "edge")], constants: [1])[0]));
        Assert.Equal([3f, 1, 2, 3, 1], Values<float>(Run("Pad", [x, L(0, 1, 0, 1)], [("mode", "wrap")], opset: 19, constants: [1])[0]));
        Assert.Equal([2f, 3], Values<float>(Run("Pad", [x, L(0, -1, 0, 0)], constants: [1])[0]));
        var crop = Run("Pad", [Iota(2, 3), L(-1, -1, 0, 1)], constants: [1])[0];
        Assert.Equal([1, 3], crop.ShapeArray());
        Assert.Equal([4f, 5, 0], Values<float>(crop));
        Assert.Equal([0f, 1, 2, 3], Values<float>(Run("Pad", [F([3], 1, 2, 3)], [("pads", new long[] { 1, 0 })], opset: 2)[0]));
        Assert.Throws<ModelException>(() => Run("Pad", [x, L(0, -4, 0, 0)], constants: [1]));
    }

    [Fact]
    public void DataMovementWorksOnBoolAndInt64()
    {
        var b = Tensor.Create([2, 2], new[] { true, false, false, true });
        Assert.Equal([true, false, false, true], Values<bool>(Run("Transpose", [b])[0]));
        var l = Tensor.Create([3], new[] { 1L, 2, 3 });
        Assert.Equal([1L, 2, 3, 1, 2, 3], Values<long>(Run("Concat", [l, l], [("axis", 0L)])[0]));
    }

    [Fact]
    public void AxisOutOfRangeIsAModelErrorNamingTheRank()
    {
        var e = Assert.Throws<ModelException>(() => Run("Gather", [Iota(2, 2), L(0)], [("axis", 2L)]));
        Assert.Contains("rank 2", e.Message);
        Assert.Throws<ModelException>(() => Run("Transpose", [Iota(2, 2)], [("perm", new long[] { 0, 0 })]));
        Assert.Throws<ModelException>(() => Run("Flatten", [Iota(2, 2)], [("axis", 3L)]));
    }
}
