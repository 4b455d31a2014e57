using Prova.Core;
using Prova.Onnx;
using Prova.Runtime.Tests.Oracle;
using Xunit.Abstractions;

namespace Prova.Runtime.Tests.Llm;

/// <summary>Einsum against ONNX Runtime for the equations exports use and the general path (atol 1e-5 + rtol 1e-4).</summary>
[Collection("SimdLevel")]
public sealed class EinsumTests(ITestOutputHelper output)
{
    public static TheoryData<string, int[][]> Cases => new()
    {
        { "bhqd,bhkd->bhqk", [[1, 2, 3, 8], [1, 2, 5, 8]] },
        { "bhqk,bhkd->bhqd", [[1, 2, 3, 5], [1, 2, 5, 8]] },
        { "bij,bjk->bik", [[3, 4, 5], [3, 5, 6]] },
        { "ij->ji", [[4, 7]] },
        { "i,j->ij", [[6], [9]] },
        { "i,i", [[33], [33]] },
        { "ij->i", [[5, 40]] },
        { "ij", [[3, 4]] },
        { "ji", [[3, 4]] },
        { "...ii->...i", [[2, 3, 4, 4]] },
        { "...ij,...jk->...ik", [[2, 1, 3, 4], [2, 5, 4, 2]] },
        { "bshd->bhsd", [[1, 4, 2, 8]] },
        { "ij,jk,kl->il", [[2, 3], [3, 4], [4, 5]] },
        { "ii", [[5, 5]] },
        { "bij,bjk->bik", [[0, 4, 5], [0, 5, 6]] },
        { "ij,jk->ik", [[3, 0], [0, 4]] },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void EinsumMatchesOnnxRuntime(string equation, int[][] shapes)
    {
        int seed = equation.GetHashCode(StringComparison.Ordinal) & 0xFFFF;
        output.WriteLine($"seed {seed}");
        var rng = new Random(seed);
        var b = new ModelBuilder(opset: 17);
        var feeds = new Dictionary<string, Tensor>();
        var inputs = new string[shapes.Length];
        for (int i = 0; i < shapes.Length; i++)
        {
            inputs[i] = b.Input("x" + i, DataType.Float32, shapes[i]);
            feeds["x" + i] = Tensor.Create(shapes[i], OrtOracle.Floats(rng, (int)Tensor.ElementCount(shapes[i])));
        }
        b.Output(b.Node("Einsum", inputs, [("equation", equation)]), "y");
        OrtOracle.AssertMatches(b.Build(), feeds, 1e-5, 1e-4);
    }

    [Fact]
    public void BatchedMatMulEquationIsBitIdenticalToMatMul()
    {
        // The two-operand chain is MatMul's fma chain, so the einsum form of a product gives MatMul's bytes.
        var rng = new Random(3);
        output.WriteLine("seed 3");
        var a = Tensor.Create([2, 3, 70], OrtOracle.Floats(rng, 2 * 3 * 70));
        var c = Tensor.Create([2, 70, 9], OrtOracle.Floats(rng, 2 * 70 * 9));
        var e = new ModelBuilder(opset: 17);
        e.Output(e.Node("Einsum", [e.Input("a", DataType.Float32, 2, 3, 70), e.Input("c", DataType.Float32, 2, 70, 9)], [("equation", "bij,bjk->bik")]), "y");
        var m = new ModelBuilder(opset: 17);
        m.Output(m.Node("MatMul", [m.Input("a", DataType.Float32, 2, 3, 70), m.Input("c", DataType.Float32, 2, 70, 9)]), "y");
        var feeds = new Dictionary<string, Tensor> { ["a"] = a, ["c"] = c };
        Assert.True(OrtOracle.RunProva(e.Build(), feeds)["y"].Bytes().SequenceEqual(OrtOracle.RunProva(m.Build(), feeds)["y"].Bytes()));
    }

    [Theory]
    [InlineData("ij,jk->ik", "does not fit")]
    [InlineData("ij,jk", "size")]
    [InlineData("i1,jk->ik", "letters")]
    [InlineData("ij,jk->iz", "appears in no input")]
    public void BadEquationsAreModelErrors(string equation, string message)
    {
        var b = new ModelBuilder(opset: 17);
        var shape2 = equation switch { "ij,jk" => new[] { 5, 2 }, "ij,jk->ik" => new[] { 3, 2, 1 }, _ => new[] { 3, 2 } };
        b.Output(b.Node("Einsum", [b.Input("a", DataType.Float32, 4, 3), b.Input("b", DataType.Float32, shape2)], [("equation", equation)]), "y");
        var ex = Assert.Throws<ModelException>(() => new InferenceSession(b.Build()));
        Assert.Contains(message, ex.Message);
    }
}
