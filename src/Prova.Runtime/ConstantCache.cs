namespace Prova.Runtime;

/// <summary>
/// Data a kernel derives from a constant input (packed or unpacked weights), shared by every plan of
/// one session: a language model plans once per prompt length and once per KV-cache capacity, and
/// each of those plans would otherwise pack every weight matrix again and hold its own copy.
/// Entries are keyed by the constant tensor (by reference: initializers live as long as the model)
/// and by a string naming what was derived and with which parameters.
/// </summary>
public sealed class ConstantCache
{
    private readonly Dictionary<(object Source, string Kind), object> _entries = [];
    private readonly Lock _gate = new();

    /// <summary>Entries held (tests observe sharing with it).</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>
    /// The value derived from <paramref name="source"/> as <paramref name="kind"/>, created once.
    /// <paramref name="kind"/> must name every parameter the derivation depends on (shape, offset, layout).
    /// </summary>
    public T GetOrAdd<T>(object source, string kind, Func<T> create) where T : class
    {
        lock (_gate)
        {
            if (_entries.TryGetValue((source, kind), out var existing))
            {
                return (T)existing;
            }
            var value = create();
            _entries[(source, kind)] = value;
            return value;
        }
    }
}
