namespace Prova.Node.Inference;

/// <summary>
/// The node-wide byte budget of running inferences (Node:InferenceMemoryBytes): each run holds what its plan
/// says it needs (arena, inputs, outputs) from before it runs until its answer is written. Waiters are served
/// first come, first served, so a large request is not starved by a stream of small ones.
/// </summary>
internal sealed class MemoryBudget(long capacity)
{
    private readonly Lock _gate = new();
    private readonly LinkedList<Waiter> _waiters = new();
    private long _used;

    public long Capacity => capacity;

    public long Used
    {
        get
        {
            lock (_gate)
            {
                return _used;
            }
        }
    }

    /// <summary>
    /// Takes <paramref name="bytes"/> (at most <see cref="Capacity"/>) once they are free and every earlier waiter
    /// is served; null when that has not happened within <paramref name="wait"/>.
    /// </summary>
    public async Task<IDisposable?> AcquireAsync(long bytes, TimeSpan wait, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(bytes, capacity);
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        Waiter waiter;
        lock (_gate)
        {
            if (_waiters.Count == 0 && _used + bytes <= capacity)
            {
                _used += bytes;
                return new Lease(this, bytes);
            }
            waiter = new Waiter(bytes);
            waiter.Node = _waiters.AddLast(waiter);
        }
        try
        {
            await waiter.Granted.Task.WaitAsync(wait, cancellationToken).ConfigureAwait(false);
            return new Lease(this, bytes);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            lock (_gate)
            {
                if (waiter.Granted.Task.IsCompletedSuccessfully)
                {
                    // Granted while timing out: give the bytes back.
                    _used -= bytes;
                }
                else
                {
                    _waiters.Remove(waiter.Node!);
                }
                GrantWaiters();
            }
            if (ex is OperationCanceledException)
            {
                throw;
            }
            return null;
        }
    }

    private void Release(long bytes)
    {
        lock (_gate)
        {
            _used -= bytes;
            GrantWaiters();
        }
    }

    // Under _gate.
    private void GrantWaiters()
    {
        while (_waiters.First is { } first && _used + first.Value.Bytes <= capacity)
        {
            _waiters.RemoveFirst();
            _used += first.Value.Bytes;
            first.Value.Granted.TrySetResult();
        }
    }

    private sealed class Waiter(long bytes)
    {
        public long Bytes => bytes;

        public TaskCompletionSource Granted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public LinkedListNode<Waiter>? Node { get; set; }
    }

    private sealed class Lease(MemoryBudget budget, long bytes) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                budget.Release(bytes);
            }
        }
    }
}
