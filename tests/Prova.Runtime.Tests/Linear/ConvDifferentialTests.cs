using Prova.Core;
using Xunit.Abstractions;
using static Prova.Runtime.Tests.Linear.LinearTestKit;

namespace Prova.Runtime.Tests.Linear;

/// <summary>Conv (im2col + GEMM, pointwise, depthwise paths) against a naive direct convolution, bit for bit.</summary>
[Collection("SimdLevel")]
public sealed class ConvDifferentialTests(ITestOutputHelper output)
{
    // n, c, h, w, m, group, kh, kw, stride, dilation, pad, bias
    [Theory]
    [InlineData(1, 1, 28, 28, 6, 1, 5, 5, 1, 1, 0, true)]      // LeNet conv1
    [InlineData(1, 64, 32, 32, 64, 1, 3, 3, 1, 1, 1, true)]    // ResNet 3x3
    [InlineData(2, 8, 9, 11, 12, 1, 3, 3, 2, 1, 1, false)]     // strided, padded, odd sizes
    [InlineData(1, 6, 10, 10, 4, 2, 3, 2, 1, 2, 2, true)]      // groups, dilation, non-square kernel
    [InlineData(1, 16, 7, 7, 32, 1, 1, 1, 1, 1, 0, true)]      // pointwise in place (P = 49, tail panel)
    [InlineData(2, 16, 8, 8, 16, 16, 3, 3, 1, 1, 1, true)]     // depthwise
    [InlineData(1, 8, 13, 13, 16, 8, 3, 3, 2, 1, 1, false)]    // depthwise, multiplier 2, stride 2
    [InlineData(1, 4, 5, 5, 4, 4, 5, 5, 1, 2, 4, true)]        // depthwise mostly padding
    [InlineData(1, 3, 6, 6, 5, 1, 1, 1, 2, 1, 0, true)]        // 1x1 strided (im2col path)
    [InlineData(1, 40, 9, 12, 8, 1, 3, 3, 1, 1, 1, true)]      // K = 360: K-blocked accumulation through the compact output
    [InlineData(1, 3, 17, 19, 7, 1, 3, 3, 3, 2, 2, true)]      // stride 3, dilation 2: 9 stride phases
    [InlineData(2, 2, 20, 23, 5, 1, 5, 5, 2, 1, 2, false)]     // 5x5 stride 2, odd width
    [InlineData(1, 3, 32, 32, 13, 1, 3, 3, 1, 1, 1, true)]     // stem-like, M = 13 (partial row blocks)
    [InlineData(1, 32, 32, 32, 32, 1, 3, 3, 2, 1, 1, true)]    // batch 1, stride 2: stride phases filled by several threads
    [InlineData(1, 32, 8, 8, 64, 1, 3, 3, 1, 1, 1, true)]      // batch 1, 3 panels: row blocks split across threads
    [InlineData(1, 3, 32, 32, 32, 1, 3, 3, 1, 1, 1, true)]     // direct: stem, K = 27, rows of 3 tiles (11, 11, 10)
    [InlineData(2, 8, 9, 27, 48, 1, 3, 3, 1, 1, 1, false)]     // direct: M = 48 (second channel block half full), 3 tiles of 9
    [InlineData(1, 32, 15, 15, 32, 2, 3, 3, 2, 1, 1, true)]    // direct: 2 groups of 16 output channels, stride 2, odd size
    [InlineData(1, 5, 12, 30, 16, 1, 3, 3, 1, 2, 2, true)]     // direct: dilation 2, M = 16
    [InlineData(1, 40, 9, 12, 64, 1, 3, 3, 1, 1, 1, true)]     // direct: K = 360 in K blocks, two channel blocks
    [InlineData(3, 16, 6, 5, 32, 1, 5, 5, 1, 1, 2, true)]      // direct: 5x5, output narrower than a tile, batch 3 over threads
    [InlineData(2, 6, 14, 14, 16, 1, 5, 5, 1, 1, 0, true)]     // direct, 16 lanes: LeNet conv2
    [InlineData(1, 4, 7, 70, 16, 1, 3, 3, 2, 1, 0, true)]      // stride 2 phases: vector de-interleave (16 and 8 wide) and scalar tails
    [InlineData(2, 4, 6, 67, 32, 1, 3, 3, 2, 1, 1, false)]     // stride 2, padded, odd width
    [InlineData(2, 3, 9, 70, 13, 1, 3, 3, 1, 1, 1, true)]      // pixel-row tiles: 13 channels in blocks of 7 + 6, rows of 32 + 32 + 6 pixels
    [InlineData(1, 2, 11, 20, 12, 2, 5, 5, 2, 1, 2, false)]    // pixel-row tiles: 2 groups of 6, stride 2, 17..32 pixels per row
    [InlineData(1, 4, 40, 40, 12, 1, 3, 3, 1, 1, 1, true)]     // batch 1 over threads in row bands (pixel-row tiles, 40 = 32 + 8 pixels)
    [InlineData(1, 8, 30, 30, 16, 1, 3, 3, 1, 2, 2, true)]     // batch 1 over threads in row bands, dilation 2 (bands read 4 rows past their end)
    [InlineData(1, 16, 33, 31, 32, 1, 5, 5, 2, 1, 2, false)]   // batch 1 over threads in row bands, stride 2, 5x5
    public void Conv2DIsBitIdenticalToNaive(int n, int c, int h, int w, int m, int group, int kh, int kw, int stride, int dilation, int pad, bool bias)
    {
        int seed = HashCode.Combine(n, c, h, w, m, group, kh, kw) & 0x7fffffff;
        output.WriteLine($"seed {seed}");
        var rng = new Random(seed);
        int[] xs = [n, c, h, w];
        int[] ws = [m, c / group, kh, kw];
        var x = Random(rng, xs.Aggregate(1, (p, q) => p * q), sparseSpecials: true);
        var wt = Random(rng, ws.Aggregate(1, (p, q) => p * q), sparseSpecials: true);
        var b = bias ? Random(rng, m) : null;
        var expected = NaiveConv(x, xs, wt, ws, b, group, [stride, stride], [dilation, dilation], [pad, pad, pad, pad], out var ys);
        var inputs = new List<(string, int[], Tensor?)> { ("x", xs, null), ("w", ws, T(ws, wt)) };
        if (b is not null)
        {
            inputs.Add(("b", [m], T([m], b)));
        }
        var model = Model("Conv", inputs.ToArray(), opset: 11, attributes:
            [Int("group", group), Ints("strides", stride, stride), Ints("dilations", dilation, dilation), Ints("pads", pad, pad, pad, pad), Ints("kernel_shape", kh, kw)]);
        var feeds = new Dictionary<string, Tensor> { ["x"] = T(xs, x) };
        using (var session = new InferenceSession(model, new SessionOptions { Threads = 1 }))
        {
            Assert.Equal(ys, session.Run(feeds)["y0"].ShapeArray());
        }
        GemmDifferentialTests.AssertAllPaths(model, feeds, expected, $"Conv x{string.Join("x", xs)} w{string.Join("x", ws)} g{group} s{stride} d{dilation} p{pad}");
    }

    [Fact]
    public void Conv1DMatchesNaiveWithAsymmetricPads()
    {
        var rng = new Random(7);
        int[] xs = [2, 4, 19];
        int[] ws = [6, 4, 3];
        var x = Random(rng, 2 * 4 * 19);
        var wt = Random(rng, 6 * 4 * 3);
        var expected = NaiveConv(x, [2, 4, 1, 19], wt, [6, 4, 1, 3], null, 1, [1, 2], [1, 1], [0, 2, 0, 1], out var ys);
        var model = Model("Conv", [("x", xs, null), ("w", ws, T(ws, wt))], opset: 11, attributes: [Ints("strides", 2), Ints("pads", 2, 1)]);
        var feeds = new Dictionary<string, Tensor> { ["x"] = T(xs, x) };
        var y = Run(model, 2, feeds)["y0"];
        Assert.Equal(new[] { 2, 6, ys[3] }, y.ShapeArray());
        AssertBits(expected, (float[])y.Data, "Conv1D");
    }

    [Fact]
    public void SameUpperPadsLikeExplicitPads()
    {
        var rng = new Random(11);
        int[] xs = [1, 3, 8, 7];
        int[] ws = [4, 3, 3, 3];
        var x = Random(rng, 3 * 8 * 7);
        var wt = Random(rng, 4 * 27);
        // stride 2: out = ceil(8/2)=4, ceil(7/2)=4; total pad H = 3*2+3-8 = 1 -> (0,1); W = 3*2+3-7 = 2 -> (1,1)
        var expected = NaiveConv(x, xs, wt, ws, null, 1, [2, 2], [1, 1], [0, 1, 1, 1], out var ys);
        var model = Model("Conv", [("x", xs, null), ("w", ws, T(ws, wt))], opset: 11, attributes: [Ints("strides", 2, 2), Str("auto_pad", "SAME_UPPER")]);
        var y = Run(model, 1, new() { ["x"] = T(xs, x) })["y0"];
        Assert.Equal(ys, y.ShapeArray());
        AssertBits(expected, (float[])y.Data, "SAME_UPPER");
    }
}
