using System.CommandLine;
using Prova.Core.Content;
using Prova.Core.Crypto;
using Prova.Lm;
using Prova.Sdk;
using Spectre.Console;

namespace Prova.Cli;

/// <summary>
/// <c>prova verify FILE [--model m.onnx | --store D | --node URL] [--signer 0x…]</c>: offline checks of a
/// result file (attested or quorum:K) or of an evidence file (a disagreeing quorum; with the model it
/// names the node(s) that lied). Exit 0 verified, 1 a check failed (one line naming it), 2 unreadable file or bad usage.
/// </summary>
internal static class VerifyCommand
{
    public static Command Create(CliContext context)
    {
        var file = new Argument<string>("file") { Description = "A result file ('prova infer -o') or an evidence file (written when a quorum disagrees)." };
        var models = new ModelSourceOptions();
        var signer = new Option<string?>("--signer") { Description = "Only accept receipts signed by this node address.", HelpName = "0x…" };
        var json = NetworkOptions.Json();
        var command = new Command("verify", "Check a result or evidence file offline: receipt signatures, hashes, quorum agreement, model CID, and (with the model) re-execution.")
        {
            file, signer, json,
        };
        foreach (var option in models.All)
        {
            command.Options.Add(option);
        }
        command.SetAction(parse =>
        {
            string path = parse.GetValue(file)!;
            byte[] bytes = ResultFile.ReadBytes(path);
            bool isEvidence = EvidenceFile.IsEvidence(bytes);
            EvidenceFile? evidence = isEvidence ? EvidenceFile.Parse(bytes) : null;
            var options = new ResultVerifierOptions
            {
                ExpectedSigner = parse.GetValue(signer) is { } s ? Address.TryParse(s, out var a) ? a : throw new CliException($"--signer '{s}' is not an address") : null,
            };
            var parsed = evidence is null ? ResultVerifier.Verify(bytes, options).Result : null;
            Cid? modelCid = evidence?.Model ?? parsed?.Model;
            bool generation = evidence is not null ? GenerationRequest.IsGenerationRequest(evidence.Inputs) : parsed?.IsGeneration == true;
            // A generation is re-run from its model folder (tokenizer, configs), token by token; a model from its bytes.
            (options, string? modelSource) = models.Apply(parse, modelCid, generation, options);
            if (evidence is null)
            {
                ProofCli.RequireKey(bytes, modelSource);
            }
            return evidence is not null
                ? VerifyEvidence(context, path, evidence, options, modelSource, generation, parse.GetValue(json))
                : VerifyResult(context, path, bytes, options, modelSource, generation, parse.GetValue(json));
        });
        return command;
    }

    private static string Unexecuted(bool generation) => generation
        ? "give --model DIR (the bundle folder), --store D or --node URL to re-run the generation token by token"
        : "give --model file.onnx, --store D or --node URL to re-run the model";

    private static int VerifyResult(CliContext context, string path, byte[] bytes, ResultVerifierOptions options, string? modelSource, bool generation, bool json)
    {
        var verification = ResultVerifier.Verify(bytes, options);
        if (json)
        {
            context.Out.WriteLine(ModelCommand.JsonObject(w =>
            {
                w.WriteString("kind", "result");
                w.WriteBoolean("verified", verification.IsValid);
                WriteChecks(w, verification.Checks, verification.Failure);
                w.WriteBoolean("reexecuted", options.ModelBytes is not null || options.ModelPath is not null);
            }));
        }
        if (verification.Failure is { } failure)
        {
            context.Error.WriteLine($"verification failed: {failure.Name}: {ProvaCli.OneLine(failure.Message)}");
            return ExitCodes.VerificationFailed;
        }
        if (!json)
        {
            var console = context.Console;
            console.MarkupLine($"[green bold]verified[/] {Markup.Escape(path)}");
            PrintChecks(console, verification.Checks);
            if (modelSource is null && verification.Result?.Mode != ProofEvidence.Mode)
            {
                console.MarkupLine($"  [grey]not re-executed ({Unexecuted(generation)})[/]");
            }
        }
        return ExitCodes.Success;
    }

    private static int VerifyEvidence(CliContext context, string path, EvidenceFile evidence, ResultVerifierOptions options, string? modelSource, bool generation, bool json)
    {
        var verification = EvidenceVerifier.Verify(evidence, options);
        if (json)
        {
            context.Out.WriteLine(ModelCommand.JsonObject(w =>
            {
                w.WriteString("kind", "evidence");
                w.WriteBoolean("verified", verification.IsValid);
                WriteChecks(w, verification.Checks, verification.Failure);
                w.WriteBoolean("reexecuted", verification.RecomputedOutputHash is not null);
                if (verification.RecomputedOutputHash is { } truth)
                {
                    w.WriteString("outputHash", truth.ToString());
                }
                w.WriteStartArray("liars");
                foreach (var liar in verification.Liars)
                {
                    w.WriteStringValue(liar.ToString());
                }
                w.WriteEndArray();
                w.WriteStartArray("honest");
                foreach (var h in verification.Honest)
                {
                    w.WriteStringValue(h.ToString());
                }
                w.WriteEndArray();
            }));
        }
        if (verification.Failure is { } failure)
        {
            context.Error.WriteLine($"evidence rejected: {failure.Name}: {ProvaCli.OneLine(failure.Message)}");
            return ExitCodes.VerificationFailed;
        }
        if (!json)
        {
            var console = context.Console;
            console.MarkupLine($"[green bold]valid evidence[/] {Markup.Escape(path)}: genuine receipts from distinct nodes disagree on one request");
            PrintChecks(console, verification.Checks);
            if (verification.Liars.Count > 0)
            {
                foreach (var liar in verification.Liars)
                {
                    console.MarkupLine($"  [red bold]✗ node {liar} lied[/] [grey](its signed output hash differs from Prova's re-execution)[/]");
                }
            }
            else if (modelSource is null)
            {
                console.MarkupLine($"  [grey]which node lied is unknown without the model: {Unexecuted(generation)}[/]");
            }
        }
        return ExitCodes.Success;
    }

    private static void PrintChecks(IAnsiConsole console, IReadOnlyList<ResultCheck> checks)
    {
        foreach (var c in checks)
        {
            console.MarkupLine($"  [green]✓[/] {c.Name,-13} {Markup.Escape(c.Message)}");
        }
    }

    private static void WriteChecks(System.Text.Json.Utf8JsonWriter w, IReadOnlyList<ResultCheck> checks, ResultCheck? failure)
    {
        if (failure is { } f)
        {
            w.WriteString("failed", f.Name);
            w.WriteString("message", f.Message);
        }
        w.WriteStartArray("checks");
        foreach (var c in checks)
        {
            w.WriteStartObject();
            w.WriteString("name", c.Name);
            w.WriteBoolean("passed", c.Passed);
            w.WriteString("message", c.Message);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }
}
