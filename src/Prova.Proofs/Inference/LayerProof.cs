using Prova.Proofs.Commitments;
using Prova.Proofs.Field;

namespace Prova.Proofs.Inference;

/// <summary>
/// The prover's messages for one layer: its 8-bit outputs y (M × N, row-major; never the int32
/// accumulators), the eight limb evaluations e_k at (r_i, r_j), the sumcheck round polynomials over k
/// (three evaluations g(0), g(1), g(2) per round), the two final claims a* = X'~(r_i, ρ) and
/// w* = W'~(ρ, r_j), and the weight opening.
/// </summary>
public sealed class LayerProof
{
    public required int Rows { get; init; }

    public required int Columns { get; init; }

    /// <summary>The layer's outputs y[i·N + j] as raw bytes (int8 two's complement or uint8, per the layer's type).</summary>
    public required byte[] Outputs { get; init; }

    /// <summary>The shape of the layer's output tensor (the verifier checks it against the input's shape).</summary>
    public required int[] OutputShape { get; init; }

    /// <summary>e_k = limb_k~(r_i, r_j) for k &lt; 8 (bytes of d_lo, then of d_hi).</summary>
    public required Fp2[] LimbEvaluations { get; init; }

    /// <summary>rounds × 3 evaluations.</summary>
    public required Fp2[] Rounds { get; init; }

    public required Fp2 InputClaim { get; init; }

    public required Fp2 WeightClaim { get; init; }

    /// <summary>The commitment opening of W' at (ρ, r_j).</summary>
    public required byte[] Opening { get; init; }
}

/// <summary>
/// The range argument's messages (once per proof): the limb commitment, the lookup multiplicities,
/// the LogUp fraction tree (root P, Q and per level k &lt; σ a sumcheck of k rounds plus the four
/// child values), the batching sumcheck with L~(ρ'), and the opening of L at ρ'.
/// </summary>
public sealed record RangeProof
{
    public required LigeroCommitment Limbs { get; init; }

    /// <summary>m_t for t &lt; 256.</summary>
    public required uint[] Multiplicities { get; init; }

    /// <summary>P, Q with P/Q = Σ_x 1/(α − L(x)).</summary>
    public required Fp2[] Root { get; init; }

    /// <summary>Per level k &lt; σ: k rounds × 4 evaluations (degree 3).</summary>
    public required Fp2[][][] LogUpRounds { get; init; }

    /// <summary>Per level k: p_{k+1}~(x*, 0), p_{k+1}~(x*, 1), q_{k+1}~(x*, 0), q_{k+1}~(x*, 1).</summary>
    public required Fp2[][] LogUpValues { get; init; }

    /// <summary>σ rounds × 3 evaluations (degree 2).</summary>
    public required Fp2[][] BatchRounds { get; init; }

    public required Fp2 LimbAtBatch { get; init; }

    public required byte[] LimbOpening { get; init; }
}

/// <summary>A whole proof: the verifying-key digest and binding it was made for, one <see cref="LayerProof"/> per proven layer and the range argument.</summary>
public sealed class InferenceProof
{
    public required byte[] KeyDigest { get; init; }

    /// <summary>The request id and node the proof was made for (absorbed into the transcript).</summary>
    public ProofBinding Binding { get; init; }

    public required IReadOnlyList<LayerProof> Layers { get; init; }

    public required RangeProof Range { get; init; }
}
