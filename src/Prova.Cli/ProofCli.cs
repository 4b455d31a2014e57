using Prova.Sdk;
using Spectre.Console;

namespace Prova.Cli;

/// <summary>The proof-mode parts of <c>prova infer</c> and <c>prova verify</c> (docs/cli.md, docs/proofs.md "Product").</summary>
internal static class ProofCli
{
    /// <summary>One line for a proven answer: proof size, the node's proving time and the local verification.</summary>
    public static void PrintAnswer(IAnsiConsole console, InferenceResult answer)
    {
        if (answer.Proof is not { } proof)
        {
            return;
        }
        string proved = proof.ProveMs is { } ms ? $", proved in {TensorView.Ms(ms)} on the node" : "";
        string verified = answer.ProofCheck is { Valid: true } check ? $"[green]verified[/] here in {TensorView.Ms(check.VerifyMs)}" : "[red]not verified[/]";
        console.MarkupLine($"[grey]proof:[/]       {verified} — PRVP v{Prova.Proofs.Inference.ProofFormat.Version}, {proof.Data.Length:N0} bytes{proved}, key {Markup.Escape(proof.KeyDigestHex[..18])}…");
    }

    /// <summary>A proof result can only be checked with the model (its verifying key): exit 2 naming the options when none was given.</summary>
    public static void RequireKey(byte[] resultBytes, string? modelSource)
    {
        if (modelSource is not null)
        {
            return;
        }
        if (ResultVerifier.Verify(resultBytes).Result is { Mode: ProofEvidence.Mode } result)
        {
            throw new CliException($"a proof result is verified against the model's verifying key: give the model {result.Model} with --model file.onnx, --store D or --node URL");
        }
    }
}
