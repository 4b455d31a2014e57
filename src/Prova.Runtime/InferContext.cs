using Prova.Core;
using Prova.Onnx;

namespace Prova.Runtime;

/// <summary>What the planner knows about one value: element type, shape, and its data when constant.</summary>
public sealed class ValueState
{
    public ValueState(string name, DataType type, int[] shape, Tensor? constant = null)
    {
        Name = name;
        Type = type;
        Shape = shape;
        Constant = constant;
    }

    public string Name { get; }

    public DataType Type { get; }

    public int[] Shape { get; }

    public Tensor? Constant { get; internal set; }

    public long ElementCount => Tensor.ElementCount(Shape);

    public override string ToString() => $"{Name}: {DataTypes.Name(Type)}{ErrorText.Shape(Shape)}";
}

/// <summary>Plan-time view of one node's inputs and outputs, handed to <see cref="Kernel.Infer"/>.</summary>
public sealed class InferContext
{
    private readonly ValueState?[] _inputs;
    private readonly ValueState?[] _outputs;

    internal InferContext(OnnxNode node, int opset, int threads, ValueState?[] inputs, ConstantCache constants)
    {
        Constants = constants;
        Node = node;
        Opset = opset;
        Threads = threads;
        _inputs = inputs;
        _outputs = new ValueState?[node.Outputs.Length];
    }

    public OnnxNode Node { get; }

    public int Opset { get; }

    public int Threads { get; }

    /// <summary>Data derived from constant inputs (packed weights), shared by all plans of the session.</summary>
    public ConstantCache Constants { get; }

    /// <summary>Number of input slots of the node, including omitted optional ones.</summary>
    public int InputCount => _inputs.Length;

    public int OutputCount => _outputs.Length;

    /// <summary>
    /// Largest value (bytes) materialised while planning (folded constants, ConstantOfShape, Range).
    /// Bounds what a hostile model can make the planner allocate before any input arrives.
    /// </summary>
    public const long MaxPlanTimeConstantBytes = 256L << 20;

    internal long ScratchBytes { get; private set; }

    /// <summary>The limits of the plan being built (output and plan-time memory), checked before a constant is made.</summary>
    internal PlanBudget? Budget { get; init; }

    internal ValueState?[] Outputs => _outputs;

    public bool HasInput(int i) => i < _inputs.Length && _inputs[i] is not null;

    /// <summary>True when output i exists and some later node or the graph uses it.</summary>
    public bool HasOutput(int i) => i < _outputs.Length && Node.Outputs[i].Length > 0;

    public ValueState Input(int i) => i < _inputs.Length && _inputs[i] is { } v
        ? v
        : throw ModelException.ForNode(Node, $"input {i} is required but missing");

    public DataType InputType(int i) => Input(i).Type;

    public int[] InputShape(int i) => Input(i).Shape;

    /// <summary>The input's value when known at plan time (initializer or folded), else null.</summary>
    public Tensor? Constant(int i) => HasInput(i) ? _inputs[i]!.Constant : null;

    /// <summary>The input's value, which this op needs at plan time (e.g. Reshape's shape).</summary>
    public Tensor RequireConstant(int i, string what)
    {
        if (Constant(i) is { } value)
        {
            return value;
        }
        MissingConstant = HasInput(i) ? Node.Inputs[i] : null;
        throw ModelException.Unsupported(Node, $"{what} (input {i}, '{Node.Inputs[i]}') must be known before running (a constant, computed from shapes, or from small integer graph inputs); data-dependent shapes are not supported");
    }

    /// <summary>The value whose data a kernel needed at plan time but was not constant.</summary>
    internal string? MissingConstant { get; private set; }

    /// <summary>Throws unless input i has one of the given element types.</summary>
    public DataType ExpectType(int i, params ReadOnlySpan<DataType> allowed)
    {
        var t = InputType(i);
        foreach (var a in allowed)
        {
            if (a == t)
            {
                return t;
            }
        }
        var names = new string[allowed.Length];
        for (int k = 0; k < allowed.Length; k++)
        {
            names[k] = DataTypes.Name(allowed[k]);
        }
        throw ModelException.Unsupported(Node, $"input {i} ('{Node.Inputs[i]}') has element type {DataTypes.Name(t)}; supported: {string.Join(", ", names)}");
    }

    public void SetOutput(int i, DataType type, int[] shape)
    {
        foreach (int d in shape)
        {
            if (d < 0)
            {
                throw ModelException.ForNode(Node, $"output {i} would have a negative dimension {ErrorText.Shape(shape)}");
            }
        }
        long count;
        try
        {
            count = Tensor.ElementCount(shape);
        }
        catch (TensorFormatException ex)
        {
            throw ModelException.ForNode(Node, $"output {i}: {ex.Message}");
        }
        _ = count;
        _outputs[i] = new ValueState(Node.Outputs[i], type, shape);
    }

    /// <summary>Declares output i as a plan-time constant (Shape, or anything computed from shapes only).</summary>
    public void SetOutputConstant(int i, Tensor value)
    {
        _outputs[i] = new ValueState(Node.Outputs[i], value.Type, value.ShapeArray(), value);
    }

    /// <summary>Throws unless a plan-time constant of this many elements stays within <see cref="MaxPlanTimeConstantBytes"/>.</summary>
    public void CheckConstantSize(DataType type, long elements)
    {
        if (elements * DataTypes.SizeOf(type) > MaxPlanTimeConstantBytes)
        {
            throw ModelException.ForNode(Node, $"would build a {DataTypes.Name(type)} constant of {elements} elements while planning; the limit is {MaxPlanTimeConstantBytes >> 20} MiB");
        }
        Budget?.BeforeConstant(Node, elements * DataTypes.SizeOf(type));
    }

    /// <summary>Asks for scratch memory available in <see cref="ExecContext.Scratch"/> (shared by all kernels, not kept between calls).</summary>
    public void RequestScratch(long bytes)
    {
        ScratchBytes = Math.Max(ScratchBytes, bytes);
    }
}
