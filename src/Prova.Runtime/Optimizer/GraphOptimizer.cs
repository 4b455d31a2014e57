using Prova.Onnx;

namespace Prova.Runtime.Optimizer;

/// <summary>
/// Rewrites a model's graph into fewer, fused nodes before planning (see docs/optimizer.md):
/// Conv → BatchNormalization folds into the Conv's weights and bias; the erf form of GELU becomes
/// one Gelu node; a bias Add and a Relu after Conv/Gemm/MatMul move into the producing node
/// (FusedConv/FusedGemm/FusedMatMul in <see cref="KernelRegistry.InternalDomain"/> when those kernels
/// are registered, otherwise the exact standard-op forms Conv(B) and Gemm(C)).
/// </summary>
/// <remarks>
/// The result is a pure function of the model: no clocks, no hardware queries, no hash-order
/// iteration; folded weights are computed in float32 with +, −, ×, ÷ and sqrt only, in a fixed order.
/// Graph input and output names are never changed, nodes stay in topological order, and the
/// input model is not modified (a rewritten model shares unchanged nodes and tensors with it).
/// </remarks>
public static class GraphOptimizer
{
    /// <summary>Version Prova gives the internal domain in the opset imports of a rewritten model.</summary>
    public const long InternalOpsetVersion = 1;

    /// <summary>The optimized model, or <paramref name="model"/> itself when no rewrite applies.</summary>
    public static OnnxModel Optimize(OnnxModel model)
        => Optimize(model, CancellationToken.None);

    /// <summary>As <see cref="Optimize(OnnxModel)"/>; <paramref name="cancellationToken"/> is checked between passes.</summary>
    public static OnnxModel Optimize(OnnxModel model, CancellationToken cancellationToken)
        => Optimize(model, static op => KernelRegistry.IsSupported(op, KernelRegistry.InternalDomain), cancellationToken);

    /// <summary>
    /// As <see cref="Optimize(OnnxModel)"/>, with the set of available fused kernels given
    /// explicitly (tests rewrite graphs for kernels this build may not have).
    /// </summary>
    internal static OnnxModel Optimize(OnnxModel model, Func<string, bool> fusedKernelAvailable, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (HasSubgraphs(model.Graph))
        {
            // Subgraphs may read outer values implicitly; use counts would be incomplete.
            return model;
        }
        var rewriter = new GraphRewriter(model.Graph, fusedKernelAvailable);
        cancellationToken.ThrowIfCancellationRequested();
        rewriter.FoldBatchNorms();
        cancellationToken.ThrowIfCancellationRequested();
        rewriter.FuseGelus();
        cancellationToken.ThrowIfCancellationRequested();
        rewriter.FuseEpilogues();
        cancellationToken.ThrowIfCancellationRequested();
        if (!rewriter.Changed)
        {
            return model;
        }
        var opsets = new Dictionary<string, long>(model.Opsets, StringComparer.Ordinal);
        if (rewriter.UsesInternalDomain)
        {
            opsets[KernelRegistry.InternalDomain] = InternalOpsetVersion;
        }
        return new OnnxModel
        {
            IrVersion = model.IrVersion,
            ProducerName = model.ProducerName,
            Opsets = opsets,
            Graph = rewriter.Build(),
            Metadata = model.Metadata,
        };
    }

    private static bool HasSubgraphs(OnnxGraph graph)
    {
        foreach (var node in graph.Nodes)
        {
            foreach (var attribute in node.Attributes.Values)
            {
                if (attribute.Graph is not null || attribute.Graphs.Length > 0)
                {
                    return true;
                }
            }
        }
        return false;
    }
}
