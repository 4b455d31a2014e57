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
        // 1. The layers' outputs are in the proof; their inputs and the model outputs follow from
        //    re-executing the light graph on the model inputs and those outputs.
        var ys = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var yValues = new int[circuit.Layers.Count][];
        for (int l = 0; l < circuit.Layers.Count; l++)
        {
            var layer = circuit.Layers[l];
            var lp = proof.Layers[l];
            if (lp.Columns != layer.N || lp.Outputs.Length != (long)lp.Rows * lp.Columns)
            {
                throw Reject(layer, $"the proof has {lp.Rows}×{lp.Columns} outputs; the layer has {layer.N} columns");
            }
            var y = yValues[l] = Array.ConvertAll(lp.Outputs, b => layer.OutputType == DataType.UInt8 ? b : (int)(sbyte)b);
            var tables = layer.Tables;
            for (int c = 0; c < y.Length; c++)
            {
                if (!tables[c % layer.N].Reachable(y[c]))
                {
                    throw Reject(layer, $"output {c} is {y[c]}, which no int32 accumulator requantises to (range [{layer.Lo}, {layer.Hi}])");
                }
            }
            ys[layer.Output] = layer.OutputTensor(y, lp.OutputShape)
                ?? throw Reject(layer, "the output shape does not fit the outputs");
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
        // 3. Every layer's input shape implies its rows and output shape.
        var xcs = new int[circuit.Layers.Count][];
        var geometries = new LayerGeometry[circuit.Layers.Count];
        for (int l = 0; l < circuit.Layers.Count; l++)
        {
            var layer = circuit.Layers[l];
            var x = values[layer.Input];
            var g = geometries[l] = layer.Geometry(x.Shape);
            if (proof.Layers[l].Rows != g.M || !proof.Layers[l].OutputShape.AsSpan().SequenceEqual(layer.OutputShape(x.Shape, g)))
            {
                throw Reject(layer, "the output shape does not follow from the input shape");
            }
            xcs[l] = layer.Centered(x);
        }
        // 4. The range argument and, per layer, the limb relation and the accumulator sumcheck (transcript order).
        var layout = LimbLayout.Create(proof.Layers.Select(lp => (lp.Rows, lp.Columns)).ToArray());
        using var t = Statement.Begin(circuit, inputs, outputs, proof.Layers.Select(lp => (lp.Rows, lp.Columns, lp.OutputShape, lp.Outputs)).ToArray());
        var range = new RangeVerifier(layout, proof.Range);
        range.Begin(t);
        for (int l = 0; l < circuit.Layers.Count; l++)
        {
            LayerProtocol.Verify(t, circuit.Layers[l], circuit.WeightCommitments[l], xcs[l], geometries[l], proof.Layers[l], yValues[l], range, l);
        }
        range.Finish(t);
    }

    private static ProofException Reject(QuantLayer layer, string why) => new(ProofErrorCode.Rejected, $"layer '{layer.Name}': {why}");
}
