using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Prova.Core;
using Prova.Onnx;
using Prova.Runtime;
using Prova.Runtime.Quantization;

namespace Prova.Cli;

/// <summary>
/// <c>prova model quantize in.onnx --calibration inputs -o out.onnx</c>: static post-training int8
/// quantization into a standard QDQ model (see <see cref="QdqQuantizer"/>), then a report of how
/// often the float and the int8 model agree on held-out inputs.
/// </summary>
internal static class QuantizeCommand
{
    public static Command Create(CliContext context)
    {
        var model = new Argument<string>("model") { Description = "The float ONNX model." };
        var calibration = new Option<string>("--calibration", "-c")
        {
            Description = "Request file, or directory of request files (*.json), whose inputs calibrate the activation ranges (min/max). An optional \"labels\" array per file gives accuracies.",
            Required = true,
            HelpName = "file|dir",
        };
        var holdout = new Option<string?>("--holdout")
        {
            Description = "Request file or directory to measure agreement on (default: the last fifth of the calibration set, held out from calibration).",
            HelpName = "file|dir",
        };
        var output = new Option<string>("--output", "-o") { Description = "Where to write the quantized model.", Required = true, HelpName = "file" };
        var threads = new Option<int>("--threads", "-t")
        {
            Description = "Worker threads.",
            DefaultValueFactory = _ => Environment.ProcessorCount,
            HelpName = "N",
        };
        var command = new Command("quantize", "Quantize a float model to int8 (QDQ: per-channel weights, calibrated activations) and report the top-1 agreement.")
        {
            model, calibration, holdout, output, threads,
        };
        command.SetAction(parse => Execute(context, parse.GetValue(model)!, parse.GetValue(calibration)!, parse.GetValue(holdout), parse.GetValue(output)!, parse.GetValue(threads)));
        return command;
    }

    private sealed record Request(string Source, Dictionary<string, Tensor> Inputs, int[]? Labels);

    private static int Execute(CliContext context, string modelPath, string calibrationPath, string? holdoutPath, string outputPath, int threads)
    {
        if (threads < 1 || threads > SessionOptions.MaxThreads)
        {
            throw new CliException($"--threads must be between 1 and {SessionOptions.MaxThreads} (got {threads})");
        }
        var model = ModelRunner.LoadModel(modelPath);
        var calibration = ReadRequests(calibrationPath, "--calibration");
        List<Request> holdout;
        if (holdoutPath is not null)
        {
            holdout = ReadRequests(holdoutPath, "--holdout");
        }
        else
        {
            (calibration, holdout) = Split(calibration);
        }

        var result = QdqQuantizer.Quantize(model, calibration.Select(r => (IReadOnlyDictionary<string, Tensor>)r.Inputs), threads);
        try
        {
            OnnxWriter.Save(result.Model, outputPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"cannot write '{outputPath}': {ex.Message}", ex);
        }

        var o = context.Out;
        int calibrationRows = calibration.Sum(r => Rows(r));
        o.WriteLine($"quantized {result.QuantizedNodes.Count} node(s) to int8: {string.Join(", ", result.QuantizedNodes)}");
        o.WriteLine($"calibrated {QdqQuantizer.TensorsToCalibrate(model).Count} activation range(s) (min/max) for {result.Activations.Count} quantized tensor(s) on {calibration.Count} request(s), {calibrationRows} input(s)");
        o.WriteLine($"wrote {outputPath} ({Size(outputPath)}; float model {Size(modelPath)})");

        var (agreement, floatAccuracy, intAccuracy, rows, simulated) = Evaluate(model, result.Model, holdout, threads);
        o.WriteLine($"top-1 agreement float vs int8 on {rows} held-out input(s): {Percent(agreement)}");
        if (floatAccuracy is { } fa && intAccuracy is { } ia)
        {
            o.WriteLine($"accuracy on the held-out inputs: float {Percent(fa)}, int8 {Percent(ia)}");
        }
        if (simulated)
        {
            o.WriteLine("note: this build has no QuantizeLinear/DequantizeLinear kernels; the int8 model was evaluated as its exact-rounding float simulation");
        }
        return ExitCodes.Success;
    }

    private static (double Agreement, double? FloatAccuracy, double? IntAccuracy, int Rows, bool Simulated) Evaluate(
        OnnxModel floatModel, OnnxModel quantized, List<Request> holdout, int threads)
    {
        var options = new SessionOptions { Threads = threads };
        using var floatSession = new InferenceSession(floatModel, options);
        InferenceSession intSession;
        bool simulated = false;
        try
        {
            intSession = new InferenceSession(quantized, options);
        }
        catch (ModelException ex) when (ex.IsUnsupported)
        {
            intSession = new InferenceSession(QdqSimulation.Lower(quantized), options);
            simulated = true;
        }
        using (intSession)
        {
            string output = floatModel.Graph.Outputs[0].Name;
            int same = 0, total = 0, floatCorrect = 0, intCorrect = 0;
            bool labelled = true;
            foreach (var request in holdout)
            {
                var a = Top1.Predictions(floatSession.Run(request.Inputs)[output]);
                var b = Top1.Predictions(intSession.Run(request.Inputs)[output]);
                if (request.Labels is { } labels && labels.Length != a.Length)
                {
                    throw new CliException($"{request.Source}: {labels.Length} labels for {a.Length} predictions");
                }
                labelled &= request.Labels is not null;
                for (int i = 0; i < a.Length; i++)
                {
                    same += a[i] == b[i] ? 1 : 0;
                    if (request.Labels is { } l)
                    {
                        floatCorrect += a[i] == l[i] ? 1 : 0;
                        intCorrect += b[i] == l[i] ? 1 : 0;
                    }
                }
                total += a.Length;
            }
            if (total == 0)
            {
                throw new CliException("the held-out inputs produced no predictions");
            }
            return labelled
                ? ((double)same / total, (double)floatCorrect / total, (double)intCorrect / total, total, simulated)
                : ((double)same / total, null, null, total, simulated);
        }
    }

    /// <summary>Without --holdout: the last fifth of the files (or, for one file, of its rows) is held out.</summary>
    private static (List<Request> Calibration, List<Request> Holdout) Split(List<Request> requests)
    {
        if (requests.Count >= 2)
        {
            int held = (requests.Count + 4) / 5;
            return (requests[..^held], requests[^held..]);
        }
        var only = requests[0];
        int rows = Rows(only);
        if (rows < 2)
        {
            throw new CliException($"{only.Source}: one input cannot be split into calibration and held-out data; give --holdout");
        }
        int keep = rows - (rows + 4) / 5;
        return ([Slice(only, 0, keep)], [Slice(only, keep, rows)]);
    }

    /// <summary>The batch size of a request: the common first dimension of its inputs (1 when they disagree or are scalars).</summary>
    private static int Rows(Request request)
    {
        int rows = -1;
        foreach (var t in request.Inputs.Values)
        {
            int n = t.Rank == 0 ? 1 : t.Shape[0];
            if (rows >= 0 && n != rows)
            {
                return 1;
            }
            rows = n;
        }
        return Math.Max(rows, 1);
    }

    private static Request Slice(Request request, int start, int end)
    {
        var inputs = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, t) in request.Inputs)
        {
            int row = t.Length / t.Shape[0];
            var shape = t.ShapeArray();
            shape[0] = end - start;
            var data = Array.CreateInstance(t.Data.GetType().GetElementType()!, (end - start) * row);
            Array.Copy(t.Data, start * row, data, 0, data.Length);
            inputs[name] = new Tensor(t.Type, shape, data);
        }
        return new Request($"{request.Source} rows {start}..{end - 1}", inputs, request.Labels?[start..end]);
    }

    private static List<Request> ReadRequests(string path, string option)
    {
        string[] files;
        if (Directory.Exists(path))
        {
            files = Directory.GetFiles(path, "*.json");
            Array.Sort(files, StringComparer.Ordinal);
            if (files.Length == 0)
            {
                throw new CliException($"{option}: directory '{path}' has no *.json request files");
            }
        }
        else
        {
            files = [path];
        }
        var requests = new List<Request>(files.Length);
        foreach (var file in files)
        {
            var inputs = ModelRunner.ReadInputs(file);
            requests.Add(new Request(file, inputs, ReadLabels(file)));
        }
        return requests;
    }

    /// <summary>The optional top-level "labels" array of integers of a request file.</summary>
    private static int[]? ReadLabels(string file)
    {
        try
        {
            using var stream = File.OpenRead(file);
            using var doc = JsonDocument.Parse(stream, new JsonDocumentOptions { MaxDepth = 64 });
            if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("labels", out var labels))
            {
                return null;
            }
            if (labels.ValueKind != JsonValueKind.Array)
            {
                throw new CliException($"{file}: \"labels\" should be an array of class indices");
            }
            var result = new int[labels.GetArrayLength()];
            int i = 0;
            foreach (var label in labels.EnumerateArray())
            {
                if (label.ValueKind != JsonValueKind.Number || !label.TryGetInt32(out result[i++]))
                {
                    throw new CliException($"{file}: \"labels\" should hold integer class indices");
                }
            }
            return result;
        }
        catch (JsonException ex)
        {
            throw new CliException($"{file}: invalid JSON: {ex.Message}", ex);
        }
    }

    private static string Percent(double fraction) => (fraction * 100).ToString("F2", CultureInfo.InvariantCulture) + " %";

    private static string Size(string path) => (new FileInfo(path).Length / 1024.0).ToString("F1", CultureInfo.InvariantCulture) + " KB";
}
