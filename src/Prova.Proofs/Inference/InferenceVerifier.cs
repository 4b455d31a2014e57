using Prova.Core;

namespace Prova.Proofs.Inference;

/// <summary>Checks a proof that the model behind a <see cref="ProofCircuit"/> maps inputs to outputs.</summary>
public static class InferenceVerifier
{
    /// <summary>Parses and checks a PRVP proof; throws <see cref="ProofException"/> (Malformed or Rejected) when it fails.</summary>
    public static void Verify(ProofCircuit circuit, IReadOnlyDictionary<string, Tensor> inputs, IReadOnlyDictionary<string, Tensor> outputs, ReadOnlySpan<byte> proofBytes)
        => Verify(circuit, inputs, outputs, ProofFormat.Read(proofBytes));

    /// <summary>True when the proof checks; false for any rejection or malformed proof.</summary>
    public static bool TryVerify(ProofCircuit circuit, IReadOnlyDictionary<string, Tensor> inputs, IReadOnlyDictionary<string, Tensor> outputs, ReadOnlySpan<byte> proofBytes, out string? problem)
    {
        try
        {
            Verify(circuit, inputs, outputs, proofBytes);
            problem = null;
            return true;
        }
        catch (ProofException ex)
        {
            problem = ex.Message;
            return false;
        }
    }

    public static void Verify(ProofCircuit circuit, IReadOnlyDictionary<string, Tensor> inputs, IReadOnlyDictionary<string, Tensor> outputs, InferenceProof proof)
    {
        if (!proof.KeyDigest.AsSpan().SequenceEqual(circuit.KeyDigest))
        {
            throw new ProofException(ProofErrorCode.Rejected, "the proof was made for another model (verifying-key digest differs)");
        }
        if (proof.Layers.Count != circuit.Layers.Count)
        {
            throw new ProofException(ProofErrorCode.Rejected, $"the proof covers {proof.Layers.Count} layers; the model has {circuit.Layers.Count}");
        }
        foreach (var name in circuit.OutputNames)
        {
            if (!outputs.ContainsKey(name))
            {
                throw new ProofException(ProofErrorCode.Rejected, $"output '{name}' is missing from the statement");
            }
        }
        if (outputs.Count != circuit.OutputNames.Count)
        {
            throw new ProofException(ProofErrorCode.Rejected, "the statement has outputs the model does not have");
        }
        // 1. The layers' outputs follow from the claimed accumulators by requantisation; their inputs
        //    and the model outputs from re-executing the light graph on the model inputs and those outputs.
        var ys = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        for (int l = 0; l < circuit.Layers.Count; l++)
        {
            var layer = circuit.Layers[l];
            ys[layer.Output] = layer.Output8(proof.Layers[l].Accumulators, proof.Layers[l].OutputShape)
                ?? throw new ProofException(ProofErrorCode.Rejected, $"layer '{layer.Name}': the output shape does not fit the accumulators");
        }
        var values = circuit.Evaluate(inputs, ys);
        // 2. The model outputs must be exactly the claimed ones.
        foreach (var name in circuit.OutputNames)
        {
            if (!values.TryGetValue(name, out var actual) || TensorEncoding.Hash(actual) != TensorEncoding.Hash(outputs[name]))
            {
                throw new ProofException(ProofErrorCode.Rejected, $"output '{name}' is not what the proven computation gives");
            }
        }
        // 3. Every layer's accumulators are X'·W' + bias (sumcheck, in transcript order).
        using var t = Statement.Begin(circuit, inputs, outputs);
        for (int l = 0; l < circuit.Layers.Count; l++)
        {
            var layer = circuit.Layers[l];
            var x = values[layer.Input];
            var g = layer.Geometry(x.Shape);
            LayerProtocol.Verify(t, layer, circuit.WeightCommitments[l], layer.Centered(x), x.ShapeArray(), g, proof.Layers[l]);
        }
    }
}
