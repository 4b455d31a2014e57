using Prova.Onnx;

namespace Prova.Runtime.Ops.Linear;

/// <summary>
/// The <c>activation</c> attribute of the fused ops the graph optimizer creates (domain prova.internal).
/// "" = none; "Relu" = x &lt; 0 ? +0 : x, exactly the standalone Relu op (so -0 and NaN pass through unchanged).
/// </summary>
internal static class FusedActivation
{
    /// <summary>True when the node asks for Relu; throws for an activation this engine does not fuse.</summary>
    public static bool ReadRelu(OnnxNode node)
    {
        string activation = node.GetString("activation", "");
        return activation switch
        {
            "" => false,
            "Relu" => true,
            _ => throw ModelException.Unsupported(node, $"fused activation '{activation}'"),
        };
    }
}
