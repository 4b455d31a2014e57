namespace Prova.Trainer;

/// <summary>
/// Mini-batch Adam. A batch is split into a fixed number of chunks whose gradients are computed in
/// parallel into separate buffers and summed in chunk order, so a run does not depend on the thread
/// count (it may depend on the machine's vector width, see <see cref="Blas"/>).
/// </summary>
internal sealed class SgdTrainer
{
    public const int Batch = 64;
    private const int Chunks = 8;
    private const float Beta1 = 0.9f;
    private const float Beta2 = 0.999f;
    private const float Epsilon = 1e-8f;

    private readonly Network _net;
    private readonly Random _random;
    private readonly float[][] _grads;
    private readonly Network.Workspace[] _workspaces;
    private readonly float[] _m;
    private readonly float[] _v;
    private readonly float[] _losses = new float[Chunks];
    private int _step;

    public SgdTrainer(Network net, int seed)
    {
        _net = net;
        _random = new Random(seed);
        net.Init(_random);
        int n = net.Params.Length;
        _grads = new float[Chunks][];
        _workspaces = new Network.Workspace[Chunks];
        for (int c = 0; c < Chunks; c++)
        {
            _grads[c] = new float[n];
            _workspaces[c] = net.NewWorkspace();
        }
        _m = new float[n];
        _v = new float[n];
    }

    /// <summary>One pass over <paramref name="data"/> in a seeded random order; returns the mean loss.</summary>
    public float Epoch(DataSet data, float lr)
    {
        var order = new int[data.Count];
        for (int i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }
        for (int i = order.Length - 1; i > 0; i--)
        {
            int j = _random.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        double total = 0;
        for (int start = 0; start + Batch <= order.Length; start += Batch)
        {
            total += Step(data, order.AsSpan(start, Batch).ToArray(), lr);
        }
        return (float)(total / (order.Length / Batch));
    }

    private float Step(DataSet data, int[] batch, float lr)
    {
        int per = Batch / Chunks;
        Parallel.For(0, Chunks, c =>
        {
            var grad = _grads[c];
            Array.Clear(grad);
            float loss = 0;
            for (int i = c * per; i < (c + 1) * per; i++)
            {
                loss += _net.Backward(data.Image(batch[i]), data.Labels[batch[i]], grad, _workspaces[c]);
            }
            _losses[c] = loss;
        });
        var g = _grads[0];
        float lossSum = _losses[0];
        for (int c = 1; c < Chunks; c++)
        {
            Blas.Axpy(1f, _grads[c], g);
            lossSum += _losses[c];
        }

        _step++;
        float scale = 1f / Batch;
        float correction1 = 1f - MathF.Pow(Beta1, _step);
        float correction2 = 1f - MathF.Pow(Beta2, _step);
        var p = _net.Params;
        for (int i = 0; i < p.Length; i++)
        {
            float gi = g[i] * scale;
            _m[i] = Beta1 * _m[i] + (1 - Beta1) * gi;
            _v[i] = Beta2 * _v[i] + (1 - Beta2) * gi * gi;
            p[i] -= lr * (_m[i] / correction1) / (MathF.Sqrt(_v[i] / correction2) + Epsilon);
        }
        return lossSum / Batch;
    }

    /// <summary>Top-1 accuracy of the current parameters on <paramref name="data"/>.</summary>
    public double Accuracy(DataSet data)
    {
        var correct = new int[Chunks];
        int per = (data.Count + Chunks - 1) / Chunks;
        Parallel.For(0, Chunks, c =>
        {
            for (int i = c * per; i < Math.Min(data.Count, (c + 1) * per); i++)
            {
                _net.Forward(data.Image(i), _workspaces[c]);
                if (Blas.ArgMax(_workspaces[c].Logits) == data.Labels[i])
                {
                    correct[c]++;
                }
            }
        });
        return (double)correct.Sum() / data.Count;
    }
}
