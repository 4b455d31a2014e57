namespace Prova.Proofs.Transcript;

/// <summary>
/// A proof (or part of one) failed verification. Verifiers of the cryptographic core throw this with a
/// stable <see cref="Code"/> naming the check that failed; the model-level verifier turns it into a result.
/// </summary>
public sealed class ProofRejectedException : Exception
{
    public ProofRejectedException(string code, string message) : base(message)
    {
        Code = code;
    }

    /// <summary>Stable identifier of the failed check, e.g. "sumcheck-round-sum", "pcs-merkle-path".</summary>
    public string Code { get; }
}
