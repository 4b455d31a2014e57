using Prova.Runtime.Ops.Linear;

namespace Prova.Runtime.Ops;

/// <summary>Matrix products, convolution, pooling and batch normalisation (float32).</summary>
internal static class LinearOps
{
    public static void Register(Dictionary<string, KernelFactory> registry)
    {
        registry["MatMul"] = (node, _) => new MatMulKernel(node);
        registry["Gemm"] = (node, _) => new GemmKernel(node);
        registry["Einsum"] = (node, _) => new Elementwise.TypedKernel(node, ctx => ctx.ExpectType(0, Core.DataType.Float32, Core.DataType.Float64) == Core.DataType.Float32
            ? new EinsumKernel<float>(node)
            : new EinsumKernel<double>(node));
        registry["Conv"] = (node, _) => new ConvKernel(node);
        registry["MaxPool"] = (node, _) => new PoolKernel(node, isMax: true);
        registry["AveragePool"] = (node, _) => new PoolKernel(node, isMax: false);
        registry["GlobalAveragePool"] = (node, _) => new GlobalPoolKernel(node, isMax: false);
        registry["GlobalMaxPool"] = (node, _) => new GlobalPoolKernel(node, isMax: true);
        registry["BatchNormalization"] = (node, _) => new BatchNormKernel(node);
        // Fused forms the graph optimizer creates: the standard op, then + bias, then the activation attribute.
        registry[KernelRegistry.Key("FusedConv", KernelRegistry.InternalDomain)] = (node, _) => new ConvKernel(node, fused: true);
        registry[KernelRegistry.Key("FusedGemm", KernelRegistry.InternalDomain)] = (node, _) => new GemmKernel(node, fused: true);
        registry[KernelRegistry.Key("FusedMatMul", KernelRegistry.InternalDomain)] = (node, _) => new MatMulKernel(node, fused: true);
    }
}
