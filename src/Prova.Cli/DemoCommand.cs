using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Prova.Core;
using Prova.Core.Keys;
using Prova.Core.Receipts;
using Prova.Node.Hosting;
using Prova.Onnx;
using Prova.Runtime;
using Prova.Sdk;
using Spectre.Console;

namespace Prova.Cli;

/// <summary>
/// <c>prova demo</c>: the whole story in a few seconds. Classifies held-out Fashion-MNIST images with
/// the committed trained CNN, shows bit-identical outputs across thread counts, starts a local node,
/// pushes the model, runs it there with a signed receipt, verifies the result offline by re-execution,
/// and shows that a result with one changed bit is caught.
/// </summary>
internal static class DemoCommand
{
    private const int ExampleCount = 4;

    public static Command Create(CliContext context)
    {
        var dir = new Option<string?>("--dir")
        {
            Description = "Where to write the demo's input and result files (default: ~/.prova/demo).",
            HelpName = "directory",
        };
        var command = new Command("demo", "Classify images with a trained CNN, show bit-identical results across thread counts, then host, run and verify it on a local node.") { dir };
        command.SetAction(parse => NetworkOptions.Run(ct => ExecuteAsync(context, parse.GetValue(dir), ct)));
        return command;
    }

    private static async Task<int> ExecuteAsync(CliContext context, string? dirOption, CancellationToken ct)
    {
        var console = context.Console;
        var clock = Stopwatch.StartNew();
        console.Write(new Panel(new Markup(
                "[bold]Prova[/] hosts, runs and [bold]verifies[/] AI models. Its pure C# engine is [bold]deterministic[/]:\n" +
                "the same model and input give the same output bytes on every machine and thread count,\n" +
                "so anyone can re-run a node's answer and catch a node that lies."))
            .Header("[bold deepskyblue1] prova demo [/]")
            .Border(BoxBorder.Rounded)
            .Expand());

        string dir = PrepareDirectory(dirOption);
        var assets = DemoAssets.FindTrained(ExampleCount) ?? BuildFallback(console, dir);
        bool ok = true;

        // 1. Classify held-out images.
        Rule(console, "1. classify held-out test images");
        var model = ModelRunner.LoadModel(assets.ModelPath);
        var int8 = assets.Int8Path is { } p8 ? ModelRunner.LoadModel(p8) : null;
        long parameters = 0;
        foreach (var w in model.Graph.Initializers.Values)
        {
            parameters += w.Length;
        }
        console.MarkupLine($"[grey]model[/] {Markup.Escape(Relative(assets.ModelPath))} ({Size(assets.ModelPath)}, {parameters:N0} parameters, {model.Graph.Nodes.Count} nodes)");
        var cards = new List<Panel>();
        int correct = 0, labelled = 0;
        using (var session = new InferenceSession(model, new SessionOptions { Threads = 1 }))
        using (var session8 = int8 is null ? null : new InferenceSession(int8, new SessionOptions { Threads = 1 }))
        {
            foreach (var example in assets.Examples)
            {
                var outputs = session.Run(example.Inputs);
                var scores = First(outputs);
                int predicted = TensorView.ArgMax(scores) ?? -1;
                var lines = new List<string>();
                foreach (string line in DemoModel.Render(First(example.Inputs)))
                {
                    lines.Add(Markup.Escape(line));
                }
                lines.Add("");
                bool? right = example.Label is { } l ? l == predicted : null;
                string mark = right switch { true => "[green]✓[/]", false => "[red]✗[/]", null => "" };
                lines.Add($"[grey]predicted[/] [bold]{Markup.Escape(assets.ClassName(predicted))}[/] {mark}");
                if (example.Label is { } label)
                {
                    labelled++;
                    correct += right == true ? 1 : 0;
                    lines.Add($"[grey]true     [/] {Markup.Escape(assets.ClassName(label))}");
                }
                if (session8 is not null)
                {
                    int q = TensorView.ArgMax(First(session8.Run(example.Inputs))) ?? -1;
                    lines.Add($"[grey]int8     [/] {Markup.Escape(assets.ClassName(q))}");
                }
                cards.Add(new Panel(new Markup(string.Join('\n', lines))).Header(Markup.Escape(example.Name)).Border(BoxBorder.Rounded));
            }
        }
        console.Write(new Columns(cards).Collapse());
        if (labelled > 0)
        {
            console.MarkupLine($"{correct}/{labelled} correct{(int8 is null ? "" : " (int8 = the same model quantized to 8-bit weights)")}");
        }

        // 2. Determinism: the same bytes with 1 and 2 threads.
        Rule(console, "2. determinism: same input, different thread counts");
        var inputs = assets.Examples[0].Inputs;
        var runs = new Table().Border(TableBorder.Rounded);
        runs.AddColumn("threads");
        runs.AddColumn("output hash (SHA-256 of the canonical encoding)");
        runs.AddColumn(new TableColumn("median latency").RightAligned());
        string? reference = null;
        bool identical = true;
        foreach (int threads in new[] { 1, 2 })
        {
            using var session = new InferenceSession(model, new SessionOptions { Threads = threads });
            ModelRunner.WarmUp(session, inputs);
            string h = TensorEncoding.Hash(session.Run(inputs));
            reference ??= h;
            identical &= h == reference;
            var stats = ModelRunner.Bench(session, inputs, iterations: 200, timeBudget: TimeSpan.FromMilliseconds(400));
            runs.AddRow(threads.ToString(CultureInfo.InvariantCulture), h == reference ? $"[green]{h}[/]" : $"[red]{h}[/]", TensorView.Ms(stats.MedianMs));
        }
        console.Write(runs);
        ok &= Check(console, identical, "bit-identical across thread counts", "the hashes differ: this is a determinism bug in Prova");

        // 3-4. Host the model on a local node, run it there, verify the answer offline.
        string dataDir = Directory.CreateTempSubdirectory("prova-demo-node-").FullName;
        try
        {
            ok &= await HostRunVerifyAsync(console, assets, dir, dataDir, ct);
        }
        finally
        {
            TryDelete(dataDir);
        }

        // 5. What next.
        Rule(console, "what next");
        string modelArg = Quote(Relative(assets.ModelPath));
        string inputArg = Quote(Relative(assets.Examples[0].Path ?? Path.Combine(dir, "input.json")));
        console.MarkupLine($"  [deepskyblue1]prova run[/] {Markup.Escape(modelArg)} --input {Markup.Escape(inputArg)} --threads 1");
        console.MarkupLine($"  [deepskyblue1]prova verify[/] {Markup.Escape(Quote(Path.Combine(dir, "result.json")))} --model {Markup.Escape(modelArg)}");
        console.MarkupLine("  [deepskyblue1]prova key new[/] && [deepskyblue1]prova node start[/]   [grey](your own node; the key password comes from PROVA_KEY_PASSWORD or a prompt)[/]");
        console.MarkupLine($"  [deepskyblue1]prova model push[/] {Markup.Escape(modelArg)} --name fashion-cnn --node http://127.0.0.1:7420");
        console.MarkupLine($"[grey]demo finished in {clock.Elapsed.TotalSeconds:F1} s[/]");
        return ok ? ExitCodes.Success : ExitCodes.VerificationFailed;
    }

    private static async Task<bool> HostRunVerifyAsync(IAnsiConsole console, DemoAssets assets, string dir, string dataDir, CancellationToken ct)
    {
        Rule(console, "3. host: a local node, push, list");
        var nodeKey = PrivateKey.Generate();
        await using var node = await NodeHost.StartAsync(
            new NodeOptions { DataDir = dataDir, Listen = "127.0.0.1:0", Key = nodeKey, InferenceThreads = 1 },
            LogLevel.None, ct);
        console.MarkupLine($"[grey]node[/] {node.Address} listening on {Markup.Escape(node.Url.ToString())} [grey](fresh key, temporary store)[/]");
        using var client = new ProvaClient(node.Url);
        var owner = PrivateKey.Generate();
        var pushed = await client.PushAsync(assets.ModelPath,
            new PushOptions { Name = "fashion-cnn", Version = "1.0.0", Description = "Fashion-MNIST CNN (prova demo)", License = "MIT" },
            owner, null, ct);
        double seconds = Math.Max(pushed.Elapsed.TotalSeconds, 1e-6);
        console.MarkupLine($"[grey]pushed[/] {NetworkOptions.Bytes(pushed.Bytes)} in {pushed.ChunkCount} chunk(s), {pushed.Elapsed.TotalMilliseconds:F0} ms ({NetworkOptions.Bytes((long)(pushed.BytesUploaded / seconds))}/s), signed by owner {owner.Address}");
        console.MarkupLine($"[grey]CID[/]    [bold]{pushed.Cid}[/]");
        var list = new Table().Border(TableBorder.Rounded).Title("prova model ls");
        list.AddColumn("name");
        list.AddColumn("version");
        list.AddColumn("CID");
        list.AddColumn("inputs → outputs");
        foreach (var m in await client.ListModelsAsync(cancellationToken: ct))
        {
            list.AddRow(Markup.Escape(m.Name), Markup.Escape(m.Version), m.Cid.ToString(),
                Markup.Escape(string.Join(", ", m.Inputs) + " → " + string.Join(", ", m.Outputs)));
        }
        console.Write(list);

        Rule(console, "4. run on the node, verify offline, catch a lie");
        var example = assets.Examples[0];
        var answer = await client.InferAsync(pushed.Cid, example.Inputs, Receipt.AttestedMode, cancellationToken: ct);
        var scores = First(answer.Outputs);
        int predicted = TensorView.ArgMax(scores) ?? -1;
        var receipt = answer.Receipt;
        var grid = new Grid().AddColumn(new GridColumn().NoWrap()).AddColumn();
        grid.AddRow("[grey]input[/]", Markup.Escape(example.Name) + (example.Label is { } l ? $" (true label {Markup.Escape(assets.ClassName(l))})" : ""));
        grid.AddRow("[grey]output[/]", $"{Markup.Escape(TensorView.Values(scores, 10))} → [bold]{Markup.Escape(assets.ClassName(predicted))}[/]");
        grid.AddRow("[grey]node[/]", $"{receipt.Node} in {TensorView.Ms(answer.LatencyMs)}");
        grid.AddRow("[grey]receipt[/]", $"mode {Markup.Escape(receipt.Mode)}, chain {receipt.ChainId}, request {receipt.RequestId.ToString()[..18]}…");
        grid.AddRow("[grey]hashes[/]", $"inputs {receipt.InputHash.ToString()[..18]}…  outputs {receipt.OutputHash.ToString()[..18]}…");
        grid.AddRow("[grey]signature[/]", $"{receipt.Signature.ToString()[..26]}… (EIP-712)");
        console.Write(new Panel(grid).Header("prova infer").Border(BoxBorder.Rounded));
        bool ok = Check(console, answer.Verification.IsValid, "the receipt is signed by the node and matches the inputs sent and outputs received",
            $"the node's receipt does not check out: {answer.Verification}");

        var file = answer.ToResultFile();
        string resultPath = Path.Combine(dir, "result.json");
        file.Save(resultPath);
        var options = new ResultVerifierOptions { ModelBytes = File.ReadAllBytes(assets.ModelPath), ExpectedSigner = node.Address };
        console.MarkupLine($"[bold]prova verify[/] {Markup.Escape(resultPath)} --model {Markup.Escape(Relative(assets.ModelPath))}  [grey](offline: no node involved)[/]");
        var verification = ResultVerifier.Verify(file.ToJsonBytes(), options);
        foreach (var c in verification.Checks)
        {
            console.MarkupLine(c.Passed
                ? $"  [green]✓[/] {c.Name,-13} {Markup.Escape(c.Message)}"
                : $"  [red]✗[/] {c.Name,-13} {Markup.Escape(c.Message)}");
        }
        ok &= Check(console, verification.IsValid && verification.Checks.Any(c => c.Name == "re-execution"),
            "verified: genuine receipt, and re-running the model gives the same bytes", "the honest result did not verify");

        // A lying node: the same result with one bit of one output element flipped.
        var (tampered, what) = Tamper(file, assets);
        string tamperedPath = Path.Combine(dir, "result-tampered.json");
        tampered.Save(tamperedPath);
        console.MarkupLine($"[bold]a lying node[/]: {Markup.Escape(what)}, saved as {Markup.Escape(tamperedPath)}");
        var caught = ResultVerifier.Verify(tampered.ToJsonBytes(), options);
        if (caught.Failure is { } failure)
        {
            console.MarkupLine($"  [red]✗[/] {failure.Name,-13} {Markup.Escape(ProvaCli.OneLine(failure.Message))}");
        }
        ok &= Check(console, !caught.IsValid, "tampering caught: the changed result is rejected", "the tampered result was accepted");
        ok &= await DemoProofStep.RunAsync(console, client, assets, dir, ct);
        console.MarkupLine("[grey]stopping the node and removing its temporary store[/]");
        return ok;
    }

    /// <summary>A copy of <paramref name="file"/> whose first output has the lowest bit of its top score flipped.</summary>
    private static (ResultFile File, string What) Tamper(ResultFile file, DemoAssets assets)
    {
        var outputs = new Dictionary<string, Tensor>(file.Outputs);
        string name = file.Outputs.Keys.Order(StringComparer.Ordinal).First();
        var original = outputs[name];
        var copy = new Tensor(original.Type, original.Shape, (Array)original.Data.Clone());
        int index = TensorView.ArgMax(copy) ?? 0;
        string what;
        if (copy.Data is float[] f)
        {
            float before = f[index];
            f[index] = BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(before) ^ 1);
            what = $"output '{name}'[{index}] ({assets.ClassName(index)}) {before.ToString("R", CultureInfo.InvariantCulture)} → {f[index].ToString("R", CultureInfo.InvariantCulture)} (one bit)";
        }
        else
        {
            var bytes = copy.Bytes().ToArray();
            bytes[0] ^= 1;
            copy = Tensor.FromBytes(original.Type, original.Shape, bytes);
            what = $"output '{name}' with one bit flipped";
        }
        outputs[name] = copy;
        return (file with { Outputs = outputs }, what);
    }

    private static DemoAssets BuildFallback(IAnsiConsole console, string dir)
    {
        console.MarkupLine("[yellow]note:[/] the trained models (models/ next to Prova.slnx) were not found; using a built-in LeNet with random weights, so its predictions mean nothing.");
        string modelPath = Path.Combine(dir, "lenet.onnx");
        string inputPath = Path.Combine(dir, "input.json");
        OnnxWriter.Save(DemoModel.Build(), modelPath);
        var inputs = new Dictionary<string, Tensor> { [DemoModel.InputName] = DemoModel.Digit() };
        File.WriteAllBytes(inputPath, TensorJson.WriteNamedTensors(inputs));
        return new DemoAssets(modelPath, null, [new DemoExample("hand-drawn 7", inputPath, inputs, null)]);
    }

    private static bool Check(IAnsiConsole console, bool passed, string success, string failure)
    {
        console.MarkupLine(passed ? $"[green bold]✓ {Markup.Escape(success)}[/]" : $"[red bold]✗ {Markup.Escape(failure)}[/]");
        return passed;
    }

    private static void Rule(IAnsiConsole console, string title)
    {
        console.WriteLine();
        console.Write(new Rule($"[bold]{Markup.Escape(title)}[/]").LeftJustified().RuleStyle("grey"));
    }

    private static Tensor First(IReadOnlyDictionary<string, Tensor> tensors) => tensors[tensors.Keys.Order(StringComparer.Ordinal).First()];

    private static string PrepareDirectory(string? requested)
    {
        if (requested is not null)
        {
            try
            {
                return Directory.CreateDirectory(requested).FullName;
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

    private static void TryDelete(string dir)
    {
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A leftover temporary directory is harmless.
        }
    }

    private static string Relative(string path)
    {
        string relative = Path.GetRelativePath(Directory.GetCurrentDirectory(), path);
        return relative.StartsWith("..", StringComparison.Ordinal) ? path : relative;
    }

    private static string Size(string path)
    {
        long bytes = new FileInfo(path).Length;
        return bytes >= 1 << 20 ? $"{bytes / 1048576.0:F1} MiB" : $"{bytes / 1024.0:F1} KiB";
    }

    private static string Quote(string path) => path.Contains(' ') ? $"\"{path}\"" : path;
}
