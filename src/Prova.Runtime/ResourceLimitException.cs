using Prova.Core;

namespace Prova.Runtime;

/// <summary>
/// A run would need more memory than a <see cref="SessionOptions"/> limit allows (an output larger than
/// <see cref="SessionOptions.MaxOutputBytes"/>, a plan larger than <see cref="SessionOptions.MaxPlanBytes"/>).
/// Raised while planning, before the memory is taken; the inputs, not the model, are at fault.
/// </summary>
public sealed class ResourceLimitException : ProvaException
{
    public ResourceLimitException(string limit, long bytes, long maxBytes, string message) : base(message)
    {
        Limit = limit;
        Bytes = bytes;
        MaxBytes = maxBytes;
    }

    /// <summary>The <see cref="SessionOptions"/> property that was exceeded ("MaxOutputBytes", "MaxPlanBytes" or "MaxSpecializedConstantBytes").</summary>
    public string Limit { get; }

    /// <summary>What the run would have needed, in bytes (at least; planning stops at the first excess).</summary>
    public long Bytes { get; }

    public long MaxBytes { get; }
}
