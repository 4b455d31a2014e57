using System.CommandLine;
using Prova.Core.Crypto;
using Prova.Sdk;
using Spectre.Console;

namespace Prova.Cli;

/// <summary>
/// <c>prova verify result.json [--model m.onnx | --store D] [--signer 0x…]</c>: offline checks of a
/// result file. Exit 0 verified, 1 a check failed (one line naming it), 2 unreadable file or bad usage.
/// </summary>
internal static class VerifyCommand
{
    public static Command Create(CliContext context)
    {
        var file = new Argument<string>("result") { Description = "The result file written by 'prova infer -o'." };
        var model = new Option<string?>("--model") { Description = "The ONNX model file: check its CID and re-execute it, comparing outputs bit for bit.", HelpName = "file" };
        var store = new Option<string?>("--store") { Description = "A node data directory to take the model from (for re-execution).", HelpName = "D" };
        var signer = new Option<string?>("--signer") { Description = "Only accept receipts signed by this node address.", HelpName = "0x…" };
        var json = NetworkOptions.Json();
        var command = new Command("verify", "Check a result file offline: receipt signature, hashes of the included tensors, model CID, and (with the model) re-execution.")
        {
            file, model, store, signer, json,
        };
        command.SetAction(parse =>
        {
            string path = parse.GetValue(file)!;
            byte[] bytes = ResultFile.ReadBytes(path);
            var options = new ResultVerifierOptions
            {
                ExpectedSigner = parse.GetValue(signer) is { } s ? Address.Parse(s) : null,
            };
            string? modelSource = null;
            if (parse.GetValue(model) is { } modelPath)
            {
                if (!File.Exists(modelPath))
                {
                    throw new CliException($"model file '{modelPath}' does not exist");
                }
                options = options with { ModelBytes = File.ReadAllBytes(modelPath) };
                modelSource = modelPath;
            }
            else if (parse.GetValue(store) is { } storeDir)
            {
                // Peek at the model CID; an unparseable one is reported by the verifier itself.
                var peek = ResultVerifier.Verify(bytes, options);
                if (peek.Result is { } r && ResultVerifier.ReadFromStore(storeDir, r.Model) is { } content)
                {
                    options = options with { ModelBytes = content };
                    modelSource = $"store {storeDir}";
                }
                else if (peek.Result is not null)
                {
                    throw new CliException($"the store {storeDir} does not hold model {peek.Result.Model}");
                }
            }
            var verification = ResultVerifier.Verify(bytes, options);
            if (parse.GetValue(json))
            {
                context.Out.WriteLine(ModelCommand.JsonObject(w =>
                {
                    w.WriteBoolean("verified", verification.IsValid);
                    if (verification.Failure is { } f)
                    {
                        w.WriteString("failed", f.Name);
                        w.WriteString("message", f.Message);
                    }
                    w.WriteStartArray("checks");
                    foreach (var c in verification.Checks)
                    {
                        w.WriteStartObject();
                        w.WriteString("name", c.Name);
                        w.WriteBoolean("passed", c.Passed);
                        w.WriteString("message", c.Message);
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                    w.WriteBoolean("reexecuted", options.ModelBytes is not null);
                }));
            }
            if (verification.Failure is { } failure)
            {
                context.Error.WriteLine($"verification failed: {failure.Name}: {ProvaCli.OneLine(failure.Message)}");
                return ExitCodes.VerificationFailed;
            }
            if (!parse.GetValue(json))
            {
                var console = context.Console;
                console.MarkupLine($"[green bold]verified[/] {Markup.Escape(path)}");
                foreach (var c in verification.Checks)
                {
                    console.MarkupLine($"  [green]✓[/] {c.Name,-13} {Markup.Escape(c.Message)}");
                }
                if (modelSource is null)
                {
                    console.MarkupLine("  [grey]not re-executed (give --model file.onnx or --store D to re-run the model)[/]");
                }
            }
            return ExitCodes.Success;
        });
        return command;
    }
}
