using System.Diagnostics;
using Prova.Compare;
using Prova.Core;
using Prova.Onnx;
using Prova.Proofs.Inference;
using Prova.Runtime;
using Prova.Runtime.Quantization;

// Proof-of-inference benchmark (docs/benchmarks.md): for each quantized model, the median of
// several runs of plain integer inference, proving and verifying (the verifying key is derived once,
// outside the timings), the proof size (and the parts taken by the limb opening and by the weight
// openings), the size of the limb vector, the layers' dimensions and the process's peak working set.
//
//   dotnet run -c Release --project bench/Prova.ProofBench [-- --runs 7 --threads 1 --models fashion-mlp,fashion-cnn,mlp-1024,resnet8]
int runs = Arg("--runs", 7);
int threads = Arg("--threads", 1);
string only = StrArg("--models", "fashion-mlp,fashion-cnn,mlp-1024,resnet8");
string root = FindRoot();
Console.WriteLine($"threads {threads}, median of {runs} runs, batch 1 ({Environment.ProcessorCount} cores, shared machine)");
Console.WriteLine($"{"model",-14} {"layers",6} {"limbs",6} {"infer ms",9} {"prove ms",9} {"verify ms",10} {"proof KB",9} {"limbs KB",9} {"weights KB",10} {"overhead",9} {"peak MB",8}");
foreach (var name in only.Split(','))
{
    var (bytes, input) = Load(name);
    using var circuit = ProofCircuit.FromModelBytes(bytes, threads);
    using var plain = new InferenceSession(OnnxLoader.Load(bytes), new SessionOptions { Threads = threads });
    var inputs = new Dictionary<string, Tensor> { [circuit.InputNames[0]] = input };
    var infer = Median(runs, () => plain.Run(inputs));
    (Dictionary<string, Tensor> Outputs, InferenceProof Proof) result = default;
    var prove = Median(runs, () => result = InferenceProver.Prove(circuit, inputs));
    var proofBytes = ProofFormat.Write(result.Proof!);
    var outputs = result.Outputs!;
    var verify = Median(runs, () => InferenceVerifier.Verify(circuit, inputs, outputs, proofBytes));
    long peak = Process.GetCurrentProcess().PeakWorkingSet64;
    var range = result.Proof!.Range;
    double limbKb = range.LimbOpening.Length / 1024.0;
    double weightKb = result.Proof!.Layers.Sum(l => l.Opening.Length) / 1024.0;
    Console.WriteLine($"{name,-14} {circuit.Layers.Count,6} {"2^" + range.BatchRounds.Length,6} {infer,9:F3} {prove,9:F2} {verify,10:F2} {proofBytes.Length / 1024.0,9:F1} {limbKb,9:F1} {weightKb,10:F1} {prove / infer,8:F0}x {peak / (1024.0 * 1024),8:F0}");
    Console.WriteLine($"{"",-14} layers M×K×N: {string.Join(", ", result.Proof!.Layers.Select((l, i) => $"{l.Rows}×{circuit.Layers[i].K}×{l.Columns}"))}");
}

(byte[] Model, Tensor Input) Load(string name)
{
    switch (name)
    {
        case "fashion-mlp":
        case "fashion-cnn":
            {
                var files = Directory.GetFiles(Path.Combine(root, "models", "examples"), "*.json").Order(StringComparer.Ordinal).ToArray();
                var image = TensorJson.ReadNamedTensors(File.ReadAllText(files[0]), "inputs").Values.First();
                return (File.ReadAllBytes(Path.Combine(root, "models", name + ".int8.onnx")), image);
            }
        case "mlp-1024":
        case "resnet8":
            {
                var bench = BenchModels.All.First(m => m.Name == (name == "mlp-1024" ? "mlp-large" : "resnet8"));
                var model = bench.Build();
                var calibration = Enumerable.Range(0, 8).Select(s => (IReadOnlyDictionary<string, Tensor>)new Dictionary<string, Tensor> { [bench.InputName] = bench.MakeInput(1, 100 + s) });
                var quantized = QdqQuantizer.Quantize(model, calibration).Model;
                return (OnnxWriter.Write(quantized), bench.MakeInput(1, 7));
            }
        default:
            throw new ArgumentException($"unknown model '{name}'");
    }
}

static double Median(int runs, Action action)
{
    for (int w = 0; w < 3; w++)
    {
        action(); // warm-up (tiered JIT)
    }
    var times = new double[runs];
    for (int i = 0; i < runs; i++)
    {
        long t0 = Stopwatch.GetTimestamp();
        action();
        times[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
    }
    Array.Sort(times);
    return times[runs / 2];
}

int Arg(string flag, int fallback)
{
    int i = Array.IndexOf(args, flag);
    return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture) : fallback;
}

string StrArg(string flag, string fallback)
{
    int i = Array.IndexOf(args, flag);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
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
