using Prova.Core;
using Prova.Onnx;

namespace Prova.Runtime.Ops.Elementwise;

/// <summary>
/// ONNX multidirectional broadcasting (numpy rules) reduced to its simplest loop nest: size-1 output
/// dims dropped and adjacent dims merged while every input stays either contiguous or broadcast
/// across them. The innermost dim then has stride 1 or 0 for every input, which gives the fast paths
/// (same shape, scalar, row/bias [N,C]+[C], channel [N,C,H,W]+[C,1,1]) without special cases.
/// </summary>
internal sealed class BroadcastLayout
{
    private BroadcastLayout(int[] dims, int[][] strides, long count)
    {
        Dims = dims;
        Strides = strides;
        Count = count;
        Inner = dims[^1];
        Rows = count == 0 ? 0 : count / Inner;
    }

    /// <summary>Collapsed output dims, outermost first (at least one).</summary>
    public int[] Dims { get; }

    /// <summary>Per input, its element stride along each collapsed dim (0 = broadcast).</summary>
    public int[][] Strides { get; }

    public long Count { get; }

    public int Inner { get; }

    public long Rows { get; }

    public int InnerStride(int input) => Strides[input][^1];

    public int Rank => Dims.Length;

    /// <summary>The broadcast of the given shapes, or a ModelException naming the node.</summary>
    public static int[] Shape(OnnxNode node, params ReadOnlySpan<int[]> shapes)
    {
        int rank = 0;
        foreach (var s in shapes)
        {
            rank = System.Math.Max(rank, s.Length);
        }
        var result = new int[rank];
        result.AsSpan().Fill(1);
        foreach (var s in shapes)
        {
            for (int i = 0; i < s.Length; i++)
            {
                int r = rank - s.Length + i;
                int d = s[i];
                if (d == result[r] || d == 1)
                {
                    continue;
                }
                if (result[r] == 1)
                {
                    result[r] = d;
                    continue;
                }
                var parts = new string[shapes.Length];
                for (int k = 0; k < shapes.Length; k++)
                {
                    parts[k] = ErrorText.Shape(shapes[k]);
                }
                throw ModelException.ForNode(node, $"input shapes {string.Join(" and ", parts)} cannot be broadcast together (dimension {r}: {result[r]} vs {d})");
            }
        }
        return result;
    }

    /// <summary>Layout of inputs broadcast to <paramref name="output"/> (each input must broadcast to it).</summary>
    public static BroadcastLayout Create(int[] output, params ReadOnlySpan<int[]> inputs)
    {
        int rank = output.Length;
        long count = 1;
        foreach (int d in output)
        {
            count *= d;
        }
        // Full-rank strides per input, with size-1 output dims dropped.
        var dims = new List<int>();
        var strides = new List<int>[inputs.Length];
        for (int k = 0; k < inputs.Length; k++)
        {
            strides[k] = [];
        }
        var full = new int[inputs.Length][];
        for (int k = 0; k < inputs.Length; k++)
        {
            var s = inputs[k];
            full[k] = new int[rank];
            int stride = 1;
            for (int i = s.Length - 1; i >= 0; i--)
            {
                int r = rank - s.Length + i;
                full[k][r] = s[i] == 1 ? 0 : stride;
                stride *= s[i];
            }
        }
        for (int r = 0; r < rank; r++)
        {
            if (output[r] == 1)
            {
                continue;
            }
            dims.Add(output[r]);
            for (int k = 0; k < inputs.Length; k++)
            {
                strides[k].Add(full[k][r]);
            }
        }
        if (dims.Count == 0)
        {
            dims.Add(1);
            foreach (var s in strides)
            {
                s.Add(0);
            }
        }
        // Merge from the inside out.
        for (int j = dims.Count - 2; j >= 0; j--)
        {
            bool merge = true;
            for (int k = 0; k < inputs.Length && merge; k++)
            {
                int outer = strides[k][j];
                int inner = strides[k][j + 1];
                merge = (outer == 0 && inner == 0) || (inner != 0 && outer == inner * dims[j + 1]);
            }
            if (merge)
            {
                dims[j] *= dims[j + 1];
                dims.RemoveAt(j + 1);
                foreach (var s in strides)
                {
                    s[j] = s[j + 1];
                    s.RemoveAt(j + 1);
                }
            }
        }
        var strideArrays = new int[inputs.Length][];
        for (int k = 0; k < inputs.Length; k++)
        {
            strideArrays[k] = strides[k].ToArray();
        }
        return new BroadcastLayout(dims.ToArray(), strideArrays, count);
    }

    /// <summary>Input offsets of the first element of <paramref name="row"/> (an index over all dims but the innermost).</summary>
    public void Seek(long row, Span<int> coord, Span<nint> offsets)
    {
        offsets.Clear();
        for (int d = Dims.Length - 2; d >= 0; d--)
        {
            int c = (int)(row % Dims[d]);
            row /= Dims[d];
            coord[d] = c;
            for (int k = 0; k < offsets.Length; k++)
            {
                offsets[k] += (nint)c * Strides[k][d];
            }
        }
    }

    /// <summary>Advances to the next row (odometer over the outer dims).</summary>
    public void Next(Span<int> coord, Span<nint> offsets)
    {
        for (int d = Dims.Length - 2; d >= 0; d--)
        {
            coord[d]++;
            for (int k = 0; k < offsets.Length; k++)
            {
                offsets[k] += Strides[k][d];
            }
            if (coord[d] < Dims[d])
            {
                return;
            }
            for (int k = 0; k < offsets.Length; k++)
            {
                offsets[k] -= (nint)Dims[d] * Strides[k][d];
            }
            coord[d] = 0;
        }
    }
}

/// <summary>
/// Base of broadcasting kernels: plans the layout at Infer time and splits the work (rows, or the
/// elements of a single row) over the pool only when there are at least <see cref="Grain"/> elements.
/// Each element is computed the same way whichever thread runs it.
/// </summary>
internal abstract unsafe class BroadcastKernel : Kernel, IRangeBody
{
    public const int Grain = 32768;

    protected BroadcastKernel(OnnxNode node) : base(node)
    {
    }

    protected BroadcastLayout Layout { get; private set; } = null!;

    /// <summary>Sets up the layout; returns the output shape.</summary>
    protected int[] Plan(int[] output, params ReadOnlySpan<int[]> inputs)
    {
        Layout = BroadcastLayout.Create(output, inputs);
        return output;
    }

    /// <summary>Runs <see cref="Inner"/> over all elements, in parallel when big enough.</summary>
    protected void Run(ExecContext ctx)
    {
        var layout = Layout;
        if (layout.Count == 0)
        {
            return;
        }
        bool parallel = ctx.Pool.Threads > 1 && layout.Count >= 2 * Grain;
        if (layout.Rows == 1)
        {
            if (parallel)
            {
                ctx.Pool.For(layout.Inner, this, Grain);
            }
            else
            {
                Execute(0, layout.Inner);
            }
            return;
        }
        if (parallel)
        {
            ctx.Pool.For((int)layout.Rows, this, System.Math.Max(1, Grain / layout.Inner));
        }
        else
        {
            Execute(0, (int)layout.Rows);
        }
    }

    void IRangeBody.Execute(int begin, int end) => Execute(begin, end);

    private void Execute(int begin, int end)
    {
        var layout = Layout;
        int inputs = layout.Strides.Length;
        Span<nint> offsets = stackalloc nint[inputs];
        if (layout.Rows == 1)
        {
            for (int k = 0; k < inputs; k++)
            {
                offsets[k] = (nint)begin * layout.InnerStride(k);
            }
            Inner(offsets, begin, end - begin);
            return;
        }
        Span<int> coord = stackalloc int[layout.Rank];
        layout.Seek(begin, coord, offsets);
        for (int row = begin; row < end; row++)
        {
            Inner(offsets, (nint)row * layout.Inner, layout.Inner);
            layout.Next(coord, offsets);
        }
    }

    /// <summary>Computes <paramref name="count"/> contiguous outputs from output offset <paramref name="output"/>; input k starts at offsets[k] and advances by its inner stride (0 or 1).</summary>
    protected abstract void Inner(ReadOnlySpan<nint> offsets, nint output, nint count);
}
