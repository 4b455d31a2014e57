using System.Numerics;
using Prova.Core;
using Prova.Onnx;
using static Prova.Runtime.Ops.Shape.ShapeHelpers;

namespace Prova.Runtime.Ops.Reduce;

/// <summary>
/// ONNX TopK-11 (float32, int32, int64): the k largest (largest = 1) or smallest elements along the
/// axis and their int64 indices, always in order (best first) whatever <c>sorted</c> says, since
/// an unsorted order is implementation-defined. Order is total: by value, ties broken by the lower
/// index (as the spec requires), NaN above every number (first for largest, last for smallest).
/// K (input 1) must be known at plan time: it sets the output shape. Small k keeps a bounded heap
/// of k candidates; large k sorts the slice. Both pick the same elements because the order is total.
/// </summary>
internal sealed unsafe class TopKKernel<T> : Kernel where T : unmanaged, INumber<T>
{
    private readonly bool _largest;
    private int _outer;
    private int _length;
    private int _inner;
    private int _k;

    public TopKKernel(OnnxNode node, int opset) : base(node)
    {
        _largest = node.GetInt("largest", 1) != 0;
        if (opset < 10)
        {
            _k = checked((int)node.GetInt("k", -1));
        }
    }

    public override void Infer(InferContext ctx)
    {
        var shape = ctx.InputShape(0);
        int axis = Axis(Node, Node.GetInt("axis", -1), shape.Length);
        if (ctx.HasInput(1))
        {
            ctx.ExpectType(1, DataType.Int64);
            var k = ReadInts(Node, ctx.RequireConstant(1, "K"), "K");
            if (k.Length != 1)
            {
                throw ModelException.ForNode(Node, $"K must have one element but has {k.Length}");
            }
            _k = k[0] is >= 0 and <= int.MaxValue ? (int)k[0] : -1;
        }
        if (_k < 0 || _k > shape[axis])
        {
            throw ModelException.ForNode(Node, $"K = {_k} is outside [0, {shape[axis]}] (the length of axis {axis} of {Fmt(shape)})");
        }
        _outer = (int)Product(shape, 0, axis);
        _length = shape[axis];
        _inner = (int)Product(shape, axis + 1);
        var outShape = (int[])shape.Clone();
        outShape[axis] = _k;
        ctx.SetOutput(0, ctx.InputType(0), outShape);
        if (ctx.HasOutput(1))
        {
            ctx.SetOutput(1, DataType.Int64, (int[])outShape.Clone());
        }
        // Candidate (index) buffer: k for the heap path, the whole slice for the sort path.
        ctx.RequestScratch((long)Math.Max(_length, 1) * sizeof(int) + 64);
    }

    /// <summary>True when element (a, ia) goes before (b, ib) in the output.</summary>
    private bool Before(T a, int ia, T b, int ib)
    {
        bool an = T.IsNaN(a);
        bool bn = T.IsNaN(b);
        if (an || bn)
        {
            return an && bn ? ia < ib : an == _largest;
        }
        if (a != b)
        {
            return _largest ? a > b : a < b;
        }
        return ia < ib;
    }

    public override void Execute(ExecContext ctx)
    {
        T* x = ctx.In<T>(0);
        T* values = ctx.Out<T>(0);
        long* indices = ctx.HasOutput(1) ? ctx.Out<long>(1) : null;
        int* candidates = (int*)ctx.Scratch;
        int k = _k;
        for (int o = 0; o < _outer; o++)
        {
            for (int i = 0; i < _inner; i++)
            {
                T* slice = x + (long)o * _length * _inner + i;
                if (k == 0)
                {
                    continue;
                }
                if ((long)k * 8 <= _length)
                {
                    SelectWithHeap(slice, candidates, k);
                }
                else
                {
                    for (int j = 0; j < _length; j++)
                    {
                        candidates[j] = j;
                    }
                    Sort(slice, candidates, _length);
                }
                long outBase = (long)o * k * _inner + i;
                for (int j = 0; j < k; j++)
                {
                    values[outBase + (long)j * _inner] = slice[(long)candidates[j] * _inner];
                    if (indices is not null)
                    {
                        indices[outBase + (long)j * _inner] = candidates[j];
                    }
                }
            }
        }
    }

    /// <summary>Keeps the best k in a heap whose root is the worst of them, then sorts those k.</summary>
    private void SelectWithHeap(T* slice, int* heap, int k)
    {
        int s = _inner;
        for (int j = 0; j < k; j++)
        {
            heap[j] = j;
            SiftUp(slice, heap, j);
        }
        for (int j = k; j < _length; j++)
        {
            int root = heap[0];
            if (Before(slice[(long)j * s], j, slice[(long)root * s], root))
            {
                heap[0] = j;
                SiftDown(slice, heap, k);
            }
        }
        Sort(slice, heap, k);
    }

    // Heap order: a parent is never before its children (the root is the worst candidate).
    private void SiftUp(T* slice, int* heap, int pos)
    {
        int s = _inner;
        while (pos > 0)
        {
            int parent = (pos - 1) / 2;
            if (!Before(slice[(long)heap[parent] * s], heap[parent], slice[(long)heap[pos] * s], heap[pos]))
            {
                break;
            }
            (heap[parent], heap[pos]) = (heap[pos], heap[parent]);
            pos = parent;
        }
    }

    private void SiftDown(T* slice, int* heap, int count)
    {
        int s = _inner;
        int pos = 0;
        while (true)
        {
            int worst = pos;
            for (int c = 2 * pos + 1; c <= 2 * pos + 2 && c < count; c++)
            {
                if (Before(slice[(long)heap[worst] * s], heap[worst], slice[(long)heap[c] * s], heap[c]))
                {
                    worst = c;
                }
            }
            if (worst == pos)
            {
                return;
            }
            (heap[worst], heap[pos]) = (heap[pos], heap[worst]);
            pos = worst;
        }
    }

    /// <summary>Heapsort of candidate indices, best first (no allocation; the order is total so the result is unique).</summary>
    private void Sort(T* slice, int* items, int count)
    {
        for (int j = 1; j < count; j++)
        {
            SiftUp(slice, items, j);
        }
        // The root is the worst: move it to the end repeatedly.
        for (int end = count - 1; end > 0; end--)
        {
            (items[0], items[end]) = (items[end], items[0]);
            SiftDown(slice, items, end);
        }
    }
}
