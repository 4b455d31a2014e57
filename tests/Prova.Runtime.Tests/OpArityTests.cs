using Prova.Core;
using Prova.Onnx;

namespace Prova.Runtime.Tests;

/// <summary>
/// Issue #14, defect 5: a node with too few or too many inputs or outputs, or an omitted required
/// input, is refused when the model loads with a <see cref="ModelException"/> naming the node, for
/// every registered op (a loop over the registry, so a new op is covered the day it is added).
/// </summary>
public sealed class OpArityTests
{
    private const string Victim = "victim_node";

    [Fact]
    public void EveryRegisteredOpDeclaresItsArity()
    {
        var missing = KernelRegistry.Keys.Where(k => OpArity.For(k, KernelRegistry.MaxOpset) is null).ToList();
        Assert.True(missing.Count == 0, "no arity: " + string.Join(", ", missing));
    }

    [Theory]
    [InlineData("Reshape")]
    [InlineData("Expand")]
    [InlineData("Tile")]
    [InlineData("Slice")]
    [InlineData("Pad")]
    [InlineData("Unsqueeze")]
    public void TheIssuesOpsWithOneInputAreRefusedAtLoadNotIndexOutOfRange(string op)
    {
        var b = new ModelBuilder(opset: 17);
        var x = b.Input("x", DataType.Float32, 2, 3);
        b.Output(b.Node(op, [x], name: Victim), "y");

        var ex = Assert.Throws<ModelException>(() => new InferenceSession(Roundtrip(b.Build()), new SessionOptions { Threads = 1 }));
        Assert.StartsWith($"node '{Victim}' ({op}): has 1 input but {op} (opset 17) requires ", ex.Message);
        Assert.Contains("input 1 is missing", ex.Message);
    }

    [Fact]
    public void UnsqueezeBeforeOpset13TakesAxesAsAnAttributeSoOneInputIsRight()
    {
        var b = new ModelBuilder(opset: 11);
        var x = b.Input("x", DataType.Float32, 2, 3);
        b.Output(b.Node("Unsqueeze", [x], [("axes", new long[] { 0 })]), "y");

        using var session = new InferenceSession(Roundtrip(b.Build()), new SessionOptions { Threads = 1 });
        var y = session.Run(new Dictionary<string, Tensor> { ["x"] = Tensor.Create([2, 3], new float[6]) })["y"];
        Assert.Equal([1, 2, 3], y.ShapeArray());
    }

    [Fact]
    public void EveryOpWithOneInputTooFewIsRefused()
        => AssertEveryVariantRefused(a => a.MinInputs > 0, a => new Shape(a.MinInputs - 1, -1, Math.Max(a.MinOutputs, 1)));

    [Fact]
    public void EveryOpWithOneInputTooManyIsRefused()
        => AssertEveryVariantRefused(a => a.MaxInputs != OpArity.Variadic, a => new Shape(a.MaxInputs + 1, -1, Math.Max(a.MinOutputs, 1)));

    [Fact]
    public void EveryOpWithOneOutputTooManyIsRefused()
        => AssertEveryVariantRefused(a => a.MaxOutputs != OpArity.Variadic, a => new Shape(a.MinInputs, -1, a.MaxOutputs + 1));

    [Fact]
    public void EveryOmittedRequiredInputIsRefusedLikeAMissingOne()
    {
        // Each required position in turn is given as "" (ONNX's spelling of an omitted optional input).
        int most = KernelRegistry.Keys.Max(k => Enumerable.Range(1, KernelRegistry.MaxOpset).Max(opset => OpArity.For(k, opset)!.MinInputs));
        Assert.Equal(8, most); // QLinearMatMul, QLinearConv
        for (int position = 0; position < most; position++)
        {
            int p = position;
            AssertEveryVariantRefused(
                a => p < a.MinInputs && !a.OptionalBelowMin.Contains(p),
                a => new Shape(a.MinInputs, p, Math.Max(a.MinOutputs, 1)));
        }
    }

    [Fact]
    public void GroupQueryAttentionMayOmitKeyValueAndPastButNotSeqlens()
    {
        var arity = OpArity.For("com.microsoft:GroupQueryAttention", 21)!;
        var node = new OnnxNode { OpType = "GroupQueryAttention", Domain = "com.microsoft", Name = "gqa", Inputs = ["q", "", "", "", "", "seqlens", "total"], Outputs = ["y", "pk", "pv"] };
        OpArity.Check(node, 21);
        node = new OnnxNode { OpType = "GroupQueryAttention", Domain = "com.microsoft", Name = "gqa", Inputs = ["q", "", "", "", "", "", "total"], Outputs = ["y", "pk", "pv"] };
        var ex = Assert.Throws<ModelException>(() => OpArity.Check(node, 21));
        Assert.Equal("node 'gqa' (GroupQueryAttention): required input 5 of GroupQueryAttention (opset 21) is omitted (empty name)", ex.Message);
        Assert.Equal(7, arity.MinInputs);
    }

    private readonly record struct Shape(int Inputs, int OmittedInput, int Outputs);

    /// <summary>
    /// For every registered op and every opset where its arity changes (and the newest), builds a model
    /// whose one node has the given input and output counts, saves and loads it, and opens a session:
    /// each must fail with a ModelException that names the node and the op, nothing else.
    /// </summary>
    private static void AssertEveryVariantRefused(Func<OpArity, bool> applies, Func<OpArity, Shape> shapeOf)
    {
        var failures = new List<string>();
        int tried = 0;
        foreach (string key in KernelRegistry.Keys.Order(StringComparer.Ordinal))
        {
            int colon = key.IndexOf(':');
            string domain = colon < 0 ? "" : key[..colon];
            string op = key[(colon + 1)..];
            var opsets = new SortedSet<int> { KernelRegistry.MaxOpset };
            for (int opset = 1; opset <= KernelRegistry.MaxOpset; opset++)
            {
                if (opset == 1 || OpArity.For(key, opset) != OpArity.For(key, opset - 1))
                {
                    opsets.Add(opset);
                }
            }
            foreach (int opset in opsets)
            {
                var arity = OpArity.For(key, opset)!;
                if (!applies(arity))
                {
                    continue;
                }
                tried++;
                var shape = shapeOf(arity);
                var model = Build(op, domain, opset, shape);
                try
                {
                    using var session = new InferenceSession(model, new SessionOptions { Threads = 1 });
                    failures.Add($"{key} (opset {opset}, {shape}): accepted");
                }
                catch (ModelException ex)
                {
                    if (!ex.Message.StartsWith($"node '{Victim}' ({op}): ", StringComparison.Ordinal))
                    {
                        failures.Add($"{key} (opset {opset}, {shape}): message does not name the node: {ex.Message}");
                    }
                }
                catch (Exception ex)
                {
                    failures.Add($"{key} (opset {opset}, {shape}): {ex.GetType().Name}: {ex.Message}");
                }
            }
        }
        Assert.True(tried > 0, "no op applies");
        Assert.True(failures.Count == 0, $"{failures.Count} of {tried} malformed nodes not refused properly:\n" + string.Join("\n", failures));
    }

    private static OnnxModel Build(string op, string domain, int opset, Shape shape)
    {
        var b = new ModelBuilder(opset);
        var inputs = new string[shape.Inputs];
        for (int i = 0; i < inputs.Length; i++)
        {
            inputs[i] = i == shape.OmittedInput ? "" : b.Input("x" + i, DataType.Float32, 2, 2);
        }
        var outputs = b.NodeMulti(op, inputs, shape.Outputs, name: Victim, domain: domain);
        for (int i = 0; i < outputs.Length; i++)
        {
            b.Output(outputs[i], "y" + i);
        }
        return Roundtrip(b.Build());
    }

    /// <summary>Saves and reloads the model, as a user's file would arrive.</summary>
    private static OnnxModel Roundtrip(OnnxModel model) => OnnxLoader.Load(OnnxWriter.Write(model));
}
