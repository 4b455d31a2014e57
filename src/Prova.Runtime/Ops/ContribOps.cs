using Prova.Runtime.Ops.Reduce;

namespace Prova.Runtime.Ops;

/// <summary>
/// ONNX Runtime contrib ops (domain "com.microsoft") that decoder-only LLM exports use outside
/// attention: the fused normalisations and GELU forms. Semantics follow ONNX Runtime's
/// docs/ContribOperators.md and its CPU kernels; each kernel names what it implements.
/// </summary>
internal static class ContribOps
{
    public static void Register(Dictionary<string, KernelFactory> registry)
    {
        registry[Key("SimplifiedLayerNormalization")] = (node, _) => new RmsNormKernel(node);
        registry[Key("SkipLayerNormalization")] = (node, _) => new SkipNormKernel(node, simplified: false);
        registry[Key("SkipSimplifiedLayerNormalization")] = (node, _) => new SkipNormKernel(node, simplified: true);
    }

    /// <summary>The registry key of a com.microsoft op.</summary>
    internal static string Key(string opType) => KernelRegistry.Key(opType, KernelRegistry.MicrosoftDomain);
}
