namespace Prova.Core.Receipts;

/// <summary>Why a receipt (or other signed record) was accepted or refused.</summary>
public enum VerificationReason
{
    Valid,
    /// <summary>The signature does not recover to the node named in the receipt: the receipt or its signature was altered.</summary>
    BadSignature,
    /// <summary>The receipt is validly signed, but by another node than the one expected.</summary>
    SignerMismatch,
    /// <summary>The inputs at hand do not hash to the receipt's input hash.</summary>
    InputHashMismatch,
    /// <summary>The outputs at hand do not hash to the receipt's output hash.</summary>
    OutputHashMismatch,
    /// <summary>The receipt is for another model than the one expected.</summary>
    ModelMismatch,
    /// <summary>The receipt is for another chain (or settlement contract) than the one expected.</summary>
    ChainMismatch,
    /// <summary>The receipt's mode is not the one expected.</summary>
    ModeMismatch,
    /// <summary>The receipt answers another request id than the one expected.</summary>
    RequestMismatch,
}

/// <summary>The outcome of a verification: expected failures are values, not exceptions.</summary>
public readonly record struct VerificationResult(VerificationReason Reason, string Message)
{
    public bool IsValid => Reason == VerificationReason.Valid;

    public static VerificationResult Valid { get; } = new(VerificationReason.Valid, "valid");

    public static VerificationResult Fail(VerificationReason reason, string message) => new(reason, message);

    public override string ToString() => IsValid ? "valid" : $"{Reason}: {Message}";
}
