using Prova.Onnx;

namespace Prova.Runtime.Optimizer;

internal sealed partial class GraphRewriter
{
    // float32 √2 and 1/√2; exporters write them rounded from double, so a couple of ulps are allowed.
    private const float Sqrt2 = 1.41421356f;
    private const float InvSqrt2 = 0.707106781f;

    /// <summary>
    /// The erf form of GELU, x → Div(√2) or Mul(1/√2) → Erf → Add(1) → Mul(x) → Mul(0.5), becomes
    /// Gelu(x) with approximate = "none". The three placements of the final two products are
    /// recognised: (x·a)·0.5, x·(a·0.5) and (x·0.5)·a, with a = 1 + erf(…), each product in either
    /// operand order. All constants must be float32 scalars (rank 0).
    /// </summary>
    public void FuseGelus()
    {
        for (int i = 0; i < _nodes.Count; i++)
        {
            if (_nodes[i] is { } node && ScaledInput(node) is { } x)
            {
                TryFuseGelu(i, x);
            }
        }
    }

    /// <summary>x when the node is Div(x, √2), Mul(x, 1/√2) or Mul(1/√2, x).</summary>
    private string? ScaledInput(OnnxNode node)
    {
        if (node.Inputs.Length != 2)
        {
            return null;
        }
        if (Is(node, "Div") && IsScalarConstant(node.Inputs[1], out float d) && Near(d, Sqrt2))
        {
            return node.Inputs[0];
        }
        if (Is(node, "Mul"))
        {
            return OtherOperand(node, v => Near(v, InvSqrt2));
        }
        return null;
    }

    private void TryFuseGelu(int scaleSlot, string x)
    {
        var scale = _nodes[scaleSlot]!;
        var erf = SoleConsumerOfType(scale.Outputs[0], "Erf", out int erfSlot);
        if (erf is null)
        {
            return;
        }
        var add = SoleConsumerOfType(erf.Outputs[0], "Add", out int addSlot);
        if (add is null || add.Inputs.Length != 2 || OtherOperand(add, v => v == 1f) != erf.Outputs[0])
        {
            return;
        }
        string a = add.Outputs[0];
        var first = SoleConsumerOfType(a, "Mul", out int firstSlot);
        if (first is null || first.Inputs.Length != 2)
        {
            return;
        }
        string other = first.Inputs[0] == a ? first.Inputs[1] : first.Inputs[0];
        int halfSlot = -1;
        OnnxNode? last;
        int lastSlot;
        if (other == x)
        {
            // (x · a) · 0.5
            last = SoleConsumerOfType(first.Outputs[0], "Mul", out lastSlot);
            if (last is null || last.Inputs.Length != 2 || OtherOperand(last, v => v == 0.5f) != first.Outputs[0])
            {
                return;
            }
        }
        else if (OtherOperand(first, v => v == 0.5f) == a)
        {
            // x · (a · 0.5)
            last = SoleConsumerOfType(first.Outputs[0], "Mul", out lastSlot);
            if (last is null || last.Inputs.Length != 2 || !IsPair(last, x, first.Outputs[0]))
            {
                return;
            }
        }
        else
        {
            // (x · 0.5) · a: the half product is computed elsewhere and read only here.
            last = first;
            lastSlot = firstSlot;
            if (!_producer.TryGetValue(other, out halfSlot) || SoleConsumer(other) != firstSlot
                || _nodes[halfSlot] is not { } half || !Is(half, "Mul") || half.Inputs.Length != 2
                || OtherOperand(half, v => v == 0.5f) != x)
            {
                return;
            }
        }
        var gelu = new OnnxNode
        {
            Name = last.Name,
            OpType = "Gelu",
            Inputs = [x],
            Outputs = [last.Outputs[0]],
            Attributes = new(StringComparer.Ordinal)
            {
                ["approximate"] = new OnnxAttribute { Name = "approximate", Kind = AttributeKind.String, String = "none" },
            },
        };
        if (halfSlot >= 0)
        {
            Replace(lastSlot, gelu, scaleSlot, erfSlot, addSlot, halfSlot);
        }
        else
        {
            Replace(lastSlot, gelu, scaleSlot, erfSlot, addSlot, firstSlot);
        }
    }

    /// <summary>For a two-input node, the operand that is not a float32 scalar constant matching <paramref name="isConstant"/>.</summary>
    private string? OtherOperand(OnnxNode node, Func<float, bool> isConstant)
    {
        if (IsScalarConstant(node.Inputs[1], out float v1) && isConstant(v1))
        {
            return node.Inputs[0];
        }
        if (IsScalarConstant(node.Inputs[0], out float v0) && isConstant(v0))
        {
            return node.Inputs[1];
        }
        return null;
    }

    private static bool IsPair(OnnxNode node, string p, string q)
        => (node.Inputs[0] == p && node.Inputs[1] == q) || (node.Inputs[0] == q && node.Inputs[1] == p);

    private static bool Near(float value, float target) => MathF.Abs(value - target) <= 4e-7f;
}
