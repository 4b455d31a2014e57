using Prova.Core;
using Xunit.Abstractions;
using static Prova.Runtime.Tests.Linear.LinearTestKit;

namespace Prova.Runtime.Tests.Linear;

/// <summary>MaxPool/AveragePool (vector interior, scalar border) against a naive per-element reference, bit for bit.</summary>
[Collection("SimdLevel")]
public sealed class PoolDifferentialTests(ITestOutputHelper output)
{
    // n, c, h, w, kernel, stride, dilation, pad, count_include_pad
    [Theory]
    [InlineData(4, 6, 28, 28, 2, 2, 1, 0, 0)]     // LeNet pool1
    [InlineData(4, 16, 10, 10, 2, 2, 1, 0, 0)]    // LeNet pool2
    [InlineData(2, 8, 32, 32, 2, 2, 1, 0, 0)]     // ResNet skip, a full 16-lane row
    [InlineData(2, 3, 12, 40, 2, 2, 1, 0, 0)]     // 20 outputs a row: the last 16-lane vector overlaps
    [InlineData(1, 2, 9, 35, 2, 2, 1, 0, 1)]      // 17 outputs, odd input width and height
    [InlineData(1, 2, 6, 13, 2, 2, 1, 1, 0)]      // 2x2 stride 2 with padding: border columns scalar
    [InlineData(1, 3, 7, 22, 3, 1, 1, 0, 0)]      // stride 1, 20 outputs (overlapping vector)
    [InlineData(2, 3, 37, 71, 3, 2, 1, 1, 0)]     // padded stride 2, odd sizes
    [InlineData(2, 3, 37, 71, 3, 2, 1, 1, 1)]     // the same, count_include_pad
    [InlineData(1, 4, 19, 45, 3, 1, 1, 1, 0)]     // stride 1
    [InlineData(1, 2, 23, 40, 2, 2, 2, 1, 1)]     // dilation
    [InlineData(1, 2, 17, 50, 3, 3, 1, 0, 0)]     // stride 3 (scalar)
    [InlineData(1, 1, 9, 35, 5, 2, 1, 2, 0)]      // wide kernel, more padding
    public void PoolIsBitIdenticalToNaive(int n, int c, int h, int w, int k, int stride, int dilation, int pad, int includePad)
    {
        int seed = HashCode.Combine(n, c, h, w, k, stride, pad) & 0x7fffffff;
        output.WriteLine($"seed {seed}");
        var rng = new Random(seed);
        int[] xs = [n, c, h, w];
        var x = Random(rng, n * c * h * w, sparseSpecials: true);
        // Ties between -0 and +0 and NaNs decide bits in max pooling: plant some.
        for (int i = 0; i < x.Length; i += 7)
        {
            x[i] = rng.Next(4) switch { 0 => 0f, 1 => -0f, 2 => float.NaN, _ => x[i] };
        }
        foreach (bool isMax in new[] { true, false })
        {
            string op = isMax ? "MaxPool" : "AveragePool";
            var expected = NaivePool(isMax, x, xs, k, stride, dilation, pad, includePad != 0, out var ys);
            var attrs = new List<Prova.Onnx.OnnxAttribute>
            {
                Ints("kernel_shape", k, k), Ints("strides", stride, stride), Ints("pads", pad, pad, pad, pad), Ints("dilations", dilation, dilation),
            };
            if (!isMax)
            {
                attrs.Add(Int("count_include_pad", includePad));
            }
            var model = Model(op, [("x", xs, null)], opset: 19, attributes: attrs.ToArray());
            var feeds = new Dictionary<string, Tensor> { ["x"] = T(xs, x) };
            Assert.Equal(ys, Run(model, 1, feeds)["y0"].ShapeArray());
            GemmDifferentialTests.AssertAllPaths(model, feeds, expected, $"{op} x{string.Join("x", xs)} k{k} s{stride} d{dilation} p{pad} seed {seed}");
        }
    }

    /// <summary>The definition in PoolKernel: max = first in-input tap, replaced only by a strictly greater one; average = 0f + taps in order, / count.</summary>
    private static float[] NaivePool(bool isMax, float[] x, int[] xs, int k, int s, int d, int pad, bool includePad, out int[] outShape)
    {
        int n = xs[0], c = xs[1], h = xs[2], wd = xs[3];
        int oh = (h + 2 * pad - ((k - 1) * d + 1)) / s + 1;
        int ow = (wd + 2 * pad - ((k - 1) * d + 1)) / s + 1;
        outShape = [n, c, oh, ow];
        var y = new float[n * c * oh * ow];
        for (int p = 0; p < n * c; p++)
        {
            for (int i = 0; i < oh; i++)
            {
                for (int j = 0; j < ow; j++)
                {
                    float acc = isMax ? float.NegativeInfinity : 0f;
                    bool started = false;
                    int count = 0;
                    for (int a = 0; a < k; a++)
                    {
                        for (int b = 0; b < k; b++)
                        {
                            int ih = i * s - pad + a * d;
                            int iw = j * s - pad + b * d;
                            bool inside = ih >= 0 && ih < h && iw >= 0 && iw < wd;
                            bool inPadded = ih >= -pad && ih < h + pad && iw >= -pad && iw < wd + pad;
                            count += (includePad ? inPadded : inside) ? 1 : 0;
                            if (!inside)
                            {
                                continue;
                            }
                            float v = x[(p * h + ih) * wd + iw];
                            if (isMax)
                            {
                                if (!started || v > acc)
                                {
                                    acc = v;
                                }
                                started = true;
                            }
                            else
                            {
                                acc += v;
                            }
                        }
                    }
                    y[(p * oh + i) * ow + j] = isMax ? acc : acc / count;
                }
            }
        }
        return y;
    }
}
