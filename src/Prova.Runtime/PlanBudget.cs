using Prova.Core;
using Prova.Onnx;

namespace Prova.Runtime;

/// <summary>
/// The limits and the cancellation of one <see cref="Plan.Build"/>, and what the plan has taken so far:
/// output bytes (against <see cref="SessionOptions.MaxOutputBytes"/>) and plan-time constants plus the
/// arena (against <see cref="SessionOptions.MaxPlanBytes"/>). Every check runs before the memory is taken.
/// </summary>
internal sealed class PlanBudget(long maxOutputBytes, long maxPlanBytes, CancellationToken cancellationToken, long maxConstantBytes = long.MaxValue)
{
    // Planning checks for cancellation once per this many nodes (a cheap node plans in about a microsecond).
    private const int CancellationStride = 256;

    private HashSet<string> _graphOutputs = new(StringComparer.Ordinal);
    private int _nodes;

    public static PlanBudget Unlimited(CancellationToken cancellationToken = default) => new(long.MaxValue, long.MaxValue, cancellationToken);

    public CancellationToken CancellationToken => cancellationToken;

    public long OutputBytes { get; private set; }

    /// <summary>Bytes of the constants computed while planning (folded nodes, ConstantOfShape, Range, ...).</summary>
    public long ConstantBytes { get; private set; }

    public void Begin(OnnxGraph graph)
    {
        _graphOutputs = new HashSet<string>(StringComparer.Ordinal);
        foreach (var output in graph.Outputs)
        {
            _graphOutputs.Add(output.Name);
        }
        OutputBytes = 0;
        ConstantBytes = 0;
        _nodes = 0;
        cancellationToken.ThrowIfCancellationRequested();
    }

    /// <summary>Called before each node is planned.</summary>
    public void NextNode()
    {
        if (++_nodes % CancellationStride == 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    /// <summary>A kernel is about to build a plan-time constant of <paramref name="bytes"/> for <paramref name="node"/>.</summary>
    public void BeforeConstant(OnnxNode node, long bytes)
    {
        foreach (var output in node.Outputs)
        {
            if (_graphOutputs.Contains(output))
            {
                CheckOutput(output, OutputBytes + bytes);
            }
        }
        // Counted, with every other constant output, once the kernel has made it (AfterInfer).
        CheckPlan(ConstantBytes + bytes, ConstantBytes + bytes, $"node '{node.DisplayName}' ({node.OpType}) would build a constant of {bytes} bytes while planning");
    }

    /// <summary>The node's outputs are known: count graph outputs and plan-time constants.</summary>
    public void AfterInfer(OnnxNode node, ValueState?[] outputs)
    {
        for (int i = 0; i < outputs.Length; i++)
        {
            if (outputs[i] is not { } state)
            {
                continue;
            }
            long bytes = Bytes(state);
            if (_graphOutputs.Contains(state.Name))
            {
                OutputBytes += bytes;
                CheckOutput(state.Name, OutputBytes);
            }
            if (state.Constant is not null)
            {
                ConstantBytes += bytes;
                CheckPlan(ConstantBytes, ConstantBytes, $"node '{node.DisplayName}' ({node.OpType}) built constants of {ConstantBytes} bytes while planning");
            }
        }
    }

    /// <summary>A node whose inputs are all constant is about to be run at plan time, making outputs of <paramref name="bytes"/>.</summary>
    public void BeforeFold(OnnxNode node, long bytes)
    {
        ConstantBytes += bytes;
        CheckPlan(ConstantBytes, ConstantBytes, $"folding node '{node.DisplayName}' ({node.OpType}) would build constants of {ConstantBytes} bytes while planning");
    }

    /// <summary>The arena is about to be allocated.</summary>
    public void BeforeArena(long arenaBytes)
        => CheckPlan(ConstantBytes, ConstantBytes + arenaBytes, $"the plan needs {arenaBytes} bytes of working memory and {ConstantBytes} bytes of plan-time constants for these inputs");

    private void CheckOutput(string name, long total)
    {
        if (total > maxOutputBytes)
        {
            throw new ResourceLimitException(nameof(SessionOptions.MaxOutputBytes), total, maxOutputBytes,
                $"output '{name}' would bring the outputs to {total} bytes for these inputs, more than MaxOutputBytes ({maxOutputBytes})");
        }
    }

    private void CheckPlan(long constants, long total, string what)
    {
        if (constants > maxConstantBytes)
        {
            throw new ResourceLimitException(nameof(SessionOptions.MaxSpecializedConstantBytes), constants, maxConstantBytes,
                $"{what}: {constants} bytes of constants, more than MaxSpecializedConstantBytes ({maxConstantBytes}) for a plan specialised on input values");
        }
        if (total > maxPlanBytes)
        {
            throw new ResourceLimitException(nameof(SessionOptions.MaxPlanBytes), total, maxPlanBytes,
                $"{what}: {total} bytes in all, more than MaxPlanBytes ({maxPlanBytes})");
        }
    }

    private static long Bytes(ValueState state)
    {
        try
        {
            return checked(state.ElementCount * DataTypes.SizeOf(state.Type));
        }
        catch (Exception ex) when (ex is OverflowException or TensorFormatException)
        {
            return long.MaxValue;
        }
    }
}
