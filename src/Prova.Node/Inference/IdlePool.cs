using System.Collections.Concurrent;

namespace Prova.Node.Inference;

/// <summary>
/// Idle instances of something costly to create and used by one caller at a time (inference sessions, loaded
/// language models): <see cref="Rent"/> takes an idle one or creates one; <see cref="Return"/> keeps at most
/// <c>capacity</c> idle and disposes the rest.
/// </summary>
internal sealed class IdlePool<T>(Func<T> create, int capacity) : IDisposable where T : class, IDisposable
{
    private readonly ConcurrentBag<T> _idle = [];

    public T Rent() => _idle.TryTake(out var item) ? item : create();

    public void Return(T item)
    {
        if (_idle.Count < capacity)
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
