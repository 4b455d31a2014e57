using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Prova.Core;
using Prova.Core.Content;
using Prova.Onnx;
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
    public const string Protocol = "prova-inference-proof/v1";

    private readonly InferenceSession? _light;
    private readonly HashSet<string> _lightInputs;
    private readonly Lock _gate = new();
    private readonly OnnxModel _model;
    private readonly int _threads;
    private InferenceSession? _prover;

    private ProofCircuit(OnnxModel model, Cid cid, QuantLayer[] layers, InferenceSession? light, HashSet<string> lightInputs, IReadOnlyList<string> inputs, IReadOnlyList<string> outputs, int threads)
    {
        _model = model;
        ModelCid = cid;
        Layers = layers;
        _light = light;
        _lightInputs = lightInputs;
        InputNames = inputs;
        OutputNames = outputs;
        _threads = threads;
        KeyDigest = ComputeDigest(cid, layers);
    }

    /// <summary>The model's CID (over its chunk manifest, default chunk size).</summary>
    public Cid ModelCid { get; }

    public IReadOnlyList<QuantLayer> Layers { get; }

    public IReadOnlyList<string> InputNames { get; }

    public IReadOnlyList<string> OutputNames { get; }

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
        InferenceSession? light = null;
        if (lightOutputs.Count > 0)
        {
            var inits = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            foreach (var name in consumed)
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
            try
            {
                light = new InferenceSession(lightModel, new SessionOptions { Threads = threads, IntegerQdq = false, Optimize = false });
            }
            catch (ModelException ex)
            {
                throw new ProofException(ProofErrorCode.Unsupported, "the non-proven part of the graph cannot run on its own: " + ex.Message);
            }
        }
        return new ProofCircuit(model, cid, [.. layers], light, new HashSet<string>(lightInputs.Select(i => i.Name), StringComparer.Ordinal),
            g.Inputs.Where(i => !g.Initializers.ContainsKey(i.Name)).Select(i => i.Name).ToArray(), g.Outputs.Select(o => o.Name).ToArray(), threads);
    }

    /// <summary>The prover's session over the whole model (with witness capture), created on first use.</summary>
    internal InferenceSession ProverSession
    {
        get
        {
            lock (_gate)
            {
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

    private static byte[] ComputeDigest(Cid cid, QuantLayer[] layers)
    {
        using var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void U32(long v)
        {
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(b, (int)v);
            h.AppendData(b);
        }
        void Str(string s)
        {
            var bytes = Encoding.UTF8.GetBytes(s);
            U32(bytes.Length);
            h.AppendData(bytes);
        }
        Str("prova-proof-vk/v1");
        var cidBytes = cid.ToBytes();
        U32(cidBytes.Length);
        h.AppendData(cidBytes);
        U32(layers.Length);
        foreach (var l in layers)
        {
            Str(l.Name);
            foreach (var v in new long[] { (int)l.Kind, l.K, l.N, l.XZero, l.YZero, l.Lo, l.Hi, (int)l.OutputType, l.C, l.KH, l.KW, l.SH, l.SW, l.DH, l.DW, l.Pads[0], l.Pads[1], l.Pads[2], l.Pads[3] })
            {
                U32(v);
            }
            foreach (var rq in l.Requant)
            {
                U32(rq.Multiplier);
                U32(rq.Shift);
            }
            h.AppendData(MemoryMarshal.AsBytes(l.Bias.AsSpan()));
            h.AppendData(SHA256.HashData(MemoryMarshal.AsBytes(l.Weights.AsSpan())));
        }
        return h.GetHashAndReset();
    }

    public void Dispose()
    {
        _light?.Dispose();
        _prover?.Dispose();
    }
}
