using System.CommandLine;
using Prova.Core.Receipts;
using Prova.Sdk;
using Spectre.Console;

namespace Prova.Cli;

/// <summary><c>prova infer &lt;cid&gt; --input x.json [-o result.json]</c>: runs a model on a node and checks its receipt.</summary>
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
        var mode = new Option<string>("--mode") { Description = "Verification mode (a single node serves 'attested').", DefaultValueFactory = _ => Receipt.AttestedMode, HelpName = "mode" };
        var node = NetworkOptions.Node();
        var output = new Option<string?>("--output", "-o") { Description = "Write the result file (inputs, outputs, receipt) for 'prova verify'.", HelpName = "file" };
        var json = new Option<bool>("--json") { Description = "Print the result file's JSON (plus latencyMs and verified)." };
        var command = new Command("infer", "Run a model on a node; the answer's receipt is verified against the inputs sent and the outputs received.")
        {
            cid, input, mode, node, output, json,
        };
        command.SetAction(parse => NetworkOptions.Run(async ct =>
        {
            var model = ModelCommand.ParseCid(parse.GetValue(cid)!);
            var inputs = ModelRunner.ReadInputs(parse.GetValue(input)!);
            using var client = NetworkOptions.Client(parse.GetValue(node)!);
            var result = await client.InferAsync(model, inputs, parse.GetValue(mode)!, cancellationToken: ct);
            if (!result.Verification.IsValid)
            {
                context.Error.WriteLine($"verification failed: the node's receipt does not check out: {result.Verification}");
                return ExitCodes.VerificationFailed;
            }
            var file = result.ToResultFile();
            if (parse.GetValue(output) is { } path)
            {
                file.Save(path);
            }
            if (parse.GetValue(json))
            {
                context.Out.WriteLine(System.Text.Encoding.UTF8.GetString(file.ToJsonBytes()));
                return ExitCodes.Success;
            }
            var console = context.Console;
            console.Write(TensorView.OutputsTable(result.Outputs));
            console.MarkupLine($"[grey]output hash:[/] [bold]{result.OutputHash}[/]");
            console.MarkupLine($"[grey]receipt:[/]     [green]verified[/] — signed by node {result.Receipt.Node} (mode {Markup.Escape(result.Mode)}, request {result.RequestId.ToString()[..18]}…)");
            console.MarkupLine($"[grey]latency:[/]     {TensorView.Ms(result.LatencyMs)} on the node");
            if (parse.GetValue(output) is { } written)
            {
                console.MarkupLine($"[grey]result written to[/] {Markup.Escape(written)} [grey](check it with 'prova verify {Markup.Escape(written)}')[/]");
            }
            return ExitCodes.Success;
        }));
        return command;
    }
}
