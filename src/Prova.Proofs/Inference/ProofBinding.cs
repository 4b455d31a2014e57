using Prova.Core.Crypto;

namespace Prova.Proofs.Inference;

/// <summary>
/// Who a proof was made for and by: the request id the node answered and the node's address (the
/// receipt's signer). Both are in the PRVP v4 header and absorbed into the transcript right after the
/// key digest, so a proof cannot be replayed for another request nor claimed by another node without
/// proving again (docs/proofs.md "Binding"). <see cref="None"/> (zeros) is for proofs outside the
/// network (tests, benchmarks, files); verifying against it accepts only proofs made with it.
/// </summary>
public readonly record struct ProofBinding(Hash256 RequestId, Address Node)
{
    public static ProofBinding None => default;

    public override string ToString() => $"request {RequestId}, node {Node}";
}
