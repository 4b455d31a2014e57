using Prova.Onnx;

namespace Prova.Trainer;

/// <summary>
/// A classifier of 28×28 images with hand-written forward and backward passes. Parameters live in
/// one flat array (so one Adam loop updates them all); each worker has its own <see cref="Workspace"/>.
/// </summary>
internal abstract class Network
{
    public const int Classes = 10;

    public float[] Params { get; protected init; } = [];

    public abstract string Name { get; }

    public abstract string Description { get; }

    /// <summary>Scratch buffers of one worker (forward activations, backward deltas).</summary>
    public abstract class Workspace
    {
        public float[] Logits { get; } = new float[Classes];

        public float[] DLogits { get; } = new float[Classes];
    }

    public abstract Workspace NewWorkspace();

    /// <summary>Initialises the parameters (He-normal weights, zero biases) from <paramref name="random"/>.</summary>
    public abstract void Init(Random random);

    /// <summary>Forward pass; the logits are left in <c>ws.Logits</c>.</summary>
    public abstract void Forward(ReadOnlySpan<float> image, Workspace ws);

    /// <summary>Forward and backward pass of one example: adds dLoss/dParams to <paramref name="grad"/>, returns the loss.</summary>
    public abstract float Backward(ReadOnlySpan<float> image, int label, Span<float> grad, Workspace ws);

    /// <summary>The trained network as a standard float ONNX model: input "image" float32 [N,1,28,28], output "logits" [N,10].</summary>
    public abstract OnnxModel Export(IReadOnlyDictionary<string, string> metadata);

    protected static void HeNormal(Random random, Span<float> weights, int fanIn)
    {
        double std = Math.Sqrt(2.0 / fanIn);
        for (int i = 0; i < weights.Length; i++)
        {
            // Box-Muller.
            double u1 = 1.0 - random.NextDouble();
            double u2 = random.NextDouble();
            weights[i] = (float)(std * Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }
    }
}
