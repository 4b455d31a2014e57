using Prova.Core;
using Prova.Onnx;
using Prova.Runtime;

namespace Prova.Compare;

/// <summary>One table row: both engines on one model × batch × threads.</summary>
public sealed record Row(string Model, int Batch, int Threads, Measurement? Prova, string? ProvaError, Measurement? Ort, string? OrtError, Agreement? Agreement)
{
    public double? Ratio => Prova is not null && Ort is not null ? Prova.MedianMs / Ort.MedianMs : null;
}

/// <summary>Runs the rows strictly one after another: Prova in-process, then ORT in the runner process.</summary>
public sealed class Comparison(Options options, OrtProcess ort, TextWriter log)
{
    public List<Row> Run()
    {
        var rows = new List<Row>();
        foreach (var model in options.Models)
        {
            string modelPath = Path.Combine(options.WorkDirectory, "models", model.Name + ".onnx");
            string? buildError = null;
            try
            {
                OnnxWriter.Save(model.Build(), modelPath);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                buildError = "model build: " + Describe(e);
            }
            foreach (int batch in options.Batches)
            {
                var input = model.MakeInput(batch, Seed(model, batch));
                var feeds = new Dictionary<string, Tensor>(StringComparer.Ordinal) { [model.InputName] = input };
                string inputsPath = Path.Combine(options.WorkDirectory, "inputs", $"{model.Name}_b{batch}.json");
                TensorJson.WriteFile(inputsPath, "inputs", feeds);
                foreach (int threads in options.Threads)
                {
                    var row = buildError is null
                        ? RunRow(model, modelPath, feeds, inputsPath, batch, threads)
                        : new Row(model.Name, batch, threads, null, buildError, null, buildError, null);
                    rows.Add(row);
                    log.WriteLine(Report.ConsoleLine(row));
                }
            }
        }
        return rows;
    }

    private Row RunRow(BenchModel model, string modelPath, Dictionary<string, Tensor> feeds, string inputsPath, int batch, int threads)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Measurement? provaTiming = null;
        string? provaError = null;
        Dictionary<string, Tensor>? provaOutputs = null;
        try
        {
            using var session = InferenceSession.Load(modelPath, new SessionOptions { Threads = threads });
            provaOutputs = session.Run(feeds);
            provaTiming = Measurement.Run(() => session.Run(feeds), options.TimeBox);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            provaError = Describe(e);
        }
        GC.Collect();

        string outputsPath = Path.Combine(options.WorkDirectory, "outputs", $"{model.Name}_b{batch}_t{threads}.ort.json");
        File.Delete(outputsPath);
        var ortResult = ort.Run(modelPath, inputsPath, threads, options.TimeBox, outputsPath);
        Agreement? agreement = null;
        if (ortResult.Ok && provaOutputs is not null)
        {
            agreement = Agreement.Check(provaOutputs, TensorJson.ReadFile(outputsPath, "outputs"));
        }
        return new Row(model.Name, batch, threads, provaTiming, provaError, ortResult.Timing, ortResult.Error, agreement);
    }

    public static int Seed(BenchModel model, int batch)
    {
        // A stable seed per model and batch (string.GetHashCode is randomised per process).
        int h = 17;
        foreach (char c in model.Name)
        {
            h = unchecked((h * 31) + c);
        }
        return unchecked((h * 31) + batch) & int.MaxValue;
    }

    public static string Describe(Exception e)
    {
        var message = e is NotImplementedException
            ? $"{e.TargetSite?.DeclaringType?.Name}.{e.TargetSite?.Name} not implemented yet"
            : e.Message;
        var line = message.Split('\n')[0];
        return e is ProvaException or NotImplementedException ? line : $"{e.GetType().Name}: {line}";
    }
}
