using Prova.Core;
using Prova.Onnx;
using Prova.Runtime.Ops.Reduce;
using Xunit.Abstractions;
using static Prova.Runtime.Tests.Shape.OpRunner;

namespace Prova.Runtime.Tests.Reduce;

public sealed unsafe class ReduceOpTests(ITestOutputHelper output)
{
    private static float[] Special(Random rng, int n)
    {
        float[] pool = [0f, -0f, 1f, -1f, float.NaN, float.PositiveInfinity, float.NegativeInfinity, 1e30f, -1e-30f, 3.5f];
        var v = new float[n];
        for (int i = 0; i < n; i++)
        {
            v[i] = rng.Next(4) == 0 ? pool[rng.Next(pool.Length)] : (float)(rng.NextDouble() * 200 - 100);
        }
        return v;
    }

    private static void SameBits(float a, float b, string what)
        => Assert.True(BitConverter.SingleToInt32Bits(a) == BitConverter.SingleToInt32Bits(b), $"{what}: vector {a} vs scalar {b}");

    [Fact]
    public void VectorLanes16IsBitIdenticalToScalarEmulation()
    {
        int seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var rng = new Random(seed);
        for (int n = 0; n < 300; n += n < 40 ? 1 : 17)
        {
            for (int trial = 0; trial < 3; trial++)
            {
                var data = trial == 0 ? Random(rng, n).Span<float>().ToArray() : Special(rng, n);
                float p = (float)rng.NextDouble();
                fixed (float* x = data)
                {
                    SameBits(Lanes16.ReduceVector<SumOp>(x, n), Lanes16.ReduceScalar<SumOp>(x, n), $"sum n={n}");
                    SameBits(Lanes16.ReduceVector<SumSquareOp>(x, n), Lanes16.ReduceScalar<SumSquareOp>(x, n), $"sumsq n={n}");
                    SameBits(Lanes16.ReduceVector<SquaredDiffOp>(x, n, p), Lanes16.ReduceScalar<SquaredDiffOp>(x, n, p), $"sqdiff n={n}");
                    SameBits(Lanes16.ReduceVector<L1Op>(x, n), Lanes16.ReduceScalar<L1Op>(x, n), $"l1 n={n}");
                    SameBits(Lanes16.ReduceVector<ProdOp>(x, n), Lanes16.ReduceScalar<ProdOp>(x, n), $"prod n={n}");
                    SameBits(Lanes16.ReduceVector<MaxOp>(x, n), Lanes16.ReduceScalar<MaxOp>(x, n), $"max n={n}");
                    SameBits(Lanes16.ReduceVector<MinOp>(x, n), Lanes16.ReduceScalar<MinOp>(x, n), $"min n={n}");
                }
            }
        }
    }

    [Fact]
    public void MaxAndMinPropagateNaNAndOrderSignedZeros()
    {
        var data = new float[40];
        data[33] = float.NaN;
        fixed (float* x = data)
        {
            Assert.True(float.IsNaN(Lanes16.Reduce<MaxOp>(x, 40)));
            Assert.True(float.IsNaN(Lanes16.Reduce<MinOp>(x, 40)));
        }
        var zeros = new float[32];
        Array.Fill(zeros, -0f);
        zeros[20] = 0f;
        fixed (float* x = zeros)
        {
            SameBits(0f, Lanes16.Reduce<MaxOp>(x, 32), "max of ±0");
            SameBits(-0f, Lanes16.Reduce<MinOp>(x, 32), "min of ±0");
        }
    }

    [Fact]
    public void ReduceSumOverTheLastAxisFollowsTheLanes16Order()
    {
        // A sum whose value depends on the order: the engine must produce the Lanes16 result exactly.
        var rng = new Random(11);
        var x = Random(rng, 3, 1000);
        var vals = Values<float>(x);
        for (int i = 0; i < vals.Length; i += 7)
        {
            vals[i] *= 1e6f;
        }
        x = Tensor.Create([3, 1000], vals);
        var y = Values<float>(Run("ReduceSum", [x, L(1)], [("keepdims", 0L)], constants: [1])[0]);
        fixed (float* p = vals)
        {
            for (int r = 0; r < 3; r++)
            {
                SameBits(y[r], Lanes16.ReduceScalar<SumOp>(p + r * 1000, 1000), $"row {r}");
            }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void LargeReductionsAreIdenticalForAnyThreadCount(int threads)
    {
        var x = Random(new Random(3), 64, 96, 40);
        var reference = Run("ReduceMean", [x, L(-1)], opset: 18, constants: [1], threads: 1)[0];
        var y = Run("ReduceMean", [x, L(-1)], opset: 18, constants: [1], threads: threads)[0];
        Assert.True(reference.Bytes().SequenceEqual(y.Bytes()));
        var colRef = Run("ReduceSum", [x, L(1)], constants: [1], threads: 1)[0];
        var col = Run("ReduceSum", [x, L(1)], constants: [1], threads: threads)[0];
        Assert.True(colRef.Bytes().SequenceEqual(col.Bytes()));
        var scale = Random(new Random(4), 40);
        var lnRef = Run("LayerNormalization", [x, scale], constants: [1], threads: 1)[0];
        var ln = Run("LayerNormalization", [x, scale], constants: [1], threads: threads)[0];
        Assert.True(lnRef.Bytes().SequenceEqual(ln.Bytes()));
    }

    [Theory]
    [InlineData("ReduceSum")]
    [InlineData("ReduceMean")]
    [InlineData("ReduceMax")]
    [InlineData("ReduceMin")]
    [InlineData("ReduceL2")]
    [InlineData("ReduceSumSquare")]
    [InlineData("ReduceL1")]
    [InlineData("ReduceProd")]
    public void NonAdjacentAxesMatchANaiveReference(string op)
    {
        var x = Random(new Random(5), 3, 4, 5, 2);
        var v = Values<float>(x);
        var y = Run(op, [x], [("axes", new long[] { 0, 2 }), ("keepdims", 1L)], opset: 11)[0];
        Assert.Equal([1, 4, 1, 2], y.ShapeArray());
        var actual = Values<float>(y);
        for (int b = 0; b < 4; b++)
        {
            for (int d = 0; d < 2; d++)
            {
                double acc = op is "ReduceMax" ? double.NegativeInfinity : op is "ReduceMin" ? double.PositiveInfinity : op is "ReduceProd" ? 1 : 0;
                for (int a = 0; a < 3; a++)
                {
                    for (int c = 0; c < 5; c++)
                    {
                        double e = v[((a * 4 + b) * 5 + c) * 2 + d];
                        acc = op switch
                        {
                            "ReduceMax" => Math.Max(acc, e),
                            "ReduceMin" => Math.Min(acc, e),
                            "ReduceProd" => acc * e,
                            "ReduceL2" or "ReduceSumSquare" => acc + e * e,
                            "ReduceL1" => acc + Math.Abs(e),
                            _ => acc + e,
                        };
                    }
                }
                acc = op == "ReduceMean" ? acc / 15 : op == "ReduceL2" ? Math.Sqrt(acc) : acc;
                Assert.True(Math.Abs(actual[b * 2 + d] - acc) <= 1e-5 + 1e-4 * Math.Abs(acc), $"{op} [{b},{d}]: {actual[b * 2 + d]} vs {acc}");
            }
        }
    }

    [Fact]
    public void IntegerReductionsAreExact()
    {
        var x = Tensor.Create([2, 3], new[] { 1L, -2, 3, long.MaxValue, 1, -7 });
        Assert.Equal([2L, long.MaxValue - 6], Values<long>(Run("ReduceSum", [x, L(1)], [("keepdims", 0L)], constants: [1])[0]));
        Assert.Equal([3L, long.MaxValue], Values<long>(Run("ReduceMax", [x], [("axes", new long[] { 1 }), ("keepdims", 0L)], opset: 13)[0]));
        var i = Tensor.Create([4], new[] { 5, 6, 7, 9 });
        Assert.Equal([6], Values<int>(Run("ReduceMean", [i], [("keepdims", 0L)], opset: 13)[0]));
        Assert.True(Assert.Throws<ModelException>(() => Run("ReduceL2", [x])).IsUnsupported);
    }

    [Fact]
    public void ReduceSumAxesInputEmptyAndNoop()
    {
        var x = Iota(2, 3);
        var empty = Tensor.Create([0], Array.Empty<long>());
        Assert.Equal([15f], Values<float>(Run("ReduceSum", [x, empty], [("keepdims", 0L)], constants: [1])[0]));
        var noop = Run("ReduceSum", [x, empty], [("noop_with_empty_axes", 1L)], constants: [1])[0];
        Assert.Equal([2, 3], noop.ShapeArray());
        Assert.Equal(Values<float>(x), Values<float>(noop));
        Assert.Equal([1, 1], Run("ReduceSum", [x], opset: 13)[0].ShapeArray());
        Assert.Equal([3f, 12], Values<float>(Run("ReduceSum", [x], [("axes", new long[] { -1 }), ("keepdims", 0L)], opset: 11)[0]));
        var zero = Tensor.Zeros(DataType.Float32, [2, 0]);
        Assert.Equal([0f, 0], Values<float>(Run("ReduceSum", [zero, L(1)], [("keepdims", 0L)], constants: [1])[0]));
        Assert.Equal([float.NegativeInfinity, float.NegativeInfinity], Values<float>(Run("ReduceMax", [zero, L(1)], [("keepdims", 0L)], opset: 18, constants: [1])[0]));
        var e = Assert.Throws<ModelException>(() => Run("ReduceSum", [x, L(2)], constants: [1]));
        Assert.Contains("rank 2", e.Message);
        Assert.Throws<ModelException>(() => Run("ReduceMean", [x], [("axes", new long[] { 1, -1 })], opset: 13));
    }

    [Fact]
    public void ArgMaxAndArgMinPickFirstOrLastTie()
    {
        var x = F([2, 4], 1, 5, 5, 0, 3, 3, 3, 3);
        Assert.Equal([1L, 0], Values<long>(Run("ArgMax", [x], [("axis", 1L), ("keepdims", 0L)])[0]));
        Assert.Equal([2L, 3], Values<long>(Run("ArgMax", [x], [("axis", 1L), ("keepdims", 0L), ("select_last_index", 1L)])[0]));
        var mn = Run("ArgMin", [x], [("axis", -2L)])[0];
        Assert.Equal([1, 4], mn.ShapeArray());
        Assert.Equal([0L, 1, 1, 0], Values<long>(mn));
        var ints = Tensor.Create([3], new[] { 4L, -9, 2 });
        Assert.Equal([1L], Values<long>(Run("ArgMin", [ints])[0]));
        Assert.Throws<ModelException>(() => Run("ArgMax", [Tensor.Zeros(DataType.Float32, [2, 0])], [("axis", 1L)]));
    }

    [Fact]
    public void LayerNormalizationMatchesReferenceWithBroadcastScaleAndStatistics()
    {
        var rng = new Random(9);
        var x = Random(rng, 2, 3, 20);
        var scale = Random(rng, 20);
        var bias = F([1], 0.25f);
        var r = Run("LayerNormalization", [x, scale, bias], [("axis", -1L), ("epsilon", 1e-3f)], outputs: 3, constants: [1, 2]);
        Assert.Equal([2, 3, 1], r[1].ShapeArray());
        Assert.Equal([2, 3, 1], r[2].ShapeArray());
        var v = Values<float>(x);
        var s = Values<float>(scale);
        var y = Values<float>(r[0]);
        for (int row = 0; row < 6; row++)
        {
            double mean = 0, var = 0;
            for (int j = 0; j < 20; j++)
            {
                mean += v[row * 20 + j];
            }
            mean /= 20;
            for (int j = 0; j < 20; j++)
            {
                var += (v[row * 20 + j] - mean) * (v[row * 20 + j] - mean);
            }
            var /= 20;
            double inv = 1 / Math.Sqrt(var + 1e-3);
            Assert.Equal(mean, Values<float>(r[1])[row], 5);
            Assert.Equal(inv, Values<float>(r[2])[row], 3);
            for (int j = 0; j < 20; j++)
            {
                double e = (v[row * 20 + j] - mean) * inv * s[j] + 0.25;
                Assert.True(Math.Abs(y[row * 20 + j] - e) < 1e-4, $"row {row} col {j}: {y[row * 20 + j]} vs {e}");
            }
        }
        var bad = Assert.Throws<ModelException>(() => Run("LayerNormalization", [x, Random(rng, 3)], constants: [1]));
        Assert.Contains("[3]", bad.Message);
    }
}
