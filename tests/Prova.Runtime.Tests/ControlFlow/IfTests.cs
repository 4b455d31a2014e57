using Prova.Core;
using Prova.Onnx;
using Prova.Runtime.Tests.Oracle;

namespace Prova.Runtime.Tests.ControlFlow;

/// <summary>
/// The ONNX If operator against ONNX Runtime: conditions known at load (constants), given as inputs (plans
/// specialised per value), derived from inputs or shapes, and computed from tensor data (both branches
/// planned); branches that read outer values, hold their own initializers, or nest another If.
/// </summary>
[Collection("SimdLevel")]
public sealed class IfTests
{
    private const double Atol = 1e-6;
    private const double Rtol = 1e-5;

    private static Tensor Bool(bool value, params int[] shape) => Tensor.Create(shape, [value]);

    private static Tensor Floats(int seed, params int[] shape)
    {
        var rng = new Random(seed);
        return Tensor.Create(shape, OrtOracle.Floats(rng, (int)Tensor.ElementCount(shape)));
    }

    /// <summary>then: x·W + b (W outer initializer, b a branch initializer); else: x − 1 (a branch constant).</summary>
    private static (OnnxGraph Then, OnnxGraph Else) Branches(ModelBuilder b, string x, string w)
    {
        var then = b.Subgraph("then");
        var bias = then.Initializer("then_bias", Tensor.Create([4], new float[] { 0.5f, -1f, 2f, 0.25f }));
        then.Output(then.Node("Add", [then.Node("MatMul", [x, w]), bias]), "then_y");
        var otherwise = b.Subgraph("else");
        var one = otherwise.Constant(Tensor.Create([], new float[] { 1f }));
        otherwise.Output(otherwise.Node("MatMul", [otherwise.Node("Sub", [x, one]), w]), "else_y");
        return (then.BuildGraph(), otherwise.BuildGraph());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ConstantConditionRunsTheTakenBranch(bool condition)
    {
        var b = new ModelBuilder(opset: 17);
        var x = b.Input("x", DataType.Float32, 2, 3);
        var w = b.Initializer("w", Floats(1, 3, 4));
        var cond = b.Initializer("cond", Bool(condition));
        var (then, otherwise) = Branches(b, x, w);
        b.Output(b.Node("If", [cond], [("then_branch", then), ("else_branch", otherwise)], name: "branch"), "y");
        var model = b.Build();
        var feeds = new Dictionary<string, Tensor> { ["x"] = Floats(2, 2, 3) };
        OrtOracle.AssertMatches(model, feeds, Atol, Rtol);
        using var session = new InferenceSession(model);
        Assert.DoesNotContain(session.PlannedModel.Graph.Nodes, n => n.OpType == "If");
    }

    [Fact]
    public void InputConditionSpecialisesOnePlanPerValue()
    {
        var b = new ModelBuilder(opset: 17);
        var cond = b.Input("cond", DataType.Bool, 1);
        var x = b.Input("x", DataType.Float32, 2, 3);
        var w = b.Initializer("w", Floats(3, 3, 4));
        var (then, otherwise) = Branches(b, x, w);
        b.Output(b.Node("If", [cond], [("then_branch", then), ("else_branch", otherwise)]), "y");
        var model = b.Build();
        var xs = Floats(4, 2, 3);
        using var session = new InferenceSession(model);
        foreach (bool value in (bool[])[true, false, true])
        {
            var feeds = new Dictionary<string, Tensor> { ["cond"] = Bool(value, 1), ["x"] = xs };
            var prova = OrtOracle.AssertMatches(model, feeds, Atol, Rtol);
            Assert.Equal(prova["y"].Bytes().ToArray(), session.Run(feeds)["y"].Bytes().ToArray());
        }
        Assert.Equal(2, session.CachedPlanCount);
    }

    [Fact]
    public void NestedIfOnTwoInputsAndOuterScopeValues()
    {
        var b = new ModelBuilder(opset: 17);
        var c1 = b.Input("c1", DataType.Bool);
        var c2 = b.Input("c2", DataType.Bool);
        var x = b.Input("x", DataType.Float32, 3, 4);
        var scale = b.Initializer("scale", Floats(5, 4));
        var relu = b.Node("Relu", [x]);

        var innerThen = b.Subgraph("inner_then");
        innerThen.Output(innerThen.Node("Mul", [relu, scale]), "a");
        var innerElse = b.Subgraph("inner_else");
        innerElse.Output(innerElse.Node("Tanh", [x]), "b");
        var outerThen = b.Subgraph("outer_then");
        var nested = outerThen.Node("If", [c2], [("then_branch", innerThen.BuildGraph()), ("else_branch", innerElse.BuildGraph())], name: "inner");
        outerThen.Output(outerThen.Node("Add", [nested, scale]), "c");
        var outerElse = b.Subgraph("outer_else");
        outerElse.Output(relu, "d"); // a branch output that is an outer value
        b.Output(b.Node("If", [c1], [("then_branch", outerThen.BuildGraph()), ("else_branch", outerElse.BuildGraph())], name: "outer"), "y");
        var model = b.Build();
        var xs = Floats(6, 3, 4);
        foreach (var (v1, v2) in new[] { (true, true), (true, false), (false, true), (false, false) })
        {
            OrtOracle.AssertMatches(model, new Dictionary<string, Tensor> { ["c1"] = Bool(v1), ["c2"] = Bool(v2), ["x"] = xs }, Atol, Rtol);
        }
    }

    [Fact]
    public void ConditionDerivedFromAnInputIsSpecialised()
    {
        // cond = Not(flag): not a graph input itself, but computed from one only.
        var b = new ModelBuilder(opset: 17);
        var flag = b.Input("flag", DataType.Bool, 1);
        var x = b.Input("x", DataType.Float32, 2, 3);
        var w = b.Initializer("w", Floats(7, 3, 4));
        var (then, otherwise) = Branches(b, x, w);
        var cond = b.Node("Not", [flag]);
        b.Output(b.Node("If", [cond], [("then_branch", then), ("else_branch", otherwise)]), "y");
        var model = b.Build();
        foreach (bool value in (bool[])[true, false])
        {
            OrtOracle.AssertMatches(model, new Dictionary<string, Tensor> { ["flag"] = Bool(value, 1), ["x"] = Floats(8, 2, 3) }, Atol, Rtol);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    public void ConditionFromShapesIsFoldedAtPlanTime(int pastLength)
    {
        // As a decoder would: "is the past empty?" from the past tensor's shape.
        var b = new ModelBuilder(opset: 17);
        var past = b.Input("past", DataType.Float32, 1, -1, 4);
        var x = b.Input("x", DataType.Float32, 1, 2, 4);
        var length = b.Node("Gather", [b.Node("Shape", [past]), b.Constant(Tensor.Create([], new long[] { 1 }))], [("axis", 0L)]);
        var empty = b.Node("Equal", [length, b.Constant(Tensor.Create([], new long[] { 0 }))]);
        var then = b.Subgraph("then");
        then.Output(then.Node("Identity", [x]), "fresh");
        var otherwise = b.Subgraph("else");
        otherwise.Output(otherwise.Node("Slice", [otherwise.Node("Concat", [past, x], [("axis", 1L)]),
            otherwise.Constant(Tensor.Create([1], new long[] { -2 })), otherwise.Constant(Tensor.Create([1], new long[] { long.MaxValue })),
            otherwise.Constant(Tensor.Create([1], new long[] { 1 }))]), "recent");
        b.Output(b.Node("If", [empty], [("then_branch", then.BuildGraph()), ("else_branch", otherwise.BuildGraph())]), "y");
        var model = b.Build();
        OrtOracle.AssertMatches(model, new Dictionary<string, Tensor> { ["past"] = Floats(9, 1, pastLength, 4), ["x"] = Floats(10, 1, 2, 4) }, Atol, Rtol);
    }

    [Fact]
    public void DataDependentConditionRunsEitherBranchInOnePlan()
    {
        // cond = ReduceSum(x) > 0: known only when x's values arrive.
        var b = new ModelBuilder(opset: 17);
        var x = b.Input("x", DataType.Float32, 2, 3);
        var w = b.Initializer("w", Floats(11, 3, 4));
        var (then, otherwise) = Branches(b, x, w);
        var sum = b.Node("ReduceSum", [x], [("keepdims", 0L)]);
        var cond = b.Node("Greater", [sum, b.Constant(Tensor.Create([], new float[] { 0f }))]);
        var y = b.Node("If", [cond], [("then_branch", then), ("else_branch", otherwise)]);
        b.Output(b.Node("Relu", [y]), "y");
        b.Output(y, "raw");
        var model = b.Build();
        using var session = new InferenceSession(model);
        var positive = Tensor.Create([2, 3], new float[] { 1, 2, 3, -1, 0.5f, 0.25f });
        var negative = Tensor.Create([2, 3], new float[] { -1, -2, -3, 1, -0.5f, 0.25f });
        foreach (var xs in new[] { positive, negative, positive })
        {
            var feeds = new Dictionary<string, Tensor> { ["x"] = xs };
            var prova = OrtOracle.AssertMatches(model, feeds, Atol, Rtol);
            Assert.Equal(prova["raw"].Bytes().ToArray(), session.Run(feeds)["raw"].Bytes().ToArray());
        }
        Assert.Equal(1, session.CachedPlanCount);
    }

    [Fact]
    public void DataDependentConditionWithDifferentBranchShapesIsRefused()
    {
        var b = new ModelBuilder(opset: 17);
        var x = b.Input("x", DataType.Float32, 2, 3);
        var cond = b.Node("Greater", [b.Node("ReduceSum", [x], [("keepdims", 0L)]), b.Constant(Tensor.Create([], new float[] { 0f }))]);
        var then = b.Subgraph("then");
        then.Output(then.Node("Transpose", [x]), "t");
        var otherwise = b.Subgraph("else");
        otherwise.Output(otherwise.Node("Neg", [x]), "n");
        b.Output(b.Node("If", [cond], [("then_branch", then.BuildGraph()), ("else_branch", otherwise.BuildGraph())], name: "shape_if"), "y");
        var ex = Assert.Throws<ModelException>(() => new InferenceSession(b.Build()));
        Assert.Contains("node 'shape_if' (If)", ex.Message);
        Assert.Contains("data-dependent output shapes", ex.Message);
    }

    [Fact]
    public void OptimizerFusesInsideTheTakenBranch()
    {
        // The erf form of GELU inside a branch: fused into one Gelu (different rounding) only if the optimizer
        // sees the inlined branch. The merged model must give the plain branch model's bytes.
        static string Gelu(ModelBuilder g, string v)
        {
            var erf = g.Node("Erf", [g.Node("Div", [v, g.Constant(Tensor.Create([], new float[] { MathF.Sqrt(2f) }))])]);
            var a = g.Node("Add", [erf, g.Constant(Tensor.Create([], new float[] { 1f }))]);
            return g.Node("Mul", [g.Node("Mul", [v, a]), g.Constant(Tensor.Create([], new float[] { 0.5f }))]);
        }
        var b = new ModelBuilder(opset: 17);
        var cond = b.Input("use_cache_branch", DataType.Bool, 1);
        var x = b.Input("x", DataType.Float32, 4, 16);
        var then = b.Subgraph("then");
        then.Output(Gelu(then, x), "g");
        var otherwise = b.Subgraph("else");
        otherwise.Output(otherwise.Node("Neg", [x]), "n");
        b.Output(b.Node("If", [cond], [("then_branch", then.BuildGraph()), ("else_branch", otherwise.BuildGraph())]), "y");
        var merged = b.Build();

        var p = new ModelBuilder(opset: 17);
        var px = p.Input("x", DataType.Float32, 4, 16);
        p.Output(Gelu(p, px), "y");
        var plain = p.Build();

        var xs = Tensor.Create([4, 16], Enumerable.Range(0, 64).Select(i => (i - 32) * 0.173f).ToArray());
        using var mergedSession = new InferenceSession(merged);
        using var plainSession = new InferenceSession(plain);
        using var unoptimized = new InferenceSession(plain, new SessionOptions { Optimize = false });
        var expected = plainSession.Run(new Dictionary<string, Tensor> { ["x"] = xs })["y"].Bytes().ToArray();
        var actual = mergedSession.Run(new Dictionary<string, Tensor> { ["x"] = xs, ["use_cache_branch"] = Bool(true, 1) })["y"].Bytes().ToArray();
        Assert.Equal(expected, actual);
        // The test can fail: without the fusion, the bytes differ.
        Assert.NotEqual(expected, unoptimized.Run(new Dictionary<string, Tensor> { ["x"] = xs })["y"].Bytes().ToArray());
    }

    [Fact]
    public void BoundPlansAreSpecialisedOnTheConditionValue()
    {
        var b = new ModelBuilder(opset: 17);
        var cond = b.Input("use_cache_branch", DataType.Bool, 1);
        var x = b.Input("x", DataType.Float32, 2, 3);
        var w = b.Initializer("w", Floats(14, 3, 4));
        var (then, otherwise) = Branches(b, x, w);
        b.Output(b.Node("If", [cond], [("then_branch", then), ("else_branch", otherwise)]), "y");
        var model = b.Build();
        using var session = new InferenceSession(model);
        var xs = Floats(15, 2, 3);
        var shapes = new Dictionary<string, (DataType, int[])> { ["use_cache_branch"] = (DataType.Bool, [1]), ["x"] = (DataType.Float32, [2, 3]) };
        Assert.Throws<InputException>(() => session.Bind(shapes));
        foreach (bool value in (bool[])[true, false])
        {
            using var binding = session.Bind(shapes, new Dictionary<string, Tensor> { ["use_cache_branch"] = Bool(value, 1) });
            xs.Span<float>().CopyTo(binding.Input<float>("x"));
            binding.Run();
            var expected = session.Run(new Dictionary<string, Tensor> { ["use_cache_branch"] = Bool(value, 1), ["x"] = xs })["y"];
            Assert.True(expected.Span<float>().SequenceEqual(binding.Output<float>("y")), $"bound plan for {value}");
            Assert.Throws<InputException>(() => binding.Input<byte>("use_cache_branch"));
        }
    }

    [Fact]
    public void BadConditionValuesAreInputErrors()
    {
        var b = new ModelBuilder(opset: 17);
        var cond = b.Input("cond", DataType.Bool, -1);
        var x = b.Input("x", DataType.Float32, 2, 3);
        var w = b.Initializer("w", Floats(12, 3, 4));
        var (then, otherwise) = Branches(b, x, w);
        b.Output(b.Node("If", [cond], [("then_branch", then), ("else_branch", otherwise)]), "y");
        using var session = new InferenceSession(b.Build());
        var ex = Assert.Throws<InputException>(() => session.Run(new Dictionary<string, Tensor> { ["cond"] = Tensor.Create([2], new[] { true, false }), ["x"] = Floats(13, 2, 3) }));
        Assert.Contains("'cond'", ex.Message);
    }

    [Fact]
    public void MalformedBranchesAreModelErrorsNamingTheNode()
    {
        OnnxModel Build(Action<ModelBuilder, ModelBuilder, string> fillThen)
        {
            var b = new ModelBuilder(opset: 17);
            var cond = b.Input("cond", DataType.Bool, 1);
            var x = b.Input("x", DataType.Float32, 2);
            var then = b.Subgraph("then");
            fillThen(b, then, x);
            var otherwise = b.Subgraph("else");
            otherwise.Output(otherwise.Node("Neg", [x]), "n");
            b.Output(b.Node("If", [cond], [("then_branch", then.BuildGraph()), ("else_branch", otherwise.BuildGraph())], name: "bad_if"), "y");
            return b.Build();
        }
        // Two outputs in then_branch, one in else_branch and the node.
        var twoOutputs = Build((_, t, x) =>
        {
            t.Output(t.Node("Abs", [x]), "a");
            t.Output(t.Node("Relu", [x]), "r");
        });
        var e1 = Assert.Throws<ModelException>(() => new InferenceSession(twoOutputs));
        Assert.Contains("node 'bad_if' (If)", e1.Message);
        // A branch that reads a value nobody defines: the loader's scope check names the node.
        var undefined = Build((_, t, x) => t.Output(t.Node("Abs", [x]), "a"));
        undefined.Graph.Nodes[^1].Attributes["then_branch"].Graph!.Nodes[0].Inputs[0] = "nowhere";
        var e2 = Assert.Throws<ModelException>(() => OnnxLoader.Load(OnnxWriter.Write(undefined)));
        Assert.Contains("bad_if", e2.Message);
        Assert.Contains("nowhere", e2.Message);
        // A branch with a declared input.
        var withInput = Build((_, t, x) => t.Output(t.Node("Abs", [x]), "a"));
        withInput.Graph.Nodes[^1].Attributes["then_branch"].Graph!.Inputs.Add(new ValueInfo { Name = "extra", ElementType = DataType.Float32 });
        var e3 = Assert.Throws<ModelException>(() => new InferenceSession(OnnxLoader.Load(OnnxWriter.Write(withInput))));
        Assert.Contains("node 'bad_if' (If)", e3.Message);
        // A missing else_branch.
        var noElse = Build((_, t, x) => t.Output(t.Node("Abs", [x]), "a"));
        noElse.Graph.Nodes[^1].Attributes.Remove("else_branch");
        var e4 = Assert.Throws<ModelException>(() => new InferenceSession(noElse));
        Assert.Contains("else_branch", e4.Message);
    }
}
