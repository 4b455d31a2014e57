using System.Runtime;
using Prova.Core;
using Prova.Onnx;
using Prova.Runtime;

namespace Prova.Compare;

/// <summary>One node timed alone on both engines.</summary>
public sealed record OpTiming(string Node, string OpType, string Shapes, Measurement? Prova, Measurement? Ort, string? Error);

public sealed record ProfileResult(string Model, int Batch, int Threads, List<OpTiming> Ops, string? Error);

/// <summary>
/// A per-op breakdown without hooks inside the engine: run the model once with every intermediate exposed
/// as a graph output, then cut each node out as a one-node model fed with its real inputs and time it on
/// both engines. It shows which ops dominate and where Prova's kernels trail ORT's; the sum differs from
/// the whole-model time by what fusion (ORT) and buffer reuse (both) save.
/// </summary>
public sealed class OpProfiler(Options options, OrtProcess ort, TextWriter log)
{
    public ProfileResult Run(BenchModel model, int batch, int threads)
    {
        var dir = Path.Combine(options.WorkDirectory, "profile", $"{model.Name}_b{batch}");
        Directory.CreateDirectory(dir);
        OnnxModel full;
        Dictionary<string, Tensor> values;
        var input = model.MakeInput(batch, Comparison.Seed(model, batch));
        try
        {
            full = model.Build();
            values = Intermediates(full, model.InputName, input, dir);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return new ProfileResult(model.Name, batch, threads, [], Comparison.Describe(e));
        }
        // Phase 1 writes every one-node model and its inputs; phase 2 times them with the intermediates
        // dropped, so a large managed heap does not make Prova's runs pay for slow full collections.
        var graph = full.Graph;
        var cases = new List<(OnnxNode Node, OnnxModel Single, string Stem, string Shapes)>();
        for (int k = 0; k < graph.Nodes.Count; k++)
        {
            var stem = Path.Combine(dir, $"{k:D3}");
            var (single, shapes) = Cut(full, graph.Nodes[k], values, stem);
            cases.Add((graph.Nodes[k], single, stem, shapes));
        }
        values.Clear();
        GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        // A first untimed pass over every node: .NET postpones tier-1 re-compilation while new code keeps
        // being jitted, so the first nodes would otherwise be timed on unoptimised shared code.
        foreach (var (_, single, stem, _) in cases)
        {
            WarmProva(single, stem, threads);
        }
        var ops = new List<OpTiming>();
        foreach (var (node, single, stem, shapes) in cases)
        {
            var timing = TimeNode(node, single, stem, shapes, threads);
            ops.Add(timing);
            log.WriteLine($"  {timing.Node,-28} {timing.OpType,-20} Prova {timing.Prova?.MedianMs,9:0.0000} ms  ORT {timing.Ort?.MedianMs,9:0.0000} ms  {timing.Error}");
        }
        return new ProfileResult(model.Name, batch, threads, ops, null);
    }

    /// <summary>
    /// Every node output's value for this input, computed by ORT (the reference), so ops Prova does not
    /// run yet still get a row.
    /// </summary>
    private Dictionary<string, Tensor> Intermediates(OnnxModel model, string inputName, Tensor input, string dir)
    {
        var outputs = new List<ValueInfo>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in model.Graph.Nodes)
        {
            foreach (var o in node.Outputs)
            {
                if (o.Length > 0 && seen.Add(o))
                {
                    outputs.Add(new ValueInfo { Name = o, ElementType = DataType.Float32 });
                }
            }
        }
        var expanded = new OnnxModel
        {
            IrVersion = model.IrVersion,
            ProducerName = model.ProducerName,
            Opsets = model.Opsets,
            Graph = new OnnxGraph
            {
                Name = model.Graph.Name,
                Nodes = model.Graph.Nodes,
                Inputs = model.Graph.Inputs,
                Outputs = outputs,
                Initializers = model.Graph.Initializers,
            },
        };
        string modelPath = Path.Combine(dir, "expanded.onnx");
        string inputsPath = Path.Combine(dir, "expanded.inputs.json");
        string outputsPath = Path.Combine(dir, "expanded.outputs.json");
        OnnxWriter.Save(expanded, modelPath);
        TensorJson.WriteFile(inputsPath, "inputs", new Dictionary<string, Tensor>(StringComparer.Ordinal) { [inputName] = input });
        var once = new TimeBox(WarmupIters: 0, WarmupSeconds: 0, WarmupMaxSeconds: 0, MinIters: 1, MinSeconds: 0, MaxSeconds: 0);
        var result = ort.Run(modelPath, inputsPath, threads: 1, once, outputsPath);
        if (!result.Ok)
        {
            throw new InvalidOperationException("ORT could not compute the intermediates: " + result.Error);
        }
        var values = TensorJson.ReadFile(outputsPath, "outputs");
        values[inputName] = input;
        return values;
    }

    /// <summary>Writes the node as a one-node model with its real inputs (stem.onnx, stem.inputs.json).</summary>
    private static (OnnxModel Single, string Shapes) Cut(OnnxModel full, OnnxNode node, Dictionary<string, Tensor> values, string stem)
    {
        var graph = full.Graph;
        var inputs = new List<ValueInfo>();
        var initializers = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var feeds = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var shapes = new List<string>();
        foreach (var name in node.Inputs)
        {
            if (name.Length == 0 || initializers.ContainsKey(name) || feeds.ContainsKey(name))
            {
                continue;
            }
            if (graph.Initializers.TryGetValue(name, out var constant))
            {
                initializers[name] = constant;
                shapes.Add("w" + constant.ShapeString());
            }
            else
            {
                var value = values[name];
                feeds[name] = value;
                inputs.Add(new ValueInfo { Name = name, ElementType = value.Type, Shape = FixedDims(value) });
                shapes.Add(value.ShapeString());
            }
        }
        var outputs = new List<ValueInfo>();
        foreach (var name in node.Outputs)
        {
            if (name.Length > 0)
            {
                var value = values[name];
                outputs.Add(new ValueInfo { Name = name, ElementType = value.Type, Shape = FixedDims(value) });
            }
        }
        var single = new OnnxModel
        {
            IrVersion = full.IrVersion,
            ProducerName = full.ProducerName,
            Opsets = full.Opsets,
            Graph = new OnnxGraph { Name = "op", Nodes = [node], Inputs = inputs, Outputs = outputs, Initializers = initializers },
        };
        OnnxWriter.Save(single, stem + ".onnx");
        TensorJson.WriteFile(stem + ".inputs.json", "inputs", feeds);
        return (single, string.Join(", ", shapes));
    }

    private static void WarmProva(OnnxModel single, string stem, int threads)
    {
        try
        {
            var feeds = TensorJson.ReadFile(stem + ".inputs.json", "inputs");
            using var session = new InferenceSession(single, new SessionOptions { Threads = threads });
            Measurement.Run(() => session.Run(feeds), new TimeBox(WarmupIters: 40, WarmupSeconds: 0, WarmupMaxSeconds: 0.5, MinIters: 1, MinSeconds: 0, MaxSeconds: 0, QuietIters: 0, QuietSeconds: 0));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Reported by the timed pass.
        }
    }

    private OpTiming TimeNode(OnnxNode node, OnnxModel single, string stem, string shapes, int threads)
    {
        string modelPath = stem + ".onnx";
        string inputsPath = stem + ".inputs.json";
        Measurement? prova = null;
        string? error = null;
        try
        {
            var feeds = TensorJson.ReadFile(inputsPath, "inputs");
            using var session = new InferenceSession(single, new SessionOptions { Threads = threads });
            prova = Measurement.Run(() => session.Run(feeds), TimeBox.Profile);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            error = "Prova: " + Comparison.Describe(e);
        }
        var ortResult = ort.Run(modelPath, inputsPath, threads, TimeBox.Profile, outputsPath: null);
        if (!ortResult.Ok)
        {
            error = (error is null ? "" : error + "; ") + "ORT: " + ortResult.Error;
        }
        return new OpTiming(node.DisplayName, node.OpType, shapes, prova, ortResult.Timing, error);
    }

    private static Dim[] FixedDims(Tensor t)
    {
        var dims = new Dim[t.Rank];
        for (int i = 0; i < dims.Length; i++)
        {
            dims[i] = Dim.Fixed(t.Shape[i]);
        }
        return dims;
    }
}
