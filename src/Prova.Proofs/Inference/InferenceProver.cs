using System.Buffers.Binary;
using System.Security.Cryptography;
using Prova.Core;
using Prova.Proofs.Field;
using Prova.Proofs.Transcript;
using Prova.Runtime;

namespace Prova.Proofs.Inference;

/// <summary>Proves that a quantized model computes given outputs on given inputs (docs/proofs.md).</summary>
public static class InferenceProver
{
    /// <summary>Runs the model on the inputs and proves the run. Returns the outputs and the proof.</summary>
    public static (Dictionary<string, Tensor> Outputs, InferenceProof Proof) Prove(ProofCircuit circuit, IReadOnlyDictionary<string, Tensor> inputs)
        => Prove(circuit, inputs, ProofBinding.None, null);

    /// <summary>Proves the run for <paramref name="binding"/> (the request id it answers and the node proving it; docs/proofs.md "Binding").</summary>
    public static (Dictionary<string, Tensor> Outputs, InferenceProof Proof) Prove(ProofCircuit circuit, IReadOnlyDictionary<string, Tensor> inputs, ProofBinding binding)
        => Prove(circuit, inputs, binding, null);

    /// <summary>As <see cref="Prove(ProofCircuit, IReadOnlyDictionary{string, Tensor})"/> with test hooks for a cheating prover.</summary>
    internal static (Dictionary<string, Tensor> Outputs, InferenceProof Proof) Prove(ProofCircuit circuit, IReadOnlyDictionary<string, Tensor> inputs, ProverCheat? cheat)
        => Prove(circuit, inputs, ProofBinding.None, cheat);

    internal static (Dictionary<string, Tensor> Outputs, InferenceProof Proof) Prove(ProofCircuit circuit, IReadOnlyDictionary<string, Tensor> inputs, ProofBinding binding, ProverCheat? cheat)
    {
        Dictionary<string, Tensor> outputs;
        Witness witness;
        var committed = circuit.WeightsCommitted
            ?? throw new ProofException(ProofErrorCode.Unsupported, "this circuit was built from a verifying key and holds no weights: proving needs the model file");
        try
        {
            (outputs, witness) = cheat?.Run is { } run ? run(inputs) : circuit.ProverSession.RunWithWitness(inputs);
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
        int count = circuit.Layers.Count;
        var work = new LayerWork[count];
        for (int l = 0; l < count; l++)
        {
            var layer = circuit.Layers[l];
            var x = values[layer.Input];
            var g = layer.Geometry(x.Shape);
            var xc = layer.Centered(x);
            var acc = layer.Accumulate(xc, g);
            var y = layer.Requantize(acc);
            var shape = layer.OutputShape(x.Shape, g);
            if (cheat?.Outputs is { } tamper)
            {
                // A cheating prover changes outputs and carries the change through the rest of the graph.
                tamper(l, acc, y);
                ys[layer.Output] = layer.OutputTensor(y, shape)!;
                values = circuit.Evaluate(inputs, ys);
            }
            else if (layer.OutputTensor(y, shape) is not { } tensor || !tensor.Bytes().SequenceEqual(ys[layer.Output].Bytes()))
            {
                throw new ProofException(ProofErrorCode.Unsupported, $"layer '{layer.Name}': the engine's output differs from the proven integer semantics");
            }
            work[l] = new LayerWork(xc, g, acc, y, shape);
        }
        if (cheat?.Outputs is not null)
        {
            outputs = circuit.OutputNames.ToDictionary(n => n, n => values[n], StringComparer.Ordinal);
        }
        var layout = LimbLayout.Create(work.Select((w, l) => (w.G.M, circuit.Layers[l].N)).ToArray());
        var limbs = new Fp[layout.Size];
        for (int l = 0; l < count; l++)
        {
            RangeProver.FillLayer(limbs, layout, l, circuit.Layers[l], work[l].G.M, work[l].Acc, work[l].Y, cheat);
        }
        var outputBytes = Array.ConvertAll(work, w => Array.ConvertAll(w.Y, v => (byte)v));
        using var t = Statement.Begin(circuit, binding, inputs, outputs, work.Select((w, l) => (w.G.M, circuit.Layers[l].N, w.Shape, outputBytes[l])).ToArray());
        var range = new RangeProver(layout, limbs, cheat);
        range.Begin(t);
        var layers = new List<LayerProof>(count);
        for (int l = 0; l < count; l++)
        {
            var w = work[l];
            layers.Add(LayerProtocol.Prove(t, circuit.Layers[l], committed[l], w.Xc, w.G, range, l, outputBytes[l], w.Shape, w.Acc, cheat));
        }
        var rangeProof = range.Finish(t);
        return (outputs, new InferenceProof { KeyDigest = circuit.KeyDigest, Binding = binding, Layers = layers, Range = rangeProof });
    }

    private sealed record LayerWork(int[] Xc, LayerGeometry G, int[] Acc, int[] Y, int[] Shape);
}

/// <summary>
/// The statement every transcript starts with: key digest, request id and node address (the binding),
/// model CID, input and output hashes, then
/// per layer its dimensions, its output shape and SHA-256 of its output bytes.
/// </summary>
internal static class Statement
{
    public static ProofTranscript Begin(ProofCircuit circuit, ProofBinding binding, IReadOnlyDictionary<string, Tensor> inputs, IReadOnlyDictionary<string, Tensor> outputs, IReadOnlyList<(int Rows, int Columns, int[] Shape, byte[] Outputs)> layers)
    {
        var t = new ProofTranscript(ProofCircuit.Protocol);
        t.AbsorbBytes("vk", circuit.KeyDigest);
        t.AbsorbBytes("request", binding.RequestId.ToArray());
        t.AbsorbBytes("node", binding.Node.ToArray());
        t.AbsorbBytes("model", circuit.ModelCid.ToBytes());
        t.AbsorbBytes("input", Convert.FromHexString(TensorEncoding.Hash(inputs)));
        t.AbsorbBytes("output", Convert.FromHexString(TensorEncoding.Hash(outputs)));
        foreach (var (rows, columns, shape, y) in layers)
        {
            t.AbsorbUInt64("rows", (ulong)rows);
            t.AbsorbUInt64("columns", (ulong)columns);
            var dims = new byte[4 * shape.Length];
            for (int d = 0; d < shape.Length; d++)
            {
                BinaryPrimitives.WriteInt32LittleEndian(dims.AsSpan(4 * d), shape[d]);
            }
            t.AbsorbBytes("shape", dims);
            t.AbsorbBytes("outputs", SHA256.HashData(y));
        }
        return t;
    }
}
