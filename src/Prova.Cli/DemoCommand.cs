using System.CommandLine;
using System.Globalization;
using Prova.Core;
using Prova.Onnx;
using Prova.Runtime;
using Spectre.Console;

namespace Prova.Cli;

/// <summary>
/// <c>prova demo</c>: the local story in a few seconds. Builds a small CNN (nothing is downloaded),
/// runs it, and shows that the output hash is bit-identical across thread counts.
/// </summary>
internal static class DemoCommand
{
    public static Command Create(CliContext context)
    {
        var dir = new Option<string?>("--dir")
        {
            Description = "Where to write the example model and input (default: ~/.prova/demo).",
            HelpName = "directory",
        };
        var command = new Command("demo", "Build an example CNN, run it, and show bit-identical results across thread counts.") { dir };
        command.SetAction(parse => Execute(context, parse.GetValue(dir)));
        return command;
    }

    private static int Execute(CliContext context, string? dirOption)
    {
        var console = context.Console;
        console.Write(new Panel(new Markup(
                "[bold]Prova[/] runs ONNX models in pure C# with a [bold]deterministic[/] engine:\n" +
                "the same model and input give the same output bytes on every machine and thread count.\n" +
                "This demo builds a small LeNet-style CNN, runs it, and checks exactly that."))
            .Header("[bold deepskyblue1] prova demo [/]")
            .Border(BoxBorder.Rounded)
            .Expand());

        // 1. The example model and input, written like any user's files.
        string dir = PrepareDirectory(dirOption);
        string modelPath = Path.Combine(dir, "lenet.onnx");
        string inputPath = Path.Combine(dir, "input.json");
        var built = DemoModel.Build();
        OnnxWriter.Save(built, modelPath);
        var image = DemoModel.Digit();
        File.WriteAllBytes(inputPath, TensorJson.WriteNamedTensors(new Dictionary<string, Tensor> { [DemoModel.InputName] = image }));
        long parameters = 0;
        foreach (var w in built.Graph.Initializers.Values)
        {
            parameters += w.Length;
        }

        var files = new Table().Border(TableBorder.Rounded).Title("[bold]1. example model and input[/]").HideHeaders();
        files.AddColumn("what");
        files.AddColumn("value");
        files.AddRow("[grey]model[/]", $"{Markup.Escape(modelPath)} ({Size(modelPath)})");
        files.AddRow("[grey]architecture[/]", "Conv 5×5 → MaxPool → Conv 5×5 → MaxPool → Gemm 120 → Gemm 84 → Gemm 10 → Softmax");
        files.AddRow("[grey]parameters[/]", $"{parameters:N0} (fixed pseudo-random weights, seed 2024; untrained)");
        files.AddRow("[grey]input[/]", $"{Markup.Escape(inputPath)} ({Size(inputPath)}): {DemoModel.InputName} float32 [[1, 1, 28, 28]]");
        var art = new Panel(new Text(string.Join('\n', DemoModel.Render(image)))).Header("input image").Border(BoxBorder.Rounded);
        console.Write(new Columns(files, art).Collapse());

        // 2. Load the files back and run.
        var model = ModelRunner.LoadModel(modelPath);
        var inputs = ModelRunner.ReadInputs(inputPath);
        int allThreads = Math.Max(2, Environment.ProcessorCount);
        Dictionary<string, Tensor> outputs;
        string hash;
        double latency;
        using (var session = new InferenceSession(model, new SessionOptions { Threads = allThreads }))
        {
            ModelRunner.WarmUp(session, inputs);
            (outputs, latency) = ModelRunner.TimedRun(session, inputs);
            hash = TensorEncoding.Hash(outputs);
        }
        var probabilities = outputs[DemoModel.OutputName];
        var chart = new BarChart().Label("[bold]2. output: class probabilities[/]").Width(70);
        var p = probabilities.Span<float>();
        int best = TensorView.ArgMax(probabilities) ?? 0;
        for (int i = 0; i < p.Length; i++)
        {
            chart.AddItem($"class {i}", Math.Round(p[i], 4), i == best ? Color.Green : Color.Grey);
        }
        console.Write(chart);
        console.MarkupLine($"predicted class [bold]{best}[/] (the weights are random, so this means nothing; the bytes are what matter)");
        console.MarkupLine($"output hash [bold]{hash}[/]  latency {TensorView.Ms(latency)}");
        console.WriteLine();

        // 3. Determinism: the same bytes with 1 thread and with all threads.
        var runs = new Table().Border(TableBorder.Rounded).Title("[bold]3. same input, different thread counts[/]");
        runs.AddColumn("threads");
        runs.AddColumn("output hash (SHA-256 of the canonical encoding)");
        runs.AddColumn(new TableColumn("median latency").RightAligned());
        bool identical = true;
        BenchResult? benchAll = null;
        foreach (int threads in new[] { 1, allThreads })
        {
            using var session = new InferenceSession(model, new SessionOptions { Threads = threads });
            var (again, _) = ModelRunner.TimedRun(session, inputs);
            string h = TensorEncoding.Hash(again);
            bool same = h == hash;
            identical &= same;
            var stats = ModelRunner.Bench(session, inputs, iterations: 300, timeBudget: TimeSpan.FromSeconds(1));
            if (threads == allThreads)
            {
                benchAll = stats;
            }
            runs.AddRow(
                threads.ToString(CultureInfo.InvariantCulture),
                same ? $"[green]{h}[/]" : $"[red]{h}[/]",
                TensorView.Ms(stats.MedianMs));
        }
        console.Write(runs);
        if (!identical)
        {
            console.MarkupLine("[red bold]✗ the hashes differ: this is a determinism bug in Prova[/]");
            return ExitCodes.VerificationFailed;
        }
        console.MarkupLine("[green bold]✓ bit-identical across thread counts[/]");
        if (benchAll is not null)
        {
            console.MarkupLine($"benchmark: median [bold]{TensorView.Ms(benchAll.MedianMs)}[/], p99 {TensorView.Ms(benchAll.P99Ms)} over {benchAll.Iterations} runs with {allThreads} threads");
        }
        console.WriteLine();
        console.MarkupLine("[grey]try it yourself:[/]");
        console.MarkupLine($"  prova run {Markup.Escape(Quote(modelPath))} --input {Markup.Escape(Quote(inputPath))} --threads 1 --json");
        return ExitCodes.Success;
    }

    private static string PrepareDirectory(string? requested)
    {
        if (requested is not null)
        {
            try
            {
                Directory.CreateDirectory(requested);
                return requested;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
            {
                throw new CliException($"cannot use '{requested}' for the demo files: {ex.Message}", ex);
            }
        }
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        if (home.Length > 0)
        {
            try
            {
                return Directory.CreateDirectory(Path.Combine(home, ".prova", "demo")).FullName;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Fall through to a temporary directory (read-only home, containers, ...).
            }
        }
        return Directory.CreateTempSubdirectory("prova-demo-").FullName;
    }

    private static string Size(string path)
    {
        long bytes = new FileInfo(path).Length;
        return bytes >= 1 << 20 ? $"{bytes / 1048576.0:F1} MiB" : $"{bytes / 1024.0:F1} KiB";
    }

    private static string Quote(string path) => path.Contains(' ') ? $"\"{path}\"" : path;
}
