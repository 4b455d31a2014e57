using System.Runtime.InteropServices;

namespace Prova.Runtime.Ops.Linear;

/// <summary>A constant B operand packed once at plan time into the GEMM's panel layout (pinned for the plan's life).</summary>
internal sealed unsafe class PackedMatrix
{
    private readonly float[] _data;

    public PackedMatrix(float* b, int k, int n, nint strideK, nint strideN)
    {
        K = k;
        N = n;
        _data = GC.AllocateArray<float>((int)Math.Max(1, Sgemm.PackedLength(k, n)), pinned: true);
        Ptr = (float*)Marshal.UnsafeAddrOfPinnedArrayElement(_data, 0);
        Sgemm.Pack(b, k, n, strideK, strideN, Ptr);
    }

    public int K { get; }

    public int N { get; }

    public float* Ptr { get; }

    public PanelSource Source => new() { Ptr = Ptr, PanelStride = (nint)Math.Max(K, 1) * Sgemm.Nr, Ldb = Sgemm.Nr };

    /// <summary>Packs a pinned/constant float tensor's matrix starting at element <paramref name="offset"/>.</summary>
    public static PackedMatrix FromArray(float[] data, long offset, int k, int n, nint strideK, nint strideN)
    {
        fixed (float* p = data)
        {
            return new PackedMatrix(p + offset, k, n, strideK, strideN);
        }
    }
}

internal static class Shapes
{
    public static string Format(ReadOnlySpan<int> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";
}
