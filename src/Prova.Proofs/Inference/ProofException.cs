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
public sealed class ProofException(ProofErrorCode code, string message, ProofCheck check = ProofCheck.None) : Exception(message)
{
    public ProofErrorCode Code { get; } = code;

    /// <summary>The verifier check that refused (<see cref="ProofCheck.None"/> for parse errors and prover refusals).</summary>
    public ProofCheck Check { get; } = check;

    /// <summary>Stable machine-readable code: proof-unsupported, proof-malformed, proof-rejected, proof-bad-input.</summary>
    public string StableCode => Code switch
    {
        ProofErrorCode.Unsupported => "proof-unsupported",
        ProofErrorCode.Malformed => "proof-malformed",
        ProofErrorCode.Rejected => "proof-rejected",
        _ => "proof-bad-input",
    };
}
