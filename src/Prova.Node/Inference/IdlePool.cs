using System.Collections.Concurrent;

namespace Prova.Node.Inference;

/// <summary>
/// Idle instances of something costly to create and used by one caller at a time (inference sessions, loaded
/// language models): <see cref="Rent"/> takes an idle one or creates one; <see cref="Return"/> keeps at most
/// <c>capacity</c> idle and disposes the rest.
/// </summary>
internal sealed class IdlePool<T> : IDisposable where T : class, IDisposable
{
    private readonly ConcurrentBag<T> _idle = [];
    private readonly Func<CancellationToken, T> _create;
    private readonly int _capacity;

    public IdlePool(Func<T> create, int capacity) : this(_ => create(), capacity)
    {
    }

    /// <summary>A pool whose instances take long to create: creation stops when the renter's token is cancelled.</summary>
    public IdlePool(Func<CancellationToken, T> create, int capacity)
    {
        _create = create;
        _capacity = capacity;
    }

    public T Rent() => Rent(CancellationToken.None);

    public T Rent(CancellationToken cancellationToken) => _idle.TryTake(out var item) ? item : _create(cancellationToken);

    public void Return(T item)
    {
        if (_idle.Count < _capacity)
        {
            _idle.Add(item);
        }
        else
        {
            item.Dispose();
        }
    }

    public void Dispose()
    {
        while (_idle.TryTake(out var item))
        {
            item.Dispose();
        }
    }
}
