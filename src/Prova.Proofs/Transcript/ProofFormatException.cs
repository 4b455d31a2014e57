using Prova.Core;

namespace Prova.Proofs.Transcript;

/// <summary>Proof bytes are malformed (truncated, trailing data, non-canonical field element, absurd sizes).</summary>
public sealed class ProofFormatException : ProvaException
{
    public ProofFormatException(string message) : base(message) { }
}
