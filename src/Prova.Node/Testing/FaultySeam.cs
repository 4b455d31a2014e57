using Prova.Core;
using Prova.Node.Hosting;

namespace Prova.Node.Testing;

/// <summary>The <see cref="IServingSeam"/> of a lying node: corrupt-output, the per-token slow fault, corrupt-chunks.</summary>
internal sealed class FaultySeam(NodeFaults faults) : IServingSeam
{
    /// <summary>Flips the lowest bit of the first byte of the first output (by name order): hashed and signed anyway.</summary>
    public void OutputsComputed(Dictionary<string, Tensor> outputs)
    {
        if (!faults.CorruptOutput)
        {
            return;
        }
        var first = outputs.Keys.Order(StringComparer.Ordinal).FirstOrDefault();
        if (first is null || outputs[first].Length == 0)
        {
            return;
        }
        var tensor = outputs[first];
        var bytes = tensor.Bytes().ToArray();
        bytes[0] ^= 1;
        outputs[first] = Tensor.FromBytes(tensor.Type, tensor.Shape, bytes);
    }

    /// <summary>Swaps the last generated token for another, signed anyway.</summary>
    public int[] GenerationFinished(int[] ids)
    {
        if (!faults.CorruptOutput || ids.Length == 0)
        {
            return ids;
        }
        ids = (int[])ids.Clone();
        ids[^1] = ids[^1] == 0 ? 1 : ids[^1] - 1;
        return ids;
    }

    /// <summary>The slow fault on a generation: every token waits (a slow node, for tests of streaming and disconnects).</summary>
    public void TokenGenerated(CancellationToken cancellationToken)
    {
        if (faults.SlowMs > 0)
        {
            cancellationToken.WaitHandle.WaitOne(faults.SlowMs);
        }
    }

    /// <summary>A copy of <paramref name="chunk"/> with its middle byte flipped.</summary>
    public byte[] ChunkServed(byte[] chunk)
    {
        if (!faults.CorruptChunks || chunk.Length == 0)
        {
            return chunk;
        }
        var copy = (byte[])chunk.Clone();
        copy[copy.Length / 2] ^= 0xFF;
        return copy;
    }
}
