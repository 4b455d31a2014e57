using Prova.Proofs.Field;

namespace Prova.Proofs.Inference;

/// <summary>
/// The prover's messages for one layer: the int32 accumulators (M × N, row-major), the sumcheck
/// round polynomials over k (three evaluations g(0), g(1), g(2) per round), the two final claims
/// a* = X'~(r_i, ρ) and w* = W'~(ρ, r_j), and the weight opening.
/// </summary>
public sealed class LayerProof
{
    public required int Rows { get; init; }

    public required int Columns { get; init; }

    public required int[] Accumulators { get; init; }

    /// <summary>The shape of the layer's output tensor (the verifier checks it against the input's shape).</summary>
    public required int[] OutputShape { get; init; }

    /// <summary>rounds × 3 evaluations.</summary>
    public required Fp2[] Rounds { get; init; }

    public required Fp2 InputClaim { get; init; }

    public required Fp2 WeightClaim { get; init; }

    /// <summary>The commitment opening of W' at (ρ, r_j) (empty when the verifier evaluates W' itself).</summary>
    public required byte[] Opening { get; init; }
}

/// <summary>A whole proof: the verifying-key digest it was made for and one <see cref="LayerProof"/> per proven layer.</summary>
public sealed class InferenceProof
{
    public required byte[] KeyDigest { get; init; }

    public required IReadOnlyList<LayerProof> Layers { get; init; }
}
