using Prova.Core;
using Prova.Onnx;

namespace Prova.Runtime.Quantization;

/// <summary>
/// Observes float tensors of a model over a calibration set and keeps each one's minimum and
/// maximum (the "min/max" calibration method: no clipping of outliers).
/// </summary>
public sealed class Calibrator : IDisposable
{
    private readonly OnnxModel _model;
    private readonly string[] _tensors;
    private readonly Dictionary<string, (float Min, float Max)> _ranges = new(StringComparer.Ordinal);
    private readonly InferenceSession _session;

    /// <param name="model">The float model.</param>
    /// <param name="tensors">The tensors to observe (graph inputs or node outputs).</param>
    /// <param name="threads">Worker threads for the calibration runs.</param>
    public Calibrator(OnnxModel model, IReadOnlyCollection<string> tensors, int threads = 1)
    {
        _model = model;
        _tensors = [.. tensors];
        var graph = model.Graph;
        var outputs = new List<ValueInfo>(graph.Outputs);
        foreach (var name in _tensors)
        {
            if (!outputs.Exists(o => o.Name == name) && !graph.Inputs.Exists(i => i.Name == name))
            {
                outputs.Add(new ValueInfo { Name = name, ElementType = DataType.Float32 });
            }
        }
        var observed = new OnnxModel
        {
            IrVersion = model.IrVersion,
            ProducerName = model.ProducerName,
            Opsets = model.Opsets,
            Metadata = model.Metadata,
            Graph = new OnnxGraph
            {
                Name = graph.Name,
                Nodes = graph.Nodes,
                Inputs = graph.Inputs,
                Outputs = outputs,
                ValueInfos = graph.ValueInfos,
                Initializers = graph.Initializers,
            },
        };
        _session = new InferenceSession(observed, new SessionOptions { Threads = threads });
    }

    /// <summary>How many runs have been observed.</summary>
    public int Runs { get; private set; }

    /// <summary>Runs the model on one calibration request and widens the observed ranges.</summary>
    public void Observe(IReadOnlyDictionary<string, Tensor> inputs)
    {
        var outputs = _session.Run(inputs);
        foreach (var name in _tensors)
        {
            var tensor = outputs.TryGetValue(name, out var t) ? t : inputs.TryGetValue(name, out t) ? t : null;
            if (tensor is null || tensor.Type != DataType.Float32)
            {
                throw new QuantizationException($"tensor '{name}' of model '{_model.Graph.Name}' is not a float32 value the calibration runs can observe");
            }
            var data = (float[])tensor.Data;
            var (min, max) = _ranges.TryGetValue(name, out var r) ? r : (float.PositiveInfinity, float.NegativeInfinity);
            foreach (float v in data)
            {
                if (float.IsNaN(v))
                {
                    throw new QuantizationException($"tensor '{name}' is NaN on a calibration input");
                }
                min = MathF.Min(min, v);
                max = MathF.Max(max, v);
            }
            _ranges[name] = (min, max);
        }
        Runs++;
    }

    public void Dispose() => _session.Dispose();

    /// <summary>The observed [min, max] of every tensor (after at least one <see cref="Observe"/>).</summary>
    public IReadOnlyDictionary<string, (float Min, float Max)> Ranges
        => Runs > 0 ? _ranges : throw new QuantizationException("the calibration set is empty");
}
