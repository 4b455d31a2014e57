using Prova.Core;

namespace Prova.Runtime;

/// <summary>
/// Run-time view of one node's buffers, handed to <see cref="Kernel.Execute"/>. Buffers are pinned
/// for the life of the plan, so raw pointers may be kept in locals and passed to worker threads
/// for the duration of the call.
/// </summary>
public sealed unsafe class ExecContext
{
    internal byte*[] Pointers = [];
    internal ValueState[] Values = [];
    internal int[] InputSlots = [];
    internal int[] OutputSlots = [];

    internal ExecContext(WorkerPool pool)
    {
        Pool = pool;
    }

    public WorkerPool Pool { get; }

    /// <summary>Scratch memory of the size requested at plan time (64-byte aligned).</summary>
    public byte* Scratch { get; internal set; }

    public bool HasInput(int i) => i < InputSlots.Length && InputSlots[i] >= 0;

    public bool HasOutput(int i) => i < OutputSlots.Length && OutputSlots[i] >= 0;

    public T* In<T>(int i) where T : unmanaged => (T*)Pointers[InputSlots[i]];

    public T* Out<T>(int i) where T : unmanaged => (T*)Pointers[OutputSlots[i]];

    public ReadOnlySpan<T> InSpan<T>(int i) where T : unmanaged
    {
        var v = Values[InputSlots[i]];
        return new ReadOnlySpan<T>(Pointers[InputSlots[i]], checked((int)v.ElementCount));
    }

    public Span<T> OutSpan<T>(int i) where T : unmanaged
    {
        var v = Values[OutputSlots[i]];
        return new Span<T>(Pointers[OutputSlots[i]], checked((int)v.ElementCount));
    }

    public int[] InputShape(int i) => Values[InputSlots[i]].Shape;

    public int[] OutputShape(int i) => Values[OutputSlots[i]].Shape;

    public DataType InputType(int i) => Values[InputSlots[i]].Type;
}
