using Prova.Core;
using Prova.Onnx;

namespace Prova.Cli;

/// <summary>
/// The demo's example model: a LeNet-5-style CNN for 1×28×28 images with fixed pseudo-random
/// (untrained) weights from a seeded generator, so every machine builds the very same bytes.
/// </summary>
internal static class DemoModel
{
    public const string InputName = "image";
    public const string OutputName = "probabilities";

    public static OnnxModel Build(ulong seed = 2024)
    {
        var rng = new SplitMix64(seed);
        var b = new ModelBuilder(opset: 17, graphName: "lenet");
        b.Metadata("producer", "prova demo");
        var x = b.Input(InputName, DataType.Float32, 1, 1, 28, 28);
        // conv1: 1→6, 5×5, pad 2 → 6×28×28, relu, maxpool 2 → 6×14×14
        var h = Conv(b, rng, "conv1", x, 1, 6, pad: 2);
        h = b.Node("MaxPool", [h], [("kernel_shape", new long[] { 2, 2 }), ("strides", new long[] { 2, 2 })], name: "pool1");
        // conv2: 6→16, 5×5 → 16×10×10, relu, maxpool 2 → 16×5×5
        h = Conv(b, rng, "conv2", h, 6, 16, pad: 0);
        h = b.Node("MaxPool", [h], [("kernel_shape", new long[] { 2, 2 }), ("strides", new long[] { 2, 2 })], name: "pool2");
        h = b.Node("Flatten", [h], [("axis", 1L)], name: "flatten");
        h = Dense(b, rng, "fc1", h, 400, 120, relu: true);
        h = Dense(b, rng, "fc2", h, 120, 84, relu: true);
        h = Dense(b, rng, "fc3", h, 84, 10, relu: false);
        var p = b.Node("Softmax", [h], [("axis", -1L)], name: "softmax");
        b.Output(p, OutputName, DataType.Float32, [1, 10]);
        return b.Build();
    }

    private static string Conv(ModelBuilder b, SplitMix64 rng, string name, string x, int cin, int cout, int pad)
    {
        float scale = MathF.Sqrt(6f / (cin * 25));
        var w = b.Initializer(name + ".weight", Tensor.Create([cout, cin, 5, 5], rng.Uniform(cout * cin * 25, scale)));
        var bias = b.Initializer(name + ".bias", Tensor.Create([cout], rng.Uniform(cout, 0.1f)));
        var y = b.Node("Conv", [x, w, bias],
            [("kernel_shape", new long[] { 5, 5 }), ("pads", new long[] { pad, pad, pad, pad })], name: name);
        return b.Node("Relu", [y], name: name + ".relu");
    }

    private static string Dense(ModelBuilder b, SplitMix64 rng, string name, string x, int fin, int fout, bool relu)
    {
        float scale = MathF.Sqrt(6f / fin);
        var w = b.Initializer(name + ".weight", Tensor.Create([fout, fin], rng.Uniform(fout * fin, scale)));
        var bias = b.Initializer(name + ".bias", Tensor.Create([fout], rng.Uniform(fout, 0.1f)));
        var y = b.Node("Gemm", [x, w, bias], [("transB", 1L)], name: name);
        return relu ? b.Node("Relu", [y], name: name + ".relu") : y;
    }

    /// <summary>A hand-drawn-looking "7" as a 1×1×28×28 image with values in [0, 1].</summary>
    public static Tensor Digit()
    {
        // Strokes as line segments (x0, y0, x1, y1); ink falls off smoothly with distance.
        ReadOnlySpan<float> strokes = [6.5f, 6.5f, 21f, 6f, 21f, 6f, 12f, 22.5f, 10f, 14f, 18.5f, 14f];
        var pixels = new float[28 * 28];
        for (int y = 0; y < 28; y++)
        {
            for (int x = 0; x < 28; x++)
            {
                float best = float.MaxValue;
                for (int s = 0; s < strokes.Length; s += 4)
                {
                    best = MathF.Min(best, Distance(x, y, strokes[s], strokes[s + 1], strokes[s + 2], strokes[s + 3]));
                }
                pixels[y * 28 + x] = Math.Clamp(1.6f - best * 0.8f, 0f, 1f);
            }
        }
        return Tensor.Create([1, 1, 28, 28], pixels);
    }

    private static float Distance(float px, float py, float x0, float y0, float x1, float y1)
    {
        float dx = x1 - x0, dy = y1 - y0;
        float t = Math.Clamp(((px - x0) * dx + (py - y0) * dy) / (dx * dx + dy * dy), 0f, 1f);
        float ex = px - (x0 + t * dx), ey = py - (y0 + t * dy);
        return MathF.Sqrt(ex * ex + ey * ey);
    }

    /// <summary>The image drawn with half-block characters, two pixel rows per text line.</summary>
    public static List<string> Render(Tensor image)
    {
        var p = (float[])image.Data;
        var lines = new List<string>(14);
        for (int y = 0; y < 28; y += 2)
        {
            var line = new char[28];
            for (int x = 0; x < 28; x++)
            {
                bool top = p[y * 28 + x] > 0.35f, bottom = p[(y + 1) * 28 + x] > 0.35f;
                line[x] = (top, bottom) switch
                {
                    (true, true) => '█',
                    (true, false) => '▀',
                    (false, true) => '▄',
                    _ => ' ',
                };
            }
            lines.Add(new string(line));
        }
        return lines;
    }

    /// <summary>SplitMix64: tiny, fast and fully specified, so the weights never change.</summary>
    internal sealed class SplitMix64(ulong seed)
    {
        private ulong _state = seed;

        public ulong Next()
        {
            ulong z = _state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }

        /// <summary>A float in [0, 1) from the top 24 bits.</summary>
        public float NextFloat() => (Next() >> 40) * (1f / (1 << 24));

        public float[] Uniform(int count, float scale)
        {
            var values = new float[count];
            for (int i = 0; i < count; i++)
            {
                values[i] = (NextFloat() * 2f - 1f) * scale;
            }
            return values;
        }
    }
}
