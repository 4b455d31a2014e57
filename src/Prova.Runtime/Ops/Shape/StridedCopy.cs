namespace Prova.Runtime.Ops.Shape;

/// <summary>
/// Copies a strided view of a source buffer into a dense row-major destination: output element
/// at index (i0, ..., in) comes from source element offset + Σ ik·stride[k]. Strides may be zero
/// (broadcast, Expand, Tile) or negative (Slice with negative steps). Built once at plan time:
/// size-1 dims are dropped and dims that are contiguous in the source are merged, so that
/// Transpose [0,2,1,3] becomes memcpy runs and [0,2,3,1] or 2-D transposes become batched,
/// cache-blocked 2-D transposes. Pure data movement, so any partition gives the same bytes.
/// </summary>
internal sealed unsafe class StridedCopy : IRangeBody
{
    private const int Block = 8;
    private const long ParallelBytes = 1 << 20;

    private enum Mode
    {
        Contiguous,
        Strided,
        Transpose2D,
    }

    private readonly int _size;
    private readonly int[] _outer; // dims walked row by row
    private readonly long[] _outerStrides;
    private readonly long _offset;
    private readonly Mode _mode;
    private readonly int _rows;
    private readonly long _rowBytes;
    private readonly int _n; // inner length (elements)
    private readonly long _stride; // inner source stride (Strided) or column stride (Transpose2D)
    private readonly int _m; // Transpose2D: output rows (source stride 1)
    private readonly long _totalBytes;
    private byte* _src;
    private byte* _dst;

    public StridedCopy(int elementSize, ReadOnlySpan<int> outShape, ReadOnlySpan<long> srcStrides, long srcOffset)
    {
        _size = elementSize;
        _offset = srcOffset;
        var dims = new List<int>();
        var strides = new List<long>();
        long total = 1;
        for (int d = 0; d < outShape.Length; d++)
        {
            total *= outShape[d];
            if (outShape[d] == 1)
            {
                continue;
            }
            if (dims.Count > 0 && strides[^1] == srcStrides[d] * outShape[d])
            {
                dims[^1] *= outShape[d];
                strides[^1] = srcStrides[d];
                continue;
            }
            dims.Add(outShape[d]);
            strides.Add(srcStrides[d]);
        }
        _totalBytes = total * elementSize;
        if (total == 0)
        {
            dims.Clear();
            strides.Clear();
            dims.Add(0);
            strides.Add(1);
        }
        if (dims.Count == 0)
        {
            dims.Add(1);
            strides.Add(1);
        }
        int inner = 1;
        if (strides[^1] == 1)
        {
            _mode = Mode.Contiguous;
        }
        else if (dims.Count >= 2 && strides[^2] == 1)
        {
            _mode = Mode.Transpose2D;
            inner = 2;
            _m = dims[^2];
        }
        else
        {
            _mode = Mode.Strided;
        }
        _n = dims[^1];
        _stride = strides[^1];
        _outer = dims.GetRange(0, dims.Count - inner).ToArray();
        _outerStrides = strides.GetRange(0, strides.Count - inner).ToArray();
        long rows = 1;
        foreach (int d in _outer)
        {
            rows *= d;
        }
        _rows = checked((int)rows);
        _rowBytes = (long)_n * (_mode == Mode.Transpose2D ? _m : 1) * elementSize;
    }

    public void Run(WorkerPool pool, byte* src, byte* dst)
    {
        if (_totalBytes == 0)
        {
            return;
        }
        _src = src;
        _dst = dst;
        if (pool.Threads > 1 && _totalBytes >= ParallelBytes && _rows > 1)
        {
            int grain = (int)Math.Max(1, _rows * (ParallelBytes / 4) / _totalBytes);
            pool.For(_rows, this, grain);
        }
        else
        {
            Execute(0, _rows);
        }
        _src = null;
        _dst = null;
    }

    public void Execute(int begin, int end)
    {
        int rank = _outer.Length;
        Span<int> idx = stackalloc int[Math.Max(rank, 1)];
        long rem = begin;
        long off = _offset;
        for (int d = rank - 1; d >= 0; d--)
        {
            idx[d] = (int)(rem % _outer[d]);
            rem /= _outer[d];
            off += idx[d] * _outerStrides[d];
        }
        byte* dst = _dst + begin * _rowBytes;
        for (int r = begin; r < end; r++)
        {
            byte* src = _src + off * _size;
            switch (_mode)
            {
                case Mode.Contiguous:
                    Buffer.MemoryCopy(src, dst, _rowBytes, _rowBytes);
                    break;
                case Mode.Strided:
                    CopyStrided(src, dst);
                    break;
                default:
                    CopyTransposed(src, dst);
                    break;
            }
            dst += _rowBytes;
            for (int d = rank - 1; d >= 0; d--)
            {
                off += _outerStrides[d];
                if (++idx[d] < _outer[d])
                {
                    break;
                }
                off -= _outerStrides[d] * _outer[d];
                idx[d] = 0;
            }
        }
    }

    private void CopyStrided(byte* src, byte* dst)
    {
        switch (_size)
        {
            case 1:
                Gather((byte*)src, (byte*)dst, _n, _stride);
                break;
            case 2:
                Gather((ushort*)src, (ushort*)dst, _n, _stride);
                break;
            case 4:
                Gather((uint*)src, (uint*)dst, _n, _stride);
                break;
            case 8:
                Gather((ulong*)src, (ulong*)dst, _n, _stride);
                break;
            default:
                for (int j = 0; j < _n; j++)
                {
                    Buffer.MemoryCopy(src + j * _stride * _size, dst + (long)j * _size, _size, _size);
                }
                break;
        }
    }

    private static void Gather<T>(T* src, T* dst, int n, long stride) where T : unmanaged
    {
        if (stride == 0)
        {
            new Span<T>(dst, n).Fill(*src);
            return;
        }
        for (int j = 0; j < n; j++)
        {
            dst[j] = src[j * stride];
        }
    }

    private void CopyTransposed(byte* src, byte* dst)
    {
        switch (_size)
        {
            case 1:
                Transpose((byte*)src, (byte*)dst, _m, _n, _stride);
                break;
            case 2:
                Transpose((ushort*)src, (ushort*)dst, _m, _n, _stride);
                break;
            case 4:
                Transpose((uint*)src, (uint*)dst, _m, _n, _stride);
                break;
            case 8:
                Transpose((ulong*)src, (ulong*)dst, _m, _n, _stride);
                break;
            default:
                for (int i = 0; i < _m; i++)
                {
                    for (int j = 0; j < _n; j++)
                    {
                        Buffer.MemoryCopy(src + (i + j * _stride) * _size, dst + ((long)i * _n + j) * _size, _size, _size);
                    }
                }
                break;
        }
    }

    /// <summary>dst[i, j] = src[i + j·stride] for an m×n destination, in cache-sized blocks.</summary>
    private static void Transpose<T>(T* src, T* dst, int m, int n, long stride) where T : unmanaged
    {
        for (int i0 = 0; i0 < m; i0 += Block)
        {
            int i1 = Math.Min(m, i0 + Block);
            for (int j0 = 0; j0 < n; j0 += Block)
            {
                int j1 = Math.Min(n, j0 + Block);
                for (int i = i0; i < i1; i++)
                {
                    T* s = src + i;
                    T* d = dst + (long)i * n;
                    for (int j = j0; j < j1; j++)
                    {
                        d[j] = s[j * stride];
                    }
                }
            }
        }
    }
}
