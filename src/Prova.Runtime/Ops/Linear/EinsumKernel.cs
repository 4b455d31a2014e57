using System.Numerics;
using Prova.Core;
using Prova.Onnx;
using static Prova.Runtime.Ops.Shape.ShapeHelpers;

namespace Prova.Runtime.Ops.Linear;

/// <summary>
/// ONNX Einsum-12 (float32, float64), any equation: explicit ("ij,jk->ik") or implicit output, ellipsis,
/// repeated labels within one operand (diagonals), size-1 broadcasting of ellipsis dims.
/// Each output element is one chain over the summed labels, taken in the order of their first
/// appearance in the equation, the last label fastest: with one operand acc = acc + x; with two,
/// acc = fma(a, b, acc) (the MatMul formula when the equation is a matrix product); with more,
/// acc = fma(x0·x1·…·x(n-2), x(n-1), acc), the product taken left to right. acc starts at 0.
/// Threads split output elements only.
/// </summary>
internal sealed unsafe class EinsumKernel<T> : Kernel, IRangeBody where T : unmanaged, IFloatingPointIeee754<T>
{
    private const int MaxLabels = 52 + 16;

    private readonly string _equation;
    private int _operands;
    private int[] _outSizes = [];
    private int[] _sumSizes = [];
    // Element strides of each operand per output label and per summed label ([operand][label]).
    private long[][] _outStrides = [];
    private long[][] _sumStrides = [];
    private long _sumCount;
    private T*[] _inputs = [];
    private T* _y;

    public EinsumKernel(OnnxNode node) : base(node)
    {
        _equation = node.GetString("equation", "").Replace(" ", "", StringComparison.Ordinal);
        if (_equation.Length == 0)
        {
            throw ModelException.ForNode(node, "attribute 'equation' is required");
        }
    }

    public override void Infer(InferContext ctx)
    {
        _operands = ctx.InputCount;
        int arrow = _equation.IndexOf("->", StringComparison.Ordinal);
        var lhs = arrow >= 0 ? _equation[..arrow] : _equation;
        var terms = lhs.Split(',');
        if (terms.Length != _operands)
        {
            throw ModelException.ForNode(Node, $"equation '{_equation}' names {terms.Length} operands but the node has {_operands} inputs");
        }
        // Labels: letters map to 0..51; ellipsis dims to 52.. (aligned to the right, numpy-style).
        var labels = new int[_operands][];
        int ellipsisRank = 0;
        var parsed = new (List<int> Before, List<int> After, bool Ellipsis)[_operands];
        for (int t = 0; t < _operands; t++)
        {
            ctx.ExpectType(t, DataTypes.Of<T>());
            parsed[t] = ParseTerm(terms[t]);
            int explicitDims = parsed[t].Before.Count + parsed[t].After.Count;
            int rank = ctx.InputShape(t).Length;
            if (parsed[t].Ellipsis ? rank < explicitDims : rank != explicitDims)
            {
                throw ModelException.ForNode(Node, $"term '{terms[t]}' of '{_equation}' does not fit input {t} of shape {Fmt(ctx.InputShape(t))}");
            }
            if (parsed[t].Ellipsis)
            {
                ellipsisRank = Math.Max(ellipsisRank, rank - explicitDims);
            }
        }
        if (ellipsisRank > MaxLabels - 52)
        {
            throw ModelException.Unsupported(Node, $"an ellipsis of {ellipsisRank} dims");
        }
        var size = new int[MaxLabels];
        Array.Fill(size, -1);
        var firstSeen = new List<int>();
        var count = new int[MaxLabels];
        for (int t = 0; t < _operands; t++)
        {
            var shape = ctx.InputShape(t);
            var (before, after, ellipsis) = parsed[t];
            int e = ellipsis ? shape.Length - before.Count - after.Count : 0;
            var l = new List<int>(before);
            for (int d = 0; d < e; d++)
            {
                l.Add(52 + ellipsisRank - e + d);
            }
            l.AddRange(after);
            labels[t] = [.. l];
            var seenHere = new HashSet<int>();
            for (int d = 0; d < shape.Length; d++)
            {
                int label = labels[t][d];
                if (!firstSeen.Contains(label))
                {
                    firstSeen.Add(label);
                }
                if (seenHere.Add(label))
                {
                    count[label]++;
                }
                int dim = shape[d];
                if (size[label] < 0 || (label >= 52 && size[label] == 1))
                {
                    size[label] = dim;
                }
                else if (dim != size[label] && !(label >= 52 && dim == 1))
                {
                    throw ModelException.ForNode(Node, $"label '{LabelName(label)}' of '{_equation}' has size {dim} in input {t} and {size[label]} elsewhere");
                }
            }
        }
        // Output labels.
        var outLabels = new List<int>();
        if (arrow >= 0)
        {
            var (before, after, ellipsis) = ParseTerm(_equation[(arrow + 2)..]);
            outLabels.AddRange(before);
            if (ellipsis)
            {
                for (int d = 0; d < ellipsisRank; d++)
                {
                    outLabels.Add(52 + d);
                }
            }
            outLabels.AddRange(after);
            foreach (int label in outLabels)
            {
                if (size[label] < 0)
                {
                    throw ModelException.ForNode(Node, $"output label '{LabelName(label)}' of '{_equation}' appears in no input");
                }
                if (outLabels.FindAll(x => x == label).Count > 1)
                {
                    throw ModelException.ForNode(Node, $"output label '{LabelName(label)}' of '{_equation}' appears twice");
                }
            }
        }
        else
        {
            for (int d = 0; d < ellipsisRank; d++)
            {
                outLabels.Add(52 + d);
            }
            for (int label = 0; label < 52; label++)
            {
                if (count[label] == 1 && CountInTerms(labels, label) == 1)
                {
                    outLabels.Add(label);
                }
            }
        }
        var sumLabels = firstSeen.FindAll(label => !outLabels.Contains(label));
        _outSizes = outLabels.ConvertAll(label => size[label]).ToArray();
        _sumSizes = sumLabels.ConvertAll(label => size[label]).ToArray();
        _sumCount = 1;
        foreach (int s in _sumSizes)
        {
            _sumCount *= s;
        }
        _outStrides = new long[_operands][];
        _sumStrides = new long[_operands][];
        for (int t = 0; t < _operands; t++)
        {
            var shape = ctx.InputShape(t);
            var strides = Strides(shape);
            long StrideOf(int label)
            {
                long s = 0;
                for (int d = 0; d < shape.Length; d++)
                {
                    if (labels[t][d] == label && shape[d] != 1)
                    {
                        s += strides[d];
                    }
                }
                return s;
            }
            _outStrides[t] = outLabels.ConvertAll(StrideOf).ToArray();
            _sumStrides[t] = sumLabels.ConvertAll(StrideOf).ToArray();
        }
        _inputs = new T*[_operands];
        ctx.SetOutput(0, DataTypes.Of<T>(), (int[])_outSizes.Clone());
    }

    private static int CountInTerms(int[][] labels, int label)
    {
        int n = 0;
        foreach (var term in labels)
        {
            foreach (int l in term)
            {
                n += l == label ? 1 : 0;
            }
        }
        return n;
    }

    private static string LabelName(int label) => label < 26 ? ((char)('a' + label)).ToString() : label < 52 ? ((char)('A' + label - 26)).ToString() : "...";

    private (List<int> Before, List<int> After, bool Ellipsis) ParseTerm(string term)
    {
        var before = new List<int>();
        var after = new List<int>();
        bool ellipsis = false;
        for (int i = 0; i < term.Length; i++)
        {
            char c = term[i];
            if (c == '.')
            {
                if (ellipsis || i + 2 >= term.Length || term[i + 1] != '.' || term[i + 2] != '.')
                {
                    throw ModelException.ForNode(Node, $"equation '{_equation}' has a malformed ellipsis");
                }
                ellipsis = true;
                i += 2;
                continue;
            }
            int label = c is >= 'a' and <= 'z' ? c - 'a' : c is >= 'A' and <= 'Z' ? 26 + c - 'A' : -1;
            if (label < 0)
            {
                throw ModelException.ForNode(Node, $"equation '{_equation}' has the character '{c}'; labels are letters");
            }
            (ellipsis ? after : before).Add(label);
        }
        return (before, after, ellipsis);
    }

    public override void Execute(ExecContext ctx)
    {
        for (int t = 0; t < _operands; t++)
        {
            _inputs[t] = ctx.In<T>(t);
        }
        _y = ctx.Out<T>(0);
        long total = 1;
        foreach (int s in _outSizes)
        {
            total *= s;
        }
        if (total == 0)
        {
            return;
        }
        if (ctx.Pool.Threads > 1 && total * _sumCount >= 1 << 15 && total > 1)
        {
            ctx.Pool.For(checked((int)total), this, (int)Math.Max(1, (1 << 14) / Math.Max(1, _sumCount)));
        }
        else
        {
            Execute(0, (int)total);
        }
    }

    public void Execute(int begin, int end)
    {
        int outRank = _outSizes.Length;
        int sumRank = _sumSizes.Length;
        int n = _operands;
        long* baseOffset = stackalloc long[n];
        long* offset = stackalloc long[n];
        int* sumIndex = stackalloc int[Math.Max(1, sumRank)];
        for (int e = begin; e < end; e++)
        {
            // Offsets of output element e in every operand.
            long rest = e;
            for (int t = 0; t < n; t++)
            {
                baseOffset[t] = 0;
            }
            for (int d = outRank - 1; d >= 0; d--)
            {
                long i = rest % _outSizes[d];
                rest /= _outSizes[d];
                for (int t = 0; t < n; t++)
                {
                    baseOffset[t] += i * _outStrides[t][d];
                }
            }
            for (int t = 0; t < n; t++)
            {
                offset[t] = baseOffset[t];
            }
            for (int d = 0; d < sumRank; d++)
            {
                sumIndex[d] = 0;
            }
            T acc = T.Zero;
            for (long s = 0; s < _sumCount; s++)
            {
                if (n == 1)
                {
                    acc += _inputs[0][offset[0]];
                }
                else
                {
                    T p = _inputs[0][offset[0]];
                    for (int t = 1; t < n - 1; t++)
                    {
                        p *= _inputs[t][offset[t]];
                    }
                    acc = T.FusedMultiplyAdd(p, _inputs[n - 1][offset[n - 1]], acc);
                }
                // Odometer over the summed labels, the last fastest.
                for (int d = sumRank - 1; d >= 0; d--)
                {
                    for (int t = 0; t < n; t++)
                    {
                        offset[t] += _sumStrides[t][d];
                    }
                    if (++sumIndex[d] < _sumSizes[d])
                    {
                        break;
                    }
                    for (int t = 0; t < n; t++)
                    {
                        offset[t] -= _sumStrides[t][d] * _sumSizes[d];
                    }
                    sumIndex[d] = 0;
                }
            }
            _y[e] = acc;
        }
    }
}
