using System.Text;

namespace Prova.Core;

/// <summary>
/// Keeps error messages short whatever the input: a hostile model or request can carry a shape of
/// two million dimensions or a name of megabytes, and a message that quotes it must still be one
/// readable line. Lists (shapes, names) are formatted with their middle elided (<see cref="List{T}(ReadOnlySpan{T})"/>,
/// <see cref="Shape"/>), and every message is cut to <see cref="MaxMessageChars"/> where it leaves the
/// process (<see cref="Bound"/>: the CLI's error line, the node's ProblemDetails detail).
/// </summary>
public static class ErrorText
{
    /// <summary>Longest error message (UTF-16 chars) the CLI prints or the node returns.</summary>
    public const int MaxMessageChars = 1000;

    /// <summary>List elements shown before the elision (the last <see cref="TailItems"/> are shown too).</summary>
    public const int HeadItems = 8;

    /// <summary>List elements shown after the elision.</summary>
    public const int TailItems = 4;

    /// <summary>
    /// The message itself when it is at most <paramref name="max"/> chars, else its head and tail
    /// around "… (N chars elided) …", exactly <paramref name="max"/> chars or fewer in all.
    /// </summary>
    public static string Bound(string message, int max = MaxMessageChars)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(max, 64);
        if (message.Length <= max)
        {
            return message;
        }
        // The marker's length depends on N; N is at most message.Length, so size the marker for that.
        int markerRoom = $" … ({message.Length} chars elided) … ".Length;
        int keep = max - markerRoom;
        int head = keep * 2 / 3;
        int tail = keep - head;
        // Never split a surrogate pair.
        if (head > 0 && char.IsHighSurrogate(message[head - 1]))
        {
            head--;
        }
        if (tail > 0 && char.IsLowSurrogate(message[^tail]))
        {
            tail--;
        }
        int elided = message.Length - head - tail;
        return string.Concat(message.AsSpan(0, head), $" … ({elided} chars elided) … ", message.AsSpan(message.Length - tail));
    }

    /// <summary>A shape as "[1, 3, 224, 224]"; over <see cref="HeadItems"/> + <see cref="TailItems"/> dimensions, "[1, 1, …, (N more), …, 1]".</summary>
    public static string Shape(ReadOnlySpan<int> shape) => List(shape);

    /// <summary>A shape given as longs (ONNX dims, values of a shape tensor), formatted as <see cref="Shape"/>.</summary>
    public static string Shape(ReadOnlySpan<long> shape) => List(shape);

    /// <summary>"[a, b, c]" with the middle elided past <see cref="HeadItems"/> + <see cref="TailItems"/> elements.</summary>
    public static string List<T>(ReadOnlySpan<T> items)
    {
        var sb = new StringBuilder("[");
        for (int i = 0; i < items.Length; i++)
        {
            i = Next(sb, i, items.Length);
            sb.Append(Bound(items[i]?.ToString() ?? "", ItemChars));
        }
        return sb.Append(']').ToString();
    }

    /// <summary>The items joined with ", ", the middle elided past <see cref="HeadItems"/> + <see cref="TailItems"/>; each item bounded too.</summary>
    public static string Join<T>(IReadOnlyList<T> items)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < items.Count; i++)
        {
            i = Next(sb, i, items.Count);
            sb.Append(Bound(items[i]?.ToString() ?? "", ItemChars));
        }
        return sb.ToString();
    }

    // Longest single list item (a name) quoted in full.
    private const int ItemChars = 200;

    /// <summary>Writes the separator before item <paramref name="i"/> (or the elision) and returns the item to write.</summary>
    private static int Next(StringBuilder sb, int i, int count)
    {
        if (i == 0)
        {
            return 0;
        }
        sb.Append(", ");
        if (i == HeadItems && count > HeadItems + TailItems)
        {
            sb.Append("… (").Append(count - HeadItems - TailItems).Append(" more) …, ");
            return count - TailItems;
        }
        return i;
    }
}
