using System.Diagnostics;
using System.Text.Json;
using Prova.Core;
using Prova.Onnx;
using Prova.Runtime;

// Quantized models, Prova vs ONNX Runtime: builds QDQ models (as ORT's static quantizer writes them)
// whose outputs are the quantized uint8 tensors, runs both engines on the same inputs, and reports
// the fraction of output elements that match exactly, the largest difference in quantization steps,
// and median latencies.
//
//   dotnet run -c Release --project bench/quant/Prova.QuantCompare [-- --batch 32 --threads 1]
int batch = Arg("--batch", 32);
int threads = Arg("--threads", 1);
string root = FindRoot();
string work = Path.Combine(Path.GetTempPath(), "prova-quant-compare");
Directory.CreateDirectory(work);
Console.WriteLine($"batch {batch}, threads {threads}");
Console.WriteLine($"{"model",-22} {"elements",9} {"exact",8} {"max diff",9} {"prova ms",9} {"ort ms",8} {"ratio",6}");
var cases = new List<(string, OnnxModel, Tensor)> { Mlp(batch, [784, 128, 10]), Mlp(batch, [784, 1024, 1024, 10]), Cnn(batch) };
// The committed int8 Fashion-MNIST models (written by `prova model quantize`) on held-out test images.
foreach (var file in new[] { "fashion-mlp.int8", "fashion-cnn.int8" })
{
    string path = Path.Combine(root, "models", file + ".onnx");
    if (File.Exists(path))
    {
        cases.Add((file, OnnxLoader.Load(path), FashionBatch(root, batch)));
    }
}
foreach (var (name, model, input) in cases)
{
    string inName = model.Graph.Inputs[0].Name;
    string outName = model.Graph.Outputs[0].Name;
    string modelPath = Path.Combine(work, name + ".onnx");
    string inputPath = Path.Combine(work, name + ".inputs.json");
    string outPath = Path.Combine(work, name + ".ort.json");
    OnnxWriter.Save(model, modelPath);
    using (var stream = File.Create(inputPath))
    using (var writer = new Utf8JsonWriter(stream))
    {
        writer.WriteStartObject();
        writer.WriteStartObject("inputs");
        writer.WritePropertyName(inName);
        TensorJson.WriteTensor(writer, input);
        writer.WriteEndObject();
        writer.WriteEndObject();
    }
    var inputs = new Dictionary<string, Tensor> { [inName] = input };
    using var session = new InferenceSession(OnnxLoader.Load(modelPath), new SessionOptions { Threads = threads });
    var ours = session.Run(inputs)[outName];
    var times = new List<double>();
    var clock = Stopwatch.StartNew();
    while (times.Count < 5 || (clock.Elapsed.TotalSeconds < 2 && times.Count < 500))
    {
        long t0 = Stopwatch.GetTimestamp();
        session.Run(inputs);
        times.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
    }
    times.Sort();
    var psi = new ProcessStartInfo("node", [Path.Combine(root, "bench/ort/bench.js"), modelPath, inputPath, "--threads", threads.ToString(), "--max-seconds", "2", "--out", outPath])
    {
        RedirectStandardOutput = true,
    };
    using var node = Process.Start(psi)!;
    string line = node.StandardOutput.ReadToEnd();
    node.WaitForExit();
    using var result = JsonDocument.Parse(line.Trim().Split('\n')[^1]);
    if (!result.RootElement.GetProperty("ok").GetBoolean())
    {
        Console.WriteLine($"{name}: ORT failed: {line}");
        continue;
    }
    double ortMs = result.RootElement.GetProperty("medianMs").GetDouble();
    var theirs = TensorJson.ReadNamedTensors(File.ReadAllText(outPath), "outputs")[outName];
    double ms = times[times.Count / 2];
    if (ours.Type == DataType.Float32)
    {
        // Dequantized outputs: equal integers give bit-equal floats.
        var fa = ours.Span<float>();
        var fb = theirs.Span<float>();
        int same = 0;
        float worst = 0;
        for (int i = 0; i < fa.Length; i++)
        {
            same += BitConverter.SingleToInt32Bits(fa[i]) == BitConverter.SingleToInt32Bits(fb[i]) ? 1 : 0;
            worst = MathF.Max(worst, MathF.Abs(fa[i] - fb[i]));
        }
        Console.WriteLine($"{name,-22} {fa.Length,9} {100.0 * same / fa.Length,7:F3}% {worst,9:G3} {ms,9:F3} {ortMs,8:F3} {ms / ortMs,6:F2}   (float logits after DequantizeLinear; max diff in logit units)");
        continue;
    }
    var a = ours.Span<byte>();
    var b = theirs.Span<byte>();
    int exact = 0;
    int maxDiff = 0;
    int interior = 0;
    for (int i = 0; i < a.Length; i++)
    {
        int d = Math.Abs(a[i] - b[i]);
        exact += d == 0 ? 1 : 0;
        maxDiff = Math.Max(maxDiff, d);
        interior += a[i] is > 0 and < 255 ? 1 : 0;
    }
    Console.WriteLine($"{name,-22} {a.Length,9} {100.0 * exact / a.Length,7:F3}% {maxDiff,9} {ms,9:F3} {ortMs,8:F3} {ms / ortMs,6:F2}   ({100.0 * interior / a.Length:F0}% of outputs not saturated)");
}

// `batch` held-out test images (models/examples, repeated as needed) as one [batch, 1, 28, 28] tensor.
static Tensor FashionBatch(string root, int batch)
{
    var files = Directory.GetFiles(Path.Combine(root, "models", "examples"), "*.json").Order(StringComparer.Ordinal).ToArray();
    var data = new float[batch * 784];
    for (int i = 0; i < batch; i++)
    {
        var image = TensorJson.ReadNamedTensors(File.ReadAllText(files[i % files.Length]), "inputs").Values.First();
        image.Span<float>().CopyTo(data.AsSpan(i * 784, 784));
    }
    return Tensor.Create([batch, 1, 28, 28], data);
}

int Arg(string flag, int fallback)
{
    int i = Array.IndexOf(args, flag);
    return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1]) : fallback;
}

static string FindRoot()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        if (File.Exists(Path.Combine(dir.FullName, "Prova.slnx")))
        {
            return dir.FullName;
        }
    }
    throw new InvalidOperationException("Prova.slnx not found");
}

static OnnxNode N(string op, string[] inputs, string output, params OnnxAttribute[] attributes) => new()
{
    Name = output + "_node",
    OpType = op,
    Inputs = inputs,
    Outputs = [output],
    Attributes = attributes.ToDictionary(a => a.Name, StringComparer.Ordinal),
};

static OnnxAttribute Ints(string name, params long[] v) => new() { Name = name, Kind = AttributeKind.Ints, Ints = v };

static OnnxAttribute Int(string name, long v) => new() { Name = name, Kind = AttributeKind.Int, Int = v };

static Tensor S<T>(T v) where T : unmanaged => Tensor.Create<T>([], [v]);

// Adds DQ(int8 per-channel weights) and DQ(int32 bias on scale sx·sw) for a layer with `outs` channels and `fanIn` inputs.
static (string W, string B, float[] Sw) Weights(OnnxGraph g, Random rng, string p, int[] shape, int outs, int fanIn, int axis, float sx)
{
    int count = shape.Aggregate(1, (x, y) => x * y);
    var w = new sbyte[count];
    for (int i = 0; i < count; i++)
    {
        w[i] = (sbyte)rng.Next(-127, 128);
    }
    var sw = new float[outs];
    for (int j = 0; j < outs; j++)
    {
        sw[j] = (float)(Math.Sqrt(2.0 / fanIn) * 2.5 / 127 * (0.7 + 0.6 * rng.NextDouble()));
    }
    var bias = new int[outs];
    var sb = new float[outs];
    for (int j = 0; j < outs; j++)
    {
        sb[j] = sx * sw[j];
        bias[j] = (int)Math.Round((rng.NextDouble() - 0.5) * 0.2 / sb[j]);
    }
    g.Initializers[p + "_w"] = Tensor.Create(shape, w);
    g.Initializers[p + "_sw"] = Tensor.Create([outs], sw);
    g.Initializers[p + "_zw"] = Tensor.Create([outs], new sbyte[outs]);
    g.Initializers[p + "_b"] = Tensor.Create([outs], bias);
    g.Initializers[p + "_sb"] = Tensor.Create([outs], sb);
    g.Initializers[p + "_zb"] = Tensor.Create([outs], new int[outs]);
    g.Nodes.Add(N("DequantizeLinear", [p + "_w", p + "_sw", p + "_zw"], p + "_wf", Int("axis", axis)));
    g.Nodes.Add(N("DequantizeLinear", [p + "_b", p + "_sb", p + "_zb"], p + "_bf", Int("axis", 0)));
    return (p + "_wf", p + "_bf", sw);
}

static (string, OnnxModel, Tensor) Mlp(int batch, int[] sizes)
{
    var rng = new Random(1);
    var g = new OnnxGraph { Name = "qdq_mlp" };
    g.Inputs.Add(new ValueInfo { Name = "x", ElementType = DataType.Float32, Shape = [Dim.Fixed(batch), Dim.Fixed(sizes[0])] });
    g.Outputs.Add(new ValueInfo { Name = "y", ElementType = DataType.UInt8, Shape = [Dim.Fixed(batch), Dim.Fixed(sizes[^1])] });
    float sx = 1f / 255;
    g.Initializers["sx"] = S(sx);
    g.Initializers["zx"] = S((byte)0);
    g.Nodes.Add(N("QuantizeLinear", ["x", "sx", "zx"], "xq"));
    string current = "xq";
    string scale = "sx";
    string zero = "zx";
    for (int l = 0; l + 1 < sizes.Length; l++)
    {
        bool last = l + 2 == sizes.Length;
        string p = "l" + l;
        g.Nodes.Add(N("DequantizeLinear", [current, scale, zero], p + "_xf"));
        var (w, b, _) = Weights(g, rng, p, [sizes[l], sizes[l + 1]], sizes[l + 1], sizes[l], 1, sx);
        g.Nodes.Add(N("Gemm", [p + "_xf", w, b], p + "_h"));
        float sy = last ? 0.08f : 0.03f;
        g.Initializers[p + "_sy"] = S(sy);
        g.Initializers[p + "_zy"] = S((byte)(last ? 128 : 0));
        string pre = p + "_h";
        if (!last)
        {
            g.Nodes.Add(N("Relu", [pre], p + "_r"));
            pre = p + "_r";
        }
        current = last ? "y" : p + "_q";
        g.Nodes.Add(N("QuantizeLinear", [pre, p + "_sy", p + "_zy"], current));
        scale = p + "_sy";
        zero = p + "_zy";
        sx = sy;
    }
    var x = new float[batch * sizes[0]];
    for (int i = 0; i < x.Length; i++)
    {
        x[i] = (float)rng.NextDouble();
    }
    string name = "qdq-mlp-" + string.Join("-", sizes);
    return (name, new OnnxModel { IrVersion = 8, Opsets = new Dictionary<string, long> { [""] = 13 }, Graph = g }, Tensor.Create([batch, sizes[0]], x));
}

static (string, OnnxModel, Tensor) Cnn(int batch)
{
    var rng = new Random(2);
    var g = new OnnxGraph { Name = "qdq_cnn" };
    g.Inputs.Add(new ValueInfo { Name = "x", ElementType = DataType.Float32, Shape = [Dim.Fixed(batch), Dim.Fixed(1), Dim.Fixed(28), Dim.Fixed(28)] });
    g.Outputs.Add(new ValueInfo { Name = "y", ElementType = DataType.UInt8 });
    float sx = 1f / 255;
    g.Initializers["sx"] = S(sx);
    g.Initializers["zx"] = S((byte)0);
    g.Nodes.Add(N("QuantizeLinear", ["x", "sx", "zx"], "xq"));
    string current = "xq";
    string scale = "sx";
    string zero = "zx";
    int[] channels = [1, 16, 32, 32];
    for (int l = 0; l < 3; l++)
    {
        string p = "c" + l;
        bool last = l == 2;
        g.Nodes.Add(N("DequantizeLinear", [current, scale, zero], p + "_xf"));
        var (w, b, _) = Weights(g, rng, p, [channels[l + 1], channels[l], 3, 3], channels[l + 1], channels[l] * 9, 0, sx);
        g.Nodes.Add(N("Conv", [p + "_xf", w, b], p + "_h", Ints("pads", 1, 1, 1, 1), Ints("strides", l == 0 ? 1 : 2, l == 0 ? 1 : 2)));
        float sy = last ? 0.08f : 0.03f;
        g.Initializers[p + "_sy"] = S(sy);
        g.Initializers[p + "_zy"] = S((byte)(last ? 128 : 0));
        string pre = p + "_h";
        if (!last)
        {
            g.Nodes.Add(N("Relu", [pre], p + "_r"));
            pre = p + "_r";
        }
        current = last ? "y" : p + "_q";
        g.Nodes.Add(N("QuantizeLinear", [pre, p + "_sy", p + "_zy"], current));
        scale = p + "_sy";
        zero = p + "_zy";
        sx = sy;
    }
    var x = new float[batch * 28 * 28];
    for (int i = 0; i < x.Length; i++)
    {
        x[i] = (float)rng.NextDouble();
    }
    return ("qdq-cnn-28", new OnnxModel { IrVersion = 8, Opsets = new Dictionary<string, long> { [""] = 13 }, Graph = g }, Tensor.Create([batch, 1, 28, 28], x));
}
