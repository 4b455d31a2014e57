using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Prova.Runtime.Ops.Linear;

/// <summary>
/// Which vector width the linear-algebra kernels use. Every width computes the same IEEE operations
/// per output element (vectorisation is across outputs only), so this choice changes speed, never bits.
/// </summary>
internal static class SimdLevel
{
    /// <summary>
    /// Upper bound on the vector width in bits (512, 256, 128 or 0 for scalar). Tests lower it to
    /// prove that narrower paths produce identical bytes.
    /// </summary>
    internal static volatile int MaxVectorBits = 512;

    private static readonly int s_hardwareBits = Detect();

    /// <summary>The width to use now: the widest the hardware supports with fused multiply-add, capped by <see cref="MaxVectorBits"/>.</summary>
    public static int Bits
    {
        get
        {
            int cap = MaxVectorBits;
            int hw = s_hardwareBits;
            if (hw <= cap)
            {
                return hw;
            }
            return cap >= 256 && hw >= 256 ? 256 : cap >= 128 && hw >= 128 ? 128 : 0;
        }
    }

    private static int Detect()
    {
        if (Vector512.IsHardwareAccelerated && Avx512F.IsSupported && Fma.IsSupported)
        {
            return 512;
        }
        if (Vector256.IsHardwareAccelerated && Fma.IsSupported)
        {
            return 256;
        }
        if (Vector128.IsHardwareAccelerated && (Fma.IsSupported || AdvSimd.IsSupported))
        {
            return 128;
        }
        return 0;
    }
}
