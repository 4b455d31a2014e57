using Prova.Core;

namespace Prova.Proofs.Inference;

/// <summary>Checks a proof that the model behind a <see cref="ProofCircuit"/> maps inputs to outputs.</summary>
public static class InferenceVerifier
{
    /// <summary>
    /// Parses and checks a PRVP proof made for <see cref="ProofBinding.None"/>; throws <see cref="ProofException"/>
    /// (Malformed, BadInput or Rejected, with the <see cref="ProofException.Check"/> that refused) when it fails.
    /// </summary>
    public static void Verify(ProofCircuit circuit, IReadOnlyDictionary<string, Tensor> inputs, IReadOnlyDictionary<string, Tensor> outputs, ReadOnlySpan<byte> proofBytes)
        => Verify(circuit, inputs, outputs, ProofFormat.Read(proofBytes), ProofBinding.None);

    /// <summary>Parses and checks a PRVP proof that must have been made for <paramref name="binding"/> (request id and node).</summary>
    public static void Verify(ProofCircuit circuit, IReadOnlyDictionary<string, Tensor> inputs, IReadOnlyDictionary<string, Tensor> outputs, ReadOnlySpan<byte> proofBytes, ProofBinding binding)
        => Verify(circuit, inputs, outputs, ProofFormat.Read(proofBytes), binding);

    /// <summary>True when the proof checks; false for any rejection or malformed proof.</summary>
    public static bool TryVerify(ProofCircuit circuit, IReadOnlyDictionary<string, Tensor> inputs, IReadOnlyDictionary<string, Tensor> outputs, ReadOnlySpan<byte> proofBytes, out string? problem)
        => TryVerify(circuit, inputs, outputs, proofBytes, ProofBinding.None, out problem);

    /// <summary>True when the proof checks for <paramref name="binding"/>; false for any rejection or malformed proof.</summary>
    public static bool TryVerify(ProofCircuit circuit, IReadOnlyDictionary<string, Tensor> inputs, IReadOnlyDictionary<string, Tensor> outputs, ReadOnlySpan<byte> proofBytes, ProofBinding binding, out string? problem)
    {
        try
        {
            Verify(circuit, inputs, outputs, proofBytes, binding);
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
        => Verify(circuit, inputs, outputs, proof, ProofBinding.None);

    /// <summary>
    /// Checks a parsed proof. Every refusal names its check (<see cref="ProofException.Check"/>); each
    /// condition is guarded by <see cref="VerifierMutation.Live(ProofCheck)"/> for the mutation run only.
    /// </summary>
    public static void Verify(ProofCircuit circuit, IReadOnlyDictionary<string, Tensor> inputs, IReadOnlyDictionary<string, Tensor> outputs, InferenceProof proof, ProofBinding binding)
    {
        if (!proof.KeyDigest.AsSpan().SequenceEqual(circuit.KeyDigest) && VerifierMutation.Live(ProofCheck.KeyDigest))
        {
            throw Reject(ProofCheck.KeyDigest, "the proof was made for another model (verifying-key digest differs)");
        }
        if (proof.Binding != binding && VerifierMutation.Live(ProofCheck.Binding))
        {
            throw Reject(ProofCheck.Binding, $"the proof was made for {proof.Binding}, not for {binding}");
        }
        if (proof.Layers.Count != circuit.Layers.Count && VerifierMutation.Live(ProofCheck.LayerCount))
        {
            throw Reject(ProofCheck.LayerCount, $"the proof covers {proof.Layers.Count} layers; the model has {circuit.Layers.Count}");
        }
        CheckInputs(circuit, inputs);
        foreach (var name in circuit.OutputNames)
        {
            if (!outputs.ContainsKey(name) && VerifierMutation.Live(ProofCheck.OutputMissing))
            {
                throw Reject(ProofCheck.OutputMissing, $"output '{name}' is missing from the statement");
            }
        }
        if (outputs.Count != circuit.OutputNames.Count && VerifierMutation.Live(ProofCheck.OutputExtra))
        {
            throw Reject(ProofCheck.OutputExtra, "the statement has outputs the model does not have");
        }
        // 1. The layers' outputs are in the proof; their inputs and the model outputs follow from
        //    re-executing the light graph on the model inputs and those outputs.
        var ys = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var yValues = new int[circuit.Layers.Count][];
        for (int l = 0; l < circuit.Layers.Count; l++)
        {
            var layer = circuit.Layers[l];
            var lp = proof.Layers[l];
            if ((lp.Columns != layer.N || lp.Outputs.Length != (long)lp.Rows * lp.Columns) && VerifierMutation.Live(ProofCheck.LayerDimensions))
            {
                throw Reject(layer, ProofCheck.LayerDimensions, $"the proof has {lp.Rows}×{lp.Columns} outputs; the layer has {layer.N} columns");
            }
            var y = yValues[l] = Array.ConvertAll(lp.Outputs, b => layer.OutputType == DataType.UInt8 ? b : (int)(sbyte)b);
            var tables = layer.Tables;
            for (int c = 0; c < y.Length; c++)
            {
                if (!tables[c % layer.N].Reachable(y[c]) && VerifierMutation.Live(ProofCheck.OutputReachable))
                {
                    throw Reject(layer, ProofCheck.OutputReachable, $"output {c} is {y[c]}, which no int32 accumulator requantises to (range [{layer.Lo}, {layer.Hi}])");
                }
            }
            ys[layer.Output] = layer.OutputTensor(y, lp.OutputShape)
                ?? throw Reject(layer, ProofCheck.OutputShape, "the output shape does not fit the outputs");
        }
        var values = circuit.Evaluate(inputs, ys);
        // 2. The model outputs must be exactly the claimed ones.
        foreach (var name in circuit.OutputNames)
        {
            if ((!values.TryGetValue(name, out var actual) || TensorEncoding.Hash(actual) != TensorEncoding.Hash(outputs[name])) && VerifierMutation.Live(ProofCheck.ModelOutputs))
            {
                throw Reject(ProofCheck.ModelOutputs, $"output '{name}' is not what the proven computation gives");
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
            if ((proof.Layers[l].Rows != g.M || !proof.Layers[l].OutputShape.AsSpan().SequenceEqual(layer.OutputShape(x.Shape, g))) && VerifierMutation.Live(ProofCheck.LayerGeometry))
            {
                throw Reject(layer, ProofCheck.LayerGeometry, "the output shape does not follow from the input shape");
            }
            xcs[l] = layer.Centered(x);
        }
        // 4. The range argument and, per layer, the limb relation and the accumulator sumcheck (transcript order).
        var layout = LimbLayout.Create(proof.Layers.Select(lp => (lp.Rows, lp.Columns)).ToArray());
        using var t = Statement.Begin(circuit, binding, inputs, outputs, proof.Layers.Select(lp => (lp.Rows, lp.Columns, lp.OutputShape, lp.Outputs)).ToArray());
        var range = new RangeVerifier(layout, proof.Range);
        range.Begin(t);
        for (int l = 0; l < circuit.Layers.Count; l++)
        {
            LayerProtocol.Verify(t, circuit.Layers[l], circuit.WeightCommitments[l], xcs[l], geometries[l], proof.Layers[l], yValues[l], range, l);
        }
        range.Finish(t);
    }

    /// <summary>
    /// The statement's inputs must be exactly the model's, each of its declared type and shape (a fixed
    /// dimension must match; a symbolic one matches any size): the proven layers take their geometry from
    /// the inputs' shapes, so an input the model would refuse must not be provable either.
    /// </summary>
    private static void CheckInputs(ProofCircuit circuit, IReadOnlyDictionary<string, Tensor> inputs)
    {
        foreach (var declared in circuit.Inputs)
        {
            if (!inputs.TryGetValue(declared.Name, out var x))
            {
                if (VerifierMutation.Live("InputSignature/missing"))
                {
                    throw BadInput($"input '{declared.Name}' is missing (the model declares {declared})");
                }
                continue;
            }
            if (!declared.Accepts(x) && VerifierMutation.Live(ProofCheck.InputSignature))
            {
                throw BadInput($"input '{declared.Name}' is {DataTypes.Name(x.Type)}[{string.Join(", ", x.Shape.ToArray())}]; the model declares {declared}");
            }
        }
        if (inputs.Count != circuit.Inputs.Count && VerifierMutation.Live("InputSignature/extra"))
        {
            throw BadInput($"the model has {circuit.Inputs.Count} inputs ({string.Join(", ", circuit.InputNames)}); the statement has {inputs.Count}");
        }
    }

    private static ProofException BadInput(string why) => new(ProofErrorCode.BadInput, why, ProofCheck.InputSignature);

    private static ProofException Reject(ProofCheck check, string why) => new(ProofErrorCode.Rejected, why, check);

    private static ProofException Reject(QuantLayer layer, ProofCheck check, string why) => new(ProofErrorCode.Rejected, $"layer '{layer.Name}': {why}", check);
}
