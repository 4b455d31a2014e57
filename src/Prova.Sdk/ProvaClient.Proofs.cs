using System.Security.Cryptography;
using System.Text.Json;
using Prova.Core;
using Prova.Core.Content;
using Prova.Proofs.Inference;

namespace Prova.Sdk;

public sealed partial class ProvaClient
{
    /// <summary>
    /// The verifying key of <paramref name="model"/>: pulled from this node (every chunk checked against
    /// the CID, so the node cannot substitute another model) and derived locally; cached process-wide.
    /// </summary>
    public async Task<ProofCircuit> GetVerifyingKeyAsync(Cid model, CancellationToken cancellationToken = default)
    {
        if (ProofVerification.CachedKey(model) is { } cached)
        {
            return cached;
        }
        var manifest = await GetManifestAsync(model, cancellationToken);
        string temp = Path.Combine(Path.GetTempPath(), $"prova-key-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}.onnx");
        byte[] bytes;
        try
        {
            await PullAsync(model, temp, cancellationToken: cancellationToken);
            bytes = await File.ReadAllBytesAsync(temp, cancellationToken);
        }
        finally
        {
            TryDelete(temp);
        }
        return await Task.Run(() => ProofVerification.Key(bytes, manifest.ChunkSize), cancellationToken);
    }

    /// <summary>Checks the proof of a proof-mode result against the model's verifying key (pulled from this node when not cached).</summary>
    public async Task<ProofCheck> VerifyProofAsync(InferenceResult result, CancellationToken cancellationToken = default)
    {
        if (result.Proof is not { } proof)
        {
            return new ProofCheck(false, $"the node answered mode '{result.Mode}' without a proof", 0);
        }
        ProofCircuit key;
        try
        {
            key = await GetVerifyingKeyAsync(result.Model, cancellationToken);
        }
        catch (ProofException ex)
        {
            return new ProofCheck(false, $"model {result.Model} has no verifying key: {ex.Message}", 0);
        }
        return await Task.Run(() => ProofVerification.Verify(key, result.Model, result.Inputs, result.Outputs, proof, new ProofBinding(result.Receipt.RequestId, result.Receipt.Node)), cancellationToken);
    }

    /// <summary>Reads the answer's <c>"proof"</c> member (mode proof) and checks it; (null, failure) when missing or malformed.</summary>
    private async Task<(ProofEvidence? Proof, ProofCheck Check)> CheckProofAsync(byte[] body, InferenceResult result, CancellationToken cancellationToken)
    {
        ProofEvidence? proof;
        string? problem;
        using (var doc = JsonDocument.Parse(body, Json.DocumentOptions))
        {
            if (!doc.RootElement.TryGetProperty("proof", out var p))
            {
                return (null, new ProofCheck(false, "the node answered mode 'proof' without a proof", 0));
            }
            proof = ProofEvidence.TryRead(p, out problem);
        }
        if (proof is null)
        {
            return (null, new ProofCheck(false, $"the node's proof is malformed: {problem}", 0));
        }
        return (proof, await VerifyProofAsync(result with { Proof = proof }, cancellationToken));
    }
}
