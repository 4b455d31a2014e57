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

    /// <summary>
    /// Rewrite the graph into fused nodes before planning (docs/optimizer.md). Outputs stay
    /// deterministic either way but differ in the last bits between true and false.
    /// </summary>
    public bool Optimize { get; init; } = true;

    /// <summary>
    /// Largest sum of the output tensors of one run, in bytes. Checked while planning, before the outputs
    /// are allocated; more raises <see cref="ResourceLimitException"/>.
    /// </summary>
    public long MaxOutputBytes { get; init; } = long.MaxValue;

    /// <summary>
    /// Largest working memory of one plan, in bytes: its arena (intermediates, outputs, scratch) plus the
    /// constants computed for it while planning. Checked before the memory is taken; more raises
    /// <see cref="ResourceLimitException"/>.
    /// </summary>
    public long MaxPlanBytes { get; init; } = long.MaxValue;

    /// <summary>
    /// Working memory (as in <see cref="MaxPlanBytes"/>) the plan cache may keep between runs; older plans
    /// are dropped beyond it. The plan of the latest run is always kept.
    /// </summary>
    public long MaxCachedPlanBytes { get; init; } = long.MaxValue;

    /// <summary>
    /// Largest sum of the constants computed while planning for a plan specialised on the values of inputs (a
    /// ConstantOfShape or Range of a shape the caller gives): a few bytes of input must not make the planner
    /// allocate much. Checked before each constant is made; more raises <see cref="ResourceLimitException"/>.
    /// </summary>
    public long MaxSpecializedConstantBytes { get; init; } = long.MaxValue;

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
        if (MaxOutputBytes < 0 || MaxPlanBytes < 0 || MaxCachedPlanBytes < 0 || MaxSpecializedConstantBytes < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxOutputBytes), "SessionOptions.MaxOutputBytes, MaxPlanBytes, MaxCachedPlanBytes and MaxSpecializedConstantBytes must not be negative");
        }
    }
}
