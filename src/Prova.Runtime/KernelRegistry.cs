using System.Collections.Frozen;
using Prova.Onnx;

namespace Prova.Runtime;

/// <summary>The ops Prova's engine runs (default ONNX domain), each with its kernel factory.</summary>
public static class KernelRegistry
{
    /// <summary>Highest default-domain opset Prova accepts.</summary>
    public const int MaxOpset = 23;

    private static readonly FrozenDictionary<string, KernelFactory> s_factories = Build();

    /// <summary>The default-domain ops Prova runs.</summary>
    public static IEnumerable<string> SupportedOps => s_factories.Keys.Where(k => !k.Contains(':')).Order(StringComparer.Ordinal);

    /// <summary>
    /// Domain of the fused ops the graph optimizer creates (FusedConv, FusedGemm, FusedMatMul, ...).
    /// They are registered under "prova.internal:&lt;OpType&gt;".
    /// </summary>
    public const string InternalDomain = "prova.internal";

    /// <summary>ONNX Runtime's contrib-op domain (GroupQueryAttention, MatMulNBits, RotaryEmbedding, ...), registered as "com.microsoft:&lt;OpType&gt;".</summary>
    public const string MicrosoftDomain = "com.microsoft";

    public static bool IsSupported(string opType, string domain = "")
        => s_factories.ContainsKey(Key(opType, domain));

    public static bool IsDefaultDomain(string domain) => domain.Length == 0 || domain == "ai.onnx";

    /// <summary>The registry key of an op: its name in the default domain, "domain:name" otherwise.</summary>
    public static string Key(string opType, string domain) => IsDefaultDomain(domain) ? opType : domain + ":" + opType;

    /// <summary>Creates the kernel for a node; throws <see cref="ModelException"/> if it cannot be run.</summary>
    public static Kernel Create(OnnxNode node, int opset)
    {
        if (!IsDefaultDomain(node.Domain) && node.Domain != InternalDomain && node.Domain != MicrosoftDomain)
        {
            throw ModelException.Unsupported(node, $"operator domain '{node.Domain}'");
        }
        if (!s_factories.TryGetValue(Key(node.OpType, node.Domain), out var factory))
        {
            throw ModelException.Unsupported(node, $"operator {node.OpType} (opset {opset}) is not implemented by Prova");
        }
        return factory(node, opset);
    }

    private static FrozenDictionary<string, KernelFactory> Build()
    {
        var registry = new Dictionary<string, KernelFactory>(StringComparer.Ordinal);
        Ops.ElementwiseOps.Register(registry);
        Ops.LinearOps.Register(registry);
        Ops.ShapeOps.Register(registry);
        Ops.ReduceOps.Register(registry);
        Ops.QuantOps.Register(registry);
        Ops.AttentionOps.Register(registry);
        return registry.ToFrozenDictionary(StringComparer.Ordinal);
    }
}
