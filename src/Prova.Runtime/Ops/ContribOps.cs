using Prova.Runtime.Ops.Elementwise;
using Prova.Runtime.Ops.Reduce;

namespace Prova.Runtime.Ops;

/// <summary>
/// ONNX Runtime contrib ops (domain "com.microsoft") that decoder-only LLM exports use outside
/// attention: the fused normalisations and GELU forms. Gelu is the erf form; FastGelu the tanh form
/// 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) of x + bias; BiasGelu the erf form of A + B (B
/// broadcast); QuickGelu x·sigmoid(alpha·x) (alpha 1.702 by default). All float32, DetMath. Semantics follow ONNX Runtime's
/// docs/ContribOperators.md and its CPU kernels; each kernel names what it implements.
/// </summary>
internal static class ContribOps
{
    public static void Register(Dictionary<string, KernelFactory> registry)
    {
        registry[Key("Gelu")] = (node, _) => new FloatUnaryKernel<GeluOp>(node, default);
        registry[Key("BiasGelu")] = (node, _) => new FloatBinaryKernel<BiasedOp<GeluOp>>(node, default);
        registry[Key("FastGelu")] = (node, _) => node.Inputs.Length > 1 && node.Inputs[1].Length > 0
            ? new FloatBinaryKernel<BiasedOp<GeluTanhOp>>(node, default)
            : new FloatUnaryKernel<GeluTanhOp>(node, default);
        registry[Key("QuickGelu")] = (node, _) => new FloatUnaryKernel<QuickGeluOp>(node, new QuickGeluOp(node.GetFloat("alpha", 1.702f)));
        registry[Key("SimplifiedLayerNormalization")] = (node, _) => new RmsNormKernel(node);
        registry[Key("SkipLayerNormalization")] = (node, _) => new SkipNormKernel(node, simplified: false);
        registry[Key("SkipSimplifiedLayerNormalization")] = (node, _) => new SkipNormKernel(node, simplified: true);
    }

    /// <summary>The registry key of a com.microsoft op.</summary>
    internal static string Key(string opType) => KernelRegistry.Key(opType, KernelRegistry.MicrosoftDomain);
}
