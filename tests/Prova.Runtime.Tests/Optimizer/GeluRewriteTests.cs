using Prova.Core;
using Prova.Onnx;
using Prova.Runtime.Optimizer;
using Xunit.Abstractions;
using static Prova.Runtime.Tests.Optimizer.OptimizerTestKit;

namespace Prova.Runtime.Tests.Optimizer;

/// <summary>The erf form of GELU as exporters write it becomes one Gelu node.</summary>
public sealed class GeluRewriteTests(ITestOutputHelper output)
{
    private static Tensor Scalar(float v) => Tensor.Create<float>([], [v]);

    /// <summary>
    /// x = MatMul(input[4, 16], W[16, 32]) feeds an erf-GELU written in one of the exporter forms:
    /// <paramref name="scale"/> "div" (x / √2), "mul" (x · 1/√2) or "mul-first" (1/√2 · x);
    /// <paramref name="placement"/> "(x*a)*h", "x*(a*h)" or "(x*h)*a" with a = 1 + erf(…), h = 0.5;
    /// <paramref name="swap"/> flips the operand order of every Add and Mul.
    /// </summary>
    private static OnnxModel GeluModel(int seed, string scale, string placement, bool swap, bool constantNodes = false)
    {
        var rng = new Random(seed);
        var b = new ModelBuilder(opset: 17);
        var input = b.Input("input", DataType.Float32, 4, 16);
        var x = b.Node("MatMul", [input, b.Initializer("w", Uniform(rng, 0.8f, 16, 32))]);
        string Const(float v) => constantNodes ? b.Node("Constant", [], [("value", Scalar(v))]) : b.Constant(Scalar(v));
        string Bin(string op, string p, string q) => b.Node(op, swap ? [q, p] : [p, q]);
        string scaled = scale switch
        {
            "div" => b.Node("Div", [x, Const(MathF.Sqrt(2f))]),
            "mul" => b.Node("Mul", [x, Const(1f / MathF.Sqrt(2f))]),
            _ => b.Node("Mul", [Const((float)(1 / Math.Sqrt(2))), x]),
        };
        var a = Bin("Add", b.Node("Erf", [scaled]), Const(1f));
        string y = placement switch
        {
            "(x*a)*h" => Bin("Mul", Bin("Mul", x, a), Const(0.5f)),
            "x*(a*h)" => Bin("Mul", x, Bin("Mul", a, Const(0.5f))),
            _ => Bin("Mul", Bin("Mul", x, Const(0.5f)), a),
        };
        b.Output(y, "y");
        return b.Build();
    }

    public static TheoryData<string, string, bool> Forms()
    {
        var data = new TheoryData<string, string, bool>();
        foreach (var scale in new[] { "div", "mul", "mul-first" })
        {
            foreach (var placement in new[] { "(x*a)*h", "x*(a*h)", "(x*h)*a" })
            {
                data.Add(scale, placement, false);
                data.Add(scale, placement, true);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Forms))]
    public void ErfGeluBecomesOneGeluNode(string scale, string placement, bool swap)
    {
        int seed = 500 + (scale.Length * 7) + (placement.IndexOf('(') * 3) + (swap ? 1 : 0);
        output.WriteLine($"weight seed {seed}: {scale}, {placement}, swapped {swap}");
        var model = GeluModel(seed, scale, placement, swap);
        var optimized = GraphOptimizer.Optimize(model);
        AssertWellFormed(model, optimized);
        Assert.Equal(["MatMul", "Gelu"], OpTypes(optimized));
        var gelu = optimized.Graph.Nodes[1];
        Assert.Equal("none", gelu.GetString("approximate", "?"));
        Assert.Equal(optimized.Graph.Nodes[0].Outputs[0], gelu.Inputs[0]);
        // The scalar constants are no longer read by anything and are dropped.
        Assert.Equal(["w"], optimized.Graph.Initializers.Keys);
        AssertOptimizedMatches(model, seed + 1000, output);
    }

    [Fact]
    public void ConstantNodesCountAsConstantsAndAreDroppedWithThePattern()
    {
        var model = GeluModel(520, "div", "(x*a)*h", swap: false, constantNodes: true);
        var optimized = GraphOptimizer.Optimize(model);
        AssertWellFormed(model, optimized);
        Assert.Equal(["MatMul", "Gelu"], OpTypes(optimized));
        AssertOptimizedMatches(model, 1520, output);
    }

    [Fact]
    public void AnErfWithASecondReaderIsLeftAlone()
    {
        var model = GeluModel(521, "div", "(x*a)*h", swap: false);
        var erf = model.Graph.Nodes.Single(n => n.OpType == "Erf").Outputs[0];
        model.Graph.Outputs.Add(new ValueInfo { Name = erf, ElementType = DataType.Float32 });
        Assert.Same(model, GraphOptimizer.Optimize(model));
    }

    [Fact]
    public void AProductWithAnotherValueIsLeftAlone()
    {
        // x / √2 → Erf → +1 → · z → · 0.5 with z not x: not a GELU.
        var b = new ModelBuilder(opset: 17);
        var x = b.Input("x", DataType.Float32, 4, 8);
        var z = b.Input("z", DataType.Float32, 4, 8);
        var a = b.Node("Add", [b.Node("Erf", [b.Node("Div", [x, b.Constant(Scalar(MathF.Sqrt(2f)))])]), b.Constant(Scalar(1f))]);
        b.Output(b.Node("Mul", [b.Node("Mul", [z, a]), b.Constant(Scalar(0.5f))]), "y");
        var model = b.Build();
        Assert.Same(model, GraphOptimizer.Optimize(model));
    }

    [Theory]
    [InlineData(1.5f, 1f, 0.5f)]
    [InlineData(1.41421356f, 2f, 0.5f)]
    [InlineData(1.41421356f, 1f, 0.25f)]
    public void OtherConstantsAreNotAGelu(float root, float one, float half)
    {
        var b = new ModelBuilder(opset: 17);
        var x = b.Input("x", DataType.Float32, 4, 8);
        var a = b.Node("Add", [b.Node("Erf", [b.Node("Div", [x, b.Constant(Scalar(root))])]), b.Constant(Scalar(one))]);
        b.Output(b.Node("Mul", [b.Node("Mul", [x, a]), b.Constant(Scalar(half))]), "y");
        var model = b.Build();
        Assert.Same(model, GraphOptimizer.Optimize(model));
    }

    [Fact]
    public void NonScalarConstantsAreNotMatched()
    {
        // A [1]-shaped 0.5 would make the output rank at least 1 even for a scalar x; only rank-0 constants match.
        var b = new ModelBuilder(opset: 17);
        var x = b.Input("x", DataType.Float32, 4, 8);
        var a = b.Node("Add", [b.Node("Erf", [b.Node("Div", [x, b.Constant(Scalar(MathF.Sqrt(2f)))])]), b.Constant(Scalar(1f))]);
        b.Output(b.Node("Mul", [b.Node("Mul", [x, a]), b.Constant(Tensor.Create<float>([1], [0.5f]))]), "y");
        var model = b.Build();
        Assert.Same(model, GraphOptimizer.Optimize(model));
    }
}
