using Google.Protobuf;
using Prova.Core;
using Prova.Onnx.Protos;

namespace Prova.Onnx.Tests;

/// <summary>Every structural check of the loader, with the message a user sees.</summary>
public sealed class ValidationTests
{
    private static ModelProto Valid()
    {
        var b = new ModelBuilder(opset: 13);
        var x = b.Input("x", DataType.Float32, 2, 3);
        var w = b.Initializer("w", Tensor.Create([3, 2], new float[6]));
        var y = b.Node("MatMul", [x, w], name: "mm");
        b.Output(b.Node("Relu", [y], name: "relu"), "y");
        return OnnxWriter.ToProto(b.Build(), null);
    }

    private static ModelException Fails(ModelProto proto, LoadOptions? options = null)
        => Assert.Throws<ModelException>(() => OnnxLoader.Load(proto.ToByteArray(), null, options));

    private static NodeProto NodeProto(string op, string name, string[] inputs, string[] outputs)
    {
        var node = new NodeProto { OpType = op, Name = name };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        return node;
    }

    [Fact]
    public void TheBaseModelIsValid()
    {
        var model = OnnxLoader.Load(Valid().ToByteArray());
        Assert.Equal(2, model.Graph.Nodes.Count);
    }

    [Theory]
    [InlineData(new byte[] { 0xff, 0xff, 0xff })]
    [InlineData(new byte[] { 0x3a, 0x80 })]
    [InlineData(new byte[] { 0x08 })]
    public void GarbageIsNotAValidModel(byte[] bytes)
    {
        var e = Assert.Throws<ModelException>(() => OnnxLoader.Load(bytes));
        Assert.StartsWith("not a valid ONNX model", e.Message);
    }

    [Fact]
    public void TruncatedModelIsNotAValidModel()
    {
        var bytes = Valid().ToByteArray();
        var e = Assert.Throws<ModelException>(() => OnnxLoader.Load(bytes.AsSpan(0, bytes.Length - 3)));
        Assert.StartsWith("not a valid ONNX model", e.Message);
    }

    [Fact]
    public void EmptyBytesHaveNoGraph()
    {
        var e = Assert.Throws<ModelException>(() => OnnxLoader.Load(ReadOnlySpan<byte>.Empty));
        Assert.Contains("has no graph", e.Message);
    }

    [Fact]
    public void IrVersionMustBeSane()
    {
        var p = Valid();
        p.ClearIrVersion();
        Assert.Contains("ir_version is missing", Fails(p).Message);
        p.IrVersion = -3;
        Assert.Contains("ir_version is -3", Fails(p).Message);
        p.IrVersion = 99;
        var e = Fails(p);
        Assert.True(e.IsUnsupported);
        Assert.Contains("ir_version 99", e.Message);
    }

    [Fact]
    public void OpsetImportMustBePresent()
    {
        var p = Valid();
        p.OpsetImport.Clear();
        Assert.Contains("opset_import is empty", Fails(p).Message);
        p.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 0 });
        Assert.Contains("has version 0", Fails(p).Message);
    }

    [Fact]
    public void UndefinedInputNamesTheNodeAndTheValue()
    {
        var p = Valid();
        p.Graph.Node[1].Input[0] = "nowhere";
        var e = Fails(p);
        Assert.Contains("node 'relu' (Relu)", e.Message);
        Assert.Contains("input 'nowhere'", e.Message);
    }

    [Fact]
    public void NodesOutOfOrderAreRejected()
    {
        var p = Valid();
        var relu = p.Graph.Node[1];
        p.Graph.Node.RemoveAt(1);
        p.Graph.Node.Insert(0, relu);
        var e = Fails(p);
        Assert.Contains("node 'relu' (Relu)", e.Message);
        Assert.Contains("topological order", e.Message);
    }

    [Fact]
    public void CyclesAreRejected()
    {
        var p = Valid();
        p.Graph.Node.Clear();
        p.Graph.Node.Add(NodeProto("Add", "a", ["x", "b_out"], ["a_out"]));
        p.Graph.Node.Add(NodeProto("Relu", "b", ["a_out"], ["b_out"]));
        p.Graph.Node.Add(NodeProto("Identity", "c", ["b_out"], ["y"]));
        var e = Fails(p);
        Assert.Contains("node 'a' (Add)", e.Message);
        Assert.Contains("input 'b_out'", e.Message);
    }

    [Fact]
    public void ValuesAreAssignedOnce()
    {
        var p = Valid();
        p.Graph.Node.Add(NodeProto("Neg", "again", ["x"], ["y"]));
        var e = Fails(p);
        Assert.Contains("node 'again' (Neg)", e.Message);
        Assert.Contains("output 'y' is already defined by node 'relu' (Relu)", e.Message);

        p = Valid();
        p.Graph.Node.Add(NodeProto("Neg", "shadow", ["x"], ["w"]));
        Assert.Contains("output 'w' is already defined by an initializer", Fails(p).Message);
    }

    [Fact]
    public void GraphOutputsMustBeDefined()
    {
        var p = Valid();
        p.Graph.Output[0].Name = "ghost";
        Assert.Contains("graph output 'ghost' is not produced", Fails(p).Message);
    }

    [Theory]
    [InlineData(-1L)]
    [InlineData(3_000_000_000L)]
    public void DeclaredDimsMustBeSane(long dim)
    {
        var p = Valid();
        p.Graph.Input[0].Type.TensorType.Shape.Dim[0].DimValue = dim;
        var e = Fails(p);
        Assert.Contains("graph input 'x'", e.Message);
        Assert.Contains($"invalid dimension {dim}", e.Message);
    }

    [Fact]
    public void DeclaredShapesRespectTheElementLimit()
    {
        var e = Fails(Valid(), new LoadOptions { MaxTensorElements = 5 });
        Assert.Contains("limit of 5 elements", e.Message);
    }

    [Fact]
    public void InitializerDataMustMatchItsDims()
    {
        var p = Valid();
        p.Graph.Initializer[0].Dims[0] = 4;
        var e = Fails(p);
        Assert.Contains("initializer 'w'", e.Message);
        Assert.Contains("raw_data holds 24 bytes", e.Message);
    }

    [Fact]
    public void HostileInitializerShapeFailsFast()
    {
        var p = Valid();
        p.Graph.Initializer[0].Dims.Clear();
        p.Graph.Initializer[0].Dims.Add(1_000_000_000);
        p.Graph.Initializer[0].Dims.Add(1_000_000_000);
        Assert.Contains("more than the limit", Fails(p).Message);
    }

    [Fact]
    public void ModelSizeAndNodeCountLimits()
    {
        var bytes = Valid().ToByteArray();
        var e = Assert.Throws<ModelException>(() => OnnxLoader.Load(bytes, null, new LoadOptions { MaxModelBytes = 10 }));
        Assert.Contains("limit of 10", e.Message);
        e = Assert.Throws<ModelException>(() => OnnxLoader.Load(bytes, null, new LoadOptions { MaxNodes = 1 }));
        Assert.Contains("more than 1 nodes", e.Message);
    }

    [Fact]
    public void InitializersListedAsInputsAreNotCallerInputs()
    {
        var p = Valid();
        p.IrVersion = 3;
        var w = new ValueInfoProto { Name = "w", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1 } } };
        p.Graph.Input.Add(w);
        var model = OnnxLoader.Load(p.ToByteArray());
        Assert.Equal(["x"], model.Graph.Inputs.Select(i => i.Name));
        Assert.True(model.Graph.Initializers.ContainsKey("w"));

        // Written back at IR 3, the initializer is listed as an input again (ONNX Runtime requires it).
        var back = ModelProto.Parser.ParseFrom(OnnxWriter.Write(model));
        Assert.Equal(["x", "w"], back.Graph.Input.Select(i => i.Name));
    }

    [Fact]
    public void SequenceInputsAreUnsupported()
    {
        var p = Valid();
        p.Graph.Input[0].Type = new TypeProto { SequenceType = new TypeProto.Types.Sequence { ElemType = p.Graph.Input[0].Type } };
        var e = Fails(p);
        Assert.True(e.IsUnsupported);
        Assert.Contains("graph input 'x' is a sequence", e.Message);
    }

    [Fact]
    public void ConstantAttributeTensorsAreConverted()
    {
        var p = Valid();
        var c = NodeProto("Constant", "k", [], ["k_out"]);
        c.Attribute.Add(new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = OnnxTensors.ToProto("", Tensor.Create([2], new[] { 4L, 5L })) });
        p.Graph.Node.Insert(0, c);
        var node = OnnxLoader.Load(p.ToByteArray()).Graph.Nodes[0];
        Assert.Equal([4L, 5L], node.GetTensor("value")!.Span<long>().ToArray());

        c.Attribute[0].T.DataType = (int)DataType.Float16;
        var e = Fails(p);
        Assert.True(e.IsUnsupported);
        Assert.Contains("attribute 'value' of node 'k' (Constant)", e.Message);
        Assert.Contains("float16", e.Message);
    }

    [Fact]
    public void UntypedAttributesAreInferredFromTheFieldSet()
    {
        var p = Valid();
        p.Graph.Node[1].Attribute.Add(new AttributeProto { Name = "alpha", F = 0.5f });
        p.Graph.Node[1].Attribute.Add(new AttributeProto { Name = "perm", Ints = { 1, 0 } });
        p.Graph.Node[1].Attribute.Add(new AttributeProto { Name = "empty" });
        var node = OnnxLoader.Load(p.ToByteArray()).Graph.Nodes[1];
        Assert.Equal(0.5f, node.GetFloat("alpha", 0));
        Assert.Equal([1L, 0L], node.GetInts("perm")!);
        Assert.Null(node.GetInts("empty"));
    }

    [Fact]
    public void DuplicateAttributesAreRejected()
    {
        var p = Valid();
        p.Graph.Node[1].Attribute.Add(new AttributeProto { Name = "a", Type = AttributeProto.Types.AttributeType.Int, I = 1 });
        p.Graph.Node[1].Attribute.Add(new AttributeProto { Name = "a", Type = AttributeProto.Types.AttributeType.Int, I = 2 });
        Assert.Contains("attribute 'a' is given twice", Fails(p).Message);
    }

    [Fact]
    public void SubgraphsMayUseOuterValuesButNotUndefinedOnes()
    {
        var p = Valid();
        var body = new GraphProto { Name = "then" };
        body.Node.Add(NodeProto("Neg", "inner", ["x"], ["neg_x"]));
        body.Output.Add(new ValueInfoProto { Name = "neg_x" });
        var cond = new TensorProto { DataType = (int)DataType.Bool, RawData = ByteString.CopyFrom(new byte[] { 1 }) };
        p.Graph.Initializer.Add(cond);
        cond.Name = "cond";
        var iff = NodeProto("If", "branch", ["cond"], ["if_out"]);
        iff.Attribute.Add(new AttributeProto { Name = "then_branch", Type = AttributeProto.Types.AttributeType.Graph, G = body });
        iff.Attribute.Add(new AttributeProto { Name = "else_branch", Type = AttributeProto.Types.AttributeType.Graph, G = body });
        p.Graph.Node.Add(iff);
        var model = OnnxLoader.Load(p.ToByteArray());
        var sub = model.Graph.Nodes[2].Attributes["then_branch"].Graph!;
        Assert.Equal("Neg", sub.Nodes.Single().OpType);

        body.Node[0].Input[0] = "later";
        var e = Fails(p);
        Assert.Contains("node 'branch' (If)", e.Message);
        Assert.Contains("node 'inner' (Neg)", e.Message);
        Assert.Contains("input 'later'", e.Message);
    }

    [Fact]
    public void DeeplyNestedSubgraphsFailWithoutStackOverflow()
    {
        var graph = Valid().Graph;
        for (int i = 0; i < 300; i++)
        {
            var node = NodeProto("If", $"n{i}", ["x"], ["y"]);
            node.Attribute.Add(new AttributeProto { Name = "then_branch", Type = AttributeProto.Types.AttributeType.Graph, G = graph });
            graph = new GraphProto { Name = $"g{i}", Node = { node } };
        }
        var p = Valid();
        p.Graph = graph;
        var e = Fails(p);
        Assert.StartsWith("not a valid ONNX model", e.Message);
    }

    [Fact]
    public void MissingModelFileIsAModelException()
    {
        var e = Assert.Throws<ModelException>(() => OnnxLoader.Load("/nonexistent/dir/model.onnx"));
        Assert.Contains("not found", e.Message);
    }

    [Fact]
    public void MetadataIsLoaded()
    {
        var p = Valid();
        p.MetadataProps.Add(new StringStringEntryProto { Key = "license", Value = "MIT" });
        Assert.Equal("MIT", OnnxLoader.Load(p.ToByteArray()).Metadata["license"]);
    }
}
