using System.Collections.Frozen;
using Prova.Onnx;

namespace Prova.Runtime;

/// <summary>
/// The ops Prova's engine runs, each with its kernel factory: the default ONNX domain (opsets 1–23),
/// ONNX Runtime's contrib ops under "com.microsoft:&lt;OpType&gt;", and the optimizer's fused ops.
/// </summary>
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

    /// <summary>ONNX Runtime's contrib-op domain; its ops are registered under "com.microsoft:&lt;OpType&gt;".</summary>
    public const string MicrosoftDomain = "com.microsoft";

    /// <summary>The com.microsoft (ONNX Runtime contrib) ops Prova runs.</summary>
    public static IEnumerable<string> SupportedMicrosoftOps => s_factories.Keys
        .Where(k => k.StartsWith(MicrosoftDomain + ":", StringComparison.Ordinal))
        .Select(k => k[(MicrosoftDomain.Length + 1)..])
        .Order(StringComparer.Ordinal);

    /// <summary>Every registry key: default-domain ops by name, others as "domain:name".</summary>
    internal static IEnumerable<string> Keys => s_factories.Keys;

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
        OpArity.Check(node, opset);
        return factory(node, opset);
    }

    /// <summary>
    /// Checks every node the engine knows against its op's input and output counts (<see cref="OpArity"/>),
    /// without planning: a cheap validity check for a model before it is accepted (the node does this on publish).
    /// Throws <see cref="ModelException"/> naming the first malformed node.
    /// </summary>
    public static void CheckArity(OnnxModel model)
    {
        int opset = (int)Math.Clamp(model.Opset, 0, MaxOpset);
        foreach (var node in model.Graph.Nodes)
        {
            OpArity.Check(node, opset);
        }
    }

    private static FrozenDictionary<string, KernelFactory> Build()
    {
        var registry = new Dictionary<string, KernelFactory>(StringComparer.Ordinal);
        Ops.ElementwiseOps.Register(registry);
        Ops.LinearOps.Register(registry);
        Ops.ShapeOps.Register(registry);
        Ops.ReduceOps.Register(registry);
        Ops.QuantOps.Register(registry);
        Ops.ContribOps.Register(registry);
        Ops.AttentionOps.Register(registry);
        foreach (var key in registry.Keys)
        {
            if (OpArity.For(key, MaxOpset) is null)
            {
                // Every op declares its input and output counts (OpArity.cs) so malformed nodes are refused at load.
                throw new InvalidOperationException($"operator {key} is registered without an arity in OpArity");
            }
        }
        return registry.ToFrozenDictionary(StringComparer.Ordinal);
    }
}
