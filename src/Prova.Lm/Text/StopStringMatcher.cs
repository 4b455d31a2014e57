namespace Prova.Lm.Text;

/// <summary>
/// Watches streamed text for stop strings. Text that could still be the start of a stop string is held back until the
/// next piece shows it is not; when a stop string appears, the text before it is released and the stream is over.
/// </summary>
public sealed class StopStringMatcher
{
    private readonly string[] _stops;
    private string _held = "";

    public StopStringMatcher(IEnumerable<string> stopStrings)
    {
        ArgumentNullException.ThrowIfNull(stopStrings);
        var stops = new List<string>();
        foreach (var s in stopStrings)
        {
            if (string.IsNullOrEmpty(s))
            {
                throw new LmException("a stop string must not be empty");
            }
            stops.Add(s);
        }
        _stops = [.. stops];
    }

    /// <summary>The stop string that ended the stream, or null while it goes on.</summary>
    public string? MatchedStop { get; private set; }

    public bool Stopped => MatchedStop is not null;

    /// <summary>Adds streamed text; returns the text that is safe to show (never part of a stop string).</summary>
    public string Push(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (Stopped)
        {
            return "";
        }
        var buffer = _held + text;
        var bestAt = -1;
        string? best = null;
        foreach (var stop in _stops)
        {
            var at = buffer.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (bestAt < 0 || at < bestAt || (at == bestAt && stop.Length > best!.Length)))
            {
                bestAt = at;
                best = stop;
            }
        }
        if (best is not null)
        {
            MatchedStop = best;
            _held = "";
            return buffer[..bestAt];
        }
        var hold = 0;
        foreach (var stop in _stops)
        {
            for (var n = Math.Min(stop.Length - 1, buffer.Length); n > hold; n--)
            {
                if (string.CompareOrdinal(buffer, buffer.Length - n, stop, 0, n) == 0)
                {
                    hold = n;
                    break;
                }
            }
        }
        _held = buffer[^hold..];
        return buffer[..^hold];
    }

    /// <summary>Ends the stream without a stop: returns the text still held back.</summary>
    public string Flush()
    {
        var rest = Stopped ? "" : _held;
        _held = "";
        return rest;
    }
}
