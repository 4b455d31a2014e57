using Prova.Core;
using Prova.Onnx;
using Prova.Proofs.Inference;

namespace Prova.Proofs.Tests.Inference;

/// <summary>The committed int8 Fashion-MNIST models, their verifying keys (built once) and example images.</summary>
public sealed class ModelFixtures : IDisposable
{
    public ModelFixtures()
    {
        Root = RepoFiles.Root;
        MlpBytes = File.ReadAllBytes(Path.Combine(Root, "models", "fashion-mlp.int8.onnx"));
        CnnBytes = File.ReadAllBytes(Path.Combine(Root, "models", "fashion-cnn.int8.onnx"));
        Mlp = ProofCircuit.FromModelBytes(MlpBytes);
        Cnn = ProofCircuit.FromModelBytes(CnnBytes);
    }

    public string Root { get; }

    public byte[] MlpBytes { get; }

    public byte[] CnnBytes { get; }

    public ProofCircuit Mlp { get; }

    public ProofCircuit Cnn { get; }

    /// <summary>Held-out test image i (models/examples) as the model's input dictionary.</summary>
    public Dictionary<string, Tensor> Image(int i)
    {
        var files = Directory.GetFiles(Path.Combine(Root, "models", "examples"), "*.json").Order(StringComparer.Ordinal).ToArray();
        return TensorJson.ReadNamedTensors(File.ReadAllText(files[i % files.Length]), "inputs");
    }

    /// <summary>The model bytes with one weight of the named initializer changed by +1 (wrapping within int8).</summary>
    public static byte[] WithOneWeightChanged(byte[] modelBytes, string initializer, int index)
    {
        var model = OnnxLoader.Load(modelBytes);
        var t = model.Graph.Initializers[initializer];
        var data = (sbyte[])((sbyte[])t.Data).Clone();
        data[index] = (sbyte)(data[index] == 127 ? 126 : data[index] + 1);
        model.Graph.Initializers[initializer] = Tensor.Create(t.Shape, data);
        return OnnxWriter.Write(model);
    }

    public void Dispose()
    {
        Mlp.Dispose();
        Cnn.Dispose();
    }
}
