using Prova.Core;
using Prova.Proofs.Transcript;
using Prova.Runtime;

namespace Prova.Proofs.Inference;

/// <summary>Proves that a quantized model computes given outputs on given inputs (docs/proofs.md).</summary>
public static class InferenceProver
{
    /// <summary>Runs the model on the inputs and proves the run. Returns the outputs and the proof.</summary>
    public static (Dictionary<string, Tensor> Outputs, InferenceProof Proof) Prove(ProofCircuit circuit, IReadOnlyDictionary<string, Tensor> inputs)
    {
        Dictionary<string, Tensor> outputs;
        Witness witness;
        try
        {
            (outputs, witness) = circuit.ProverSession.RunWithWitness(inputs);
        }
        catch (ProvaException ex)
        {
            throw new ProofException(ProofErrorCode.BadInput, ex.Message);
        }
        var ys = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var layer in circuit.Layers)
        {
            ys[layer.Output] = witness.Find(layer.Output)?.Value
                ?? throw new ProofException(ProofErrorCode.Unsupported, $"layer '{layer.Name}' was not executed");
        }
        var values = circuit.Evaluate(inputs, ys);
        using var t = Statement.Begin(circuit, inputs, outputs);
        var layers = new List<LayerProof>(circuit.Layers.Count);
        var committed = circuit.WeightsCommitted
            ?? throw new ProofException(ProofErrorCode.Unsupported, "this circuit was built from a verifying key and holds no weights: proving needs the model file");
        for (int l = 0; l < circuit.Layers.Count; l++)
        {
            var layer = circuit.Layers[l];
            var x = values[layer.Input];
            var g = layer.Geometry(x.Shape);
            var xc = layer.Centered(x);
            var acc = layer.Accumulate(xc, g);
            var y = layer.Output8(acc, layer.OutputShape(x.Shape, g));
            if (y is null || !y.Bytes().SequenceEqual(ys[layer.Output].Bytes()))
            {
                throw new ProofException(ProofErrorCode.Unsupported, $"layer '{layer.Name}': the engine's output differs from the proven integer semantics");
            }
            layers.Add(LayerProtocol.Prove(t, layer, committed[l], xc, x.ShapeArray(), g, acc));
        }
        return (outputs, new InferenceProof { KeyDigest = circuit.KeyDigest, Layers = layers });
    }
}

/// <summary>The statement every transcript starts with: key digest, model CID, input and output hashes.</summary>
internal static class Statement
{
    public static ProofTranscript Begin(ProofCircuit circuit, IReadOnlyDictionary<string, Tensor> inputs, IReadOnlyDictionary<string, Tensor> outputs)
    {
        var t = new ProofTranscript(ProofCircuit.Protocol);
        t.AbsorbBytes("vk", circuit.KeyDigest);
        t.AbsorbBytes("model", circuit.ModelCid.ToBytes());
        t.AbsorbBytes("input", Convert.FromHexString(TensorEncoding.Hash(inputs)));
        t.AbsorbBytes("output", Convert.FromHexString(TensorEncoding.Hash(outputs)));
        return t;
    }
}
