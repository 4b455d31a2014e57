using System.Buffers;
using System.CommandLine;
using System.Text;
using System.Text.Json;
using Prova.Core.Content;
using Prova.Core.Keys;
using Prova.Sdk;
using Spectre.Console;

namespace Prova.Cli;

/// <summary><c>prova model push | pull | ls | quantize</c>: models on a node, and model files (docs/cli.md).</summary>
internal static class ModelCommand
{
    public static Command Create(CliContext context)
    {
        var command = new Command("model", "Push, pull and list models on a node; quantize model files.");
        command.Subcommands.Add(Push(context));
        command.Subcommands.Add(Pull(context));
        command.Subcommands.Add(List(context));
        command.Subcommands.Add(QuantizeCommand.Create(context));
        return command;
    }

    // ---------------------------------------------------------------- push

    private static Command Push(CliContext context)
    {
        var file = new Argument<string>("path") { Description = "The ONNX model file, or a folder (model.onnx + external data, tokenizer, configs) pushed as one bundle." };
        var name = new Option<string>("--name") { Description = "The model's name (first publisher owns it).", Required = true, HelpName = "n" };
        var version = new Option<string>("--version") { Description = "The version to publish.", DefaultValueFactory = _ => "1.0.0", HelpName = "v" };
        var description = new Option<string?>("--description") { Description = "A description of the model.", HelpName = "text" };
        var license = new Option<string?>("--license") { Description = "The model's license.", HelpName = "id" };
        var node = NetworkOptions.Node();
        var dataDir = NetworkOptions.DataDir();
        var keyFile = new Option<string?>("--key") { Description = "The owner's keystore file (default: <data-dir>/keys/node.json).", HelpName = "file" };
        var json = NetworkOptions.Json();
        var command = new Command("push", "Upload a model file or folder (chunked, resumable) and publish it as name/version signed by your key.")
        {
            file, name, version, description, license, node, dataDir, keyFile, json,
        };
        command.SetAction(parse => NetworkOptions.Run(async ct =>
        {
            string path = parse.GetValue(file)!;
            // Before reading the key or uploading anything: a name the node would refuse is refused here.
            ModelName.Require(parse.GetValue(name)!);
            bool folder = Directory.Exists(path);
            if (!folder && !File.Exists(path))
            {
                throw new CliException($"model file or folder '{path}' does not exist");
            }
            var owner = NetworkOptions.LoadKey(parse.GetValue(keyFile), parse.GetValue(dataDir)!, "to sign the publication");
            var options = new PushOptions
            {
                Name = parse.GetValue(name)!,
                Version = parse.GetValue(version)!,
                Description = parse.GetValue(description),
                License = parse.GetValue(license),
            };
            using var client = NetworkOptions.Client(parse.GetValue(node)!);
            bool asJson = parse.GetValue(json);
            PushResult result;
            Task<PushResult> Push(IProgress<TransferProgress>? progress) => folder
                ? client.PushDirectoryAsync(path, options, owner, progress, ct)
                : client.PushAsync(path, options, owner, progress, ct);
            if (!asJson && context.Console.Profile.Capabilities.Interactive)
            {
                result = await WithProgress(context.Console, $"push {Path.GetFileName(Path.TrimEndingDirectorySeparator(path))}", Push);
            }
            else
            {
                result = await Push(null);
            }
            if (asJson)
            {
                context.Out.WriteLine(JsonObject(w =>
                {
                    w.WriteString("cid", result.Cid.ToString());
                    w.WriteString("name", result.Name);
                    w.WriteString("version", result.Version);
                    w.WriteNumber("bytes", result.Bytes);
                    w.WriteNumber("chunks", result.ChunkCount);
                    w.WriteNumber("chunksUploaded", result.ChunksUploaded);
                    w.WriteString("owner", result.Model.Owner.ToString());
                    w.WriteNumber("seconds", Math.Round(result.Elapsed.TotalSeconds, 3));
                    if (result.Files is { } files)
                    {
                        WriteFiles(w, files);
                    }
                }));
                return ExitCodes.Success;
            }
            double rate = result.BytesUploaded / Math.Max(result.Elapsed.TotalSeconds, 1e-9);
            context.Console.MarkupLine($"[green]pushed[/] {Markup.Escape(result.Name)} {Markup.Escape(result.Version)} → [bold]{result.Cid}[/]");
            if (result.Files is { } pushed)
            {
                context.Console.MarkupLine($"[grey]bundle of {pushed.Count} files: {Markup.Escape(string.Join(", ", pushed.Select(f => f.Path)))}[/]");
            }
            context.Console.MarkupLine($"[grey]{NetworkOptions.Bytes(result.Bytes)} in {result.ChunkCount} chunks; uploaded {result.ChunksUploaded} ({NetworkOptions.Bytes(result.BytesUploaded)}, {NetworkOptions.Bytes((long)rate)}/s); owner {result.Model.Owner}[/]");
            return ExitCodes.Success;
        }));
        return command;
    }

    // ---------------------------------------------------------------- pull

    private static Command Pull(CliContext context)
    {
        var cid = new Argument<string>("cid") { Description = "The model's CID." };
        var output = new Option<string?>("--output", "-o") { Description = "Where to write the model: a file (default <cid>.onnx), or for a bundle a folder (default <cid>).", HelpName = "path" };
        var force = new Option<bool>("--force") { Description = "Replace a non-empty output folder (a bundle)." };
        var node = NetworkOptions.Node();
        var json = NetworkOptions.Json();
        var command = new Command("pull", "Download a model (a file or a bundle folder) by CID, verifying every chunk before it is written.") { cid, output, force, node, json };
        command.SetAction(parse => NetworkOptions.Run(async ct =>
        {
            var id = ParseCid(parse.GetValue(cid)!);
            using var client = NetworkOptions.Client(parse.GetValue(node)!);
            bool bundle = await client.GetBundleAsync(id, ct) is not null;
            string path = parse.GetValue(output) ?? (bundle ? id.ToString() : id + ".onnx");
            bool asJson = parse.GetValue(json);
            Task<PullResult> Pull(IProgress<TransferProgress>? progress) => bundle
                ? client.PullDirectoryAsync(id, path, parse.GetValue(force), progress, ct)
                : client.PullAsync(id, path, progress, ct);
            PullResult result = !asJson && context.Console.Profile.Capabilities.Interactive
                ? await WithProgress(context.Console, $"pull {id.ToString()[..16]}…", Pull)
                : await Pull(null);
            if (asJson)
            {
                context.Out.WriteLine(JsonObject(w =>
                {
                    w.WriteString("cid", result.Cid.ToString());
                    w.WriteString("path", result.Path);
                    w.WriteNumber("bytes", result.Bytes);
                    w.WriteNumber("chunks", result.ChunkCount);
                    if (result.Files is { } files)
                    {
                        WriteFiles(w, files);
                    }
                }));
                return ExitCodes.Success;
            }
            context.Console.MarkupLine($"[green]pulled[/] {result.Cid} → {Markup.Escape(result.Path)}{(result.Files is { } f ? $" ({f.Count} files)" : "")}");
            context.Console.MarkupLine($"[grey]{NetworkOptions.Bytes(result.Bytes)}, {result.ChunkCount} chunks verified, {result.Elapsed.TotalSeconds:0.00} s[/]");
            return ExitCodes.Success;
        }));
        return command;
    }

    // ---------------------------------------------------------------- ls

    private static Command List(CliContext context)
    {
        var node = NetworkOptions.Node();
        var name = new Option<string?>("--name") { Description = "Only versions of this model name.", HelpName = "n" };
        var json = NetworkOptions.Json();
        var command = new Command("ls", "List the models a node hosts.") { node, name, json };
        command.SetAction(parse => NetworkOptions.Run(async ct =>
        {
            using var client = NetworkOptions.Client(parse.GetValue(node)!);
            var models = await client.ListModelsAsync(parse.GetValue(name), ct);
            if (parse.GetValue(json))
            {
                context.Out.WriteLine(JsonObject(w =>
                {
                    w.WriteStartArray("models");
                    foreach (var m in models)
                    {
                        w.WriteStartObject();
                        w.WriteString("cid", m.Cid.ToString());
                        w.WriteString("name", m.Name);
                        w.WriteString("version", m.Version);
                        w.WriteNumber("bytes", m.Size);
                        w.WriteString("owner", m.Owner.ToString());
                        w.WriteString("description", m.Description);
                        w.WriteString("license", m.License);
                        w.WriteString("kind", m.Kind);
                        if (m.IsBundle)
                        {
                            WriteFiles(w, m.Files);
                        }
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                }));
                return ExitCodes.Success;
            }
            if (models.Count == 0)
            {
                context.Console.MarkupLine($"[grey]no models on {Markup.Escape(client.BaseUrl.ToString())}[/]");
                return ExitCodes.Success;
            }
            var table = new Table().AddColumns("name", "version", "CID", "size", "inputs", "outputs", "owner");
            foreach (var m in models)
            {
                table.AddRow(Markup.Escape(m.Name), Markup.Escape(m.Version), m.Cid.ToString(), NetworkOptions.Bytes(m.Size),
                    m.IsBundle ? $"bundle: {m.Files.Count} files" : Markup.Escape(string.Join(", ", m.Inputs)),
                    m.IsBundle ? Markup.Escape(string.Join(", ", m.Files.Select(f => f.Path))) : Markup.Escape(string.Join(", ", m.Outputs)),
                    m.Owner.ToString());
            }
            context.Console.Write(table);
            return ExitCodes.Success;
        }));
        return command;
    }

    // ---------------------------------------------------------------- helpers

    private static void WriteFiles(Utf8JsonWriter w, IReadOnlyList<BundleFile> files)
    {
        w.WriteStartArray("files");
        foreach (var f in files)
        {
            w.WriteStartObject();
            w.WriteString("path", f.Path);
            w.WriteNumber("size", f.Size);
            w.WriteString("cid", f.Cid.ToString());
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    internal static Cid ParseCid(string text) =>
        Cid.TryParse(text, out var cid, out string? problem) ? cid : throw new CliException($"'{text}' is not a model CID: {problem}");

    private static async Task<T> WithProgress<T>(IAnsiConsole console, string label, Func<IProgress<TransferProgress>, Task<T>> body)
    {
        T result = default!;
        await console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(), new TransferSpeedColumn(), new RemainingTimeColumn())
            .StartAsync(async ctx =>
            {
                var task = ctx.AddTask(label, maxValue: 1);
                var progress = new SyncProgress(p =>
                {
                    task.MaxValue = Math.Max(1, p.TotalBytes);
                    task.Value = p.BytesDone;
                });
                result = await body(progress);
                task.Value = task.MaxValue;
            });
        return result;
    }

    private sealed class SyncProgress(Action<TransferProgress> report) : IProgress<TransferProgress>
    {
        private readonly object _gate = new();

        public void Report(TransferProgress value)
        {
            lock (_gate)
            {
                report(value);
            }
        }
    }

    internal static string JsonObject(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            write(writer);
            writer.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
