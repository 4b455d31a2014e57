namespace Prova.Proofs.Inference;

/// <summary>Why a proof could not be made, parsed or accepted (stable codes, see docs/proofs.md).</summary>
public enum ProofErrorCode
{
    /// <summary>The model has a construct the prover does not cover.</summary>
    Unsupported,

    /// <summary>The proof bytes are not a well-formed PRVP proof of the supported version.</summary>
    Malformed,

    /// <summary>The proof is well formed but does not prove the statement.</summary>
    Rejected,

    /// <summary>The inputs do not fit the model.</summary>
    BadInput,
}

/// <summary>A typed failure of the inference prover, parser or verifier.</summary>
public sealed class ProofException(ProofErrorCode code, string message) : Exception(message)
{
    public ProofErrorCode Code { get; } = code;

    /// <summary>Stable machine-readable code: proof-unsupported, proof-malformed, proof-rejected, proof-bad-input.</summary>
    public string StableCode => Code switch
    {
        ProofErrorCode.Unsupported => "proof-unsupported",
        ProofErrorCode.Malformed => "proof-malformed",
        ProofErrorCode.Rejected => "proof-rejected",
        _ => "proof-bad-input",
    };
}
