using Prova.Runtime.Ops.Quant;

namespace Prova.Runtime.Ops;

/// <summary>
/// Quantized (integer) ops: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, MatMulInteger,
/// ConvInteger, QLinearMatMul, QLinearConv, and the fused integer ops the QDQ rewriter creates
/// (prova.internal:QLinearMatMul / QLinearConv with bias and Relu). Semantics: docs/quantization.md.
/// </summary>
internal static class QuantOps
{
    public static void Register(Dictionary<string, KernelFactory> registry)
    {
        registry["QuantizeLinear"] = (n, opset) => new QuantizeLinearKernel(n, opset);
        registry["DequantizeLinear"] = (n, opset) => new DequantizeLinearKernel(n, opset);
        registry["DynamicQuantizeLinear"] = (n, _) => new DynamicQuantizeLinearKernel(n);
        registry["MatMulInteger"] = (n, _) => new QMatMulKernel(n, qlinear: false);
        registry["QLinearMatMul"] = (n, _) => new QMatMulKernel(n, qlinear: true);
        registry["ConvInteger"] = (n, _) => new QConvKernel(n, qlinear: false);
        registry["QLinearConv"] = (n, _) => new QConvKernel(n, qlinear: true);
        registry[KernelRegistry.InternalDomain + ":QLinearMatMul"] = (n, _) => new QMatMulKernel(n, qlinear: true);
        registry[KernelRegistry.InternalDomain + ":QLinearConv"] = (n, _) => new QConvKernel(n, qlinear: true);
    }
}
