namespace Prova.Proofs.Inference;

/// <summary>
/// The verifier check that rejected a proof (<see cref="ProofException.Check"/>). Each value is one
/// place in <see cref="InferenceVerifier"/>, <c>LayerProtocol</c> or <c>RangeVerifier</c> that can
/// refuse; tests/Prova.Proofs.Tests/Inference/CheatingProverTests.cs has a cheating prover per value,
/// and scripts/proof-mutations.sh disables each in turn (docs/proofs.md "Verifier checks").
/// </summary>
public enum ProofCheck
{
    /// <summary>Not a verifier check (a parse error, a prover refusal).</summary>
    None,

    // The statement.

    /// <summary>The proof names another verifying key (another model).</summary>
    KeyDigest,

    /// <summary>The proof was made for another request id or node address (<see cref="ProofBinding"/>).</summary>
    Binding,

    /// <summary>The proof covers another number of proven layers than the model has.</summary>
    LayerCount,

    /// <summary>A model output is missing from the statement.</summary>
    OutputMissing,

    /// <summary>The statement has outputs the model does not have.</summary>
    OutputExtra,

    /// <summary>A model input's type or shape differs from the model's declaration.</summary>
    InputSignature,

    /// <summary>A layer's rows × columns do not match its output count or the layer's width.</summary>
    LayerDimensions,

    /// <summary>A layer output that no int32 accumulator requantises to.</summary>
    OutputReachable,

    /// <summary>A layer's claimed output shape does not hold its outputs.</summary>
    OutputShape,

    /// <summary>The light graph, re-executed on the inputs and the layers' outputs, gives other model outputs.</summary>
    ModelOutputs,

    /// <summary>A layer's rows or output shape do not follow from its input's shape.</summary>
    LayerGeometry,

    // The range argument (commitment to the limbs, LogUp, batching).

    /// <summary>The limb commitment does not have the limb vector's size.</summary>
    LimbCommitmentShape,

    /// <summary>The LogUp part has the wrong number of counts, levels or values.</summary>
    LogUpShape,

    /// <summary>The multiplicities do not add up to the number of limbs.</summary>
    MultiplicityTotal,

    /// <summary>LogUp's root identity P = T·Q (or Q = 0).</summary>
    LogUpSum,

    /// <summary>A fraction-tree level's sumcheck.</summary>
    LogUpTreeSumcheck,

    /// <summary>A fraction-tree level's four values against its sumcheck's final claim.</summary>
    LogUpTreeValues,

    /// <summary>The leaves' numerators are 1.</summary>
    LogUpLeaves,

    /// <summary>The batching sumcheck over the limb claims.</summary>
    BatchSumcheck,

    /// <summary>The batching sumcheck's final claim against the limb evaluation L~(ρ').</summary>
    BatchFinal,

    /// <summary>The limb opening's bytes do not parse.</summary>
    LimbOpeningMalformed,

    /// <summary>The limb opening does not prove L~(ρ').</summary>
    LimbOpening,

    // Per proven layer.

    /// <summary>The layer's sumcheck has the wrong number of rounds.</summary>
    LayerSumcheckShape,

    /// <summary>The layer has the wrong number of limb evaluations.</summary>
    LimbEvaluationCount,

    /// <summary>The limbs of d_lo and d_hi do not add up to the requantisation intervals' widths.</summary>
    LimbWidths,

    /// <summary>A round of the layer's matmul sumcheck does not add up.</summary>
    LayerSumcheckRound,

    /// <summary>a*·w* is not the sumcheck's final claim.</summary>
    LayerSumcheckFinal,

    /// <summary>The claimed activation evaluation a* is not X'~(r_i, ρ) of the real activations.</summary>
    ActivationClaim,

    /// <summary>The weight opening's bytes do not parse.</summary>
    WeightOpeningMalformed,

    /// <summary>The weight opening does not prove w* against the key's weight commitment.</summary>
    WeightOpening,
}
