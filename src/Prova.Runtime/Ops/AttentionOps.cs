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
        registry["RotaryEmbedding"] = (node, _) => new RotaryEmbeddingKernel(node, microsoft: false);
    }
}
