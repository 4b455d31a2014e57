using Prova.Core;

namespace Prova.Onnx.Tests;

/// <summary>Structural equality of IR models, with a message that says where they differ.</summary>
internal static class ModelAssert
{
    public static void Equal(OnnxModel expected, OnnxModel actual, string context = "")
    {
        Assert.True(expected.IrVersion == actual.IrVersion, $"{context}: ir_version");
        Assert.Equal(expected.ProducerName, actual.ProducerName);
        Assert.Equal(expected.Opsets.OrderBy(p => p.Key), actual.Opsets.OrderBy(p => p.Key));
        Assert.Equal(expected.Metadata.OrderBy(p => p.Key), actual.Metadata.OrderBy(p => p.Key));
        Graph(expected.Graph, actual.Graph, context);
    }

    public static void Graph(OnnxGraph expected, OnnxGraph actual, string context)
    {
        Assert.Equal(expected.Name, actual.Name);
        Infos(expected.Inputs, actual.Inputs, context + " inputs");
        Infos(expected.Outputs, actual.Outputs, context + " outputs");
        Infos(expected.ValueInfos, actual.ValueInfos, context + " value_info");
        Assert.Equal(expected.Initializers.Keys.Order(StringComparer.Ordinal), actual.Initializers.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, tensor) in expected.Initializers)
        {
            Tensor(tensor, actual.Initializers[name], $"{context} initializer {name}");
        }
        Assert.Equal(expected.Nodes.Count, actual.Nodes.Count);
        for (int i = 0; i < expected.Nodes.Count; i++)
        {
            Node(expected.Nodes[i], actual.Nodes[i], context);
        }
    }

    private static void Node(OnnxNode e, OnnxNode a, string context)
    {
        string where = $"{context} node {e}";
        Assert.True(e.Name == a.Name && e.OpType == a.OpType && e.Domain == a.Domain, where);
        Assert.True(e.Inputs.SequenceEqual(a.Inputs), where + " inputs");
        Assert.True(e.Outputs.SequenceEqual(a.Outputs), where + " outputs");
        Assert.Equal(e.Attributes.Keys.Order(StringComparer.Ordinal), a.Attributes.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, ea) in e.Attributes)
        {
            var aa = a.Attributes[name];
            string at = $"{where} attribute {name}";
            Assert.True(ea.Kind == aa.Kind, at);
            Assert.True(ea.Int == aa.Int && ea.String == aa.String, at);
            Assert.True(BitConverter.SingleToInt32Bits(ea.Float) == BitConverter.SingleToInt32Bits(aa.Float), at);
            Assert.True(ea.Ints.SequenceEqual(aa.Ints) && ea.Strings.SequenceEqual(aa.Strings), at);
            Assert.True(ea.Floats.Select(BitConverter.SingleToInt32Bits).SequenceEqual(aa.Floats.Select(BitConverter.SingleToInt32Bits)), at);
            Assert.Equal(ea.Tensor is null, aa.Tensor is null);
            if (ea.Tensor is not null)
            {
                Tensor(ea.Tensor, aa.Tensor!, at);
            }
            Assert.Equal(ea.Tensors.Length, aa.Tensors.Length);
            for (int i = 0; i < ea.Tensors.Length; i++)
            {
                Tensor(ea.Tensors[i], aa.Tensors[i], at);
            }
            Assert.Equal(ea.Graph is null, aa.Graph is null);
            if (ea.Graph is not null)
            {
                Graph(ea.Graph, aa.Graph!, at);
            }
            Assert.Equal(ea.Graphs.Length, aa.Graphs.Length);
            for (int i = 0; i < ea.Graphs.Length; i++)
            {
                Graph(ea.Graphs[i], aa.Graphs[i], at);
            }
        }
    }

    private static void Infos(List<ValueInfo> e, List<ValueInfo> a, string context)
    {
        Assert.True(e.Count == a.Count, context);
        for (int i = 0; i < e.Count; i++)
        {
            Assert.True(e[i].ToString() == a[i].ToString(), $"{context}: {e[i]} vs {a[i]}");
        }
    }

    public static void Tensor(Tensor e, Tensor a, string context)
    {
        Assert.True(e.Type == a.Type, context);
        Assert.True(e.Shape.SequenceEqual(a.Shape), context);
        Assert.True(e.Bytes().SequenceEqual(a.Bytes()), context);
    }
}
