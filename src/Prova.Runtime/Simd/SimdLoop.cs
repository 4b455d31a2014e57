using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Prova.Runtime.Simd;

/// <summary>
/// A float32 elementwise function written once against <see cref="ILanes{TF, TI}"/>, so the scalar
/// and every vector width run the same IEEE operations per element. Instance (not static) members
/// so that ops can carry attributes (alpha, bounds) in fields; the struct constraint keeps calls direct.
/// </summary>
internal interface IUnaryOperator
{
    TF Invoke<TF, TI, L>(TF x) where L : ILanes<TF, TI>;
}

/// <inheritdoc cref="IUnaryOperator"/>
internal interface IBinaryOperator
{
    TF Invoke<TF, TI, L>(TF a, TF b) where L : ILanes<TF, TI>;
}

/// <summary>
/// The one shared loop for float32 elementwise kernels: Vector512, then 256, then 128, then a scalar
/// remainder. Because every operator computes each lane exactly as its scalar form, where the width
/// changes (or where a thread's chunk ends) never changes a result.
/// </summary>
internal static unsafe class SimdLoop
{
    /// <summary>Widest vector the hardware accelerates (512, 256, 128), or 0 for none.</summary>
    public static readonly int HardwareBits = Vector512.IsHardwareAccelerated ? 512
        : Vector256.IsHardwareAccelerated ? 256
        : Vector128.IsHardwareAccelerated ? 128 : 0;

    /// <summary>y[i] = op(x[i]) for i in [0, n); widest vector ≤ maxBits (tests force each width).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Unary<TOp>(TOp op, float* x, float* y, nint n, int maxBits)
        where TOp : struct, IUnaryOperator
    {
        nint i = 0;
        if (maxBits >= 512)
        {
            for (; i <= n - 16; i += 16)
            {
                op.Invoke<Vector512<float>, Vector512<int>, Lanes512>(Vector512.Load(x + i)).Store(y + i);
            }
        }
        if (maxBits >= 256)
        {
            for (; i <= n - 8; i += 8)
            {
                op.Invoke<Vector256<float>, Vector256<int>, Lanes256>(Vector256.Load(x + i)).Store(y + i);
            }
        }
        if (maxBits >= 128)
        {
            for (; i <= n - 4; i += 4)
            {
                op.Invoke<Vector128<float>, Vector128<int>, Lanes128>(Vector128.Load(x + i)).Store(y + i);
            }
        }
        for (; i < n; i++)
        {
            y[i] = op.Invoke<float, int, ScalarLanes>(x[i]);
        }
    }

    /// <summary>
    /// y[i] = op(a[i·sa], b[i·sb]) where each stride is 0 (a broadcast scalar) or 1; covers same-shape,
    /// scalar-broadcast and the inner loop of row/channel broadcasts.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Binary<TOp>(TOp op, float* a, int sa, float* b, int sb, float* y, nint n, int maxBits)
        where TOp : struct, IBinaryOperator
    {
        if (sa == 1 && sb == 1)
        {
            BinaryVV(op, a, b, y, n, maxBits);
        }
        else if (sa == 1)
        {
            BinaryVS(op, a, *b, y, n, maxBits);
        }
        else if (sb == 1)
        {
            BinarySV(op, *a, b, y, n, maxBits);
        }
        else
        {
            float v = op.Invoke<float, int, ScalarLanes>(*a, *b);
            new Span<float>(y, checked((int)n)).Fill(v);
        }
    }

    private static void BinaryVV<TOp>(TOp op, float* a, float* b, float* y, nint n, int maxBits)
        where TOp : struct, IBinaryOperator
    {
        nint i = 0;
        if (maxBits >= 512)
        {
            for (; i <= n - 16; i += 16)
            {
                op.Invoke<Vector512<float>, Vector512<int>, Lanes512>(Vector512.Load(a + i), Vector512.Load(b + i)).Store(y + i);
            }
        }
        if (maxBits >= 256)
        {
            for (; i <= n - 8; i += 8)
            {
                op.Invoke<Vector256<float>, Vector256<int>, Lanes256>(Vector256.Load(a + i), Vector256.Load(b + i)).Store(y + i);
            }
        }
        if (maxBits >= 128)
        {
            for (; i <= n - 4; i += 4)
            {
                op.Invoke<Vector128<float>, Vector128<int>, Lanes128>(Vector128.Load(a + i), Vector128.Load(b + i)).Store(y + i);
            }
        }
        for (; i < n; i++)
        {
            y[i] = op.Invoke<float, int, ScalarLanes>(a[i], b[i]);
        }
    }

    private static void BinaryVS<TOp>(TOp op, float* a, float b, float* y, nint n, int maxBits)
        where TOp : struct, IBinaryOperator
    {
        nint i = 0;
        if (maxBits >= 512)
        {
            var vb = Vector512.Create(b);
            for (; i <= n - 16; i += 16)
            {
                op.Invoke<Vector512<float>, Vector512<int>, Lanes512>(Vector512.Load(a + i), vb).Store(y + i);
            }
        }
        if (maxBits >= 256)
        {
            var vb = Vector256.Create(b);
            for (; i <= n - 8; i += 8)
            {
                op.Invoke<Vector256<float>, Vector256<int>, Lanes256>(Vector256.Load(a + i), vb).Store(y + i);
            }
        }
        if (maxBits >= 128)
        {
            var vb = Vector128.Create(b);
            for (; i <= n - 4; i += 4)
            {
                op.Invoke<Vector128<float>, Vector128<int>, Lanes128>(Vector128.Load(a + i), vb).Store(y + i);
            }
        }
        for (; i < n; i++)
        {
            y[i] = op.Invoke<float, int, ScalarLanes>(a[i], b);
        }
    }

    private static void BinarySV<TOp>(TOp op, float a, float* b, float* y, nint n, int maxBits)
        where TOp : struct, IBinaryOperator
    {
        nint i = 0;
        if (maxBits >= 512)
        {
            var va = Vector512.Create(a);
            for (; i <= n - 16; i += 16)
            {
                op.Invoke<Vector512<float>, Vector512<int>, Lanes512>(va, Vector512.Load(b + i)).Store(y + i);
            }
        }
        if (maxBits >= 256)
        {
            var va = Vector256.Create(a);
            for (; i <= n - 8; i += 8)
            {
                op.Invoke<Vector256<float>, Vector256<int>, Lanes256>(va, Vector256.Load(b + i)).Store(y + i);
            }
        }
        if (maxBits >= 128)
        {
            var va = Vector128.Create(a);
            for (; i <= n - 4; i += 4)
            {
                op.Invoke<Vector128<float>, Vector128<int>, Lanes128>(va, Vector128.Load(b + i)).Store(y + i);
            }
        }
        for (; i < n; i++)
        {
            y[i] = op.Invoke<float, int, ScalarLanes>(a, b[i]);
        }
    }
}
