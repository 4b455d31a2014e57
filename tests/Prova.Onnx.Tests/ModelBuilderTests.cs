using Prova.Core;
using Prova.Onnx.Protos;

namespace Prova.Onnx.Tests;

public sealed class ModelBuilderTests
{
    private static OnnxModel Mlp()
    {
        var b = new ModelBuilder(opset: 17);
        var x = b.Input("x", DataType.Float32, -1, 4);
        var w = b.Initializer("w", Tensor.Create([4, 3], Enumerable.Range(0, 12).Select(i => i * 0.5f).ToArray()));
        var bias = b.Constant(Tensor.Create([3], new[] { 1f, 2f, 3f }));
        var y = b.Node("MatMul", [x, w]);
        var z = b.Node("Add", [y, bias]);
        b.Output(b.Node("Relu", [z], name: "relu"), "y", DataType.Float32, [-1, 3]);
        b.Metadata("author", "prova tests");
        return b.Build();
    }

    [Fact]
    public void BuiltModelHasTheHeaderOnnxRuntimeNeeds()
    {
        var model = Mlp();
        // Re-parse our bytes with the protobuf classes themselves (no ONNX tooling involved).
        var proto = ModelProto.Parser.ParseFrom(OnnxWriter.Write(model));
        Assert.Equal(8, proto.IrVersion);
        Assert.Equal("prova", proto.ProducerName);
        var opset = Assert.Single(proto.OpsetImport);
        Assert.Equal("", opset.Domain);
        Assert.Equal(17, opset.Version);
        Assert.Equal(["MatMul", "Add", "Relu"], proto.Graph.Node.Select(n => n.OpType));
        Assert.Equal("relu", proto.Graph.Node[2].Name);
        Assert.Equal("y", proto.Graph.Node[2].Output.Single());
        var input = Assert.Single(proto.Graph.Input);
        Assert.Equal("x", input.Name);
        Assert.Equal((int)DataType.Float32, input.Type.TensorType.ElemType);
        Assert.Equal("N", input.Type.TensorType.Shape.Dim[0].DimParam);
        Assert.Equal(4, input.Type.TensorType.Shape.Dim[1].DimValue);
        Assert.Equal(2, proto.Graph.Initializer.Count);
        var w = proto.Graph.Initializer.Single(t => t.Name == "w");
        Assert.Equal([4L, 3L], w.Dims);
        Assert.Equal(48, w.RawData.Length);
        Assert.Equal("prova tests", proto.MetadataProps.Single(p => p.Key == "author").Value);
    }

    [Fact]
    public void BuiltModelRoundTripsThroughWriterAndLoader()
    {
        var model = Mlp();
        var loaded = OnnxLoader.Load(OnnxWriter.Write(model));
        ModelAssert.Equal(model, loaded);
        Assert.Equal("y", loaded.Graph.Outputs.Single().Name);
        Assert.Equal("y: float32[N, 3]", loaded.Graph.Outputs.Single().ToString());
        Assert.Equal(17, loaded.Opset);
    }

    [Fact]
    public void OutputRenamesTheProducerAndItsLaterConsumers()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", DataType.Float32, 2);
        var r = b.Node("Relu", [x]);
        var n = b.Node("Neg", [r]);
        b.Output(r, "first");
        var s = b.Node("Sigmoid", [r]);   // the old name still works after the rename
        b.Output(n, "second");
        b.Output(s, "third");
        var g = OnnxLoader.Load(OnnxWriter.Write(b.Build())).Graph;
        Assert.Equal(["first"], g.Nodes[0].Outputs);
        Assert.Equal(["first"], g.Nodes[1].Inputs);
        Assert.Equal(["first"], g.Nodes[2].Inputs);
        Assert.Equal(["first", "second", "third"], g.Outputs.Select(o => o.Name));
        Assert.All(g.Outputs, o => Assert.Null(o.Shape));
        Assert.All(g.Outputs, o => Assert.Equal(DataType.Float32, o.ElementType));
    }

    [Fact]
    public void OutputOfAnInputOrInitializerOrRepeatedValueInsertsIdentity()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", DataType.Int64, 3);
        var c = b.Constant(Tensor.Create([1], new long[] { 7 }));
        var a = b.Node("Add", [x, c]);
        b.Output(x, "x_out", DataType.Int64, [3]);
        b.Output(c, "c_out", DataType.Int64, [1]);
        b.Output(a, "sum", DataType.Int64);
        b.Output(a, "sum_again", DataType.Int64);
        var g = OnnxLoader.Load(OnnxWriter.Write(b.Build())).Graph;
        Assert.Equal(["Add", "Identity", "Identity", "Identity"], g.Nodes.Select(n => n.OpType));
        Assert.Equal([x], g.Nodes[1].Inputs);
        Assert.Equal(["x_out"], g.Nodes[1].Outputs);
        Assert.Equal([c], g.Nodes[2].Inputs);
        Assert.Equal(["sum"], g.Nodes[3].Inputs);
        Assert.Equal(["sum_again"], g.Nodes[3].Outputs);
        Assert.Equal("x_out: int64[3]", g.Outputs[0].ToString());
    }

    [Fact]
    public void AttributesConvertPerDocumentedRules()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", DataType.Float32, 1, 1, 4, 4);
        var t = Tensor.Create([2], new[] { 1.5f, -2f });
        var y = b.Node("Custom", [x], [
            ("l", 5L), ("i", 3), ("f", 0.25f), ("d", 0.5), ("s", "same"), ("li", new long[] { 1, 2 }),
            ("ii", new[] { 3, 4 }), ("ff", new[] { 1f, 2f }), ("ss", new[] { "a", "b" }), ("t", t), ("b", true),
        ]);
        b.Output(y, "y");
        var node = OnnxLoader.Load(OnnxWriter.Write(b.Build())).Graph.Nodes.Single();
        Assert.Equal(5, node.GetInt("l", 0));
        Assert.Equal(3, node.GetInt("i", 0));
        Assert.Equal(1, node.GetInt("b", 0));
        Assert.Equal(0.25f, node.GetFloat("f", 0));
        Assert.Equal(0.5f, node.GetFloat("d", 0));
        Assert.Equal("same", node.GetString("s", ""));
        Assert.Equal([1L, 2L], node.GetInts("li")!);
        Assert.Equal([3L, 4L], node.GetInts("ii")!);
        Assert.Equal([1f, 2f], node.GetFloats("ff")!);
        Assert.Equal(["a", "b"], node.Attributes["ss"].Strings);
        ModelAssert.Tensor(t, node.GetTensor("t")!, "t");
        Assert.Throws<ArgumentException>(() => b.Node("Bad", [x], [("x", new object())]));
    }

    [Fact]
    public void NamesMustBeUniqueAndDefined()
    {
        var b = new ModelBuilder();
        b.Input("x", DataType.Float32, 1);
        Assert.Throws<ArgumentException>(() => b.Input("x", DataType.Float32, 1));
        Assert.Throws<ArgumentException>(() => b.Initializer("x", Tensor.Create([1], new[] { 1f })));
        Assert.Throws<ArgumentException>(() => b.Output("nope", "y"));
        var y = b.Node("Relu", ["x"], output: "y");
        Assert.Equal("y", y);
        Assert.Throws<ArgumentException>(() => b.Node("Relu", ["x"], output: "y"));
    }

    [Fact]
    public void BuildIsASnapshot()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", DataType.Float32, 1);
        var r = b.Node("Relu", [x]);
        var before = b.Build();
        b.Output(r, "y");
        Assert.Equal(r, before.Graph.Nodes[0].Outputs[0]);
        Assert.Empty(before.Graph.Outputs);
    }

    [Fact]
    public void NodeMultiGivesDistinctOutputs()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", DataType.Float32, 4);
        var parts = b.NodeMulti("Split", [x], 2, [("axis", 0L)]);
        Assert.Equal(2, parts.Distinct().Count());
        b.Output(parts[0], "a");
        b.Output(parts[1], "b");
        var g = OnnxLoader.Load(OnnxWriter.Write(b.Build())).Graph;
        Assert.Equal(["a", "b"], g.Nodes.Single().Outputs);
    }
}
