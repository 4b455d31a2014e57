using Prova.Onnx;
using Prova.Runtime.Ops.Attention;

namespace Prova.Runtime.Ops;

/// <summary>
/// Ops that decoder-only language-model exports need: attention (ONNX Attention-23, com.microsoft
/// MultiHeadAttention and GroupQueryAttention), rotary embeddings (ONNX RotaryEmbedding-23 and the
/// com.microsoft contrib op) and 4-bit weight-only MatMulNBits. Semantics: docs/llm-ops.md.
/// </summary>
internal static class AttentionOps
{
    private const string Ms = KernelRegistry.MicrosoftDomain + ":";

    public static void Register(Dictionary<string, KernelFactory> registry)
    {
        registry[Ms + "MatMulNBits"] = (node, _) => new MatMulNBitsKernel(node);
        registry[Ms + "GroupQueryAttention"] = (node, _) => new GroupQueryAttentionKernel(node);
        registry[Ms + "RotaryEmbedding"] = (node, _) => new RotaryEmbeddingKernel(node, microsoft: true);
        registry["RotaryEmbedding"] = (node, opset) => opset >= 23 ? new RotaryEmbeddingKernel(node, microsoft: false) : throw Before23(node, opset);
        registry["Attention"] = (node, opset) => opset >= 23 ? new AttentionKernel(node) : throw Before23(node, opset);
    }

    private static ModelException Before23(OnnxNode node, int opset)
        => ModelException.Unsupported(node, $"operator {node.OpType} exists in the default domain from opset 23; the model imports opset {opset}");
}
