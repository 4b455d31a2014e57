using Prova.Core;
using Prova.Onnx;

namespace Prova.Runtime.Optimizer;

internal sealed partial class GraphRewriter
{
    /// <summary>
    /// Conv/Gemm/MatMul → Add(constant bias) → Relu (either step optional) becomes one node that
    /// adds the bias and applies the activation in its epilogue. The bias is taken only by a node
    /// that has none yet: adding two biases in one step would change the rounding. Both forms are
    /// exact: the product's accumulator gets the same "+ bias" and the same max(·, 0) as before.
    /// With the fused kernels registered: FusedConv/FusedGemm/FusedMatMul. Without them, Conv and
    /// Gemm still take the bias as their own B/C input (identical arithmetic), and Relu stays.
    /// </summary>
    public void FuseEpilogues()
    {
        for (int i = 0; i < _nodes.Count; i++)
        {
            if (_nodes[i] is { } node && HasSingleOutput(node) && KernelRegistry.IsDefaultDomain(node.Domain))
            {
                switch (node.OpType)
                {
                    case "Conv":
                    case "Gemm":
                    case "MatMul":
                        TryFuseEpilogue(i);
                        break;
                }
            }
        }
    }

    private void TryFuseEpilogue(int slot)
    {
        var node = _nodes[slot]!;
        string fusedOp = "Fused" + node.OpType;
        bool fusedAvailable = _fusedKernelAvailable(fusedOp);
        const int BiasIndex = 2;
        bool hasBias = node.OpType != "MatMul" && node.Inputs.Length > 2 && node.Inputs[2].Length > 0;
        if (node.OpType == "MatMul" && node.Inputs.Length != 2)
        {
            return;
        }

        string current = node.Outputs[0];
        int lastSlot = slot;
        var removed = new List<int>(2);
        string? biasName = null;
        int addSlot = -1;
        var add = hasBias ? null : SoleConsumerOfType(current, "Add", out addSlot);
        if (add is not null && add.Inputs.Length == 2 && add.Inputs[0] != add.Inputs[1])
        {
            string operand = add.Inputs[0] == current ? add.Inputs[1] : add.Inputs[0];
            biasName = BiasFor(node, operand);
            if (biasName is not null)
            {
                removed.Add(lastSlot);
                lastSlot = addSlot;
                current = add.Outputs[0];
            }
        }
        string activation = "";
        if (fusedAvailable && SoleConsumerOfType(current, "Relu", out int reluSlot) is { } relu)
        {
            removed.Add(lastSlot);
            lastSlot = reluSlot;
            current = relu.Outputs[0];
            activation = "Relu";
        }
        if (biasName is null && activation.Length == 0)
        {
            return;
        }
        if (!fusedAvailable && node.OpType == "MatMul")
        {
            return; // a MatMul's bias has no standard-op home (Gemm is 2-D only)
        }

        var inputs = new List<string>(node.Inputs);
        if (biasName is not null)
        {
            while (inputs.Count <= BiasIndex)
            {
                inputs.Add("");
            }
            inputs[BiasIndex] = biasName;
        }
        var attributes = CopyAttributes(node);
        if (biasName is not null && node.OpType == "Gemm")
        {
            attributes["beta"] = new OnnxAttribute { Name = "beta", Kind = AttributeKind.Float, Float = 1f };
        }
        if (fusedAvailable)
        {
            attributes["activation"] = new OnnxAttribute { Name = "activation", Kind = AttributeKind.String, String = activation };
        }
        var fused = new OnnxNode
        {
            Name = node.Name,
            OpType = fusedAvailable ? fusedOp : node.OpType,
            Domain = fusedAvailable ? KernelRegistry.InternalDomain : node.Domain,
            Inputs = [.. inputs],
            Outputs = [current],
            Attributes = attributes,
        };
        Replace(lastSlot, fused, [.. removed]);
    }

    /// <summary>
    /// The name of a bias input equivalent to adding <paramref name="operand"/> to the node's
    /// output, or null when the operand is not a float32 constant of a shape that broadcasts only
    /// along the bias dimension (channels for Conv, the last dim for Gemm/MatMul).
    /// </summary>
    private string? BiasFor(OnnxNode node, string operand)
    {
        if (Constant(operand) is not { Type: DataType.Float32 } c)
        {
            return null;
        }
        var weights = Constant(node.Input(1));
        switch (node.OpType)
        {
            case "Conv":
                {
                    if (weights is null || weights.Rank < 3)
                    {
                        return null;
                    }
                    // Output [N, M, spatial…]; the operand, right-aligned, must be 1 except at M.
                    int m = weights.Shape[0];
                    int rank = weights.Rank;
                    if (c.Rank > rank)
                    {
                        return null;
                    }
                    int offset = rank - c.Rank;
                    for (int d = 0; d < c.Rank; d++)
                    {
                        int dim = c.Shape[d];
                        if (dim != 1 && !(d + offset == 1 && dim == m))
                        {
                            return null;
                        }
                    }
                    var data = (float[])c.Data;
                    var bias = new float[m];
                    for (int k = 0; k < m; k++)
                    {
                        bias[k] = data.Length == 1 ? data[0] : data[k];
                    }
                    string stem = node.Name.Length > 0 ? node.Name : node.Outputs[0];
                    return AddInitializer(stem + ".bias", Tensor.Create<float>([m], bias));
                }
            case "Gemm":
                {
                    // C broadcasts to [M, N]: accept [], [1], [N], [1, 1], [1, N].
                    if (c.Rank > 2 || (c.Rank == 2 && c.Shape[0] != 1))
                    {
                        return null;
                    }
                    int last = c.Rank == 0 ? 1 : c.Shape[c.Rank - 1];
                    if (last == 1)
                    {
                        return operand;
                    }
                    if (weights is null || weights.Rank != 2)
                    {
                        return null;
                    }
                    int n = IntOr(node, "transB", 0) != 0 ? weights.Shape[0] : weights.Shape[1];
                    return last == n ? operand : null;
                }
            default:
                {
                    // MatMul: a 1-D [N] bias, N = B's last dim (B at least 2-D).
                    if (weights is null || weights.Rank < 2 || c.Rank != 1 || c.Shape[0] != weights.Shape[weights.Rank - 1])
                    {
                        return null;
                    }
                    return operand;
                }
        }
    }
}
