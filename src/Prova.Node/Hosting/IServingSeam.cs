using Prova.Core;

namespace Prova.Node.Hosting;

/// <summary>
/// The seam between what a node computes and what it serves. A node uses <see cref="ServeAsComputed"/>, which
/// changes nothing; only the test and devnet host (<see cref="Testing.FaultyNode"/>) registers another, to make a
/// node that lies or corrupts chunks on purpose (docs/network.md, "Fault options"). No setting, switch or
/// configuration key selects it, so a production <c>prova node start</c> cannot misbehave this way.
/// </summary>
public interface IServingSeam
{
    /// <summary>The outputs of an inference (plain or proven), before they are hashed, signed and returned; may replace entries.</summary>
    void OutputsComputed(Dictionary<string, Tensor> outputs);

    /// <summary>The token ids of a finished generation, before they are hashed, signed and returned.</summary>
    int[] GenerationFinished(int[] ids);

    /// <summary>Called on the generating thread after each generated token.</summary>
    void TokenGenerated(CancellationToken cancellationToken);

    /// <summary>A verified chunk from the store, about to be served to a client or peer.</summary>
    byte[] ChunkServed(byte[] chunk);
}

/// <summary>The node's <see cref="IServingSeam"/>: serves exactly what it computed and stored.</summary>
public sealed class ServeAsComputed : IServingSeam
{
    public void OutputsComputed(Dictionary<string, Tensor> outputs)
    {
    }

    public int[] GenerationFinished(int[] ids) => ids;

    public void TokenGenerated(CancellationToken cancellationToken)
    {
    }

    public byte[] ChunkServed(byte[] chunk) => chunk;
}
