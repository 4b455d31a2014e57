using System.Runtime.InteropServices;
using Prova.Core;
using Prova.Onnx;
using Prova.Runtime.ControlFlow;

namespace Prova.Runtime;

/// <summary>
/// A graph specialised to concrete input shapes: every value's shape, the constants folded at
/// plan time, the kernels left to run, and one pinned arena in which every intermediate has a
/// fixed offset (buffers whose lifetimes do not overlap share memory). Running a plan allocates
/// nothing but the output tensors.
/// </summary>
internal sealed unsafe partial class Plan : IDisposable
{
    private const int Alignment = 64;

    private readonly List<GCHandle> _pins = [];
    // Offset in the arena of each slot's buffer (-1: a constant, or a value no step touches).
    private readonly long[] _offsets;
    // Bytes of intermediates; the scratch area follows them.
    private readonly long _bufferBytes;
    private byte[]? _arena;
    private byte* _scratch;

    private Plan(List<ValueState> values, List<Step> steps, int[] inputSlots, int[] outputSlots, long[] offsets, long bufferBytes, long arenaBytes,
        long constantBytes, byte*[] pointers, int[] roots, List<GCHandle> pins)
    {
        Roots = roots;
        Values = values.ToArray();
        Steps = steps.ToArray();
        InputSlots = inputSlots;
        OutputSlots = outputSlots;
        _offsets = offsets;
        _bufferBytes = bufferBytes;
        ArenaBytes = arenaBytes;
        ConstantBytes = constantBytes;
        Pointers = pointers;
        _pins = pins;
    }

    public ValueState[] Values { get; }

    public Step[] Steps { get; }

    public int[] InputSlots { get; }

    public int[] OutputSlots { get; }

    public byte*[] Pointers { get; }

    /// <summary>For each slot, the slot whose buffer it uses (itself, or the root of the view chain it belongs to).</summary>
    public int[] Roots { get; }

    /// <summary>
    /// Moves the buffer of <paramref name="slot"/> (and of every view that shares it) to caller-owned memory,
    /// which must stay valid and hold the value's bytes for as long as the plan runs with it.
    /// </summary>
    public void Rebind(int slot, byte* memory)
    {
        int root = Roots[slot];
        for (int s = 0; s < Pointers.Length; s++)
        {
            if (Roots[s] == root && Values[s].Constant is null)
            {
                Pointers[s] = memory;
            }
        }
    }

    /// <summary>Bytes of the arena (intermediates, outputs and scratch); taken at the first run or bind, not when planning.</summary>
    public long ArenaBytes { get; }

    /// <summary>Bytes of the constants computed for this plan while planning (not the model's initializers).</summary>
    public long ConstantBytes { get; }

    /// <summary>Bytes of the graph outputs of one run.</summary>
    public long OutputBytes
    {
        get
        {
            long bytes = 0;
            foreach (int slot in OutputSlots)
            {
                bytes += Values[slot].ElementCount * DataTypes.SizeOf(Values[slot].Type);
            }
            return bytes;
        }
    }

    /// <summary>Allocates the arena and points every intermediate into it, once; a plan is built without it so its size can be checked first.</summary>
    public void EnsureArena()
    {
        if (_arena is not null)
        {
            return;
        }
        var arena = GC.AllocateUninitializedArray<byte>((int)ArenaBytes, pinned: true);
        byte* aligned = (byte*)AlignUp((long)Marshal.UnsafeAddrOfPinnedArrayElement(arena, 0));
        for (int s = 0; s < Pointers.Length; s++)
        {
            if (_offsets[Roots[s]] >= 0 && Values[s].Constant is null && Pointers[s] is null)
            {
                Pointers[s] = aligned + _offsets[Roots[s]];
            }
        }
        _scratch = aligned + _bufferBytes;
        _arena = arena;
    }

    /// <summary>
    /// One step: a kernel, or (<see cref="Target"/> ≥ 0) a jump of an If planned with both branches: to step
    /// <see cref="Target"/> always (no inputs) or when the bool in <see cref="Inputs"/>[0] is false.
    /// </summary>
    internal readonly record struct Step(Kernel Kernel, int[] Inputs, int[] Outputs, int Target = -1);

    /// <summary>
    /// Runs every step. With <paramref name="witness"/>, also copies every integer output of every
    /// step into it, in execution order (witness capture for the prover); without, one null check per step.
    /// </summary>
    public void Execute(ExecContext ctx, List<WitnessEntry>? witness = null, CancellationToken cancellationToken = default)
    {
        EnsureArena();
        ctx.Pointers = Pointers;
        ctx.Values = Values;
        ctx.Scratch = _scratch;
        var steps = Steps;
        for (int i = 0; i < steps.Length; i++)
        {
            var step = steps[i];
            if (step.Target >= 0)
            {
                if (step.Inputs.Length == 0 || *Pointers[step.Inputs[0]] == 0)
                {
                    i = step.Target - 1;
                }
                continue;
            }
            ctx.InputSlots = step.Inputs;
            ctx.OutputSlots = step.Outputs;
            step.Kernel.Execute(ctx);
            cancellationToken.ThrowIfCancellationRequested();
            if (witness is not null)
            {
                Record(step, witness);
            }
        }
    }

    private void Record(Step step, List<WitnessEntry> witness)
    {
        foreach (int slot in step.Outputs)
        {
            if (slot >= 0 && Witness.Records(Values[slot].Type))
            {
                var v = Values[slot];
                var bytes = new ReadOnlySpan<byte>(Pointers[slot], checked((int)(v.ElementCount * DataTypes.SizeOf(v.Type))));
                witness.Add(new WitnessEntry(step.Kernel.Node.DisplayName, step.Kernel.Node.OpType, v.Name, Tensor.FromBytes(v.Type, v.Shape, bytes)));
            }
        }
    }

    /// <summary>Largest integer graph input whose values a plan may be specialised on (see <see cref="NeedsInputValuesException"/>).</summary>
    public const int MaxSpecializedInputElements = 4096;

    /// <summary>
    /// Plans the graph for the given input types and shapes. Graph inputs listed in
    /// <paramref name="inputValues"/> are planned as constants with those values: that is how
    /// models that take a shape, axes or pads as an input run (the plan is specialised on them).
    /// </summary>
    public static Plan Build(OnnxModel model, IReadOnlyDictionary<string, (DataType Type, int[] Shape)> inputs, WorkerPool pool,
        IReadOnlyDictionary<string, Tensor>? inputValues = null, ConstantCache? constants = null, PlanBudget? budget = null)
    {
        constants ??= new ConstantCache();
        budget ??= PlanBudget.Unlimited();
        var graph = model.Graph;
        budget.Begin(graph);
        int opset = (int)model.Opset;
        var values = new List<ValueState>();
        var slotOf = new Dictionary<string, int>(StringComparer.Ordinal);
        var pins = new List<GCHandle>();
        try
        {
            int Add(ValueState v)
            {
                if (slotOf.ContainsKey(v.Name))
                {
                    throw new ModelException($"value '{v.Name}' is defined more than once");
                }
                slotOf[v.Name] = values.Count;
                values.Add(v);
                return values.Count - 1;
            }

            foreach (var (name, tensor) in graph.Initializers)
            {
                Add(new ValueState(name, tensor.Type, tensor.ShapeArray(), tensor));
            }
            var inputSlots = new int[graph.Inputs.Count];
            for (int i = 0; i < graph.Inputs.Count; i++)
            {
                var info = graph.Inputs[i];
                var (type, shape) = inputs[info.Name];
                inputSlots[i] = Add(new ValueState(info.Name, type, shape, inputValues?.GetValueOrDefault(info.Name)));
            }

            var steps = new List<(Kernel Kernel, int[] Inputs, int[] Outputs, long Scratch, int Target)>();
            var viewOf = new Dictionary<int, int>(); // view output slot -> slot whose buffer it shares
            // The nodes to plan: the graph's, with the taken branch of each If spliced in after it (docs/optimizer.md, "If").
            var work = new List<OnnxNode>(graph.Nodes);
            HashSet<string>? used = null;
            var branches = new Dictionary<OnnxNode, IfBranches>();
            for (int n = 0; n < work.Count; n++)
            {
                var node = work[n];
                budget.NextNode();
                if (node.Domain == ControlDomain)
                {
                    PlanControl(node, branches, values, slotOf, steps, Add);
                    continue;
                }
                if (IfInliner.IsIf(node))
                {
                    used ??= IfInliner.AllNames(graph);
                    PlanIf(node, graph, work, n, used, values, slotOf, branches, Add);
                    continue;
                }
                var kernel = KernelRegistry.Create(node, opset);
                var inSlots = new int[node.Inputs.Length];
                var inStates = new ValueState?[node.Inputs.Length];
                for (int i = 0; i < node.Inputs.Length; i++)
                {
                    if (node.Inputs[i].Length == 0)
                    {
                        inSlots[i] = -1;
                        continue;
                    }
                    if (!slotOf.TryGetValue(node.Inputs[i], out inSlots[i]))
                    {
                        throw ModelException.ForNode(node, $"input '{node.Inputs[i]}' is not a graph input, an initializer, or the output of an earlier node");
                    }
                    inStates[i] = values[inSlots[i]];
                }
                var ctx = new InferContext(node, opset, pool.Threads, inStates, constants) { Budget = budget };
                try
                {
                    kernel.Infer(ctx);
                }
                catch (ModelException) when (ctx.MissingConstant is { } missing && SpecializableInputs(graph, work, values, slotOf, missing) is { Count: > 0 } needed)
                {
                    throw new NeedsInputValuesException(needed);
                }
                budget.AfterInfer(node, ctx.Outputs);
                var outSlots = new int[node.Outputs.Length];
                bool allOutputsConstant = true;
                for (int i = 0; i < node.Outputs.Length; i++)
                {
                    if (node.Outputs[i].Length == 0)
                    {
                        outSlots[i] = -1;
                        continue;
                    }
                    var state = ctx.Outputs[i] ?? throw ModelException.ForNode(node, $"output {i} ('{node.Outputs[i]}') is not produced");
                    outSlots[i] = Add(state);
                    allOutputsConstant &= state.Constant is not null;
                }
                if (allOutputsConstant)
                {
                    continue;
                }
                bool allInputsConstant = true;
                foreach (var s in inStates)
                {
                    allInputsConstant &= s is null || s.Constant is not null;
                }
                if (allInputsConstant && FoldedBytes(ctx) <= InferContext.MaxPlanTimeConstantBytes)
                {
                    budget.BeforeFold(node, FoldedBytes(ctx));
                    Fold(kernel, pool, values, inSlots, outSlots, ctx.ScratchBytes);
                    continue;
                }
                if (kernel.IsView && inSlots[0] >= 0 && values[inSlots[0]].Constant is null)
                {
                    viewOf[outSlots[0]] = viewOf.TryGetValue(inSlots[0], out int root) ? root : inSlots[0];
                    continue;
                }
                steps.Add((kernel, inSlots, outSlots, ctx.ScratchBytes, -1));
            }

            var outputSlots = new int[graph.Outputs.Count];
            for (int i = 0; i < graph.Outputs.Count; i++)
            {
                if (!slotOf.TryGetValue(graph.Outputs[i].Name, out outputSlots[i]))
                {
                    throw new ModelException($"graph output '{graph.Outputs[i].Name}' is not produced by any node");
                }
            }

            // Lifetimes of arena buffers (view outputs fold into their root buffer).
            int count = values.Count;
            var first = new int[count];
            var last = new int[count];
            Array.Fill(first, int.MaxValue);
            Array.Fill(last, -1);
            int Root(int slot) => viewOf.TryGetValue(slot, out int r) ? r : slot;
            void Touch(int slot, int time)
            {
                if (slot < 0 || values[slot].Constant is not null)
                {
                    return;
                }
                int r = Root(slot);
                first[r] = Math.Min(first[r], time);
                last[r] = Math.Max(last[r], time);
            }
            foreach (int s in inputSlots)
            {
                Touch(s, -1);
            }
            for (int t = 0; t < steps.Count; t++)
            {
                foreach (int s in steps[t].Inputs)
                {
                    Touch(s, t);
                }
                foreach (int s in steps[t].Outputs)
                {
                    Touch(s, t);
                }
            }
            foreach (int s in outputSlots)
            {
                Touch(s, steps.Count);
            }

            var offsets = AssignOffsets(values, first, last, out long arenaBytes, budget.CancellationToken);
            long scratchBytes = 0;
            foreach (var step in steps)
            {
                scratchBytes = Math.Max(scratchBytes, step.Scratch);
            }
            long total = arenaBytes + AlignUp(scratchBytes) + Alignment;
            if (total > Array.MaxLength)
            {
                throw new ModelException($"the model needs {total / (1 << 20)} MiB of working memory for these input shapes, more than one arena can hold");
            }
            budget.BeforeArena(total);
            budget.CancellationToken.ThrowIfCancellationRequested();
            var pointers = new byte*[count];
            var slotOffsets = new long[count];
            for (int s = 0; s < count; s++)
            {
                var c = values[s].Constant;
                slotOffsets[s] = -1;
                if (c is not null)
                {
                    var handle = GCHandle.Alloc(c.Data, GCHandleType.Pinned);
                    pins.Add(handle);
                    pointers[s] = (byte*)handle.AddrOfPinnedObject();
                }
                else if (first[s] != int.MaxValue)
                {
                    slotOffsets[s] = offsets[s];
                }
            }
            var roots = new int[count];
            for (int s = 0; s < count; s++)
            {
                roots[s] = Root(s);
            }
            var finalSteps = new List<Step>(steps.Count);
            foreach (var s in steps)
            {
                finalSteps.Add(new Step(s.Kernel, s.Inputs, s.Outputs, s.Target));
            }
            return new Plan(values, finalSteps, inputSlots, outputSlots, slotOffsets, arenaBytes, total, budget.ConstantBytes, pointers, roots, pins);
        }
        catch
        {
            foreach (var pin in pins)
            {
                pin.Free();
            }
            throw;
        }
    }

    /// <summary>
    /// The graph inputs a value depends on, when they are all small integer tensors whose values
    /// can specialise a plan; empty when the value depends on anything else (float data, a large input).
    /// </summary>
    private static List<string> SpecializableInputs(OnnxGraph graph, List<OnnxNode> nodes, List<ValueState> values, Dictionary<string, int> slotOf, string value)
    {
        var producer = new Dictionary<string, OnnxNode>(StringComparer.Ordinal);
        foreach (var node in nodes)
        {
            foreach (var output in node.Outputs)
            {
                if (output.Length > 0)
                {
                    producer.TryAdd(output, node);
                }
            }
        }
        var graphInputs = new HashSet<string>(graph.Inputs.Select(i => i.Name), StringComparer.Ordinal);
        var found = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>();
        pending.Push(value);
        while (pending.Count > 0)
        {
            var name = pending.Pop();
            if (!seen.Add(name) || (slotOf.TryGetValue(name, out int slot) && values[slot].Constant is not null))
            {
                continue;
            }
            if (graphInputs.Contains(name))
            {
                var v = values[slotOf[name]];
                if (v.Type is not (DataType.Int64 or DataType.Int32 or DataType.Bool) || v.ElementCount > MaxSpecializedInputElements)
                {
                    return [];
                }
                found.Add(name);
            }
            else if (producer.TryGetValue(name, out var node))
            {
                foreach (var input in node.Inputs)
                {
                    if (input.Length > 0)
                    {
                        pending.Push(input);
                    }
                }
            }
        }
        return found;
    }

    private static long FoldedBytes(InferContext ctx)
    {
        long bytes = 0;
        foreach (var output in ctx.Outputs)
        {
            if (output is not null)
            {
                bytes += output.ElementCount * DataTypes.SizeOf(output.Type);
            }
        }
        return bytes;
    }

    /// <summary>
    /// Greedy-by-size placement: biggest buffers first, each at the lowest offset free over its lifetime.
    /// The buffers placed so far whose lifetimes overlap the next one are found through an index by time
    /// (a segment tree of lifetimes for the ones alive when it starts, buckets by start time for the ones
    /// starting during its lifetime), so planning a long graph is not quadratic in its length.
    /// </summary>
    private static long[] AssignOffsets(List<ValueState> values, int[] first, int[] last, out long arenaBytes, CancellationToken cancellationToken = default)
    {
        var offsets = new long[values.Count];
        var order = new List<int>();
        int times = 2;
        for (int s = 0; s < values.Count; s++)
        {
            if (first[s] != int.MaxValue)
            {
                order.Add(s);
                times = Math.Max(times, last[s] + 2);
            }
        }
        var sizes = new long[values.Count];
        foreach (int s in order)
        {
            sizes[s] = AlignUp(values[s].ElementCount * DataTypes.SizeOf(values[s].Type));
        }
        order.Sort((a, b) => sizes[b].CompareTo(sizes[a]) is var c && c != 0 ? c : a.CompareTo(b));
        // Times run from -1 (graph inputs) to the step count (graph outputs); index them from 0.
        int leaves = 1;
        while (leaves < times)
        {
            leaves <<= 1;
        }
        var cover = new List<int>?[2 * leaves];
        var startingAt = new List<int>?[times];
        arenaBytes = 0;
        var conflicts = new List<(long Start, long End)>();
        int placedCount = 0;
        foreach (int s in order)
        {
            if (++placedCount % 4096 == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }
            long size = sizes[s];
            int from = first[s] + 1, to = last[s] + 1;
            conflicts.Clear();
            // Placed buffers alive at `from`: the lifetimes stored on the path from its leaf to the root.
            for (int node = from + leaves; node >= 1; node >>= 1)
            {
                if (cover[node] is { } list)
                {
                    foreach (int p in list)
                    {
                        conflicts.Add((offsets[p], offsets[p] + sizes[p]));
                    }
                }
            }
            // Placed buffers whose lifetime starts after `from` and no later than `to`.
            for (int t = from + 1; t <= to; t++)
            {
                if (startingAt[t] is { } list)
                {
                    foreach (int p in list)
                    {
                        conflicts.Add((offsets[p], offsets[p] + sizes[p]));
                    }
                }
            }
            conflicts.Sort();
            long offset = 0;
            foreach (var (start, end) in conflicts)
            {
                if (offset + size <= start)
                {
                    break;
                }
                offset = Math.Max(offset, end);
            }
            offsets[s] = offset;
            arenaBytes = Math.Max(arenaBytes, offset + size);
            // Store the lifetime [from, to] on the segment tree's canonical nodes.
            for (int l = from + leaves, r = to + leaves + 1; l < r; l >>= 1, r >>= 1)
            {
                if ((l & 1) == 1)
                {
                    (cover[l++] ??= []).Add(s);
                }
                if ((r & 1) == 1)
                {
                    (cover[--r] ??= []).Add(s);
                }
            }
            (startingAt[from] ??= []).Add(s);
        }
        return offsets;
    }

    /// <summary>Runs a node whose inputs are all constant once, at plan time, and records its outputs as constants.</summary>
    private static void Fold(Kernel kernel, WorkerPool pool, List<ValueState> values, int[] inSlots, int[] outSlots, long scratchBytes)
    {
        var handles = new List<GCHandle>();
        try
        {
            var pointers = new byte*[values.Count];
            foreach (int s in inSlots)
            {
                if (s >= 0)
                {
                    var h = GCHandle.Alloc(values[s].Constant!.Data, GCHandleType.Pinned);
                    handles.Add(h);
                    pointers[s] = (byte*)h.AddrOfPinnedObject();
                }
            }
            var results = new Tensor?[outSlots.Length];
            for (int i = 0; i < outSlots.Length; i++)
            {
                if (outSlots[i] >= 0)
                {
                    var v = values[outSlots[i]];
                    var t = Tensor.Zeros(v.Type, v.Shape);
                    results[i] = t;
                    var h = GCHandle.Alloc(t.Data, GCHandleType.Pinned);
                    handles.Add(h);
                    pointers[outSlots[i]] = (byte*)h.AddrOfPinnedObject();
                }
            }
            var scratch = scratchBytes > 0 ? GC.AllocateUninitializedArray<byte>((int)Math.Min(int.MaxValue, scratchBytes + Alignment), pinned: true) : null;
            var ctx = new ExecContext(pool)
            {
                Pointers = pointers,
                Values = values.ToArray(),
                InputSlots = inSlots,
                OutputSlots = outSlots,
                Scratch = scratch is null ? null : (byte*)AlignUp((long)Marshal.UnsafeAddrOfPinnedArrayElement(scratch, 0)),
            };
            kernel.Execute(ctx);
            GC.KeepAlive(scratch);
            for (int i = 0; i < outSlots.Length; i++)
            {
                if (outSlots[i] >= 0)
                {
                    values[outSlots[i]].Constant = results[i];
                }
            }
        }
        finally
        {
            foreach (var h in handles)
            {
                h.Free();
            }
        }
    }

    private static long AlignUp(long value) => (value + Alignment - 1) & ~(long)(Alignment - 1);

    public void Dispose()
    {
        foreach (var pin in _pins)
        {
            pin.Free();
        }
        _pins.Clear();
    }
}

/// <summary>A plan needs the values of these (small, integer) graph inputs: replan with them as constants.</summary>
internal sealed class NeedsInputValuesException(IReadOnlyList<string> inputs) : Exception($"plan needs the values of {ErrorText.Join(inputs)}")
{
    public IReadOnlyList<string> Inputs { get; } = inputs;
}
