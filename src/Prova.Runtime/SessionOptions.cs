namespace Prova.Runtime;

/// <summary>Options of an <see cref="InferenceSession"/>, validated when the session is created.</summary>
public sealed class SessionOptions
{
    public const int MaxThreads = 256;

    /// <summary>Worker threads, including the caller's. Results never depend on this number.</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>Distinct input-shape plans kept per session (models with symbolic dims).</summary>
    public int MaxCachedPlans { get; init; } = 8;

    /// <summary>
    /// Run the QDQ pattern (DequantizeLinear → MatMul/Gemm/Conv → [Relu] → QuantizeLinear) as integer
    /// kernels (docs/quantization.md). Off: the float ops run as written.
    /// </summary>
    public bool IntegerQdq { get; init; } = true;

    /// <summary>Allows <see cref="InferenceSession.RunWithWitness"/> (records every intermediate integer tensor). <see cref="InferenceSession.Run"/> is unaffected.</summary>
    public bool CaptureWitness { get; init; }

    internal void Validate()
    {
        if (Threads < 1 || Threads > MaxThreads)
        {
            throw new ArgumentOutOfRangeException(nameof(Threads), Threads, $"SessionOptions.Threads must be between 1 and {MaxThreads}");
        }
        if (MaxCachedPlans < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxCachedPlans), MaxCachedPlans, "SessionOptions.MaxCachedPlans must be at least 1");
        }
    }
}
