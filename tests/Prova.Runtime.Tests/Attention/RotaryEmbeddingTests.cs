using Prova.Core;
using Prova.Onnx;
using Xunit.Abstractions;
using static Prova.Runtime.Tests.Attention.LlmOpKit;

namespace Prova.Runtime.Tests.Attention;

/// <summary>
/// RotaryEmbedding (ONNX-23 and com.microsoft) against ONNX Runtime (atol 1e-6, rtol 1e-5: two products and
/// one add per element, which ONNX Runtime may fuse), over 3-D and 4-D inputs, half and interleaved pairs,
/// partial rotary, position_ids, implicit positions and the contrib op's offset form; named errors.
/// </summary>
public sealed class RotaryEmbeddingTests(ITestOutputHelper output)
{
    private (float[] Cos, float[] Sin) Caches(int rows, int half)
    {
        var cos = new float[rows * half];
        var sin = new float[rows * half];
        for (int p = 0; p < rows; p++)
        {
            for (int i = 0; i < half; i++)
            {
                double theta = p / Math.Pow(10000, (double)i / half);
                cos[p * half + i] = (float)Math.Cos(theta);
                sin[p * half + i] = (float)Math.Sin(theta);
            }
        }
        return (cos, sin);
    }

    private void Check(OnnxModel model, Dictionary<string, Tensor> feeds, string what)
    {
        var ort = RunOrt(model, feeds)["y"];
        var prova = Floats(RunProva(model, feeds)["y"]);
        AssertClose(ort, prova, 1e-6f, 1e-5f, what);
        AssertBits(prova, Floats(RunProva(model, feeds, 2)["y"]), what + " (2 threads)");
    }

    public static TheoryData<bool, bool, int, int> OnnxCases => new()
    {
        { false, false, 0, 0 },
        { true, false, 0, 0 },
        { false, true, 0, 4 },
        { true, true, 8, 4 },
        { false, true, 8, 0 },
    };

    [Theory]
    [MemberData(nameof(OnnxCases))]
    public void Onnx23MatchesOnnxRuntime(bool interleaved, bool fourD, int rotaryDim, int numHeadsAttr)
    {
        int seed = 100 + (interleaved ? 1 : 0) + (fourD ? 2 : 0) + rotaryDim;
        output.WriteLine($"seed {seed}");
        var rng = new Random(seed);
        int b = 2, n = 4, s = 3, h = 16;
        int rd = rotaryDim == 0 ? h : rotaryDim;
        int[] xShape = fourD ? [b, n, s, h] : [b, s, n * h];
        var (cos, sin) = Caches(10, rd / 2);
        var pos = new long[b * s];
        for (int i = 0; i < pos.Length; i++)
        {
            pos[i] = rng.Next(10);
        }
        var feeds = new Dictionary<string, Tensor>
        {
            ["x"] = F(xShape, Random(rng, b * n * s * h)),
            ["cos"] = F([10, rd / 2], cos),
            ["sin"] = F([10, rd / 2], sin),
            ["pos"] = Tensor.Create([b, s], pos),
        };
        var attrs = new List<OnnxAttribute> { Int("interleaved", interleaved ? 1 : 0) };
        if (rotaryDim > 0)
        {
            attrs.Add(Int("rotary_embedding_dim", rotaryDim));
        }
        if (!fourD || numHeadsAttr > 0)
        {
            attrs.Add(Int("num_heads", n));
        }
        var model = Model("", "RotaryEmbedding", ["x", "cos", "sin", "pos"], feeds, null, ["y"], 23, [.. attrs]);
        Check(model, feeds, $"RotaryEmbedding-23 interleaved={interleaved} 4-D={fourD} rd={rd}");
    }

    [Fact]
    public void Onnx23WithoutPositionIdsUsesPerTokenCaches()
    {
        var rng = new Random(7);
        int b = 2, n = 2, s = 3, h = 8;
        var (cos, sin) = Caches(b * s, h / 2);
        var feeds = new Dictionary<string, Tensor>
        {
            ["x"] = F([b, n, s, h], Random(rng, b * n * s * h)),
            ["cos"] = F([b, s, h / 2], cos),
            ["sin"] = F([b, s, h / 2], sin),
        };
        var model = Model("", "RotaryEmbedding", ["x", "cos", "sin"], feeds, null, ["y"], 23);
        Check(model, feeds, "RotaryEmbedding-23 without position_ids");
    }

    [Theory]
    [InlineData(false, false, false)]
    [InlineData(true, false, false)]
    [InlineData(false, true, false)]
    [InlineData(false, false, true)]
    public void MicrosoftMatchesOnnxRuntime(bool interleaved, bool offset, bool fourD)
    {
        var rng = new Random(200 + (interleaved ? 1 : 0) + (offset ? 2 : 0) + (fourD ? 4 : 0));
        int b = 2, n = 3, s = 4, h = 16;
        var (cos, sin) = Caches(12, h / 2);
        long[] pos = offset ? [5] : [0, 1, 2, 3, 7, 8, 9, 10];
        var feeds = new Dictionary<string, Tensor>
        {
            ["x"] = F(fourD ? [b, n, s, h] : [b, s, n * h], Random(rng, b * n * s * h)),
            ["pos"] = Tensor.Create(offset ? [1] : [b, s], pos),
            ["cos"] = F([12, h / 2], cos),
            ["sin"] = F([12, h / 2], sin),
        };
        var model = Model(Ms, "RotaryEmbedding", ["x", "pos", "cos", "sin"], feeds, null, ["y"], 21, Int("interleaved", interleaved ? 1 : 0));
        Check(model, feeds, $"com.microsoft RotaryEmbedding interleaved={interleaved} offset={offset} 4-D={fourD}");
    }

    [Fact]
    public void PositionBeyondTheCacheIsAnInputError()
    {
        var (cos, sin) = Caches(4, 4);
        var feeds = new Dictionary<string, Tensor>
        {
            ["x"] = F([1, 1, 2, 8], new float[16]),
            ["cos"] = F([4, 4], cos),
            ["sin"] = F([4, 4], sin),
            ["pos"] = Tensor.Create([1, 2], new long[] { 0, 9 }),
        };
        var model = Model("", "RotaryEmbedding", ["x", "cos", "sin", "pos"], feeds, null, ["y"], 23);
        var ex = Assert.Throws<InputException>(() => RunProva(model, feeds));
        Assert.Contains("position 9", ex.Message);
    }

    [Fact]
    public void CacheWidthThatDoesNotMatchTheHeadIsNamed()
    {
        var (cos, sin) = Caches(4, 3);
        var feeds = new Dictionary<string, Tensor>
        {
            ["x"] = F([1, 1, 2, 8], new float[16]),
            ["cos"] = F([4, 3], cos),
            ["sin"] = F([4, 3], sin),
            ["pos"] = Tensor.Create([1, 2], new long[] { 0, 1 }),
        };
        var model = Model("", "RotaryEmbedding", ["x", "cos", "sin", "pos"], feeds, null, ["y"], 23);
        var ex = Assert.Throws<ModelException>(() => RunProva(model, feeds));
        Assert.Contains("twice the cache width 3", ex.Message);
    }
}
