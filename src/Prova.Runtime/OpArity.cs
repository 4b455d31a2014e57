using System.Collections.Frozen;
using Prova.Onnx;

namespace Prova.Runtime;

/// <summary>
/// How many inputs and outputs an op takes, from its schema: the ONNX operator docs (Operators.md,
/// per opset where the count changed), ONNX Runtime's ContribOperators.md for com.microsoft ops,
/// and the rewriters for prova.internal ops. Inputs below <see cref="MinInputs"/> are required
/// (a name, not "") unless listed in <see cref="OptionalBelowMin"/>; inputs from MinInputs up to
/// <see cref="MaxInputs"/> may be absent or "". Outputs likewise, counted by position.
/// </summary>
/// <remarks>
/// <see cref="Check"/> runs before a kernel is created, so kernels may index their required
/// inputs without testing <see cref="InferContext.HasInput"/> and a malformed node is refused at
/// load time with a message that names it, never an IndexOutOfRangeException at plan or run time.
/// </remarks>
public sealed record OpArity(int MinInputs, int MaxInputs, int MinOutputs = 1, int MaxOutputs = 1)
{
    /// <summary>No upper bound (variadic inputs or outputs).</summary>
    public const int Variadic = int.MaxValue;

    /// <summary>Positions below <see cref="MinInputs"/> that may be omitted ("") although a later input is required.</summary>
    public int[] OptionalBelowMin { get; init; } = [];

    private static readonly FrozenDictionary<string, (int Since, OpArity Arity)[]> s_table = BuildTable();

    /// <summary>The registry keys that have an arity (every registered op must have one).</summary>
    internal static IEnumerable<string> Keys => s_table.Keys;

    /// <summary>The arity of the op with registry key <paramref name="key"/> at <paramref name="opset"/>, or null when Prova does not know the op.</summary>
    public static OpArity? For(string key, int opset)
    {
        if (!s_table.TryGetValue(key, out var versions))
        {
            return null;
        }
        OpArity? arity = null;
        foreach (var (since, a) in versions)
        {
            if (since <= opset)
            {
                arity = a;
            }
        }
        // A model whose opset predates the op's first version still gets the first version's
        // counts checked; the kernel factory reports the opset itself.
        return arity ?? versions[0].Arity;
    }

    /// <summary>Throws <see cref="ModelException"/> naming the node when it has too few or too many inputs or outputs, or omits a required one.</summary>
    public static void Check(OnnxNode node, int opset)
    {
        if (For(KernelRegistry.Key(node.OpType, node.Domain), opset) is { } arity)
        {
            arity.CheckNode(node, opset);
        }
    }

    private void CheckNode(OnnxNode node, int opset)
    {
        int inputs = node.Inputs.Length;
        if (inputs < MinInputs)
        {
            throw ModelException.ForNode(node, $"has {Count(inputs, "input")} but {node.OpType} (opset {opset}) requires {Range(MinInputs, MaxInputs)}; input {inputs} is missing");
        }
        if (inputs > MaxInputs)
        {
            throw ModelException.ForNode(node, $"has {Count(inputs, "input")} but {node.OpType} (opset {opset}) takes {Range(MinInputs, MaxInputs)}");
        }
        for (int i = 0; i < MinInputs; i++)
        {
            if (node.Inputs[i].Length == 0 && Array.IndexOf(OptionalBelowMin, i) < 0)
            {
                throw ModelException.ForNode(node, $"required input {i} of {node.OpType} (opset {opset}) is omitted (empty name)");
            }
        }
        int outputs = node.Outputs.Length;
        if (outputs < MinOutputs || outputs > MaxOutputs)
        {
            throw ModelException.ForNode(node, $"has {Count(outputs, "output")} but {node.OpType} (opset {opset}) {(outputs < MinOutputs ? "requires" : "produces")} {Range(MinOutputs, MaxOutputs)}");
        }
        for (int i = 0; i < MinOutputs; i++)
        {
            if (node.Outputs[i].Length == 0)
            {
                throw ModelException.ForNode(node, $"required output {i} of {node.OpType} (opset {opset}) has an empty name");
            }
        }
    }

    private static string Count(int n, string what) => n == 1 ? $"1 {what}" : $"{n} {what}s";

    private static string Range(int min, int max) => max == Variadic
        ? $"at least {min}"
        : min == max ? $"exactly {min}" : $"{min} to {max}";

    private static FrozenDictionary<string, (int Since, OpArity Arity)[]> BuildTable()
    {
        var t = new Dictionary<string, (int, OpArity)[]>(StringComparer.Ordinal);
        void Add(string key, params (int Since, OpArity Arity)[] versions) => t.Add(key, versions);
        void All(OpArity arity, params string[] keys)
        {
            foreach (var key in keys)
            {
                t.Add(key, [(1, arity)]);
            }
        }
        static string Ms(string op) => KernelRegistry.Key(op, KernelRegistry.MicrosoftDomain);
        static string Internal(string op) => KernelRegistry.Key(op, KernelRegistry.InternalDomain);

        // Elementwise.
        All(new(2, 2), "Add", "Sub", "Mul", "Div", "Pow", "PRelu", "Mod",
            "Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "And", "Or", "Xor");
        All(new(1, 1), "Neg", "Abs", "Sign", "Sqrt", "Reciprocal", "Exp", "Log", "Tanh", "Sigmoid", "Erf",
            "Sin", "Cos", "Floor", "Ceil", "Relu", "LeakyRelu", "HardSigmoid", "HardSwish", "Elu", "Selu",
            "Softplus", "Gelu", "Not", "IsNaN", "IsInf", "Cast", "Softmax", "LogSoftmax");
        All(new(1, OpArity.Variadic), "Min", "Max", "Sum", "Mean");
        All(new(3, 3), "Where");
        Add("Clip", (1, new(1, 1)), (11, new(1, 3)));

        // Linear.
        All(new(2, 2), "MatMul");
        Add("Gemm", (1, new(3, 3)), (11, new(2, 3)));
        All(new(1, OpArity.Variadic), "Einsum");
        All(new(2, 3), "Conv", Internal("FusedConv"), Internal("FusedGemm"), Internal("FusedMatMul"));
        Add("MaxPool", (1, new(1, 1)), (8, new(1, 1, 1, 2)));
        All(new(1, 1), "AveragePool", "GlobalAveragePool", "GlobalMaxPool");
        All(new(5, 5, 1, 5), "BatchNormalization");

        // Shape and data movement.
        Add("Reshape", (1, new(1, 1)), (5, new(2, 2)));
        All(new(1, 1), "Flatten", "Identity", "Transpose", "Shape", "Size", "ConstantOfShape");
        Add("Squeeze", (1, new(1, 1)), (13, new(1, 2)));
        Add("Unsqueeze", (1, new(1, 1)), (13, new(2, 2)));
        Add("Dropout", (1, new(1, 1, 1, 2)), (12, new(1, 3, 1, 2)));
        All(new(1, OpArity.Variadic), "Concat");
        Add("Split", (1, new(1, 2, 1, OpArity.Variadic)), (2, new(1, 1, 1, OpArity.Variadic)), (13, new(1, 2, 1, OpArity.Variadic)));
        Add("Slice", (1, new(1, 1)), (10, new(3, 5)));
        All(new(2, 2), "Gather", "GatherElements", "Expand");
        All(new(0, 0), "Constant");
        All(new(3, 3), "Range", "ScatterND");
        Add("Tile", (1, new(3, 3)), (6, new(2, 2)));
        All(new(1, 2), "Trilu");
        Add("Pad", (1, new(1, 1)), (11, new(2, 3)), (18, new(2, 4)));

        // Reductions and normalisations.
        Add("ReduceSum", (1, new(1, 1)), (13, new(1, 2)));
        foreach (var op in (string[])["ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceSumSquare"])
        {
            Add(op, (1, new(1, 1)), (18, new(1, 2)));
        }
        All(new(1, 1), "ArgMax", "ArgMin");
        All(new(2, 2), "CumSum");
        Add("TopK", (1, new(1, 1, 2, 2)), (10, new(2, 2, 2, 2)));
        All(new(2, 3, 1, 3), "LayerNormalization");
        All(new(2, 2), "RMSNormalization");
        All(new(2, 2, 1, 3), "SimplifiedLayerNormalization", Ms("SimplifiedLayerNormalization"));

        // Quantization.
        All(new(2, 3), "QuantizeLinear", "DequantizeLinear");
        All(new(1, 1, 3, 3), "DynamicQuantizeLinear");
        All(new(2, 4), "MatMulInteger", "ConvInteger");
        All(new(8, 8), "QLinearMatMul");
        All(new(8, 9), "QLinearConv", Internal("QLinearMatMul"), Internal("QLinearConv"));

        // com.microsoft contrib ops (ONNX Runtime's ContribOperators.md).
        All(new(1, 1), Ms("Gelu"), Ms("QuickGelu"));
        All(new(2, 2), Ms("BiasGelu"));
        All(new(1, 2), Ms("FastGelu"));
        All(new(3, 5, 1, 4), Ms("SkipLayerNormalization"));
        All(new(3, 4, 1, 4), Ms("SkipSimplifiedLayerNormalization"));
        All(new(3, 6), Ms("MatMulNBits"));
        All(new(1, 10, 1, 4), Ms("MultiHeadAttention"));
        // query, then key/value/past_key/past_value (optional), seqlens_k and total_sequence_length (required).
        All(new(7, 12, 3, 4) { OptionalBelowMin = [1, 2, 3, 4] }, Ms("GroupQueryAttention"));
        All(new(4, 4), Ms("RotaryEmbedding"));

        // Opset 23 attention ops (the kernels report the opset 24 inputs and outputs they do not run).
        All(new(3, 4), "RotaryEmbedding");
        All(new(3, 7, 1, 4), "Attention");
        return t.ToFrozenDictionary(StringComparer.Ordinal);
    }
}
