using Prova.Core;
using Prova.Onnx;
using Prova.Runtime.Tests.Oracle;
using Xunit.Abstractions;

namespace Prova.Runtime.Tests.Llm;

/// <summary>
/// Zero-size dimensions, as a decoder's first (prefill) step meets them: past keys and values of
/// shape [batch, heads, 0, head_dim] that are concatenated with the new ones. Every op on the way
/// must accept a tensor with no elements and produce what ONNX Runtime produces.
/// </summary>
[Collection("SimdLevel")]
public sealed class ZeroSizeTests(ITestOutputHelper output)
{
    private const double Atol = 1e-5;
    private const double Rtol = 1e-4;

    [Fact]
    public void PrefillWithEmptyPastMatchesOnnxRuntime()
    {
        // Attention written out with standard ops, as Optimum's GPT-2 export does it.
        const int heads = 2, dim = 4, seq = 3;
        var b = new ModelBuilder(opset: 17);
        var past = b.Input("past_key", DataType.Float32, 1, heads, -1, dim);
        var pastV = b.Input("past_value", DataType.Float32, 1, heads, -1, dim);
        var q = b.Input("q", DataType.Float32, 1, heads, seq, dim);
        var k = b.Input("k", DataType.Float32, 1, heads, seq, dim);
        var v = b.Input("v", DataType.Float32, 1, heads, seq, dim);
        var keys = b.Node("Concat", [past, k], [("axis", 2L)]);
        var values = b.Node("Concat", [pastV, v], [("axis", 2L)]);
        var kt = b.Node("Transpose", [keys], [("perm", new long[] { 0, 1, 3, 2 })]);
        var scores = b.Node("MatMul", [q, kt]);
        var scaled = b.Node("Mul", [scores, b.Constant(Tensor.Create([], [0.5f]))]);
        var probs = b.Node("Softmax", [scaled], [("axis", -1L)]);
        var context = b.Node("MatMul", [probs, values]);
        var total = b.Node("Shape", [keys]);
        b.Output(context, "context");
        b.Output(keys, "present_key");
        b.Output(values, "present_value");
        b.Output(total, "present_shape", DataType.Int64);
        var rng = Seeded(1);
        var feeds = new Dictionary<string, Tensor>
        {
            ["past_key"] = Tensor.Create([1, heads, 0, dim], Array.Empty<float>()),
            ["past_value"] = Tensor.Create([1, heads, 0, dim], Array.Empty<float>()),
            ["q"] = Tensor.Create([1, heads, seq, dim], OrtOracle.Floats(rng, heads * seq * dim)),
            ["k"] = Tensor.Create([1, heads, seq, dim], OrtOracle.Floats(rng, heads * seq * dim)),
            ["v"] = Tensor.Create([1, heads, seq, dim], OrtOracle.Floats(rng, heads * seq * dim)),
        };
        var result = OrtOracle.AssertMatches(b.Build(), feeds, Atol, Rtol);
        Assert.Equal([1, heads, seq, dim], result["present_key"].ShapeArray());
    }

    public static TheoryData<string> Cases => new()
    {
        "matmul-m0", "matmul-n0", "matmul-k0", "gemm-m0", "gemm-k0-bias", "reshape", "transpose", "slice", "gather-empty-indices",
        "gather-from-empty", "expand", "where", "softmax-empty-rows", "softmax-empty-axis", "reducesum-empty-axis", "reducemax-kept-axis",
        "reducemean-empty-rows", "add-broadcast", "layernorm", "cast", "concat-all-empty", "unsqueeze", "split", "sigmoid",
        "matmul-k0-packed-b", "matmul-n0-packed-b", "gemm-k0-packed-b", "concat-empty-constant",
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void OpOnEmptyTensorMatchesOnnxRuntime(string name)
    {
        var b = new ModelBuilder(opset: 17);
        var feeds = new Dictionary<string, Tensor>();
        var rng = Seeded(name.Length);
        string X(string n, params int[] shape)
        {
            feeds[n] = Tensor.Create(shape, OrtOracle.Floats(rng, (int)Tensor.ElementCount(shape)));
            return b.Input(n, DataType.Float32, shape);
        }
        string W(params int[] shape) => b.Constant(Tensor.Create(shape, OrtOracle.Floats(rng, (int)Tensor.ElementCount(shape))));
        string I64(params long[] v) => b.Constant(Tensor.Create([v.Length], v));
        string y = name switch
        {
            "matmul-m0" => b.Node("MatMul", [X("a", 0, 4), X("b", 4, 5)]),
            "matmul-n0" => b.Node("MatMul", [X("a", 2, 3, 4), X("b", 4, 0)]),
            "matmul-k0" => b.Node("MatMul", [X("a", 2, 3, 0), X("b", 0, 5)]),
            "gemm-m0" => b.Node("Gemm", [X("a", 0, 4), X("b", 4, 5), X("c", 5)]),
            "gemm-k0-bias" => b.Node("Gemm", [X("a", 3, 0), X("b", 0, 5), X("c", 5)], [("beta", 0.5f)]),
            "reshape" => b.Node("Reshape", [X("a", 1, 2, 0, 4), I64(2, 0, 4)], [("allowzero", 1L)]),
            "transpose" => b.Node("Transpose", [X("a", 1, 2, 0, 4)], [("perm", new long[] { 0, 2, 1, 3 })]),
            "slice" => b.Node("Slice", [X("a", 1, 2, 0, 4), I64(1), I64(3), I64(3)]),
            "gather-empty-indices" => b.Node("Gather", [X("a", 5, 4), b.Constant(Tensor.Create([0], Array.Empty<long>()))]),
            "gather-from-empty" => b.Node("Gather", [X("a", 3, 0), b.Constant(Tensor.Create([2], new long[] { 0, 2 }))]),
            "expand" => b.Node("Expand", [X("a", 1, 0, 4), I64(3, 0, 4)]),
            "where" => b.Node("Where", [b.Node("Greater", [X("c", 0, 4), b.Constant(Tensor.Create([], [0f]))]), X("a", 0, 4), X("b", 1, 4)]),
            "softmax-empty-rows" => b.Node("Softmax", [X("a", 0, 4)], [("axis", -1L)]),
            "softmax-empty-axis" => b.Node("Softmax", [X("a", 2, 0)], [("axis", -1L)]),
            "reducesum-empty-axis" => b.Node("ReduceSum", [X("a", 2, 0), I64(1)]),
            "reducemax-kept-axis" => b.Node("ReduceMax", [X("a", 0, 4)], [("axes", new long[] { 1 })]),
            "reducemean-empty-rows" => b.Node("ReduceMean", [X("a", 0, 4)], [("axes", new long[] { 1 }), ("keepdims", 0L)]),
            "add-broadcast" => b.Node("Add", [X("a", 1, 2, 0, 4), X("b", 4)]),
            "layernorm" => b.Node("LayerNormalization", [X("a", 0, 8), X("s", 8), X("bias", 8)], [("axis", -1L)]),
            "cast" => b.Node("Cast", [X("a", 2, 0)], [("to", (long)DataType.Int64)]),
            "concat-all-empty" => b.Node("Concat", [X("a", 1, 0, 4), X("b", 1, 0, 4)], [("axis", 1L)]),
            "unsqueeze" => b.Node("Unsqueeze", [X("a", 0, 4), I64(0)]),
            "split" => b.NodeMulti("Split", [X("a", 2, 0, 6)], 2, [("axis", 2L)])[1],
            "sigmoid" => b.Node("Sigmoid", [X("a", 3, 0)]),
            "matmul-k0-packed-b" => b.Node("MatMul", [X("a", 3, 0), W(0, 5)]),
            "matmul-n0-packed-b" => b.Node("MatMul", [X("a", 1, 3, 4), W(4, 0)]),
            "gemm-k0-packed-b" => b.Node("Gemm", [X("a", 0, 3), W(5, 3), W(5)], [("transB", 1L)]),
            "concat-empty-constant" => b.Node("Concat", [W(1, 0, 4), X("a", 1, 2, 4)], [("axis", 1L)]),
            _ => throw new ArgumentException(name),
        };
        b.Output(y, "y", name == "cast" ? DataType.Int64 : DataType.Float32);
        OrtOracle.AssertMatches(b.Build(), feeds, Atol, Rtol);
    }

    private Random Seeded(int seed)
    {
        output.WriteLine($"seed {seed}");
        return new Random(seed);
    }
}
