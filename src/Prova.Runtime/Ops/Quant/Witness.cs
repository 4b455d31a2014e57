using Prova.Core;

namespace Prova.Runtime;

/// <summary>One recorded intermediate: the node that produced it, its op, the value's name and its data.</summary>
public sealed record WitnessEntry(string Node, string Op, string Output, Tensor Value);

/// <summary>
/// Every intermediate integer tensor (int8, uint8, int16, uint16, int32, int64) a run computed, in
/// execution order: the outputs of each executed node. Values folded at plan time (constants) and the
/// outputs of view ops (Reshape, Flatten, ... which share their input's bytes) are not executed and not listed.
/// </summary>
public sealed class Witness(IReadOnlyList<WitnessEntry> entries)
{
    public IReadOnlyList<WitnessEntry> Entries { get; } = entries;

    /// <summary>The entry for a value name, or null.</summary>
    public WitnessEntry? Find(string output)
    {
        foreach (var e in Entries)
        {
            if (e.Output == output)
            {
                return e;
            }
        }
        return null;
    }

    internal static bool Records(DataType type) => type is DataType.Int8 or DataType.UInt8 or DataType.Int16
        or DataType.UInt16 or DataType.Int32 or DataType.Int64;
}
