using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Prova.Lm.Text.Jinja;

/// <summary>Jinja's Undefined: renders as "", is falsy, iterates as empty, and fails when used further.</summary>
internal sealed class Undefined(string hint)
{
    public string Hint { get; } = hint;
}

internal sealed class JTuple : List<object?>
{
    public JTuple()
    {
    }

    public JTuple(IEnumerable<object?> items) : base(items)
    {
    }
}

internal sealed class JNamespace
{
    public OrderedDictionary<string, object?> Values { get; } = new(StringComparer.Ordinal);
}

internal sealed class JCallable(string name, Func<CallArgs, object?> invoke)
{
    public string Name { get; } = name;

    public object? Invoke(CallArgs args) => invoke(args);
}

internal sealed record CallArgs(List<object?> Args, Dictionary<string, object?> Kwargs, Node At)
{
    public object? Arg(int i, string name, object? fallback = null) =>
        i < Args.Count ? Args[i] : Kwargs.TryGetValue(name, out var v) ? v : fallback;

    public bool Has(int i, string name) => i < Args.Count || Kwargs.ContainsKey(name);
}

internal sealed class LoopInfo
{
    public long Index0 { get; set; }

    public long Length { get; init; }

    public object? PrevItem { get; set; }

    public object? NextItem { get; set; }
}

/// <summary>Python semantics for the values a template sees: str(), repr(), truth, equality, ordering, JSON.</summary>
internal static class Py
{
    public static string TypeName(object? v) => v switch
    {
        null => "NoneType",
        Undefined => "Undefined",
        bool => "bool",
        long => "int",
        double => "float",
        string => "str",
        JTuple => "tuple",
        List<object?> => "list",
        OrderedDictionary<string, object?> => "dict",
        JNamespace => "Namespace",
        JCallable => "function",
        LoopInfo => "LoopContext",
        _ => v.GetType().Name,
    };

    public static bool Truthy(object? v) => v switch
    {
        null or Undefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        List<object?> l => l.Count > 0,
        OrderedDictionary<string, object?> d => d.Count > 0,
        _ => true,
    };

    public static string Str(object? v) => v switch
    {
        Undefined => "",
        string s => s,
        _ => Repr(v),
    };

    public static string Repr(object? v)
    {
        var sb = new StringBuilder();
        AppendRepr(sb, v, 0);
        return sb.ToString();
    }

    private static void AppendRepr(StringBuilder sb, object? v, int depth)
    {
        if (depth > 100)
        {
            throw new LmException("chat template value nests deeper than 100 levels");
        }
        switch (v)
        {
            case null:
                sb.Append("None");
                break;
            case Undefined:
                break;
            case bool b:
                sb.Append(b ? "True" : "False");
                break;
            case long l:
                sb.Append(l.ToString(CultureInfo.InvariantCulture));
                break;
            case double d:
                sb.Append(FloatRepr(d));
                break;
            case string s when depth == 0:
                sb.Append(s);
                break;
            case string s:
                QuoteRepr(sb, s);
                break;
            case JTuple t:
                sb.Append('(');
                for (var i = 0; i < t.Count; i++)
                {
                    if (i > 0)
                    {
                        sb.Append(", ");
                    }
                    AppendRepr(sb, t[i], depth + 1);
                }
                sb.Append(t.Count == 1 ? ",)" : ")");
                break;
            case List<object?> list:
                sb.Append('[');
                for (var i = 0; i < list.Count; i++)
                {
                    if (i > 0)
                    {
                        sb.Append(", ");
                    }
                    AppendRepr(sb, list[i], depth + 1);
                }
                sb.Append(']');
                break;
            case OrderedDictionary<string, object?> dict:
                sb.Append('{');
                var first = true;
                foreach (var (k, val) in dict)
                {
                    if (!first)
                    {
                        sb.Append(", ");
                    }
                    first = false;
                    QuoteRepr(sb, k);
                    sb.Append(": ");
                    AppendRepr(sb, val, depth + 1);
                }
                sb.Append('}');
                break;
            case JNamespace ns:
                sb.Append("<Namespace ");
                AppendRepr(sb, ns.Values, depth + 1);
                sb.Append('>');
                break;
            case JCallable c:
                sb.Append("<function ").Append(c.Name).Append('>');
                break;
            default:
                sb.Append(v);
                break;
        }
    }

    /// <summary>Python's repr of a float: shortest round-trip digits, ".0" on integral values, exponent from 1e16.</summary>
    public static string FloatRepr(double d)
    {
        if (double.IsNaN(d))
        {
            return "nan";
        }
        if (double.IsInfinity(d))
        {
            return d > 0 ? "inf" : "-inf";
        }
        var r = d.ToString("R", CultureInfo.InvariantCulture);
        var abs = Math.Abs(d);
        if (abs != 0 && (abs >= 1e16 || abs < 1e-4))
        {
            var e = d.ToString("E16", CultureInfo.InvariantCulture);
            // shortest mantissa that round-trips
            for (var p = 0; p <= 16; p++)
            {
                var candidate = d.ToString("E" + p.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
                if (double.Parse(candidate, CultureInfo.InvariantCulture) == d)
                {
                    e = candidate;
                    break;
                }
            }
            var parts = e.Split('E');
            var mantissa = parts[0].Contains('.') ? parts[0].TrimEnd('0').TrimEnd('.') : parts[0];
            var exp = int.Parse(parts[1], CultureInfo.InvariantCulture);
            return $"{mantissa}e{(exp < 0 ? "-" : "+")}{Math.Abs(exp):00}";
        }
        if (r.Contains('E'))
        {
            r = d.ToString("F20", CultureInfo.InvariantCulture).TrimEnd('0');
            if (r.EndsWith('.'))
            {
                r += "0";
            }
            return r;
        }
        return r.Contains('.') ? r : r + ".0";
    }

    private static void QuoteRepr(StringBuilder sb, string s)
    {
        var quote = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        sb.Append(quote);
        foreach (var ch in s)
        {
            switch (ch)
            {
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (ch == quote)
                    {
                        sb.Append('\\').Append(ch);
                    }
                    else if (ch < 0x20 || ch == 0x7F)
                    {
                        sb.Append("\\x").Append(((int)ch).ToString("x2", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        sb.Append(ch);
                    }
                    break;
            }
        }
        sb.Append(quote);
    }

    public static bool IsNumber(object? v) => v is long or double or bool;

    public static double ToDouble(object? v) => v switch
    {
        long l => l,
        double d => d,
        bool b => b ? 1 : 0,
        _ => throw new InvalidCastException(),
    };

    public static new bool Equals(object? a, object? b)
    {
        if (a is Undefined || b is Undefined)
        {
            return a is Undefined && b is Undefined;
        }
        if (IsNumber(a) && IsNumber(b))
        {
            if (a is double || b is double)
            {
                return ToDouble(a) == ToDouble(b);
            }
            return ToLong(a) == ToLong(b);
        }
        switch (a)
        {
            case null:
                return b is null;
            case string s:
                return b is string t && string.Equals(s, t, StringComparison.Ordinal);
            case List<object?> la when b is List<object?> lb:
                if (la.Count != lb.Count || (la is JTuple) != (lb is JTuple))
                {
                    return false;
                }
                for (var i = 0; i < la.Count; i++)
                {
                    if (!Equals(la[i], lb[i]))
                    {
                        return false;
                    }
                }
                return true;
            case OrderedDictionary<string, object?> da when b is OrderedDictionary<string, object?> db:
                if (da.Count != db.Count)
                {
                    return false;
                }
                foreach (var (k, v) in da)
                {
                    if (!db.TryGetValue(k, out var w) || !Equals(v, w))
                    {
                        return false;
                    }
                }
                return true;
            default:
                return ReferenceEquals(a, b);
        }
    }

    public static long ToLong(object? v) => v switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        _ => throw new InvalidCastException(),
    };

    /// <summary>Python ordering (&lt;): numbers, strings, and lists of those; anything else is a TypeError.</summary>
    public static int? Compare(object? a, object? b)
    {
        if (IsNumber(a) && IsNumber(b))
        {
            return (a is double || b is double) ? ToDouble(a).CompareTo(ToDouble(b)) : ToLong(a).CompareTo(ToLong(b));
        }
        if (a is string s && b is string t)
        {
            return Math.Sign(string.CompareOrdinal(s, t));
        }
        if (a is List<object?> la && b is List<object?> lb)
        {
            for (var i = 0; i < Math.Min(la.Count, lb.Count); i++)
            {
                if (!Equals(la[i], lb[i]))
                {
                    return Compare(la[i], lb[i]);
                }
            }
            return la.Count.CompareTo(lb.Count);
        }
        return null;
    }

    /// <summary>json.dumps as transformers' tojson filter calls it (ensure_ascii=False).</summary>
    public static string ToJson(object? v, int? indent, string? itemSep, string? keySep, bool sortKeys)
    {
        var sb = new StringBuilder();
        itemSep ??= indent is null ? ", " : ",";
        keySep ??= ": ";
        AppendJson(sb, v, indent, itemSep, keySep, sortKeys, 0);
        return sb.ToString();
    }

    private static void AppendJson(StringBuilder sb, object? v, int? indent, string itemSep, string keySep, bool sortKeys, int level)
    {
        if (level > 100)
        {
            throw new LmException("chat template value nests deeper than 100 levels");
        }
        switch (v)
        {
            case null:
                sb.Append("null");
                return;
            case Undefined:
                throw new LmException("tojson cannot serialize an undefined value");
            case bool b:
                sb.Append(b ? "true" : "false");
                return;
            case long l:
                sb.Append(l.ToString(CultureInfo.InvariantCulture));
                return;
            case double d:
                sb.Append(double.IsNaN(d) ? "NaN" : double.IsPositiveInfinity(d) ? "Infinity" : double.IsNegativeInfinity(d) ? "-Infinity" : FloatRepr(d));
                return;
            case string s:
                JsonString(sb, s);
                return;
            case List<object?> list:
                if (list.Count == 0)
                {
                    sb.Append("[]");
                    return;
                }
                sb.Append('[');
                for (var i = 0; i < list.Count; i++)
                {
                    if (i > 0)
                    {
                        sb.Append(itemSep);
                    }
                    NewLine(sb, indent, level + 1);
                    AppendJson(sb, list[i], indent, itemSep, keySep, sortKeys, level + 1);
                }
                NewLine(sb, indent, level);
                sb.Append(']');
                return;
            case OrderedDictionary<string, object?> dict:
                if (dict.Count == 0)
                {
                    sb.Append("{}");
                    return;
                }
                sb.Append('{');
                IEnumerable<string> keys = dict.Keys;
                if (sortKeys)
                {
                    var sorted = new List<string>(dict.Keys);
                    sorted.Sort(string.CompareOrdinal);
                    keys = sorted;
                }
                var first = true;
                foreach (var k in keys)
                {
                    if (!first)
                    {
                        sb.Append(itemSep);
                    }
                    first = false;
                    NewLine(sb, indent, level + 1);
                    JsonString(sb, k);
                    sb.Append(keySep);
                    AppendJson(sb, dict[k], indent, itemSep, keySep, sortKeys, level + 1);
                }
                NewLine(sb, indent, level);
                sb.Append('}');
                return;
            default:
                throw new LmException($"tojson cannot serialize a {TypeName(v)}");
        }
    }

    private static void NewLine(StringBuilder sb, int? indent, int level)
    {
        if (indent is { } n)
        {
            sb.Append('\n').Append(' ', n * level);
        }
    }

    private static void JsonString(StringBuilder sb, string s)
    {
        sb.Append('"');
        foreach (var ch in s)
        {
            switch (ch)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (ch < 0x20)
                    {
                        sb.Append("\\u").Append(((int)ch).ToString("x4", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        sb.Append(ch);
                    }
                    break;
            }
        }
        sb.Append('"');
    }

    /// <summary>Converts .NET values (strings, numbers, lists, dictionaries, JsonElement) into template values.</summary>
    public static object? FromDotNet(object? v, int depth = 0)
    {
        if (depth > 100)
        {
            throw new LmException("a chat template variable nests deeper than 100 levels");
        }
        switch (v)
        {
            case null or string or bool or long or double or Undefined or JNamespace or JCallable:
                return v;
            case int i:
                return (long)i;
            case float f:
                return (double)f;
            case Prova.Lm.Text.ChatMessage m:
                return new OrderedDictionary<string, object?>(StringComparer.Ordinal) { ["role"] = m.Role, ["content"] = m.Content };
            case JsonElement e:
                return FromJson(e, depth);
            case OrderedDictionary<string, object?> od:
                return od;
            case System.Collections.IDictionary dict:
                var d = new OrderedDictionary<string, object?>(StringComparer.Ordinal);
                foreach (System.Collections.DictionaryEntry entry in dict)
                {
                    d[entry.Key.ToString()!] = FromDotNet(entry.Value, depth + 1);
                }
                return d;
            case IEnumerable<KeyValuePair<string, object?>> pairs:
                var pd = new OrderedDictionary<string, object?>(StringComparer.Ordinal);
                foreach (var (k, val) in pairs)
                {
                    pd[k] = FromDotNet(val, depth + 1);
                }
                return pd;
            case System.Collections.IEnumerable items:
                var list = new List<object?>();
                foreach (var item in items)
                {
                    list.Add(FromDotNet(item, depth + 1));
                }
                return list;
            default:
                throw new LmException($"a chat template variable cannot be a {v.GetType().Name}");
        }
    }

    private static object? FromJson(JsonElement e, int depth) => e.ValueKind switch
    {
        JsonValueKind.Null or JsonValueKind.Undefined => null,
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.String => e.GetString(),
        JsonValueKind.Number => e.TryGetInt64(out var l) ? (object)l : e.GetDouble(),
        JsonValueKind.Array => e.EnumerateArray().Select(x => FromDotNet(x, depth + 1)).ToList(),
        _ => e.EnumerateObject().Aggregate(
            new OrderedDictionary<string, object?>(StringComparer.Ordinal),
            (d, p) =>
            {
                d[p.Name] = FromDotNet(p.Value, depth + 1);
                return d;
            }),
    };
}
