using Prova.Runtime.Ops.Elementwise;
using Prova.Runtime.Simd;
using Xunit.Abstractions;

namespace Prova.Runtime.Tests.Elementwise;

/// <summary>Every vector width (forced, whatever the hardware has) gives the scalar path's bytes.</summary>
public sealed unsafe class SimdDeterminismTests
{
    private const int N = 4099; // not a multiple of any width: exercises every remainder step
    private static readonly int[] s_widths = [512, 256, 128];

    private readonly ITestOutputHelper _output;

    public SimdDeterminismTests(ITestOutputHelper output)
    {
        _output = output;
    }

    public static TheoryData<string> UnaryOps => new() { "exp", "log", "tanh", "sigmoid", "erf", "gelu", "gelutanh", "softplus", "elu", "selu", "hardswish", "sign", "ceil", "powint3", "powint-2", "sin", "cos", "quickgelu" };

    [Theory]
    [MemberData(nameof(UnaryOps))]
    public void UnaryVectorWidthsMatchScalarBitForBit(string name)
    {
        var x = RandomFloats(N, seed: name.GetHashCode(StringComparison.Ordinal) & 0xFFFF);
        var scalar = new float[N];
        var vector = new float[N];
        Run(name, x, scalar, 0);
        foreach (int bits in s_widths)
        {
            Run(name, x, vector, bits);
            AssertSameBits(scalar, vector, $"{name} at {bits} bits");
        }
    }

    [Fact]
    public void DetMathVectorOverloadsMatchScalar()
    {
        var x = RandomFloats(1024, seed: 99);
        var y = RandomFloats(1024, seed: 100);
        for (int i = 0; i + 16 <= x.Length; i += 16)
        {
            var v512 = System.Runtime.Intrinsics.Vector512.Create(x.AsSpan(i, 16));
            var w512 = System.Runtime.Intrinsics.Vector512.Create(y.AsSpan(i, 16));
            var e = DetMath.Exp(v512);
            var l = DetMath.Log(v512);
            var p = DetMath.Pow(v512, w512);
            var e128 = DetMath.Erf(System.Runtime.Intrinsics.Vector128.Create(x.AsSpan(i, 4)));
            var t256 = DetMath.Tanh(System.Runtime.Intrinsics.Vector256.Create(x.AsSpan(i, 8)));
            for (int j = 0; j < 16; j++)
            {
                Assert.Equal(BitConverter.SingleToInt32Bits(DetMath.Exp(x[i + j])), BitConverter.SingleToInt32Bits(e[j]));
                Assert.Equal(BitConverter.SingleToInt32Bits(DetMath.Log(x[i + j])), BitConverter.SingleToInt32Bits(l[j]));
                Assert.Equal(BitConverter.SingleToInt32Bits(DetMath.Pow(x[i + j], y[i + j])), BitConverter.SingleToInt32Bits(p[j]));
                if (j < 4)
                {
                    Assert.Equal(BitConverter.SingleToInt32Bits(DetMath.Erf(x[i + j])), BitConverter.SingleToInt32Bits(e128[j]));
                }
                if (j < 8)
                {
                    Assert.Equal(BitConverter.SingleToInt32Bits(DetMath.Tanh(x[i + j])), BitConverter.SingleToInt32Bits(t256[j]));
                }
            }
        }
    }

    [Fact]
    public void BinaryVectorWidthsMatchScalar()
    {
        var a = RandomFloats(N, seed: 7);
        var b = RandomFloats(N, seed: 8);
        var scalar = new float[N];
        var vector = new float[N];
        fixed (float* pa = a, pb = b, ps = scalar, pv = vector)
        {
            foreach (var (sa, sb) in new[] { (1, 1), (1, 0), (0, 1) })
            {
                SimdLoop.Binary(new PowOp(), pa, sa, pb, sb, ps, N, 0);
                foreach (int bits in s_widths)
                {
                    SimdLoop.Binary(new PowOp(), pa, sa, pb, sb, pv, N, bits);
                    AssertSameBits(scalar, vector, $"pow strides ({sa},{sb}) at {bits} bits");
                }
                SimdLoop.Binary(new MaxOp(), pa, sa, pb, sb, ps, N, 0);
                foreach (int bits in s_widths)
                {
                    SimdLoop.Binary(new MaxOp(), pa, sa, pb, sb, pv, N, bits);
                    AssertSameBits(scalar, vector, $"max strides ({sa},{sb}) at {bits} bits");
                }
            }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(15)]
    [InlineData(16)]
    [InlineData(17)]
    [InlineData(1000)]
    [InlineData(4099)]
    public void SoftmaxRowIsWidthIndependent(int n)
    {
        var x = RandomFloats(n, seed: n);
        for (int i = 0; i < n; i++)
        {
            x[i] = float.IsFinite(x[i]) ? System.Math.Clamp(x[i], -50f, 50f) : 0f;
        }
        foreach (bool log in new[] { false, true })
        {
            var scalar = new float[n];
            var vector = new float[n];
            fixed (float* px = x, ps = scalar, pv = vector)
            {
                SoftmaxKernel.Row(px, ps, n, log, 0);
                foreach (int bits in s_widths)
                {
                    SoftmaxKernel.Row(px, pv, n, log, bits);
                    AssertSameBits(scalar, vector, $"softmax(log={log}) n={n} at {bits} bits");
                }
            }
            if (!log)
            {
                double sum = 0;
                foreach (float v in scalar)
                {
                    sum += v;
                }
                Assert.InRange(sum, 1 - 1e-5, 1 + 1e-5);
            }
        }
    }

    private static void Run(string name, float[] x, float[] y, int bits)
    {
        fixed (float* px = x, py = y)
        {
            nint n = x.Length;
            switch (name)
            {
                case "exp": SimdLoop.Unary(new ExpOp(), px, py, n, bits); break;
                case "log": SimdLoop.Unary(new LogOp(), px, py, n, bits); break;
                case "tanh": SimdLoop.Unary(new TanhOp(), px, py, n, bits); break;
                case "sigmoid": SimdLoop.Unary(new SigmoidOp(), px, py, n, bits); break;
                case "erf": SimdLoop.Unary(new ErfOp(), px, py, n, bits); break;
                case "gelu": SimdLoop.Unary(new GeluOp(), px, py, n, bits); break;
                case "gelutanh": SimdLoop.Unary(new GeluTanhOp(), px, py, n, bits); break;
                case "softplus": SimdLoop.Unary(new SoftplusOp(), px, py, n, bits); break;
                case "elu": SimdLoop.Unary(new EluOp(0.7f), px, py, n, bits); break;
                case "selu": SimdLoop.Unary(new SeluOp(1.6732632f, 1.050701f), px, py, n, bits); break;
                case "hardswish": SimdLoop.Unary(new HardSwishOp(), px, py, n, bits); break;
                case "sign": SimdLoop.Unary(new SignOp(), px, py, n, bits); break;
                case "ceil": SimdLoop.Unary(new CeilOp(), px, py, n, bits); break;
                case "powint3": SimdLoop.Unary(new PowIntOp(3), px, py, n, bits); break;
                case "powint-2": SimdLoop.Unary(new PowIntOp(-2), px, py, n, bits); break;
                case "sin": SimdLoop.Unary(new SinOp(), px, py, n, bits); break;
                case "cos": SimdLoop.Unary(new CosOp(), px, py, n, bits); break;
                case "quickgelu": SimdLoop.Unary(new QuickGeluOp(1.702f), px, py, n, bits); break;
                default: throw new ArgumentException(name);
            }
        }
    }

    /// <summary>A mix of ordinary values, wide-range bit patterns and special values.</summary>
    private float[] RandomFloats(int n, int seed)
    {
        _output.WriteLine($"seed {seed}");
        var rng = new Random(seed);
        float[] specials = [0f, -0f, float.NaN, float.PositiveInfinity, float.NegativeInfinity, float.Epsilon, -float.Epsilon, float.MaxValue, 1f, -1f, 0.5f, 88.7f, -103f];
        var x = new float[n];
        for (int i = 0; i < n; i++)
        {
            x[i] = (i % 3) switch
            {
                0 => (float)(rng.NextDouble() * 20 - 10),
                1 => BitConverter.Int32BitsToSingle(rng.Next() | (rng.Next(2) << 31)),
                _ => rng.Next(4) == 0 ? specials[rng.Next(specials.Length)] : (float)(rng.NextDouble() * 200 - 100),
            };
        }
        return x;
    }

    private static void AssertSameBits(float[] expected, float[] actual, string what)
    {
        for (int i = 0; i < expected.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
            {
                Assert.Fail($"{what}: element {i} is {actual[i]:R} (0x{BitConverter.SingleToInt32Bits(actual[i]):X8}), scalar gives {expected[i]:R} (0x{BitConverter.SingleToInt32Bits(expected[i]):X8})");
            }
        }
    }
}
