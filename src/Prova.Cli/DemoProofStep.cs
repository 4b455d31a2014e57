using Prova.Core.Keys;
using Prova.Sdk;
using Spectre.Console;

namespace Prova.Cli;

/// <summary>
/// The demo's proof step (docs/proofs.md "Product"): the int8 CNN on the demo's node in mode "proof",
/// the proof checked by the client and again offline from the result file, and one flipped proof byte caught.
/// Called by <see cref="DemoCommand"/> after its own node steps; skipped when the int8 model is not at hand.
/// </summary>
internal static class DemoProofStep
{
    public static async Task<bool> RunAsync(IAnsiConsole console, ProvaClient client, DemoAssets assets, string dir, CancellationToken ct)
    {
        if (assets.Int8Path is not { } int8Path)
        {
            return true;
        }
        console.WriteLine();
        DemoCommand.Rule(console, "8. proof: the node proves the int8 model's run; anyone checks it without re-running");
        var pushed = await client.PushAsync(int8Path, new PushOptions { Name = "fashion-cnn-int8", Version = "1.0.0", License = "MIT" }, PrivateKey.Generate(), null, ct);
        var example = assets.Examples[0];
        var answer = await client.InferAsync(pushed.Cid, example.Inputs, ProofEvidence.Mode, cancellationToken: ct);
        int predicted = TensorView.ArgMax(answer.Outputs[answer.Outputs.Keys.Order(StringComparer.Ordinal).First()]) ?? -1;
        console.MarkupLine($"[grey]int8 CNN[/] {pushed.Cid} → [bold]{Markup.Escape(assets.ClassName(predicted))}[/]");
        ProofCli.PrintAnswer(console, answer);
        bool ok = answer.Verification.IsValid && answer.ProofCheck is { Valid: true };
        console.MarkupLine(ok ? "[green bold]✓ proof verified by the client against the model's verifying key[/]" : $"[red bold]✗ the proof did not verify: {Markup.Escape(answer.ProofCheck?.Message ?? answer.Verification.Message)}[/]");

        var file = answer.ToResultFile();
        string path = Path.Combine(dir, "result-proof.json");
        file.Save(path);
        var options = new ResultVerifierOptions { ModelBytes = File.ReadAllBytes(int8Path) };
        var offline = ResultVerifier.Verify(File.ReadAllBytes(path), options);
        console.MarkupLine($"[bold]prova verify[/] {Markup.Escape(path)} --model {Markup.Escape(int8Path)}  [grey](offline)[/]: {(offline.IsValid ? "[green]verified[/]" : "[red]rejected[/]")}");
        ok &= offline.IsValid;

        byte[] data = (byte[])file.Proof!.Data.Clone();
        data[data.Length / 2] ^= 1;
        var caught = ResultVerifier.Verify((file with { Proof = file.Proof with { Data = data } }).ToJsonBytes(), options);
        console.MarkupLine(caught.Failure is { } f
            ? $"[green bold]✓ one flipped proof bit caught[/] [grey]({Markup.Escape(f.Name)}: {Markup.Escape(ProvaCli.OneLine(f.Message))})[/]"
            : "[red bold]✗ a proof with a flipped bit was accepted[/]");
        return ok && !caught.IsValid;
    }
}
