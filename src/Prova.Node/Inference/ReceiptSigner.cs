using Prova.Core;
using Prova.Core.Content;
using Prova.Core.Crypto;
using Prova.Core.Receipts;
using Prova.Node.Hosting;

namespace Prova.Node.Inference;

/// <summary>Signs the receipt of every result this node gives: inferences, proofs and generations.</summary>
public sealed class ReceiptSigner(NodeIdentity identity, TimeProvider time)
{
    /// <summary>The signing node's address (the receipts' <c>node</c>; proofs are bound to it).</summary>
    public Address Address => identity.Address;

    public Receipt Sign(Cid model, IReadOnlyDictionary<string, Tensor> inputs, IReadOnlyDictionary<string, Tensor> outputs, Hash256 requestId, string mode) => new Receipt
    {
        Model = model,
        InputHash = Receipt.HashTensors(inputs),
        OutputHash = Receipt.HashTensors(outputs),
        Mode = mode,
        RequestId = requestId,
        Timestamp = (ulong)time.GetUtcNow().ToUnixTimeSeconds(),
        ChainId = identity.ChainId,
        VerifyingContract = identity.VerifyingContract,
    }.SignWith(identity.Key);
}
