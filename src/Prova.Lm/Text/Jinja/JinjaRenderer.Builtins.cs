using System.Globalization;
using System.Text;

namespace Prova.Lm.Text.Jinja;

/// <summary>The globals, filters, tests and str/dict/list methods chat templates call.</summary>
internal sealed partial class JinjaRenderer
{
    private const int MaxRange = 100_000;

    private object? Global(string name) => name switch
    {
        "range" => new JCallable("range", Range),
        "namespace" => new JCallable("namespace", call =>
        {
            var ns = new JNamespace();
            foreach (var a in call.Args)
            {
                if (a is OrderedDictionary<string, object?> d)
                {
                    foreach (var (k, v) in d)
                    {
                        ns.Values[k] = v;
                    }
                }
            }
            foreach (var (k, v) in call.Kwargs)
            {
                ns.Values[k] = v;
            }
            return ns;
        }),
        "dict" => new JCallable("dict", call =>
        {
            var d = new OrderedDictionary<string, object?>(StringComparer.Ordinal);
            foreach (var (k, v) in call.Kwargs)
            {
                d[k] = v;
            }
            return d;
        }),
        "raise_exception" => new JCallable("raise_exception", call =>
            throw new LmException($"chat template raised an error: {Py.Str(call.Arg(0, "message", ""))}")),
        "strftime_now" => new JCallable("strftime_now", call =>
            call.Arg(0, "format") is string fmt ? Strftime(_clock(), fmt) : throw Fail(call.At, "strftime_now needs a format string")),
        _ => null,
    };

    private object? Range(CallArgs call)
    {
        long Arg(int i) => call.Args[i] is long or bool ? Py.ToLong(call.Args[i]) : throw Fail(call.At, $"range() argument must be an integer, not {Py.TypeName(call.Args[i])}");
        var (start, stop, step) = call.Args.Count switch
        {
            1 => (0L, Arg(0), 1L),
            2 => (Arg(0), Arg(1), 1L),
            3 => (Arg(0), Arg(1), Arg(2)),
            _ => throw Fail(call.At, "range() takes 1 to 3 arguments"),
        };
        if (step == 0)
        {
            throw Fail(call.At, "range() step must not be zero");
        }
        var list = new List<object?>();
        for (var i = start; step > 0 ? i < stop : i > stop; i += step)
        {
            if (list.Count >= MaxRange)
            {
                throw Fail(call.At, $"range() longer than {MaxRange:N0}");
            }
            list.Add(i);
        }
        Charge(list.Count, call.At);
        return list;
    }

    private static readonly string[] s_months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
    private static readonly string[] s_days = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

    internal static string Strftime(DateTimeOffset t, string fmt)
    {
        var sb = new StringBuilder();
        for (var i = 0; i < fmt.Length; i++)
        {
            if (fmt[i] != '%' || i + 1 >= fmt.Length)
            {
                sb.Append(fmt[i]);
                continue;
            }
            var c = fmt[++i];
            var inv = CultureInfo.InvariantCulture;
            sb.Append(c switch
            {
                'd' => t.Day.ToString("00", inv),
                'm' => t.Month.ToString("00", inv),
                'Y' => t.Year.ToString(inv),
                'y' => (t.Year % 100).ToString("00", inv),
                'b' => s_months[t.Month - 1][..3],
                'B' => s_months[t.Month - 1],
                'a' => s_days[(int)t.DayOfWeek][..3],
                'A' => s_days[(int)t.DayOfWeek],
                'H' => t.Hour.ToString("00", inv),
                'I' => ((t.Hour + 11) % 12 + 1).ToString("00", inv),
                'M' => t.Minute.ToString("00", inv),
                'S' => t.Second.ToString("00", inv),
                'p' => t.Hour < 12 ? "AM" : "PM",
                'j' => t.DayOfYear.ToString("000", inv),
                '%' => "%",
                _ => "%" + c,
            });
        }
        return sb.ToString();
    }

    private static JCallable? DictMethod(OrderedDictionary<string, object?> d, string name, Node at) => name switch
    {
        "items" => new JCallable("items", _ => d.Select(p => (object?)new JTuple([p.Key, p.Value])).ToList()),
        "keys" => new JCallable("keys", _ => d.Keys.Select(k => (object?)k).ToList()),
        "values" => new JCallable("values", _ => d.Values.ToList()),
        "get" => new JCallable("get", call => call.Arg(0, "key") is string k && d.TryGetValue(k, out var v) ? v : call.Arg(1, "default")),
        "copy" => new JCallable("copy", _ => new OrderedDictionary<string, object?>(d, StringComparer.Ordinal)),
        "update" or "pop" or "setdefault" or "clear" or "popitem" => Unsafe(name, "dict"),
        _ => null,
    };

    private static JCallable Unsafe(string name, string type) =>
        new(name, call => throw Fail(call.At, $"access to attribute '{name}' of '{type}' object is unsafe (chat templates cannot modify values)"));

    private static JCallable? ListMethod(List<object?> l, string name, Node at) => name switch
    {
        "index" => new JCallable("index", call =>
        {
            for (var i = 0; i < l.Count; i++)
            {
                if (Py.Equals(l[i], call.Arg(0, "value")))
                {
                    return (long)i;
                }
            }
            throw Fail(call.At, "value is not in list");
        }),
        "count" => new JCallable("count", call => (long)l.Count(x => Py.Equals(x, call.Arg(0, "value")))),
        "copy" => new JCallable("copy", _ => new List<object?>(l)),
        "append" or "extend" or "insert" or "pop" or "remove" or "clear" or "sort" or "reverse" => Unsafe(name, "list"),
        _ => null,
    };

    private static string StrArg(CallArgs call, int i, string name)
    {
        var v = call.Arg(i, name);
        return v as string ?? throw Fail(call.At, $"{name} must be a string, not {Py.TypeName(v)}");
    }

    private static JCallable? StringMethod(string s, string name, Node at) => name switch
    {
        "strip" => new JCallable(name, call => call.Arg(0, "chars") is string c ? s.Trim(c.ToCharArray()) : s.Trim()),
        "lstrip" => new JCallable(name, call => call.Arg(0, "chars") is string c ? s.TrimStart(c.ToCharArray()) : s.TrimStart()),
        "rstrip" => new JCallable(name, call => call.Arg(0, "chars") is string c ? s.TrimEnd(c.ToCharArray()) : s.TrimEnd()),
        "upper" => new JCallable(name, _ => s.ToUpperInvariant()),
        "lower" => new JCallable(name, _ => s.ToLowerInvariant()),
        "title" => new JCallable(name, _ => Title(s)),
        "capitalize" => new JCallable(name, _ => Capitalize(s)),
        "startswith" => new JCallable(name, call => Affix(s, call, start: true)),
        "endswith" => new JCallable(name, call => Affix(s, call, start: false)),
        "split" => new JCallable(name, call => Split(s, call.Arg(0, "sep"), call.Arg(1, "maxsplit", -1L), call.At)),
        "splitlines" => new JCallable(name, _ => s.Split('\n').Select(x => (object?)x.TrimEnd('\r')).Where((x, i) => i < s.Split('\n').Length - 1 || ((string)x!).Length > 0).ToList()),
        "replace" => new JCallable(name, call => Replace(s, StrArg(call, 0, "old"), StrArg(call, 1, "new"), call.Arg(2, "count", -1L))),
        "find" => new JCallable(name, call => (long)s.IndexOf(StrArg(call, 0, "sub"), StringComparison.Ordinal)),
        "rfind" => new JCallable(name, call => (long)s.LastIndexOf(StrArg(call, 0, "sub"), StringComparison.Ordinal)),
        "count" => new JCallable(name, call => (long)CountOf(s, StrArg(call, 0, "sub"))),
        "join" => new JCallable(name, call => string.Join(s, ((List<object?>)(call.Arg(0, "iterable") is List<object?> l ? l : throw Fail(call.At, "join() needs a list"))).Select(Py.Str))),
        "isdigit" => new JCallable(name, _ => s.Length > 0 && s.All(char.IsDigit)),
        "isspace" => new JCallable(name, _ => s.Length > 0 && s.All(char.IsWhiteSpace)),
        "isalpha" => new JCallable(name, _ => s.Length > 0 && s.All(char.IsLetter)),
        "isupper" => new JCallable(name, _ => s.Any(char.IsLetter) && !s.Any(char.IsLower)),
        "islower" => new JCallable(name, _ => s.Any(char.IsLetter) && !s.Any(char.IsUpper)),
        _ => null,
    };

    private static bool Affix(string s, CallArgs call, bool start)
    {
        var arg = call.Arg(0, "prefix");
        IEnumerable<object?> options = arg is List<object?> l ? l : [arg];
        foreach (var o in options)
        {
            if (o is not string p)
            {
                throw Fail(call.At, $"{(start ? "startswith" : "endswith")} first arg must be str or a tuple of str, not {Py.TypeName(o)}");
            }
            if (start ? s.StartsWith(p, StringComparison.Ordinal) : s.EndsWith(p, StringComparison.Ordinal))
            {
                return true;
            }
        }
        return false;
    }

    private static List<object?> Split(string s, object? sep, object? maxsplit, Node at)
    {
        var max = maxsplit is long m ? m : -1;
        var parts = new List<object?>();
        if (sep is null)
        {
            var i = 0;
            while (i < s.Length)
            {
                while (i < s.Length && char.IsWhiteSpace(s[i]))
                {
                    i++;
                }
                if (i >= s.Length)
                {
                    break;
                }
                if (max >= 0 && parts.Count == max)
                {
                    parts.Add(s[i..].TrimEnd());
                    return parts;
                }
                var j = i;
                while (j < s.Length && !char.IsWhiteSpace(s[j]))
                {
                    j++;
                }
                parts.Add(s[i..j]);
                i = j;
            }
            return parts;
        }
        if (sep is not string sp || sp.Length == 0)
        {
            throw Fail(at, "split() separator must be a non-empty string");
        }
        var from = 0;
        while (max < 0 || parts.Count < max)
        {
            var k = s.IndexOf(sp, from, StringComparison.Ordinal);
            if (k < 0)
            {
                break;
            }
            parts.Add(s[from..k]);
            from = k + sp.Length;
        }
        parts.Add(s[from..]);
        return parts;
    }

    private static string Replace(string s, string old, string replacement, object? count)
    {
        var n = count is long c ? c : -1;
        if (n < 0)
        {
            return old.Length == 0 ? InsertEverywhere(s, replacement) : s.Replace(old, replacement, StringComparison.Ordinal);
        }
        var sb = new StringBuilder();
        var from = 0;
        for (long i = 0; i < n && old.Length > 0; i++)
        {
            var k = s.IndexOf(old, from, StringComparison.Ordinal);
            if (k < 0)
            {
                break;
            }
            sb.Append(s, from, k - from).Append(replacement);
            from = k + old.Length;
        }
        return sb.Append(s, from, s.Length - from).ToString();
    }

    private static string InsertEverywhere(string s, string r)
    {
        if ((long)(s.Length + 1) * r.Length > MaxOutput)
        {
            throw new LmException("chat template: replace() result is too large");
        }
        var sb = new StringBuilder(r);
        foreach (var ch in s)
        {
            sb.Append(ch).Append(r);
        }
        return sb.ToString();
    }

    private static int CountOf(string s, string sub)
    {
        if (sub.Length == 0)
        {
            return s.Length + 1;
        }
        var n = 0;
        for (var i = s.IndexOf(sub, StringComparison.Ordinal); i >= 0; i = s.IndexOf(sub, i + sub.Length, StringComparison.Ordinal))
        {
            n++;
        }
        return n;
    }

    private static string Capitalize(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();

    private static string Title(string s)
    {
        var sb = new StringBuilder(s.Length);
        var prevLetter = false;
        foreach (var ch in s)
        {
            sb.Append(prevLetter ? char.ToLowerInvariant(ch) : char.ToUpperInvariant(ch));
            prevLetter = char.IsLetter(ch);
        }
        return sb.ToString();
    }

    // ---- filters ----

    private object? ApplyFilter(FilterExpr f, object? value, Scope scope)
    {
        var args = new List<object?>(f.Args.Count);
        foreach (var a in f.Args)
        {
            args.Add(Eval(a, scope));
        }
        var kwargs = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (name, v) in f.Kwargs)
        {
            kwargs[name] = Eval(v, scope);
        }
        return Filter(f.Name, value, new CallArgs(args, kwargs, f), scope);
    }

    private object? Filter(string name, object? value, CallArgs call, Scope scope)
    {
        var at = call.At;
        switch (name)
        {
            case "default" or "d":
                var boolean = Py.Truthy(call.Arg(1, "boolean", false));
                return value is Undefined || (boolean && !Py.Truthy(value)) ? call.Arg(0, "default_value", "") : value;
            case "length" or "count":
                return value switch
                {
                    Undefined => 0L,
                    string s => (long)s.Length,
                    List<object?> l => (long)l.Count,
                    OrderedDictionary<string, object?> d => (long)d.Count,
                    _ => throw Fail(at, $"object of type '{Py.TypeName(value)}' has no len()"),
                };
            case "string":
                return Py.Str(value);
            case "safe" or "e" or "escape" when value is not string:
                return Py.Str(value);
            case "safe":
                return value;
            case "e" or "escape":
                return ((string)value!).Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").Replace("\"", "&#34;").Replace("'", "&#39;");
        }
        if (value is Undefined u && name is not ("list" or "join" or "first" or "last" or "tojson"))
        {
            // Filters on an undefined value see '' (Jinja's default Undefined converts to an empty string).
            value = "";
            _ = u;
        }
        switch (name)
        {
            case "trim":
                return call.Arg(0, "chars") is string chars ? Str(value, name, at).Trim(chars.ToCharArray()) : Str(value, name, at).Trim();
            case "upper":
                return Str(value, name, at).ToUpperInvariant();
            case "lower":
                return Str(value, name, at).ToLowerInvariant();
            case "capitalize":
                return Capitalize(Str(value, name, at));
            case "title":
                return Title(Str(value, name, at));
            case "replace":
                return Replace(Str(value, name, at), Py.Str(call.Arg(0, "old")), Py.Str(call.Arg(1, "new")), call.Arg(2, "count"));
            case "indent":
                return Indent(Str(value, name, at), call);
            case "wordcount":
                return (long)Split(Str(value, name, at), null, -1L, at).Count;
            case "int":
                return value switch
                {
                    long l => l,
                    bool b => b ? 1L : 0L,
                    double d when double.IsFinite(d) && Math.Abs(d) < 9e18 => (long)Math.Truncate(d),
                    string s when long.TryParse(s.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var p) => p,
                    string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var pd) && Math.Abs(pd) < 9e18 => (long)Math.Truncate(pd),
                    _ => call.Arg(0, "default", 0L),
                };
            case "float":
                return value switch
                {
                    long or double or bool => Py.ToDouble(value),
                    string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var p) => p,
                    _ => call.Arg(0, "default", 0.0),
                };
            case "abs":
                return value switch
                {
                    long l when l != long.MinValue => (object)Math.Abs(l),
                    double d => (object)Math.Abs(d),
                    bool b => (object)(b ? 1L : 0L),
                    _ => throw Fail(at, $"bad operand type for abs(): '{Py.TypeName(value)}'"),
                };
            case "round":
                var digits = call.Arg(0, "precision", 0L) is long p0 ? (int)Math.Clamp(p0, 0, 15) : 0;
                var method = call.Arg(1, "method", "common") as string;
                var x = Py.IsNumber(value) ? Py.ToDouble(value) : throw Fail(at, $"round needs a number, not {Py.TypeName(value)}");
                var scale = Math.Pow(10, digits);
                return method switch
                {
                    "floor" => Math.Floor(x * scale) / scale,
                    "ceil" => Math.Ceiling(x * scale) / scale,
                    _ => Math.Round(x, digits, MidpointRounding.AwayFromZero),
                };
            case "tojson":
                int? indent = call.Arg(0, "indent") switch
                {
                    null => null,
                    long n when n is >= 0 and <= 64 => (int)n,
                    var o => throw Fail(at, $"tojson indent must be an integer from 0 to 64, not {Py.Repr(o)}"),
                };
                string? itemSep = null;
                string? keySep = null;
                if (call.Kwargs.TryGetValue("separators", out var seps) && seps is List<object?> { Count: 2 } sl)
                {
                    itemSep = Py.Str(sl[0]);
                    keySep = Py.Str(sl[1]);
                }
                try
                {
                    return Py.ToJson(value, indent, itemSep, keySep, Py.Truthy(call.Kwargs.GetValueOrDefault("sort_keys")));
                }
                catch (LmException ex)
                {
                    throw Fail(at, ex.Message);
                }
            case "list":
                return value is string ls ? Iterate(ls, at).ToList() : Iterate(value, at).ToList();
            case "first":
                return Iterate(value, at).FirstOrDefault(new Undefined("no first item, sequence was empty"));
            case "last":
                var all = Iterate(value, at).ToList();
                return all.Count > 0 ? all[^1] : new Undefined("no last item, sequence was empty");
            case "reverse":
                if (value is string rs)
                {
                    var reversed = rs.ToCharArray();
                    Array.Reverse(reversed);
                    return new string(reversed);
                }
                var rev = Iterate(value, at).ToList();
                rev.Reverse();
                return rev;
            case "join":
                var sep = Py.Str(call.Arg(0, "d", ""));
                var attr = call.Arg(1, "attribute") as string;
                return string.Join(sep, Iterate(value, at).Select(v => Py.Str(attr is null ? v : GetAttrPath(v, attr, at))));
            case "unique":
                var uniq = new List<object?>();
                foreach (var v in Iterate(value, at))
                {
                    Charge(uniq.Count, at);
                    if (!uniq.Any(w => Py.Equals(w, v)))
                    {
                        uniq.Add(v);
                    }
                }
                return uniq;
            case "sum":
                object? total = call.Arg(1, "start", 0L);
                var sumAttr = call.Arg(0, "attribute") as string;
                foreach (var v in Iterate(value, at))
                {
                    total = Arith("+", total, sumAttr is null ? v : GetAttrPath(v, sumAttr, at), at);
                }
                return total;
            case "min" or "max":
                var best = (object?)new Undefined($"{name}() of an empty sequence");
                foreach (var v in Iterate(value, at))
                {
                    var c = best is Undefined ? 0 : Py.Compare(v, best) ?? throw Fail(at, $"cannot compare {Py.TypeName(v)} and {Py.TypeName(best)}");
                    if (best is Undefined || (name == "min" ? c < 0 : c > 0))
                    {
                        best = v;
                    }
                }
                return best;
            case "sort":
                var sorted = Iterate(value, at).ToList();
                Charge(sorted.Count * (long)Math.Max(1, Math.Log2(sorted.Count + 1)), at);
                var desc = Py.Truthy(call.Arg(0, "reverse", false));
                var sortAttr = call.Arg(2, "attribute") as string;
                var keyed = sorted.Select(v => (Key: sortAttr is null ? v : GetAttrPath(v, sortAttr, at), Value: v)).ToList();
                var ordered = keyed.Order(Comparer<(object? Key, object? Value)>.Create((a, b) =>
                    Py.Compare(a.Key, b.Key) ?? throw Fail(at, $"cannot compare {Py.TypeName(a.Key)} and {Py.TypeName(b.Key)}"))).Select(p => p.Value).ToList();
                if (desc)
                {
                    ordered.Reverse();
                }
                return ordered;
            case "dictsort":
                if (value is not OrderedDictionary<string, object?> dd)
                {
                    throw Fail(at, "dictsort needs a dict");
                }
                var pairs = dd.Select(p => (object?)new JTuple([p.Key, p.Value])).ToList();
                pairs.Sort((a, b) => string.CompareOrdinal((string)((JTuple)a!)[0]!, (string)((JTuple)b!)[0]!));
                return pairs;
            case "items":
                return value is OrderedDictionary<string, object?> id ? id.Select(p => (object?)new JTuple([p.Key, p.Value])).ToList() : throw Fail(at, "items needs a dict");
            case "attr":
                return GetAttr(value, Py.Str(call.Arg(0, "name")), at);
            case "map":
                if (call.Kwargs.TryGetValue("attribute", out var mapAttr))
                {
                    var def = call.Kwargs.GetValueOrDefault("default");
                    return Iterate(value, at).Select(v =>
                    {
                        var r = GetAttrPath(v, Py.Str(mapAttr), at);
                        return r is Undefined && call.Kwargs.ContainsKey("default") ? def : r;
                    }).ToList();
                }
                var filterName = call.Arg(0, "filter") as string ?? throw Fail(at, "map needs a filter name or attribute=");
                var rest = new CallArgs(call.Args.Skip(1).ToList(), [], at);
                return Iterate(value, at).Select(v => Filter(filterName, v, rest, scope)).ToList();
            case "select" or "reject":
                return SelectItems(value, call, scope, name == "select", byAttribute: false);
            case "selectattr" or "rejectattr":
                return SelectItems(value, call, scope, name == "selectattr", byAttribute: true);
            case "batch":
                var size = call.Arg(0, "linecount") is long bs && bs > 0 ? bs : throw Fail(at, "batch needs a positive size");
                var batches = new List<object?>();
                List<object?>? current = null;
                foreach (var v in Iterate(value, at))
                {
                    if (current is null || current.Count == size)
                    {
                        current = [];
                        batches.Add(current);
                    }
                    current.Add(v);
                }
                return batches;
            case "center":
                var width = call.Arg(0, "width", 80L) is long w ? (int)Math.Clamp(w, 0, 10_000) : 80;
                var str = Str(value, name, at);
                var pad = Math.Max(0, width - str.Length);
                var left = pad / 2 + (pad % 2 & width % 2);
                return new string(' ', left) + str + new string(' ', pad - left);
            default:
                throw Fail(at, $"unknown filter '{name}'");
        }
    }

    private static string Str(object? v, string filter, Node at) => v switch
    {
        string s => s,
        _ => Py.Str(v),
    };

    private static string Indent(string s, CallArgs call)
    {
        var width = call.Arg(0, "width", 4L) switch
        {
            long n => new string(' ', (int)Math.Clamp(n, 0, 1000)),
            string w => w,
            _ => "    ",
        };
        var first = Py.Truthy(call.Arg(1, "first", false));
        var blank = Py.Truthy(call.Arg(2, "blank", false));
        var lines = s.Split('\n');
        var sb = new StringBuilder();
        for (var i = 0; i < lines.Length; i++)
        {
            if (i > 0)
            {
                sb.Append('\n');
            }
            if ((i > 0 || first) && (blank || lines[i].Length > 0))
            {
                sb.Append(width);
            }
            sb.Append(lines[i]);
        }
        return sb.ToString();
    }

    private object? GetAttrPath(object? v, string path, Node at)
    {
        foreach (var part in path.Split('.'))
        {
            v = long.TryParse(part, out var idx) ? GetItem(v, idx, at) : GetItem(v, part, at);
            if (v is Undefined)
            {
                return v;
            }
        }
        return v;
    }

    private List<object?> SelectItems(object? value, CallArgs call, Scope scope, bool keep, bool byAttribute)
    {
        var offset = byAttribute ? 1 : 0;
        var attr = byAttribute ? Py.Str(call.Arg(0, "attribute")) : null;
        var testName = call.Args.Count > offset ? call.Args[offset] as string : null;
        var testArgs = call.Args.Skip(offset + 1).ToList();
        var result = new List<object?>();
        foreach (var item in Iterate(value, call.At))
        {
            var subject = attr is null ? item : GetAttrPath(item, attr, call.At);
            var pass = testName is null ? Py.Truthy(subject) : Test(testName, subject, testArgs, call.At);
            if (pass == keep)
            {
                result.Add(item);
            }
        }
        return result;
    }

    // ---- tests ----

    private bool ApplyTest(TestExpr t, object? value, Scope scope)
    {
        var args = new List<object?>(t.Args.Count);
        foreach (var a in t.Args)
        {
            args.Add(Eval(a, scope));
        }
        return Test(t.Name, value, args, t);
    }

    private bool Test(string name, object? v, List<object?> args, Node at)
    {
        object? Arg0() => args.Count > 0 ? args[0] : throw Fail(at, $"test '{name}' needs an argument");
        switch (name)
        {
            case "defined":
                return v is not Undefined;
            case "undefined":
                return v is Undefined;
            case "none":
                return v is null;
            case "string":
                return v is string;
            case "number":
                return v is long or double or bool;
            case "integer":
                return v is long or bool;
            case "float":
                return v is double;
            case "boolean":
                return v is bool;
            case "true":
                return v is true;
            case "false":
                return v is false;
            case "mapping":
                return v is OrderedDictionary<string, object?>;
            case "sequence":
                return v is string or List<object?> or OrderedDictionary<string, object?>;
            case "iterable":
                return v is string or List<object?> or OrderedDictionary<string, object?>;
            case "callable":
                return v is JCallable;
            case "lower":
                return v is string ls && ls == ls.ToLowerInvariant();
            case "upper":
                return v is string us && us == us.ToUpperInvariant();
            case "odd" or "even":
                if (v is not (long or bool))
                {
                    throw Fail(at, $"test '{name}' needs an integer, not {Py.TypeName(v)}");
                }
                return (Py.ToLong(v) % 2 != 0) == (name == "odd");
            case "divisibleby":
                var d = Arg0();
                return v is long or bool && d is long or bool && Py.ToLong(d) != 0
                    ? Py.ToLong(v) % Py.ToLong(d) == 0
                    : throw Fail(at, "divisibleby needs integers and a non-zero divisor");
            case "eq" or "equalto" or "==":
                return Py.Equals(v, Arg0());
            case "ne" or "!=":
                return !Py.Equals(v, Arg0());
            case "lt" or "lessthan" or "<" or "gt" or "greaterthan" or ">" or "le" or "<=" or "ge" or ">=":
                var c = Py.Compare(v, Arg0()) ?? throw Fail(at, $"cannot compare {Py.TypeName(v)} and {Py.TypeName(args[0])}");
                return name switch
                {
                    "lt" or "lessthan" or "<" => c < 0,
                    "gt" or "greaterthan" or ">" => c > 0,
                    "le" or "<=" => c <= 0,
                    _ => c >= 0,
                };
            case "in":
                return Contains(Arg0(), v, at);
            case "sameas":
                var o = Arg0();
                // CPython caches small ints and interns short strings, so 'is' holds for equal values of those types.
                return v is null ? o is null
                    : v is bool b ? o is bool ob && b == ob
                    : v is long or string ? v.GetType() == o?.GetType() && Py.Equals(v, o)
                    : ReferenceEquals(v, o);
            case "escaped":
                return false;
            default:
                throw Fail(at, $"unknown test '{name}'");
        }
    }
}
