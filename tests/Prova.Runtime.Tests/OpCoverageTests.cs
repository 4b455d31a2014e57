namespace Prova.Runtime.Tests;

/// <summary>The ops issue #2 promises are all registered (each op's behaviour is tested where it lives).</summary>
public sealed class OpCoverageTests
{
    private const string Required = """
        Add Sub Mul Div Neg Abs Sqrt Pow Exp Log Reciprocal Relu LeakyRelu Sigmoid Tanh Erf
        HardSigmoid HardSwish Clip Min Max Where Equal Less Greater Not Cast Gemm MatMul Conv MaxPool
        AveragePool GlobalAveragePool GlobalMaxPool BatchNormalization LayerNormalization Dropout
        Reshape Flatten Transpose Squeeze Unsqueeze Concat Split Slice Gather Shape Expand Identity
        Constant ConstantOfShape Range Pad Tile ReduceMean ReduceSum ReduceMax ArgMax Softmax LogSoftmax
        """;

    [Fact]
    public void EveryRequiredOpIsRegistered()
    {
        var missing = Required.Split((char[])[' ', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries)
            .Where(op => !KernelRegistry.IsSupported(op))
            .ToList();
        Assert.True(missing.Count == 0, "not registered: " + string.Join(", ", missing));
    }

    [Fact]
    public void DecoderOpsOutsideAttentionAreRegistered()
    {
        string[] standard = ["Trilu", "CumSum", "ScatterND", "Sin", "Cos", "TopK", "Einsum", "IsNaN", "IsInf", "RMSNormalization", "SimplifiedLayerNormalization"];
        string[] contrib = ["SimplifiedLayerNormalization", "SkipLayerNormalization", "SkipSimplifiedLayerNormalization", "Gelu", "FastGelu", "BiasGelu", "QuickGelu"];
        var missing = standard.Where(op => !KernelRegistry.IsSupported(op))
            .Concat(contrib.Where(op => !KernelRegistry.IsSupported(op, KernelRegistry.MicrosoftDomain)).Select(op => "com.microsoft:" + op))
            .ToList();
        Assert.True(missing.Count == 0, "not registered: " + string.Join(", ", missing));
        Assert.Equal(contrib.Order(StringComparer.Ordinal), KernelRegistry.SupportedMicrosoftOps.Where(contrib.Contains));
    }

    [Fact]
    public void OpsOfOtherDomainsAreNotMistakenForStandardOnes()
    {
        Assert.False(KernelRegistry.IsSupported("Add", "com.microsoft"));
        Assert.DoesNotContain(KernelRegistry.SupportedOps, op => op.Contains(':'));
    }
}
