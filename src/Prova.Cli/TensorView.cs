using System.Globalization;
using System.Text;
using Prova.Core;
using Spectre.Console;

namespace Prova.Cli;

/// <summary>Short human-readable summaries of tensors.</summary>
internal static class TensorView
{
    public static string Values(Tensor tensor, int max = 8)
    {
        var sb = new StringBuilder("[");
        int shown = Math.Min(max, tensor.Length);
        for (int i = 0; i < shown; i++)
        {
            if (i > 0)
            {
                sb.Append(", ");
            }
            sb.Append(Element(tensor, i));
        }
        if (tensor.Length > shown)
        {
            sb.Append(", … (").Append(tensor.Length).Append(" values)");
        }
        return sb.Append(']').ToString();
    }

    public static string Element(Tensor tensor, int i) => tensor.Data switch
    {
        float[] a => a[i].ToString("G6", CultureInfo.InvariantCulture),
        double[] a => a[i].ToString("G8", CultureInfo.InvariantCulture),
        bool[] a => a[i] ? "true" : "false",
        _ => Convert.ToString(tensor.Data.GetValue(i), CultureInfo.InvariantCulture) ?? "?",
    };

    /// <summary>The index of the largest value of a float vector (at most one dim above 1), or null.</summary>
    public static int? ArgMax(Tensor tensor)
    {
        int big = 0;
        foreach (int d in tensor.Shape)
        {
            big += d > 1 ? 1 : 0;
        }
        if (big != 1 || tensor.Length < 2)
        {
            return null;
        }
        double best = double.NegativeInfinity;
        int arg = -1;
        for (int i = 0; i < tensor.Length; i++)
        {
            double v = tensor.Data switch
            {
                float[] a => a[i],
                double[] a => a[i],
                _ => double.NaN,
            };
            if (double.IsNaN(v))
            {
                return null;
            }
            if (v > best)
            {
                best = v;
                arg = i;
            }
        }
        return arg;
    }

    public static Table OutputsTable(IReadOnlyDictionary<string, Tensor> outputs)
    {
        var table = new Table().Border(TableBorder.Rounded).Title("[bold]outputs[/]");
        table.AddColumn("name");
        table.AddColumn("dtype");
        table.AddColumn("shape");
        table.AddColumn("values");
        table.AddColumn(new TableColumn("argmax").RightAligned());
        var names = outputs.Keys.ToArray();
        Array.Sort(names, StringComparer.Ordinal);
        foreach (var name in names)
        {
            var t = outputs[name];
            table.AddRow(
                new Markup($"[bold]{Markup.Escape(name)}[/]"),
                new Text(DataTypes.Name(t.Type)),
                new Text(t.ShapeString()),
                new Text(Values(t)),
                new Text(ArgMax(t)?.ToString(CultureInfo.InvariantCulture) ?? "–"));
        }
        return table;
    }

    public static string Ms(double ms) => ms >= 100
        ? ms.ToString("F1", CultureInfo.InvariantCulture) + " ms"
        : ms.ToString("F3", CultureInfo.InvariantCulture) + " ms";
}
