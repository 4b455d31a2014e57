namespace Prova.Runtime.Generation;

/// <summary>
/// Prova's token sampler, specified operation by operation in docs/generation.md ("The sampler") so that a
/// verifier re-derives every choice bit for bit from (logits, sequence so far, options, seed):
/// <list type="number">
/// <item>repetition penalty on each distinct token already in the sequence: x &lt; 0 ? x·p : x/p (float32);</item>
/// <item>greedy (temperature 0): the largest logit, the lowest id among equals; NaN counts as −∞;</item>
/// <item>otherwise z = x / T (float32); candidates in id order, or, with top-k or top-p, sorted by
/// (z descending, id ascending) and cut to the first K;</item>
/// <item>weights w = DetMath.Exp(z − max z) (float32), summed in candidate order in float64; top-p keeps the
/// shortest prefix whose running sum reaches P × total;</item>
/// <item>one draw u = (xoshiro256** output &gt;&gt; 11) · 2⁻⁵³; the token is the first candidate whose running
/// float64 sum exceeds u × kept total.</item>
/// </list>
/// Holds its scratch arrays, so choosing a token allocates nothing.
/// </summary>
public sealed class Sampler
{
    private readonly SamplingOptions _options;
    private readonly float[] _z;
    private readonly float[] _keys;
    private readonly int[] _order;
    private readonly int[] _stamp;
    private Xoshiro256 _rng;
    private int _step;

    public Sampler(SamplingOptions options, int vocabSize)
    {
        options.Validate();
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabSize, 1);
        _options = options;
        _z = new float[vocabSize];
        _keys = new float[vocabSize];
        _order = new int[vocabSize];
        _stamp = new int[vocabSize];
        _rng = new Xoshiro256(options.Seed);
    }

    /// <summary>Chooses the next token from <paramref name="logits"/> given every token of the sequence so far.</summary>
    public int Next(ReadOnlySpan<float> logits, ReadOnlySpan<int> sequence)
    {
        int v = _z.Length;
        if (logits.Length != v)
        {
            throw new ArgumentException($"expected {v} logits, got {logits.Length}", nameof(logits));
        }
        var z = _z.AsSpan();
        logits.CopyTo(z);
        float penalty = _options.RepetitionPenalty;
        if (penalty != 1f)
        {
            int stamp = ++_step;
            foreach (int id in sequence)
            {
                if ((uint)id < (uint)v && _stamp[id] != stamp)
                {
                    _stamp[id] = stamp;
                    z[id] = z[id] < 0f ? z[id] * penalty : z[id] / penalty;
                }
            }
        }
        if (_options.IsGreedy)
        {
            return ArgMax(z);
        }
        float temperature = _options.Temperature;
        float max = float.NegativeInfinity;
        for (int i = 0; i < v; i++)
        {
            float x = z[i] / temperature;
            if (float.IsNaN(x))
            {
                x = float.NegativeInfinity;
            }
            z[i] = x;
            max = MathF.Max(max, x);
        }
        if (max == float.NegativeInfinity || float.IsNaN(max))
        {
            throw new InputException("every logit is -infinity or NaN: the model gave no token a probability");
        }

        int count = v;
        var order = _order.AsSpan();
        bool sorted = _options.TopK > 0 || _options.TopP < 1f;
        if (sorted && _options.TopK > 0 && _options.TopK < v / 4)
        {
            count = TopK(z, order, _options.TopK);
        }
        else if (sorted)
        {
            SortDescending(z, order);
            if (_options.TopK > 0)
            {
                count = System.Math.Min(count, _options.TopK);
            }
        }
        else
        {
            for (int i = 0; i < v; i++)
            {
                order[i] = i;
            }
        }

        double total = 0;
        for (int i = 0; i < count; i++)
        {
            total += DetMath.Exp(z[order[i]] - max);
        }
        if (_options.TopP < 1f)
        {
            double needed = _options.TopP * total;
            double running = 0;
            int keep = 0;
            while (keep < count)
            {
                running += DetMath.Exp(z[order[keep]] - max);
                keep++;
                if (running >= needed)
                {
                    break;
                }
            }
            count = keep;
            total = running;
        }

        double target = _rng.NextDouble() * total;
        double cumulative = 0;
        for (int i = 0; i < count; i++)
        {
            cumulative += DetMath.Exp(z[order[i]] - max);
            if (target < cumulative)
            {
                return order[i];
            }
        }
        return order[count - 1];
    }

    /// <summary>Index of the largest value, the lowest index among equals; NaN never wins unless every value is NaN.</summary>
    public static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = -1;
        float bestValue = float.NegativeInfinity;
        for (int i = 0; i < values.Length; i++)
        {
            float x = values[i];
            if (x > bestValue || (best < 0 && !float.IsNaN(x)))
            {
                best = i;
                bestValue = x;
            }
        }
        if (best < 0)
        {
            throw new InputException("every logit is NaN: the model gave no token a score");
        }
        return best;
    }

    /// <summary>True when (z[a], a) comes after (z[b], b) in the order (z descending, id ascending).</summary>
    private static bool After(Span<float> z, int a, int b) => z[a] < z[b] || (z[a] == z[b] && a > b);

    /// <summary>
    /// The first <paramref name="k"/> ids of the order (z descending, id ascending), in that order, in
    /// order[0..k): a heap of the best k seen so far whose root is the worst of them, then a sort of those k.
    /// Same ids and order as sorting everything and cutting, in O(V log k).
    /// </summary>
    private int TopK(Span<float> z, Span<int> order, int k)
    {
        var heap = order[..k];
        for (int i = 0; i < k; i++)
        {
            heap[i] = i;
            SiftUp(z, heap, i);
        }
        for (int i = k; i < z.Length; i++)
        {
            if (After(z, heap[0], i))
            {
                heap[0] = i;
                SiftDown(z, heap, 0, k);
            }
        }
        var keys = _keys.AsSpan(0, k);
        for (int i = 0; i < k; i++)
        {
            keys[i] = -z[heap[i]];
        }
        SortByKeyThenId(keys, heap);
        return k;
    }

    // Heap of ids whose root is the one that comes last in the order (the worst kept so far).
    private static void SiftUp(Span<float> z, Span<int> heap, int i)
    {
        while (i > 0)
        {
            int parent = (i - 1) / 2;
            if (!After(z, heap[i], heap[parent]))
            {
                break;
            }
            (heap[i], heap[parent]) = (heap[parent], heap[i]);
            i = parent;
        }
    }

    private static void SiftDown(Span<float> z, Span<int> heap, int i, int n)
    {
        while (true)
        {
            int worst = i;
            int left = 2 * i + 1;
            int right = left + 1;
            if (left < n && After(z, heap[left], heap[worst]))
            {
                worst = left;
            }
            if (right < n && After(z, heap[right], heap[worst]))
            {
                worst = right;
            }
            if (worst == i)
            {
                return;
            }
            (heap[i], heap[worst]) = (heap[worst], heap[i]);
            i = worst;
        }
    }

    /// <summary>Fills <paramref name="order"/> with every id sorted by (z descending, id ascending).</summary>
    private void SortDescending(Span<float> z, Span<int> order)
    {
        var keys = _keys.AsSpan();
        for (int i = 0; i < z.Length; i++)
        {
            order[i] = i;
            keys[i] = -z[i]; // ascending keys = descending z; -(-inf) = +inf sorts last
        }
        SortByKeyThenId(keys, order);
    }

    /// <summary>Sorts ids by key ascending; the sort is not stable, so runs of equal keys are then put in id order.</summary>
    private static void SortByKeyThenId(Span<float> keys, Span<int> ids)
    {
        keys.Sort(ids);
        int start = 0;
        while (start < keys.Length)
        {
            int end = start + 1;
            while (end < keys.Length && keys[end] == keys[start])
            {
                end++;
            }
            if (end - start > 1)
            {
                ids[start..end].Sort();
            }
            start = end;
        }
    }
}
