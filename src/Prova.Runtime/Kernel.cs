using Prova.Onnx;

namespace Prova.Runtime;

/// <summary>
/// Creates the kernel for one node. Parse and check attributes here (throw
/// <see cref="ModelException.ForNode"/> or <see cref="ModelException.Unsupported"/>).
/// </summary>
public delegate Kernel KernelFactory(OnnxNode node, int opset);

/// <summary>
/// One node of a planned graph. A kernel is created per node and per input-shape plan, so it may
/// keep everything it derives from shapes and constant inputs (strides, packed weights) in fields.
///
/// Determinism rule (docs/determinism.md): the arithmetic that produces each output element —
/// which operations, in which order, fused or not — may depend only on the node, its attributes
/// and the shapes, never on the thread count, the chunking, or which SIMD instructions exist.
/// </summary>
public abstract class Kernel
{
    protected Kernel(OnnxNode node)
    {
        Node = node;
    }

    public OnnxNode Node { get; }

    /// <summary>
    /// Plan time: check input types and shapes, declare every output with
    /// <see cref="InferContext.SetOutput"/> (or a constant with <see cref="InferContext.SetOutputConstant"/>),
    /// and request scratch memory. Throw <see cref="ModelException"/> for anything wrong.
    /// </summary>
    public abstract void Infer(InferContext ctx);

    /// <summary>Run time: compute the outputs. Must not allocate.</summary>
    public abstract void Execute(ExecContext ctx);

    /// <summary>
    /// True for ops whose output 0 has exactly input 0's bytes (Reshape, Flatten, Squeeze,
    /// Unsqueeze, Identity, Dropout): the planner lets them share one buffer and skips Execute.
    /// Such kernels still implement Execute as a plain copy, used when folding constants.
    /// </summary>
    public virtual bool IsView => false;
}
