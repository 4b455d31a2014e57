using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Prova.Core;
using Prova.Core.Keys;
using Prova.Core.Receipts;
using Prova.Lm;
using Prova.Node.Hosting;
using Prova.Onnx;
using Prova.Runtime;
using Prova.Runtime.Generation;
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

        // 2b. The default language model: generated text, token for token the same on any thread count.
        ok &= GenerationStep(console);

        // 3-6. A network of four nodes, one of them lying: replicate, infer in both modes, verify, catch it.
        ok &= await NetworkStoryAsync(console, assets, dir, ct);

        // What next.
        Rule(console, "what next");
        string modelArg = Quote(Relative(assets.ModelPath));
        string inputArg = Quote(Relative(assets.Examples[0].Path ?? Path.Combine(dir, "input.json")));
        console.MarkupLine($"  [deepskyblue1]prova run[/] {Markup.Escape(modelArg)} --input {Markup.Escape(inputArg)} --threads 1");
        console.MarkupLine($"  [deepskyblue1]prova verify[/] {Markup.Escape(Quote(Path.Combine(dir, "result-quorum.json")))} --model {Markup.Escape(modelArg)}");
        console.MarkupLine($"  [deepskyblue1]prova verify[/] {Markup.Escape(Quote(Path.Combine(dir, "evidence.json")))} --model {Markup.Escape(modelArg)}");
        if (assets.Int8Path is { } int8Path && File.Exists(Path.Combine(dir, "result-proof.json")))
        {
            console.MarkupLine($"  [deepskyblue1]prova verify[/] {Markup.Escape(Quote(Path.Combine(dir, "result-proof.json")))} --model {Markup.Escape(Quote(Relative(int8Path)))}   [grey](checks the proof; nothing re-executed)[/]");
        }
        if (File.Exists(Path.Combine(dir, "evidence-chat.json")))
        {
            console.MarkupLine($"  [deepskyblue1]prova verify[/] {Markup.Escape(Quote(Path.Combine(dir, "evidence-chat.json")))} --model models/lm   [grey](regenerates the answer; names the node that swapped a token)[/]");
        }
        console.MarkupLine("  [deepskyblue1]prova devnet up[/] --nodes 4 --fault 3:corrupt-output [[--chain]]   [grey](your own local network; Ctrl+C stops it)[/]");
        console.MarkupLine("  [deepskyblue1]prova chat[/] <bundle cid> --node http://127.0.0.1:PORT [[--mode quorum:3]] [[-o result.json]]   [grey](or any OpenAI client at http://127.0.0.1:PORT/v1)[/]");
        console.MarkupLine($"  [deepskyblue1]prova infer[/] <cid> --input {Markup.Escape(inputArg)} --mode quorum:3 --node http://127.0.0.1:PORT -o result.json");
        console.MarkupLine("  [deepskyblue1]prova challenge[/] prova-evidence-<id>.json --model <model.onnx> --chain http://127.0.0.1:PORT --deployment <devnet dir>/deployment.json   [grey](with --chain: the liar is slashed)[/]");
        console.MarkupLine($"[grey]demo finished in {clock.Elapsed.TotalSeconds:F1} s[/]");
        return ok ? ExitCodes.Success : ExitCodes.VerificationFailed;
    }

    private const string LmPrompt = "The jury said";

    /// <summary>Generates from the committed default model (models/lm) with 1 and 2 threads: the same tokens, one output hash.</summary>
    private static bool GenerationStep(IAnsiConsole console)
    {
        string? root = DemoAssets.FindRepository();
        string? bundle = root is null ? null : Path.Combine(root, "models", "lm");
        if (bundle is null || !File.Exists(Path.Combine(bundle, "model.onnx")))
        {
            return true;
        }
        Rule(console, "2b. a language model writes, token for token the same on every thread count");
        var table = new Table().Border(TableBorder.Rounded);
        table.AddColumn("threads");
        table.AddColumn("output hash (the generated ids)");
        table.AddColumn(new TableColumn("decode").RightAligned());
        string? reference = null;
        string text = "";
        bool identical = true;
        foreach (int threads in new[] { 1, 2 })
        {
            using var lm = LanguageModel.Load(bundle, threads);
            var options = new GenerationOptions { MaxNewTokens = 32, Sampling = lm.DefaultSampling() };
            var result = lm.Generate(lm.Encode(LmPrompt), options);
            string hash = result.Result.OutputHash;
            reference ??= hash;
            identical &= hash == reference;
            text = result.Text ?? "";
            table.AddRow(threads.ToString(CultureInfo.InvariantCulture), hash == reference ? $"[green]{hash}[/]" : $"[red]{hash}[/]",
                $"{result.Result.TokensPerSecond.ToString("F0", CultureInfo.InvariantCulture)} tokens/s");
        }
        console.MarkupLine($"[grey]models/lm: a {Size(Path.Combine(bundle, "model.onnx"))} GPT trained on the Brown corpus by tools/Prova.Trainer; sampled (seed 0)[/]");
        console.MarkupLine($"[bold]{Markup.Escape(LmPrompt)}[/]{Markup.Escape(text)}");
        console.Write(table);
        return Check(console, identical, "the same tokens with 1 and 2 threads", "the generations differ: this is a determinism bug in Prova");
    }

    private const int LyingNode = 3;

    private static async Task<bool> NetworkStoryAsync(IAnsiConsole console, DemoAssets assets, string dir, CancellationToken ct)
    {
        Rule(console, "3. a network: four nodes on this machine, one of them lies");
        var started = Stopwatch.StartNew();
        var chain = DemoChain.TryCreate(console);
        await using var devnet = await Devnet.StartAsync(new DevnetOptions
        {
            Nodes = 4,
            Replicas = 3,
            Faults = new Dictionary<int, string> { [LyingNode] = "corrupt-output" },
            Components = chain is null ? [] : [chain.Component],
        }, ct);
        var nodes = new Table().Border(TableBorder.Rounded);
        nodes.AddColumn("#");
        nodes.AddColumn("node address (its key, fresh)");
        nodes.AddColumn("endpoint");
        nodes.AddColumn("behaviour");
        foreach (var n in devnet.Nodes)
        {
            nodes.AddRow(n.Index.ToString(CultureInfo.InvariantCulture), n.Address.ToString(), n.Url.AbsoluteUri.TrimEnd('/'),
                n.Fault is null ? "[green]honest[/]" : "[red]lies: flips an output bit or swaps a generated token, signs it anyway[/]");
        }
        console.Write(nodes);
        if (chain is not null)
        {
            await chain.ReadyAsync(devnet, ct);
        }
        console.MarkupLine($"[grey]4 'prova node start' processes, seeded with each other, healthy{(chain is null ? "" : " and staked")} in {started.Elapsed.TotalSeconds:F1} s[/]");
        var liar = devnet.Nodes[LyingNode].Address;

        Rule(console, "4. publish once, replicate to every node");
        var owner = PrivateKey.Generate();
        PushResult pushed;
        using (var client = new ProvaClient(devnet.Nodes[0].Url))
        {
            pushed = await client.PushAsync(assets.ModelPath,
                new PushOptions { Name = "fashion-cnn", Version = "1.0.0", Description = "Fashion-MNIST CNN (prova demo)", License = "MIT" },
                owner, null, ct);
        }
        console.MarkupLine($"[grey]pushed to node 0:[/] {NetworkOptions.Bytes(pushed.Bytes)} in {pushed.ChunkCount} chunk(s), signed by owner {owner.Address}");
        console.MarkupLine($"[grey]CID[/]    [bold]{pushed.Cid}[/]");
        var replicating = Stopwatch.StartNew();
        IReadOnlyList<int> hosts;
        try
        {
            hosts = await devnet.WaitForReplicasAsync(pushed.Cid, devnet.Nodes.Count, TimeSpan.FromSeconds(8),
                new SyncProgress<IReadOnlyList<int>>(list => console.MarkupLine(
                    $"  [grey]{replicating.Elapsed.TotalSeconds,4:F1} s[/] hosted by {list.Count}/4 nodes {Bar(list.Count, 4)} [grey](nodes {string.Join(", ", list)})[/]")), ct);
        }
        catch (CliException ex)
        {
            console.MarkupLine($"[yellow]note:[/] {Markup.Escape(ex.Message)}; pushing to the other nodes directly");
            foreach (var n in devnet.Nodes.Skip(1))
            {
                using var client = new ProvaClient(n.Url);
                await client.PushAsync(assets.ModelPath, new PushOptions { Name = "fashion-cnn", Version = "1.0.0" }, owner, null, ct);
            }
            hosts = await devnet.WaitForReplicasAsync(pushed.Cid, devnet.Nodes.Count, TimeSpan.FromSeconds(15), null, ct);
        }
        bool ok = Check(console, hosts.Count == devnet.Nodes.Count, $"every node holds the model, each chunk verified against the CID ({replicating.Elapsed.TotalSeconds:F1} s)", "the model did not reach every node");

        if (chain is not null)
        {
            ok &= Check(console, await chain.RegisterAndPayAsync(pushed.Cid, "fashion-cnn", devnet.Nodes.Where(n => n.Index != LyingNode), ct),
                "the model is registered on chain and the client's escrow covers the honest nodes", "the model or the vouchers were not accepted");
        }

        using var network = devnet.Network();
        var example = assets.Examples[0];
        byte[] modelBytes = File.ReadAllBytes(assets.ModelPath);
        var verifyOptions = new ResultVerifierOptions { ModelBytes = modelBytes };

        Rule(console, "5. attested: one node answers and signs");
        var attested = await network.InferAsync(pushed.Cid, example.Inputs, Receipt.AttestedMode, new NetworkInferOptions { Exclude = [liar] }, ct);
        var answer = attested.Answers[0];
        var scores = First(attested.Outputs);
        int predicted = TensorView.ArgMax(scores) ?? -1;
        var grid = new Grid().AddColumn(new GridColumn().NoWrap()).AddColumn();
        grid.AddRow("[grey]input[/]", Markup.Escape(example.Name) + (example.Label is { } l ? $" (true label {Markup.Escape(assets.ClassName(l))})" : ""));
        grid.AddRow("[grey]output[/]", $"{Markup.Escape(TensorView.Values(scores, 10))} → [bold]{Markup.Escape(assets.ClassName(predicted))}[/]");
        grid.AddRow("[grey]node[/]", $"{answer.Receipt.Node} at {Markup.Escape(answer.Node?.ToString().TrimEnd('/') ?? "?")}, {TensorView.Ms(answer.LatencyMs)}");
        grid.AddRow("[grey]receipt[/]", $"mode {Markup.Escape(answer.Receipt.Mode)}, chain {answer.Receipt.ChainId}, request {answer.Receipt.RequestId.ToString()[..18]}…");
        grid.AddRow("[grey]signature[/]", $"{answer.Receipt.Signature.ToString()[..26]}… (EIP-712)");
        console.Write(new Panel(grid).Header("prova infer --mode attested").Border(BoxBorder.Rounded));
        string attestedPath = Path.Combine(dir, "result.json");
        attested.ToResultFile().Save(attestedPath);
        ok &= PrintVerification(console, ResultVerifier.Verify(File.ReadAllBytes(attestedPath), verifyOptions).Checks, $"prova verify {Relative(attestedPath)} --model {Relative(assets.ModelPath)}");
        ok &= Check(console, answer.Verification.IsValid, "verified offline: genuine receipt, and re-running the model gives the same bytes", "the attested result did not verify");

        Rule(console, "6. quorum:3: three distinct nodes must agree bit for bit");
        var quorum = await network.InferAsync(pushed.Cid, example.Inputs, "quorum:3", new NetworkInferOptions { Exclude = [liar] }, ct);
        console.Write(InferCommand.Claims(quorum.Answers, quorum.OutputHash));
        string quorumPath = Path.Combine(dir, "result-quorum.json");
        quorum.ToResultFile().Save(quorumPath);
        var quorumCheck = ResultVerifier.Verify(File.ReadAllBytes(quorumPath), verifyOptions);
        ok &= PrintVerification(console, quorumCheck.Checks, $"prova verify {Relative(quorumPath)} --model {Relative(assets.ModelPath)}");
        ok &= Check(console, quorumCheck.IsValid, "the honest nodes agree: 3 receipts, one output hash", "the quorum result did not verify");

        Rule(console, "7. catch the lying node");
        console.MarkupLine($"[grey]the same request, with node {LyingNode} ({liar}) in the quorum:[/]");
        bool caught = false;
        Receipt? lie = null;
        try
        {
            await network.InferAsync(pushed.Cid, example.Inputs, "quorum:3", new NetworkInferOptions { Include = [liar] }, ct);
            console.MarkupLine("[red]the quorum agreed although a member lies[/]");
        }
        catch (QuorumDisagreementException ex)
        {
            console.Write(InferCommand.Claims(ex.Answers, null));
            console.MarkupLine($"[red]✗ the nodes disagree[/]: prova infer exits 1 and writes the evidence");
            string evidencePath = Path.Combine(dir, "evidence.json");
            ex.Evidence.Save(evidencePath);
            var v = EvidenceVerifier.Verify(File.ReadAllBytes(evidencePath), verifyOptions);
            ok &= PrintVerification(console, v.Checks, $"prova verify {Relative(evidencePath)} --model {Relative(assets.ModelPath)}");
            caught = v.IsValid && v.Liars.Count == 1 && v.Liars[0] == liar;
            lie = ex.Answers.FirstOrDefault(a => a.Receipt.Node == liar)?.Receipt;
            if (caught)
            {
                console.MarkupLine($"  [red bold]→ node {LyingNode} ({liar}) lied[/]: its signed receipt is the proof{(chain is null ? "" : " (challenged on chain below)")}");
            }
        }
        ok &= Check(console, caught, $"the lying node is caught and named, with evidence signed by itself", "the lying node was not identified");
        using (var prover = new ProvaClient(devnet.Nodes.First(n => n.Fault is null).Url))
        {
            ok &= await DemoProofStep.RunAsync(console, prover, assets, dir, ct);
        }
        var (chatOk, chatLie) = await DemoChatStep.RunAsync(console, devnet, network, owner, LyingNode, dir, ct);
        ok &= chatOk;

        if (chain is not null && lie is not null)
        {
            // The lie about a generation is the one challenged when there is one: the committee regenerates it.
            var challenged = chatLie is not null && await chain.RegisterAsync(chatLie.Model, "lm/default", ct) ? chatLie : new ChallengedLie(pushed.Cid, lie, example.Inputs);
            ok &= await chain.SettleAsync(devnet, LyingNode, challenged, pushed.Cid, assets.ModelPath, assets.Examples[^1].Inputs, ct);
        }
        console.MarkupLine("[grey]stopping the devnet and removing its temporary stores[/]");
        return ok;
    }

    internal static bool PrintVerification(IAnsiConsole console, IReadOnlyList<ResultCheck> checks, string command)
    {
        console.MarkupLine($"[bold]{Markup.Escape(command)}[/]  [grey](offline: no node involved)[/]");
        foreach (var c in checks)
        {
            console.MarkupLine(c.Passed
                ? $"  [green]✓[/] {c.Name,-13} {Markup.Escape(c.Message)}"
                : $"  [red]✗[/] {c.Name,-13} {Markup.Escape(c.Message)}");
        }
        return checks.All(c => c.Passed);
    }

    private static string Bar(int done, int total) => "[green]" + new string('█', done * 6) + "[/][grey]" + new string('░', (total - done) * 6) + "[/]";

    private sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
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

    internal static bool Check(IAnsiConsole console, bool passed, string success, string failure)
    {
        console.MarkupLine(passed ? $"[green bold]✓ {Markup.Escape(success)}[/]" : $"[red bold]✗ {Markup.Escape(failure)}[/]");
        return passed;
    }

    internal static void Rule(IAnsiConsole console, string title)
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
