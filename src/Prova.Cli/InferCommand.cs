using System.CommandLine;
using Prova.Core.Crypto;
using Prova.Core.Receipts;
using Prova.Sdk;
using Spectre.Console;

namespace Prova.Cli;

/// <summary>
/// <c>prova infer &lt;cid&gt; --input x.json [--mode attested|quorum:K|proof] [--node URL]… [-o result.json]</c>: runs a
/// model on the network (Prova.Sdk's <see cref="ProvaNetwork"/>: discovery, load balancing, retries) and
/// verifies every receipt. A quorum whose nodes disagree exits 1 and writes an evidence file.
/// </summary>
internal static class InferCommand
{
    public static Command Create(CliContext context)
    {
        var cid = new Argument<string>("cid") { Description = "The model's CID." };
        var input = new Option<string>("--input", "-i")
        {
            Description = "JSON request file {\"inputs\": {\"<name>\": {\"dtype\", \"shape\", \"data\"}}}.",
            Required = true,
            HelpName = "file",
        };
        var mode = new Option<string>("--mode")
        {
            Description = "'attested' (one node signs), 'quorum:K' (K distinct nodes must sign the same output hash) or 'proof' (the node proves the quantized model's run; the proof is verified here and kept in the result file).",
            DefaultValueFactory = _ => Receipt.AttestedMode,
            HelpName = "mode",
        };
        var node = new Option<string[]>("--node")
        {
            Description = "Node URL(s) to start from (repeatable or comma-separated; default: $PROVA_NODE or http://127.0.0.1:7420). Other nodes are found through their peer lists.",
            HelpName = "URL",
        };
        var output = new Option<string?>("--output", "-o") { Description = "Write the result file (inputs, outputs, receipts) for 'prova verify'.", HelpName = "file" };
        var evidence = new Option<string?>("--evidence") { Description = "Where to write the evidence file if the quorum disagrees (default: prova-evidence-<request>.json beside the result).", HelpName = "file" };
        var include = new Option<string[]>("--include") { Description = "Node address(es) that must be among those asked (audit a node).", HelpName = "0x…" };
        var exclude = new Option<string[]>("--exclude") { Description = "Node address(es) never to ask.", HelpName = "0x…" };
        var timeout = new Option<double>("--timeout") { Description = "Seconds to wait for one node before trying another.", DefaultValueFactory = _ => 30, HelpName = "s" };
        var json = new Option<bool>("--json") { Description = "Print the result file's JSON." };
        var command = new Command("infer", "Run a model on the network; every receipt is verified, and in quorum:K mode K distinct nodes must agree bit for bit.")
        {
            cid, input, mode, node, output, evidence, include, exclude, timeout, json,
        };
        command.SetAction(parse => NetworkOptions.Run(async ct =>
        {
            var model = ModelCommand.ParseCid(parse.GetValue(cid)!);
            var inputs = ModelRunner.ReadInputs(parse.GetValue(input)!);
            string requested = QuorumMode.Normalize(parse.GetValue(mode)!);
            double seconds = parse.GetValue(timeout);
            if (seconds is <= 0 or > 3600)
            {
                throw new CliException($"--timeout {seconds} must be within (0, 3600] seconds");
            }
            var options = new NetworkInferOptions
            {
                Include = Addresses(parse.GetValue(include), "--include"),
                Exclude = Addresses(parse.GetValue(exclude), "--exclude"),
            };
            using var network = new ProvaNetwork(Seeds(parse.GetValue(node)), new ProvaNetworkOptions { RequestTimeout = TimeSpan.FromSeconds(seconds) });
            string? outputPath = parse.GetValue(output);
            NetworkInferenceResult result;
            try
            {
                result = await network.InferAsync(model, inputs, requested, options, ct);
            }
            catch (QuorumDisagreementException ex)
            {
                string path = parse.GetValue(evidence) ?? Path.Combine(
                    Path.GetDirectoryName(Path.GetFullPath(outputPath ?? "x")) ?? ".",
                    $"prova-evidence-{ex.Evidence.Receipts[0].RequestId.ToString()[2..10]}.json");
                ex.Evidence.Save(path);
                if (!parse.GetValue(json))
                {
                    context.Console.Write(Claims(ex.Answers, null));
                }
                context.Error.WriteLine($"error: {ProvaCli.OneLine(ex.Message)}");
                context.Error.WriteLine($"evidence written to {path} (check it: prova verify {path} --model <model.onnx> names the lying node)");
                return ExitCodes.VerificationFailed;
            }
            var file = result.ToResultFile();
            if (outputPath is not null)
            {
                file.Save(outputPath);
            }
            if (parse.GetValue(json))
            {
                context.Out.WriteLine(System.Text.Encoding.UTF8.GetString(file.ToJsonBytes()));
                return ExitCodes.Success;
            }
            var console = context.Console;
            console.Write(TensorView.OutputsTable(result.Outputs));
            console.MarkupLine($"[grey]output hash:[/] [bold]{result.OutputHash}[/]");
            if (result.Answers.Count == 1)
            {
                var answer = result.Answers[0];
                console.MarkupLine($"[grey]receipt:[/]     [green]verified[/] — signed by node {answer.Receipt.Node} at {Markup.Escape(answer.Node?.ToString() ?? "?")} (mode {Markup.Escape(result.Mode)}, request {result.RequestId.ToString()[..18]}…)");
                console.MarkupLine($"[grey]latency:[/]     {TensorView.Ms(answer.LatencyMs)} on the node, {TensorView.Ms(result.Elapsed.TotalMilliseconds)} end to end");
                ProofCli.PrintAnswer(console, answer);
            }
            else
            {
                console.Write(Claims(result.Answers, result.OutputHash));
                console.MarkupLine($"[grey]quorum:[/]      [green]verified[/] — {result.Answers.Count} distinct nodes signed the same output hash (mode {Markup.Escape(result.Mode)}, {TensorView.Ms(result.Elapsed.TotalMilliseconds)} end to end)");
            }
            foreach (var failure in result.Failures)
            {
                console.MarkupLine($"[yellow]retried:[/]     {Markup.Escape(ProvaCli.OneLine(failure.Message))}");
            }
            if (outputPath is not null)
            {
                console.MarkupLine($"[grey]result written to[/] {Markup.Escape(outputPath)} [grey](check it with 'prova verify {Markup.Escape(outputPath)}')[/]");
            }
            return ExitCodes.Success;
        }));
        return command;
    }

    /// <summary>The nodes' answers side by side: address, URL, signed output hash, latency.</summary>
    internal static Table Claims(IReadOnlyList<InferenceResult> answers, Hash256? agreed)
    {
        var majority = agreed ?? answers.GroupBy(a => a.OutputHash).OrderByDescending(g => g.Count()).First().Key;
        var table = new Table().Border(TableBorder.Rounded);
        table.AddColumn("node");
        table.AddColumn("at");
        table.AddColumn("signed output hash");
        table.AddColumn(new TableColumn("latency").RightAligned());
        foreach (var a in answers)
        {
            string hash = a.OutputHash.ToString()[..18] + "…";
            table.AddRow(a.Receipt.Node.ToString(), Markup.Escape(a.Node?.ToString().TrimEnd('/') ?? "?"),
                a.OutputHash == majority ? $"[green]{hash}[/]" : $"[red]{hash}[/]", TensorView.Ms(a.LatencyMs));
        }
        return table;
    }

    internal static List<Uri> Seeds(string[]? given)
    {
        var texts = given is { Length: > 0 } ? given : [ProvaClientOptions.DefaultNodeUrl];
        return texts.SelectMany(t => t.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            .Select(ProvaClient.ParseNodeUrl).ToList();
    }

    private static List<Address> Addresses(string[]? given, string option)
    {
        var list = new List<Address>();
        foreach (string text in (given ?? []).SelectMany(t => t.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)))
        {
            list.Add(Address.TryParse(text, out var a) ? a : throw new CliException($"{option} '{text}' is not an address (0x + 40 hex digits)"));
        }
        return list;
    }
}
