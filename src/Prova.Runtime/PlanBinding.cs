using Prova.Core;

namespace Prova.Runtime;

/// <summary>
/// One plan of an <see cref="InferenceSession"/>, for fixed input shapes, driven directly by the caller:
/// it writes inputs into the plan's buffers (or points inputs and outputs at its own memory), calls
/// <see cref="Run"/>, and reads outputs in place. Nothing is allocated per run. Created by
/// <see cref="InferenceSession.Bind"/>; the numbers computed are exactly those of
/// <see cref="InferenceSession.Run(IReadOnlyDictionary{string, Tensor})"/> on the same shapes.
/// </summary>
public sealed unsafe class PlanBinding : IDisposable
{
    private readonly InferenceSession _session;
    private readonly Plan _plan;
    private readonly Dictionary<string, int> _inputs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _outputs = new(StringComparer.Ordinal);
    private bool _disposed;

    internal PlanBinding(InferenceSession session, Plan plan)
    {
        _session = session;
        _plan = plan;
        plan.EnsureArena();
        var graph = session.PlannedModel.Graph;
        for (int i = 0; i < graph.Inputs.Count; i++)
        {
            _inputs[graph.Inputs[i].Name] = plan.InputSlots[i];
        }
        for (int i = 0; i < graph.Outputs.Count; i++)
        {
            _outputs[graph.Outputs[i].Name] = plan.OutputSlots[i];
        }
    }

    /// <summary>Working memory of this plan (bytes): its arena of intermediates and scratch.</summary>
    public long ArenaBytes => _plan.ArenaBytes;

    public int[] InputShape(string name) => _plan.Values[InputSlot(name)].Shape;

    public int[] OutputShape(string name) => _plan.Values[OutputSlot(name)].Shape;

    /// <summary>The input's buffer, to be filled before <see cref="Run"/> (its current contents are kept between runs).</summary>
    public Span<T> Input<T>(string name) where T : unmanaged => Span<T>(WritableInput(name));

    /// <summary>The output's values after the last <see cref="Run"/>; valid until the next run.</summary>
    public ReadOnlySpan<T> Output<T>(string name) where T : unmanaged => Span<T>(OutputSlot(name));

    /// <summary>
    /// Makes the plan read this input from caller-owned memory (pinned or native, at least the input's size),
    /// which must stay valid while the binding runs with it.
    /// </summary>
    public void BindInput(string name, void* memory)
    {
        ThrowIfDisposed();
        _plan.Rebind(WritableInput(name), (byte*)memory);
    }

    /// <summary>
    /// Makes the plan write this output straight into caller-owned memory (pinned or native, at least the
    /// output's size). Returns false, changing nothing, when the output's buffer is shared with a graph input
    /// or is a plan-time constant; read <see cref="Output{T}"/> then.
    /// </summary>
    public bool TryBindOutput(string name, void* memory)
    {
        ThrowIfDisposed();
        int slot = OutputSlot(name);
        int root = _plan.Roots[slot];
        if (_plan.Values[slot].Constant is not null || Array.IndexOf(_plan.InputSlots, root) >= 0)
        {
            return false;
        }
        _plan.Rebind(slot, (byte*)memory);
        return true;
    }

    /// <summary>Runs every step of the plan on the session's threads.</summary>
    public void Run()
    {
        ThrowIfDisposed();
        _session.Execute(_plan);
    }

    private Span<T> Span<T>(int slot) where T : unmanaged
    {
        ThrowIfDisposed();
        var value = _plan.Values[slot];
        if (DataTypes.SizeOf(value.Type) != sizeof(T))
        {
            throw new ArgumentException($"'{value.Name}' holds {DataTypes.Name(value.Type)}, not {typeof(T).Name}");
        }
        if (value.Constant is { } constant)
        {
            return constant.Span<T>();
        }
        return new Span<T>(_plan.Pointers[slot], checked((int)value.ElementCount));
    }

    private int InputSlot(string name) => _inputs.TryGetValue(name, out int slot)
        ? slot
        : throw new InputException($"the model has no input '{name}'");

    /// <summary>An input the caller may fill: not one the plan was specialised on (an If condition, a shape), which is a constant of the plan.</summary>
    private int WritableInput(string name)
    {
        int slot = InputSlot(name);
        return _plan.Values[slot].Constant is null
            ? slot
            : throw new InputException($"input '{name}' is a constant of this plan (it was bound with its value); bind another plan for another value");
    }

    private int OutputSlot(string name) => _outputs.TryGetValue(name, out int slot)
        ? slot
        : throw new InputException($"the model has no output '{name}'");

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            _plan.Dispose();
        }
    }
}
