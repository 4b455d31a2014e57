using System.Buffers;
using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Prova.Core;
using Prova.Runtime;
using Spectre.Console;

namespace Prova.Cli;

/// <summary><c>prova run model.onnx --input inputs.json</c>: runs a model once (and optionally benchmarks it).</summary>
internal static class RunCommand
{
    public static Command Create(CliContext context)
    {
        var model = new Argument<string>("model") { Description = "The ONNX model file." };
        var input = new Option<string>("--input", "-i")
        {
            Description = "JSON request file {\"inputs\": {\"<name>\": {\"dtype\", \"shape\", \"data\"}}} (see docs/formats.md).",
            Required = true,
            HelpName = "file",
        };
        var threads = new Option<int>("--threads", "-t")
        {
            Description = "Worker threads (results never depend on this).",
            DefaultValueFactory = _ => Environment.ProcessorCount,
            HelpName = "N",
        };
        var json = new Option<bool>("--json") { Description = "Print the result as JSON: outputs, outputHash, latencyMs (and bench)." };
        var bench = new Option<int?>("--bench") { Description = "Also time N runs (after warm-up) and report the median and p99 latency.", HelpName = "N" };
        var output = new Option<string?>("--output", "-o") { Description = "Write the outputs and their hash to this JSON file.", HelpName = "file" };

        var command = new Command("run", "Run an ONNX model on JSON inputs and print its outputs, their hash and the latency.")
        {
            model, input, threads, json, bench, output,
        };
        command.SetAction(parse => Execute(context, new RunSettings(
            parse.GetValue(model)!,
            parse.GetValue(input)!,
            parse.GetValue(threads),
            parse.GetValue(json),
            parse.GetValue(bench),
            parse.GetValue(output))));
        return command;
    }

    private sealed record RunSettings(string Model, string Input, int Threads, bool Json, int? Bench, string? Output);

    private static int Execute(CliContext context, RunSettings settings)
    {
        if (settings.Threads < 1 || settings.Threads > SessionOptions.MaxThreads)
        {
            throw new CliException($"--threads must be between 1 and {SessionOptions.MaxThreads} (got {settings.Threads})");
        }
        if (settings.Bench is < 1)
        {
            throw new CliException($"--bench must be at least 1 (got {settings.Bench})");
        }
        var inputs = ModelRunner.ReadInputs(settings.Input);
        var model = ModelRunner.LoadModel(settings.Model);
        using var session = new InferenceSession(model, new SessionOptions { Threads = settings.Threads });

        // The first runs plan and warm up (JIT tiers, caches); the latency reported is of one warm run.
        ModelRunner.WarmUp(session, inputs);
        var (outputs, latency) = ModelRunner.TimedRun(session, inputs);
        string hash = TensorEncoding.Hash(outputs);

        BenchResult? stats = null;
        if (settings.Bench is { } iterations)
        {
            stats = settings.Json
                ? ModelRunner.Bench(session, inputs, iterations)
                : BenchWithProgress(context.Console, session, inputs, iterations);
        }
        if (settings.Output is { } path)
        {
            WriteOutputFile(path, outputs, hash);
        }
        if (settings.Json)
        {
            context.Out.WriteLine(ResultJson(outputs, hash, latency, stats));
            return ExitCodes.Success;
        }

        var console = context.Console;
        console.Write(new Rule($"[bold]{Markup.Escape(Path.GetFileName(settings.Model))}[/]").LeftJustified());
        console.MarkupLine($"[grey]inputs:[/] {Markup.Escape(Describe(inputs))}   [grey]threads:[/] {session.Threads}");
        console.Write(TensorView.OutputsTable(outputs));
        console.MarkupLine($"[grey]output hash:[/] [bold]{hash}[/]");
        console.MarkupLine($"[grey]latency:[/]     {TensorView.Ms(latency)} (one warm run)");
        if (stats is not null)
        {
            console.MarkupLine($"[grey]bench:[/]       median [bold]{TensorView.Ms(stats.MedianMs)}[/], p99 {TensorView.Ms(stats.P99Ms)} over {stats.Iterations} runs");
        }
        if (settings.Output is { } written)
        {
            console.MarkupLine($"[grey]outputs written to[/] {Markup.Escape(written)}");
        }
        return ExitCodes.Success;
    }

    private static BenchResult BenchWithProgress(IAnsiConsole console, InferenceSession session, IReadOnlyDictionary<string, Tensor> inputs, int iterations)
    {
        BenchResult? result = null;
        console.Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask($"benchmark ({iterations} runs)", maxValue: iterations);
                result = ModelRunner.Bench(session, inputs, iterations, done => task.Value = done);
            });
        return result!;
    }

    private static string Describe(IReadOnlyDictionary<string, Tensor> tensors)
    {
        var names = tensors.Keys.ToArray();
        Array.Sort(names, StringComparer.Ordinal);
        return string.Join(", ", names.Select(n => $"{n} {tensors[n]}"));
    }

    /// <summary>{"outputs": {...}, "outputHash": "...", "latencyMs": ..., "bench": {...}}</summary>
    internal static string ResultJson(IReadOnlyDictionary<string, Tensor> outputs, string hash, double latencyMs, BenchResult? stats)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WritePropertyName("outputs");
            TensorJson.WriteTensorMap(writer, outputs);
            writer.WriteString("outputHash", hash);
            writer.WriteNumber("latencyMs", Math.Round(latencyMs, 4));
            if (stats is not null)
            {
                writer.WriteStartObject("bench");
                writer.WriteNumber("iterations", stats.Iterations);
                writer.WriteNumber("medianMs", Math.Round(stats.MedianMs, 4));
                writer.WriteNumber("p99Ms", Math.Round(stats.P99Ms, 4));
                writer.WriteEndObject();
            }
            writer.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static void WriteOutputFile(string path, IReadOnlyDictionary<string, Tensor> outputs, string hash)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Create, FileAccess.Write);
            using var writer = new Utf8JsonWriter(stream);
            writer.WriteStartObject();
            writer.WritePropertyName("outputs");
            TensorJson.WriteTensorMap(writer, outputs);
            writer.WriteString("outputHash", hash);
            writer.WriteEndObject();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"cannot write '{path}': {ex.Message}", ex);
        }
    }
}
