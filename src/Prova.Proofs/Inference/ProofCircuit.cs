using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Prova.Core;
using Prova.Core.Content;
using Prova.Onnx;
using Prova.Proofs.Commitments;
using Prova.Runtime;

namespace Prova.Proofs.Inference;

/// <summary>
/// The verifying key of a quantized model, derived deterministically from the model file: the model
/// CID, the proven layers (every QLinearMatMul / QLinearConv of the planned graph with constant
/// weights: shapes, zero points, requantisation constants, bias, weights) and the "light" graph —
/// the planned graph without those layers, whose inputs are the model inputs plus the layers'
/// outputs and whose outputs are the model outputs plus the layers' inputs. The verifier re-executes
/// the light graph (quantize/dequantize, pooling, reshapes, residual adds: linear in the activation
/// size) and checks every proven layer with a sumcheck.
/// </summary>
public sealed class ProofCircuit : IDisposable
{
    public const string Protocol = "prova-inference-proof/v4";

    private readonly InferenceSession? _light;
    private readonly HashSet<string> _lightInputs;
    private readonly Lock _gate = new();
    private readonly OnnxModel? _model;
    private readonly byte[] _keyBytes;
    private readonly int _threads;
    private readonly LigeroCommitted[]? _committed;
    private InferenceSession? _prover;

    private ProofCircuit(OnnxModel? model, LigeroCommitted[]? committed, VerifyingKeyFormat.Parts key, byte[] keyBytes, InferenceSession? light, int threads)
    {
        _model = model;
        _committed = committed;
        ModelCid = key.Cid;
        Layers = key.Layers;
        WeightCommitments = key.Commitments;
        _light = light;
        _lightInputs = new HashSet<string>(key.LightInputs, StringComparer.Ordinal);
        Inputs = key.Inputs;
        InputNames = Array.ConvertAll(key.Inputs, i => i.Name);
        OutputNames = key.Outputs;
        _threads = threads;
        _keyBytes = keyBytes;
        KeyDigest = ComputeDigest(keyBytes);
    }

    /// <summary>The model's CID (over its chunk manifest, default chunk size).</summary>
    public Cid ModelCid { get; }

    public IReadOnlyList<QuantLayer> Layers { get; }

    public IReadOnlyList<string> InputNames { get; }

    /// <summary>The model inputs with their declared types and shapes (the verifier checks the statement's inputs against them).</summary>
    public IReadOnlyList<InputDeclaration> Inputs { get; }

    public IReadOnlyList<string> OutputNames { get; }

    /// <summary>Per proven layer: the Ligero commitment to W' (<see cref="QuantLayer.WeightTable"/>), part of the key.</summary>
    public IReadOnlyList<LigeroCommitment> WeightCommitments { get; }

    /// <summary>The prover's side of the weight commitments (null for a key without weights).</summary>
    internal LigeroCommitted[]? WeightsCommitted => _committed;

    /// <summary>SHA-256 of the canonical encoding of the key (docs/proofs.md); every transcript starts with it.</summary>
    public byte[] KeyDigest { get; }

    /// <summary>Derives the key from the bytes of a model file (CID over chunks of <paramref name="chunkSize"/>, the default unless the model was pushed otherwise).</summary>
    public static ProofCircuit FromModelBytes(byte[] modelBytes, int threads = 1, int chunkSize = ModelManifest.DefaultChunkSize)
    {
        var cid = ModelManifest.Build(modelBytes, chunkSize).Cid;
        OnnxModel model;
        try
        {
            model = OnnxLoader.Load(modelBytes);
        }
        catch (ModelException ex)
        {
            throw new ProofException(ProofErrorCode.Unsupported, "the model cannot be loaded: " + ex.Message);
        }
        return Create(model, cid, threads);
    }

    /// <summary>Derives the key from a model file on disk.</summary>
    public static ProofCircuit FromFile(string path, int threads = 1) => FromModelBytes(File.ReadAllBytes(path), threads);

    private static ProofCircuit Create(OnnxModel model, Cid cid, int threads)
    {
        OnnxModel planned;
        using (var session = new InferenceSession(model, new SessionOptions { Threads = 1 }))
        {
            planned = session.PlannedModel;
        }
        var g = planned.Graph;
        var layers = new List<QuantLayer>();
        var lightNodes = new List<OnnxNode>();
        foreach (var node in g.Nodes)
        {
            if (QuantLayer.TryCreate(node, g) is { } layer)
            {
                layers.Add(layer);
            }
            else
            {
                lightNodes.Add(node);
            }
        }
        if (layers.Count == 0)
        {
            throw new ProofException(ProofErrorCode.Unsupported, "the model has no integer QLinearMatMul / QLinearConv layer with constant weights to prove (quantize it first: prova model quantize)");
        }
        var heavyOutputs = layers.ToDictionary(l => l.Output, l => l, StringComparer.Ordinal);
        var graphInputs = g.Inputs.ToDictionary(i => i.Name, i => i, StringComparer.Ordinal);
        var produced = new HashSet<string>(lightNodes.SelectMany(n => n.Outputs), StringComparer.Ordinal);
        var consumed = new HashSet<string>(lightNodes.SelectMany(n => n.Inputs).Where(s => s.Length > 0), StringComparer.Ordinal);
        var lightInputs = new List<ValueInfo>();
        foreach (var input in g.Inputs)
        {
            if (consumed.Contains(input.Name) && !g.Initializers.ContainsKey(input.Name))
            {
                lightInputs.Add(input);
            }
        }
        foreach (var layer in layers)
        {
            if (consumed.Contains(layer.Output))
            {
                lightInputs.Add(new ValueInfo { Name = layer.Output, ElementType = layer.OutputType });
            }
        }
        var lightOutputs = new List<ValueInfo>();
        var wanted = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in layers.Select(l => l.Input).Concat(g.Outputs.Select(o => o.Name)))
        {
            if (produced.Contains(name) && wanted.Add(name))
            {
                lightOutputs.Add(g.Outputs.FirstOrDefault(o => o.Name == name) ?? new ValueInfo { Name = name });
            }
            else if (!produced.Contains(name) && !heavyOutputs.ContainsKey(name) && !graphInputs.ContainsKey(name))
            {
                throw new ProofException(ProofErrorCode.Unsupported, $"value '{name}' is neither computed nor an input");
            }
        }
        byte[] lightBytes = [];
        if (lightOutputs.Count > 0)
        {
            var inits = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            foreach (var name in consumed.Order(StringComparer.Ordinal))
            {
                if (g.Initializers.TryGetValue(name, out var t))
                {
                    inits[name] = t;
                }
            }
            var lightModel = new OnnxModel
            {
                IrVersion = planned.IrVersion,
                Opsets = planned.Opsets,
                Graph = new OnnxGraph
                {
                    Name = g.Name + "_light",
                    Nodes = lightNodes,
                    Inputs = lightInputs,
                    Outputs = lightOutputs,
                    ValueInfos = g.ValueInfos,
                    Initializers = inits,
                },
            };
            lightBytes = OnnxWriter.Write(lightModel);
        }
        var committed = new LigeroCommitted[layers.Count];
        for (int l = 0; l < layers.Count; l++)
        {
            committed[l] = LigeroPcs.Commit([layers[l].WeightTable()], LayerProtocol.WeightPcs);
        }
        var parts = new VerifyingKeyFormat.Parts(cid,
            g.Inputs.Where(i => !g.Initializers.ContainsKey(i.Name)).Select(Declaration).ToArray(), g.Outputs.Select(o => o.Name).ToArray(),
            lightInputs.Select(i => i.Name).ToArray(), lightBytes, [.. layers], Array.ConvertAll(committed, c => c.Commitment));
        return new ProofCircuit(model, committed, parts, VerifyingKeyFormat.Write(parts), LightSession(lightBytes, threads), threads);
    }

    private static InputDeclaration Declaration(ValueInfo input) => new(input.Name, input.ElementType,
        input.Shape is { } dims ? Array.ConvertAll(dims, d => d.Value is { } v ? (int)Math.Min(v, int.MaxValue) : -1) : null);

    /// <summary>
    /// A verifier-only circuit from the bytes of a verifying key (<see cref="VerifyingKey"/>): holds
    /// no weights (only their commitments), so it cannot prove. The key names its model's CID; to
    /// check that a key belongs to a model file, compare with <see cref="MatchesModel"/>.
    /// </summary>
    public static ProofCircuit FromVerifyingKey(ReadOnlySpan<byte> keyBytes, int threads = 1)
    {
        var parts = VerifyingKeyFormat.Read(keyBytes);
        return new ProofCircuit(null, null, parts, keyBytes.ToArray(), LightSession(parts.LightGraph, threads), threads);
    }

    /// <summary>The verifying key's canonical bytes (PRVK v3); <see cref="KeyDigest"/> is their SHA-256.</summary>
    public byte[] VerifyingKey => (byte[])_keyBytes.Clone();

    /// <summary>True when this key is the one derived from the given model file (same CID and same digest).</summary>
    public bool MatchesModel(byte[] modelBytes, int chunkSize = ModelManifest.DefaultChunkSize)
    {
        if (ModelManifest.Build(modelBytes, chunkSize).Cid != ModelCid)
        {
            return false;
        }
        using var derived = FromModelBytes(modelBytes, 1, chunkSize);
        return derived.KeyDigest.AsSpan().SequenceEqual(KeyDigest);
    }

    private static InferenceSession? LightSession(byte[] lightBytes, int threads)
    {
        if (lightBytes.Length == 0)
        {
            return null;
        }
        try
        {
            return new InferenceSession(OnnxLoader.Load(lightBytes), new SessionOptions { Threads = threads, IntegerQdq = false, Optimize = false });
        }
        catch (ModelException ex)
        {
            throw new ProofException(ProofErrorCode.Unsupported, "the non-proven part of the graph cannot run on its own: " + ex.Message);
        }
    }

    /// <summary>The prover's session over the whole model (with witness capture), created on first use.</summary>
    internal InferenceSession ProverSession
    {
        get
        {
            lock (_gate)
            {
                if (_model is null)
                {
                    throw new ProofException(ProofErrorCode.Unsupported, "this circuit was built from a verifying key and holds no model: proving needs the model file");
                }
                return _prover ??= new InferenceSession(_model, new SessionOptions { Threads = _threads, CaptureWitness = true });
            }
        }
    }

    /// <summary>
    /// Every value the proof talks about, given the model inputs and the proven layers' outputs: runs
    /// the light graph. Returns the light graph's outputs together with the given tensors.
    /// </summary>
    internal Dictionary<string, Tensor> Evaluate(IReadOnlyDictionary<string, Tensor> inputs, IReadOnlyDictionary<string, Tensor> layerOutputs)
    {
        foreach (var name in InputNames)
        {
            if (!inputs.ContainsKey(name))
            {
                throw new ProofException(ProofErrorCode.BadInput, $"input '{name}' is missing");
            }
        }
        if (inputs.Count != InputNames.Count)
        {
            throw new ProofException(ProofErrorCode.BadInput, $"the model has {InputNames.Count} inputs; got {inputs.Count}");
        }
        var values = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (k, v) in inputs)
        {
            values[k] = v;
        }
        foreach (var (k, v) in layerOutputs)
        {
            values[k] = v;
        }
        if (_light is not null)
        {
            var feed = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            foreach (var name in _lightInputs)
            {
                feed[name] = values[name];
            }
            try
            {
                foreach (var (k, v) in _light.Run(feed))
                {
                    values[k] = v;
                }
            }
            catch (InputException ex)
            {
                throw new ProofException(ProofErrorCode.BadInput, ex.Message);
            }
            catch (ModelException ex)
            {
                throw new ProofException(ProofErrorCode.BadInput, ex.Message);
            }
        }
        return values;
    }

    /// <summary>SHA-256(u32 length ‖ "prova-proof-vk/v3" ‖ key bytes).</summary>
    private static byte[] ComputeDigest(byte[] keyBytes)
    {
        using var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var domain = Encoding.UTF8.GetBytes("prova-proof-vk/v3");
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(b, domain.Length);
        h.AppendData(b);
        h.AppendData(domain);
        h.AppendData(keyBytes);
        return h.GetHashAndReset();
    }

    public void Dispose()
    {
        _light?.Dispose();
        _prover?.Dispose();
    }
}
