using System.Runtime.Intrinsics;
using Prova.Runtime.Ops.Linear;

namespace Prova.Runtime.Tests.Linear;

/// <summary>The AVX-512 16×16 block transpose the direct convolution stores its tiles with.</summary>
public sealed unsafe class Transpose512Tests
{
    [Theory]
    [InlineData(16, 16)]
    [InlineData(11, 16)]
    [InlineData(16, 6)]
    [InlineData(1, 1)]
    [InlineData(10, 13)]
    public void WritesExactlyTheTransposedBlock(int rows, int columns)
    {
        if (!Vector512.IsHardwareAccelerated)
        {
            return; // the kernel is only used with AVX-512
        }
        const int SrcStride = 32, DstStride = 20;
        var src = new float[16 * SrcStride];
        for (int i = 0; i < src.Length; i++)
        {
            src[i] = i + 0.5f;
        }
        var dst = new float[16 * DstStride];
        Array.Fill(dst, -7f);
        fixed (float* s = src)
        fixed (float* d = dst)
        {
            Transpose512.Block16(s + 3, SrcStride, rows, d + 1, DstStride, columns);
        }
        for (int j = 0; j < 16; j++)
        {
            for (int c = 0; c < DstStride; c++)
            {
                int i = c - 1;
                float expected = j < columns && i >= 0 && i < rows ? src[i * SrcStride + 3 + j] : -7f;
                Assert.True(expected == dst[j * DstStride + c], $"dst[{j}, {c}] = {dst[j * DstStride + c]}, expected {expected}");
            }
        }
    }
}
