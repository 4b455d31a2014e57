using System.Runtime.InteropServices;
using Prova.Core;
using Prova.Onnx;

namespace Prova.Runtime;

/// <summary>
/// Runs one ONNX model on Prova's deterministic engine. A session plans the graph for each
/// distinct set of input shapes (once), then every run reuses that plan's buffers. Runs on one
/// session are serialised; use one session per concurrent caller.
/// </summary>
public sealed unsafe class InferenceSession : IDisposable
{
    private readonly OnnxModel _model;
    // What the plans run: the model, or its optimized rewrite (same inputs and outputs).
    private readonly OnnxModel _planned;
    // The model with every If on a constant condition inlined, before the rewrites; and the graph inputs that are
    // the condition of a top-level If, with the rewritten model for each of their values (docs/optimizer.md, "If").
    private readonly OnnxModel _source;
    private readonly List<string> _conditionInputs;
    private readonly Dictionary<string, OnnxModel> _branchModels = new(StringComparer.Ordinal);
    private readonly SessionOptions _options;
    private readonly WorkerPool _pool;
    private readonly ExecContext _ctx;
    private readonly Lock _gate = new();
    private readonly ConstantCache _constants = new();
    private readonly Dictionary<string, Plan> _plans = new(StringComparer.Ordinal);
    private readonly Queue<string> _planOrder = new();
    // Small integer inputs that feed shapes, axes or pads: plans are specialised on their values.
    private readonly HashSet<string> _valueInputs = new(StringComparer.Ordinal);
    private Plan? _lastPlan;
    private string _lastKey = "";
    private long _cachedPlanBytes;
    private bool _disposed;

    public InferenceSession(OnnxModel model, SessionOptions? options = null) : this(model, options, CancellationToken.None)
    {
    }

    /// <summary>
    /// Loads, optimizes and (with fully declared input shapes) plans <paramref name="model"/>; a large graph takes
    /// seconds, and <paramref name="cancellationToken"/> stops it between nodes with an <see cref="OperationCanceledException"/>.
    /// </summary>
    public InferenceSession(OnnxModel model, SessionOptions? options, CancellationToken cancellationToken)
    {
        _options = options ?? new SessionOptions();
        _options.Validate();
        _model = model;
        long opset = model.Opset;
        if (opset < 1 || opset > KernelRegistry.MaxOpset)
        {
            // A model that imports only another domain (e.g. ai.onnx.preview.training) is valid ONNX
            // whose ops Prova does not run: report the op, not a missing default opset.
            foreach (var node in model.Graph.Nodes)
            {
                if (!KernelRegistry.IsDefaultDomain(node.Domain))
                {
                    throw ModelException.Unsupported(node, $"operator domain '{node.Domain}'");
                }
            }
            throw new ModelException($"the model imports ONNX opset {opset}; Prova supports opsets 1 to {KernelRegistry.MaxOpset}", unsupported: opset > 0);
        }
        foreach (var input in model.Graph.Inputs)
        {
            if (!DataTypes.IsSupported(input.ElementType))
            {
                throw new ModelException($"graph input '{input.Name}' has element type {DataTypes.Name(input.ElementType)} ({(int)input.ElementType}), which Prova does not support", unsupported: input.ElementType != DataType.Undefined);
            }
        }
        // Fail fast on unsupported ops and bad attributes, before any input arrives.
        CheckSupported(model.Graph, (int)opset, cancellationToken);
        // Ifs on constant conditions are inlined first, so that the rewrites see the branch they take.
        _source = ControlFlow.IfInliner.Inline(model, null);
        _conditionInputs = ControlFlow.IfInliner.ConditionInputs(_source.Graph);
        _valueInputs.UnionWith(_conditionInputs);
        _planned = Rewrite(_source, cancellationToken);
        _pool = new WorkerPool(_options.Threads);
        _ctx = new ExecContext(_pool);
        // With fully declared input shapes, plan now so shape errors surface at load time.
        if (TryDeclaredShapes(out var shapes))
        {
            try
            {
                GetPlan(shapes, null, cancellationToken);
            }
            catch (NeedsInputValuesException ex)
            {
                // Shapes depend on input values: plan when the first inputs arrive.
                _valueInputs.UnionWith(ex.Inputs);
            }
            catch
            {
                _pool.Dispose();
                throw;
            }
        }
    }

    /// <summary>
    /// Plan-time rewrites, each a pure function of the graph (docs/quantization.md, docs/optimizer.md):
    /// integer execution of the QDQ pattern first, then the general fusions.
    /// </summary>
    private OnnxModel Rewrite(OnnxModel model, CancellationToken cancellationToken)
    {
        var rewritten = _options.IntegerQdq ? Ops.Quant.QdqRewriter.Rewrite(model) : model;
        cancellationToken.ThrowIfCancellationRequested();
        return _options.Optimize ? Optimizer.GraphOptimizer.Optimize(rewritten, cancellationToken) : rewritten;
    }

    /// <summary>Creates every node's kernel once (If: the nodes of both branches), so that unsupported ops fail at load.</summary>
    private static void CheckSupported(OnnxGraph graph, int opset, CancellationToken cancellationToken)
    {
        int created = 0;
        foreach (var node in graph.Nodes)
        {
            if (++created % 1024 == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }
            if (ControlFlow.IfInliner.IsIf(node))
            {
                CheckSupported(ControlFlow.IfInliner.Branch(node, true), opset, cancellationToken);
                CheckSupported(ControlFlow.IfInliner.Branch(node, false), opset, cancellationToken);
                continue;
            }
            KernelRegistry.Create(node, opset);
        }
    }

    /// <summary>
    /// The model a plan runs for these specialised input values: with the Ifs on condition inputs inlined for
    /// their values and rewritten (cached per condition value), or the session's model when there are none.
    /// </summary>
    private OnnxModel ModelFor(IReadOnlyDictionary<string, Tensor>? values, CancellationToken cancellationToken)
    {
        if (_conditionInputs.Count == 0 || values is null)
        {
            return _planned;
        }
        var key = new System.Text.StringBuilder();
        var conditions = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var name in _conditionInputs)
        {
            if (!values.TryGetValue(name, out var value))
            {
                return _planned;
            }
            if (Tensor.ElementCount(value.Shape) != 1)
            {
                throw new InputException($"input '{name}' is the condition of an If and must hold one element, but has shape [{string.Join(", ", value.ShapeArray())}]");
            }
            conditions[name] = value;
            key.Append(name).Append('=').Append(Convert.ToHexString(value.Bytes())).Append(';');
        }
        if (!_branchModels.TryGetValue(key.ToString(), out var model))
        {
            model = Rewrite(ControlFlow.IfInliner.Inline(_source, conditions), cancellationToken);
            _branchModels[key.ToString()] = model;
        }
        return model;
    }

    /// <summary>Loads and plans a model file.</summary>
    public static InferenceSession Load(string path, SessionOptions? options = null)
        => new(OnnxLoader.Load(path), options);

    public OnnxModel Model => _model;

    /// <summary>The graph the session actually plans and runs, after the QDQ rewrite and the optimizer.</summary>
    public OnnxModel PlannedModel => _planned;

    public IReadOnlyList<ValueInfo> Inputs => _model.Graph.Inputs;

    public IReadOnlyList<ValueInfo> Outputs => _model.Graph.Outputs;

    public int Threads => _pool.Threads;

    /// <summary>Working memory (bytes) of the most recent plan: the arena of intermediates and scratch.</summary>
    public long ArenaBytes => _lastPlan?.ArenaBytes ?? 0;

    /// <summary>Number of input-shape plans currently cached (tests observe plan reuse with it).</summary>
    internal int CachedPlanCount
    {
        get
        {
            lock (_gate)
            {
                return _plans.Count;
            }
        }
    }

    /// <summary>Runs the model. Throws <see cref="InputException"/> when the inputs do not fit the model.</summary>
    public Dictionary<string, Tensor> Run(IReadOnlyDictionary<string, Tensor> inputs) => Run(inputs, null, CancellationToken.None);

    /// <summary>
    /// Runs the model; <paramref name="cancellationToken"/> stops planning between nodes and the run between steps
    /// (the session stays usable). Throws <see cref="InputException"/> when the inputs do not fit the model and
    /// <see cref="ResourceLimitException"/> when they would need more memory than the session's limits.
    /// </summary>
    public Dictionary<string, Tensor> Run(IReadOnlyDictionary<string, Tensor> inputs, CancellationToken cancellationToken)
        => Run(inputs, null, cancellationToken);

    /// <summary>
    /// Plans the model for these inputs (or finds the cached plan) without running it or taking its arena: what a
    /// run of them will need, so a caller can check its own memory budget first. The next <see cref="Run(IReadOnlyDictionary{string, Tensor}, CancellationToken)"/>
    /// of inputs with the same shapes reuses the plan. Throws as <c>Run</c> does for inputs that do not fit.
    /// </summary>
    public PlanInfo Prepare(IReadOnlyDictionary<string, Tensor> inputs, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var plan = PlanForInputs(inputs, cancellationToken);
            var outputs = new PlannedOutput[plan.OutputSlots.Length];
            var graphOutputs = _planned.Graph.Outputs;
            for (int i = 0; i < outputs.Length; i++)
            {
                var value = plan.Values[plan.OutputSlots[i]];
                outputs[i] = new PlannedOutput(graphOutputs[i].Name, value.Type, (int[])value.Shape.Clone());
            }
            return new PlanInfo(plan.ArenaBytes, plan.ConstantBytes, plan.OutputBytes, outputs);
        }
    }

    /// <summary>
    /// Runs the model and records every intermediate integer tensor in execution order (for the
    /// prover). Needs <see cref="SessionOptions.CaptureWitness"/>.
    /// </summary>
    public (Dictionary<string, Tensor> Outputs, Witness Witness) RunWithWitness(IReadOnlyDictionary<string, Tensor> inputs)
    {
        if (!_options.CaptureWitness)
        {
            throw new InvalidOperationException("RunWithWitness needs a session created with SessionOptions.CaptureWitness = true");
        }
        var entries = new List<WitnessEntry>();
        var outputs = Run(inputs, entries, CancellationToken.None);
        return (outputs, new Witness(entries));
    }

    private Dictionary<string, Tensor> Run(IReadOnlyDictionary<string, Tensor> inputs, List<WitnessEntry>? witness, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var plan = PlanForInputs(inputs, cancellationToken);
            plan.EnsureArena();
            var graphInputs = _planned.Graph.Inputs;
            for (int i = 0; i < graphInputs.Count; i++)
            {
                if (plan.Values[plan.InputSlots[i]].Constant is not null)
                {
                    continue; // the plan is specialised on this input's value
                }
                var bytes = inputs[graphInputs[i].Name].Bytes();
                fixed (byte* src = bytes)
                {
                    Buffer.MemoryCopy(src, plan.Pointers[plan.InputSlots[i]], bytes.Length, bytes.Length);
                }
            }
            plan.Execute(_ctx, witness, cancellationToken);
            var outputs = new Dictionary<string, Tensor>(plan.OutputSlots.Length, StringComparer.Ordinal);
            var graphOutputs = _planned.Graph.Outputs;
            for (int i = 0; i < graphOutputs.Count; i++)
            {
                var value = plan.Values[plan.OutputSlots[i]];
                var tensor = Tensor.Zeros(value.Type, value.Shape);
                var dest = MemoryMarshal.CreateSpan(ref MemoryMarshal.GetArrayDataReference(tensor.Data), tensor.Bytes().Length);
                new ReadOnlySpan<byte>(plan.Pointers[plan.OutputSlots[i]], dest.Length).CopyTo(dest);
                outputs[graphOutputs[i].Name] = tensor;
            }
            return outputs;
        }
    }

    private Plan PlanForInputs(IReadOnlyDictionary<string, Tensor> inputs, CancellationToken cancellationToken)
    {
        var graphInputs = _planned.Graph.Inputs;
        if (_lastPlan is { } last && MatchesPlan(last, inputs))
        {
            return last;
        }
        foreach (var name in inputs.Keys)
        {
            bool known = false;
            foreach (var info in graphInputs)
            {
                known |= info.Name == name;
            }
            if (!known)
            {
                throw new InputException($"the model has no input '{name}' (its inputs: {Describe(graphInputs)})");
            }
        }
        var shapes = new Dictionary<string, (DataType, int[])>(StringComparer.Ordinal);
        foreach (var info in graphInputs)
        {
            if (!inputs.TryGetValue(info.Name, out var tensor))
            {
                throw new InputException($"missing input '{info.Name}' ({info}; the model's inputs: {Describe(graphInputs)})");
            }
            CheckInput(info, tensor.Type, tensor.Shape);
            shapes[info.Name] = (tensor.Type, tensor.ShapeArray());
        }
        return GetPlan(shapes, inputs, cancellationToken);
    }

    /// <summary>Throws an <see cref="InputException"/> unless an input of this type and shape fits <paramref name="info"/>'s declaration.</summary>
    public static void CheckInput(ValueInfo info, DataType type, ReadOnlySpan<int> shape)
    {
        if (type != info.ElementType)
        {
            throw new InputException($"input '{info.Name}' should be {DataTypes.Name(info.ElementType)} but is {DataTypes.Name(type)}");
        }
        if (info.Shape is { } dims)
        {
            bool ok = dims.Length == shape.Length;
            for (int d = 0; ok && d < dims.Length; d++)
            {
                ok = dims[d].Value is not { } v || v == shape[d];
            }
            if (!ok)
            {
                throw new InputException($"input '{info.Name}' should have shape {ErrorText.List<Dim>(dims)} but has {ErrorText.Shape(shape)}");
            }
        }
    }

    /// <summary>
    /// Plans the model for these input types and shapes as a <see cref="PlanBinding"/>: a plan of its own
    /// (outside the plan cache, sharing packed weights with the session's other plans) whose input and
    /// output buffers the caller reads, writes or points at its own memory, and runs again and again
    /// without any allocation. Text generation drives its decode steps this way. A model whose shapes or
    /// If conditions depend on input values needs those values in <paramref name="values"/>: the plan is
    /// specialised on them (they become constants of the plan, which the binding does not let the caller write).
    /// </summary>
    public PlanBinding Bind(IReadOnlyDictionary<string, (DataType Type, int[] Shape)> shapes, IReadOnlyDictionary<string, Tensor>? values = null)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var graphInputs = _planned.Graph.Inputs;
            var checkedShapes = new Dictionary<string, (DataType, int[])>(StringComparer.Ordinal);
            foreach (var info in graphInputs)
            {
                if (!shapes.TryGetValue(info.Name, out var given))
                {
                    throw new InputException($"missing input '{info.Name}' ({info}; the model's inputs: {Describe(graphInputs)})");
                }
                CheckInput(info, given.Type, given.Shape);
                checkedShapes[info.Name] = (given.Type, (int[])given.Shape.Clone());
            }
            if (shapes.Count != graphInputs.Count)
            {
                var unknown = shapes.Keys.First(k => !checkedShapes.ContainsKey(k));
                throw new InputException($"the model has no input '{unknown}' (its inputs: {Describe(graphInputs)})");
            }
            Dictionary<string, Tensor>? specialised = null;
            foreach (var name in _valueInputs)
            {
                if (values?.GetValueOrDefault(name) is not { } value)
                {
                    throw _conditionInputs.Contains(name)
                        ? new InputException($"input '{name}' is the condition of an If: pass its value to Bind (the plan is specialised on it)")
                        : new ModelException($"the model computes shapes from the values of {name}, so it cannot be bound to fixed buffers", unsupported: true);
                }
                var (type, shape) = checkedShapes[name];
                if (value.Type != type || !value.Shape.SequenceEqual(shape))
                {
                    throw new InputException($"the value given for input '{name}' is {DataTypes.Name(value.Type)}[{string.Join(", ", value.ShapeArray())}] but its shape is given as {DataTypes.Name(type)}[{string.Join(", ", shape)}]");
                }
                specialised ??= new Dictionary<string, Tensor>(StringComparer.Ordinal);
                specialised[name] = Tensor.FromBytes(value.Type, value.Shape, value.Bytes());
            }
            try
            {
                return new PlanBinding(this, Plan.Build(ModelFor(specialised, CancellationToken.None), checkedShapes, _pool, specialised, _constants, NewBudget(CancellationToken.None, SpecialisedOnShapes(specialised))));
            }
            catch (NeedsInputValuesException ex)
            {
                throw new ModelException($"the model computes shapes from the values of {ErrorText.Join(ex.Inputs)}, so it cannot be bound to fixed buffers", unsupported: true);
            }
        }
    }

    /// <summary>Runs a bound plan on this session's threads.</summary>
    internal void Execute(Plan plan)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            plan.Execute(_ctx);
        }
    }

    /// <summary>Allocation-free check that the inputs have exactly the names, types and shapes a plan was built for.</summary>
    private bool MatchesPlan(Plan plan, IReadOnlyDictionary<string, Tensor> inputs)
    {
        var graphInputs = _planned.Graph.Inputs;
        if (inputs.Count != graphInputs.Count)
        {
            return false;
        }
        for (int i = 0; i < graphInputs.Count; i++)
        {
            if (!inputs.TryGetValue(graphInputs[i].Name, out var tensor))
            {
                return false;
            }
            var planned = plan.Values[plan.InputSlots[i]];
            if (tensor.Type != planned.Type || !tensor.Shape.SequenceEqual(planned.Shape))
            {
                return false;
            }
            if (planned.Constant is { } value && !tensor.Bytes().SequenceEqual(value.Bytes()))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>
    /// The plan for these input shapes (and, for inputs the graph needs as shape data, these
    /// values): cached, or built now. <paramref name="inputs"/> is null when planning from the
    /// declared shapes before any input arrived.
    /// </summary>
    private Plan GetPlan(Dictionary<string, (DataType Type, int[] Shape)> shapes, IReadOnlyDictionary<string, Tensor>? inputs, CancellationToken cancellationToken)
    {
        while (true)
        {
            Dictionary<string, Tensor>? values = null;
            if (_valueInputs.Count > 0)
            {
                if (inputs is null)
                {
                    throw new NeedsInputValuesException([.. _valueInputs]);
                }
                values = new Dictionary<string, Tensor>(StringComparer.Ordinal);
                foreach (var name in _valueInputs)
                {
                    var t = inputs[name];
                    values[name] = Tensor.FromBytes(t.Type, t.Shape, t.Bytes());
                }
            }
            try
            {
                return GetPlan(shapes, values, cancellationToken);
            }
            catch (NeedsInputValuesException ex) when (inputs is not null && ex.Inputs.Any(n => !_valueInputs.Contains(n)))
            {
                _valueInputs.UnionWith(ex.Inputs);
            }
        }
    }

    /// <summary>
    /// True when a plan is specialised on an input other than an If condition: only those can make the planner
    /// build constants whose size the caller chooses (an If condition picks one of two branches).
    /// </summary>
    private bool SpecialisedOnShapes(Dictionary<string, Tensor>? values)
    {
        foreach (var name in values?.Keys ?? Enumerable.Empty<string>())
        {
            if (!_conditionInputs.Contains(name))
            {
                return true;
            }
        }
        return false;
    }

    private PlanBudget NewBudget(CancellationToken cancellationToken, bool specialised = false)
        => new(_options.MaxOutputBytes, _options.MaxPlanBytes, cancellationToken, specialised ? _options.MaxSpecializedConstantBytes : long.MaxValue);

    private Plan GetPlan(Dictionary<string, (DataType Type, int[] Shape)> shapes, Dictionary<string, Tensor>? values, CancellationToken cancellationToken)
    {
        var key = string.Join(";", shapes.Select(kv => kv.Key + ":" + string.Join(",", kv.Value.Shape)
            + (values?.GetValueOrDefault(kv.Key) is { } v ? "=" + Convert.ToHexString(v.Bytes()) : "")));
        if (_lastPlan is not null && key == _lastKey)
        {
            return _lastPlan;
        }
        if (!_plans.TryGetValue(key, out var plan))
        {
            plan = Plan.Build(ModelFor(values, cancellationToken), shapes, _pool, values, _constants, NewBudget(cancellationToken, SpecialisedOnShapes(values)));
            long bytes = plan.ArenaBytes + plan.ConstantBytes;
            while (_plans.Count > 0 && (_plans.Count >= _options.MaxCachedPlans || _cachedPlanBytes + bytes > _options.MaxCachedPlanBytes))
            {
                var evicted = _planOrder.Dequeue();
                if (_plans.Remove(evicted, out var old))
                {
                    _cachedPlanBytes -= old.ArenaBytes + old.ConstantBytes;
                    old.Dispose();
                }
            }
            _plans[key] = plan;
            _planOrder.Enqueue(key);
            _cachedPlanBytes += bytes;
        }
        _lastPlan = plan;
        _lastKey = key;
        return plan;
    }

    private bool TryDeclaredShapes(out Dictionary<string, (DataType Type, int[] Shape)> shapes)
    {
        shapes = new(StringComparer.Ordinal);
        foreach (var info in _planned.Graph.Inputs)
        {
            if (info.Shape is not { } dims || !DataTypes.IsSupported(info.ElementType))
            {
                return false;
            }
            var shape = new int[dims.Length];
            for (int d = 0; d < dims.Length; d++)
            {
                if (dims[d].Value is not { } v || v < 0 || v > int.MaxValue)
                {
                    return false;
                }
                shape[d] = (int)v;
            }
            shapes[info.Name] = (info.ElementType, shape);
        }
        return true;
    }

    private static string Describe(IReadOnlyList<ValueInfo> infos) => ErrorText.Join(infos);

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            foreach (var plan in _plans.Values)
            {
                plan.Dispose();
            }
            _plans.Clear();
            _pool.Dispose();
        }
    }
}

/// <summary>What a run of given inputs needs (<see cref="InferenceSession.Prepare"/>): memory in bytes, and the outputs it makes.</summary>
/// <param name="ArenaBytes">The plan's arena: intermediates, outputs and scratch (taken at its first run, then kept with the cached plan).</param>
/// <param name="ConstantBytes">Constants computed for this plan while planning (folded from shapes or specialised input values).</param>
/// <param name="OutputBytes">The output tensors a run returns.</param>
public sealed record PlanInfo(long ArenaBytes, long ConstantBytes, long OutputBytes, IReadOnlyList<PlannedOutput> Outputs);

/// <summary>One graph output of a planned run.</summary>
public sealed record PlannedOutput(string Name, DataType Type, int[] Shape);
