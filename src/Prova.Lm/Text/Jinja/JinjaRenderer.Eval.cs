namespace Prova.Lm.Text.Jinja;

internal sealed partial class JinjaRenderer
{
    private object? Eval(Expr e, Scope scope)
    {
        Step(e);
        switch (e)
        {
            case LiteralExpr l:
                return l.Value;
            case NameExpr n:
                if (scope.TryGet(n.Name, out var v))
                {
                    return v;
                }
                return Global(n.Name) ?? new Undefined($"'{n.Name}' is undefined");
            case ListExpr list:
                var items = new List<object?>(list.Items.Count);
                foreach (var item in list.Items)
                {
                    items.Add(Eval(item, scope));
                }
                return list.IsTuple ? new JTuple(items) : items;
            case DictExpr d:
                var dict = new OrderedDictionary<string, object?>(StringComparer.Ordinal);
                foreach (var (k, val) in d.Items)
                {
                    if (Eval(k, scope) is not string key)
                    {
                        throw Fail(k, "dictionary keys in a chat template must be strings");
                    }
                    dict[key] = Eval(val, scope);
                }
                return dict;
            case AttrExpr a:
                return GetAttr(Eval(a.Target, scope), a.Name, a);
            case IndexExpr i:
                return GetItem(Eval(i.Target, scope), Eval(i.Index, scope), i);
            case SliceExpr s:
                return Slice(Eval(s.Target, scope), s.Start is null ? null : Eval(s.Start, scope), s.Stop is null ? null : Eval(s.Stop, scope), s.Step is null ? null : Eval(s.Step, scope), s);
            case CallExpr c:
                return Call(c, scope);
            case FilterExpr f:
                return ApplyFilter(f, Eval(f.Target!, scope), scope);
            case TestExpr t:
                var result = ApplyTest(t, Eval(t.Target, scope), scope);
                return t.Negated ? !result : result;
            case UnaryExpr u:
                return Unary(u, scope);
            case BinaryExpr b:
                return Binary(b, scope);
            case CondExpr c:
                return Py.Truthy(Eval(c.Test, scope)) ? Eval(c.Then, scope) : c.Else is null ? new Undefined("the conditional expression had no else") : Eval(c.Else, scope);
            default:
                throw Fail(e, $"cannot evaluate {e.GetType().Name}");
        }
    }

    private object? Unary(UnaryExpr u, Scope scope)
    {
        var v = Eval(u.Operand, scope);
        switch (u.Op)
        {
            case "not":
                return !Py.Truthy(v);
            case "-":
                return v switch
                {
                    long l when l != long.MinValue => (object)(-l),
                    bool b => (object)(b ? -1L : 0L),
                    double d => (object)(-d),
                    _ => throw Fail(u, $"bad operand type for unary -: '{Py.TypeName(v)}'"),
                };
            default:
                return Py.IsNumber(v) ? (v is bool b2 ? (b2 ? 1L : 0L) : v) : throw Fail(u, $"bad operand type for unary +: '{Py.TypeName(v)}'");
        }
    }

    private object? Binary(BinaryExpr b, Scope scope)
    {
        if (b.Op == "and")
        {
            var l = Eval(b.Left, scope);
            return Py.Truthy(l) ? Eval(b.Right, scope) : l;
        }
        if (b.Op == "or")
        {
            var l = Eval(b.Left, scope);
            return Py.Truthy(l) ? l : Eval(b.Right, scope);
        }
        var left = Eval(b.Left, scope);
        var right = Eval(b.Right, scope);
        switch (b.Op)
        {
            case "==":
                return Py.Equals(left, right);
            case "!=":
                return !Py.Equals(left, right);
            case "<" or ">" or "<=" or ">=":
                var cmp = Py.Compare(left, right) ?? throw Fail(b, $"'{b.Op}' not supported between instances of '{Py.TypeName(left)}' and '{Py.TypeName(right)}'");
                return b.Op switch { "<" => cmp < 0, ">" => cmp > 0, "<=" => cmp <= 0, _ => cmp >= 0 };
            case "in":
                return Contains(right, left, b);
            case "not in":
                return !Contains(right, left, b);
            case "~":
                CheckDefined(left, b);
                CheckDefined(right, b);
                return Py.Str(left) + Py.Str(right);
            default:
                return Arith(b.Op, left, right, b);
        }
    }

    private static void CheckDefined(object? v, Node at)
    {
        // Jinja's default Undefined joins with '~' as ''; only arithmetic and attribute access on it fail.
        _ = v;
        _ = at;
    }

    private bool Contains(object? container, object? item, Node at)
    {
        switch (container)
        {
            case string s:
                if (item is not string sub)
                {
                    throw Fail(at, $"'in <string>' requires string as left operand, not {Py.TypeName(item)}");
                }
                return s.Contains(sub, StringComparison.Ordinal);
            case List<object?> l:
                Charge(l.Count, at);
                foreach (var x in l)
                {
                    if (Py.Equals(x, item))
                    {
                        return true;
                    }
                }
                return false;
            case OrderedDictionary<string, object?> d:
                return item is string k && d.ContainsKey(k);
            case Undefined:
                return false; // Jinja's Undefined iterates as empty
            default:
                throw Fail(at, $"argument of type '{Py.TypeName(container)}' is not iterable");
        }
    }

    private object? Arith(string op, object? a, object? b, Node at)
    {
        if (a is Undefined ua)
        {
            throw Fail(at, ua.Hint);
        }
        if (b is Undefined ub)
        {
            throw Fail(at, ub.Hint);
        }
        if (Py.IsNumber(a) && Py.IsNumber(b))
        {
            if (a is not double && b is not double && op is not "/")
            {
                var x = Py.ToLong(a);
                var y = Py.ToLong(b);
                try
                {
                    switch (op)
                    {
                        case "+": return checked(x + y);
                        case "-": return checked(x - y);
                        case "*": return checked(x * y);
                        case "//":
                            if (y == 0)
                            {
                                throw Fail(at, "integer division or modulo by zero");
                            }
                            return FloorDiv(x, y);
                        case "%":
                            if (y == 0)
                            {
                                throw Fail(at, "integer division or modulo by zero");
                            }
                            return x - (y * FloorDiv(x, y));
                        case "**":
                            if (y < 0)
                            {
                                return Math.Pow(x, y);
                            }
                            long r = 1;
                            for (long i = 0; i < y; i++)
                            {
                                r = checked(r * x);
                                if (r == 0 || (r == 1 && x == 1))
                                {
                                    break;
                                }
                            }
                            return r;
                    }
                }
                catch (OverflowException)
                {
                    throw Fail(at, "integer overflow (chat templates compute with 64-bit integers)");
                }
            }
            var dx = Py.ToDouble(a);
            var dy = Py.ToDouble(b);
            switch (op)
            {
                case "+": return dx + dy;
                case "-": return dx - dy;
                case "*": return dx * dy;
                case "/":
                    return dy == 0 ? throw Fail(at, "division by zero") : dx / dy;
                case "//":
                    return dy == 0 ? throw Fail(at, "float floor division by zero") : Math.Floor(dx / dy);
                case "%":
                    if (dy == 0)
                    {
                        throw Fail(at, "float modulo by zero");
                    }
                    var m = dx % dy;
                    return m != 0 && (m < 0) != (dy < 0) ? m + dy : m;
                case "**":
                    return Math.Pow(dx, dy);
            }
        }
        if (op == "+")
        {
            if (a is string s && b is string t)
            {
                return s + t;
            }
            if (a is List<object?> la && b is List<object?> lb)
            {
                var sum = new List<object?>(la.Count + lb.Count);
                sum.AddRange(la);
                sum.AddRange(lb);
                return la is JTuple && lb is JTuple ? new JTuple(sum) : sum;
            }
        }
        if (op == "*")
        {
            var (seq, count) = a is long or bool ? (b, a) : (a, b);
            if (count is long or bool && seq is string or List<object?>)
            {
                var n = Py.ToLong(count);
                var len = seq is string str ? str.Length : ((List<object?>)seq).Count;
                if (n > 0 && (long)len * n > MaxOutput)
                {
                    throw Fail(at, "repetition result is too large");
                }
                Charge(seq is string ? 1 + (Math.Max(0, n) * len / 1024) : Math.Max(0, n) * Math.Max(1, len), at);
                if (seq is string rs)
                {
                    return n <= 0 ? "" : string.Concat(Enumerable.Repeat(rs, (int)n));
                }
                var rl = new List<object?>();
                for (var i = 0; i < n; i++)
                {
                    rl.AddRange((List<object?>)seq);
                }
                return rl;
            }
        }
        throw Fail(at, $"unsupported operand type(s) for {op}: '{Py.TypeName(a)}' and '{Py.TypeName(b)}'");
    }

    private static long FloorDiv(long x, long y)
    {
        if (x == long.MinValue && y == -1)
        {
            throw new OverflowException();
        }
        var q = x / y;
        return (x % y != 0) && ((x < 0) != (y < 0)) ? q - 1 : q;
    }

    private object? GetAttr(object? obj, string name, Node at)
    {
        switch (obj)
        {
            case Undefined u:
                throw Fail(at, u.Hint);
            case null:
                throw Fail(at, $"'None' has no attribute '{name}'");
            case OrderedDictionary<string, object?> d:
                if (DictMethod(d, name, at) is { } method)
                {
                    return method;
                }
                return d.TryGetValue(name, out var v) ? v : new Undefined($"'dict object' has no attribute '{name}'");
            case JNamespace ns:
                return ns.Values.TryGetValue(name, out var nv) ? nv : new Undefined($"'Namespace' has no attribute '{name}'");
            case LoopInfo loop:
                return LoopAttr(loop, name, at);
            case string s:
                return (object?)StringMethod(s, name, at) ?? new Undefined($"'str object' has no attribute '{name}'");
            case List<object?> l:
                return (object?)ListMethod(l, name, at) ?? new Undefined($"'{Py.TypeName(l)} object' has no attribute '{name}'");
            default:
                return new Undefined($"'{Py.TypeName(obj)} object' has no attribute '{name}'");
        }
    }

    private object? GetItem(object? obj, object? key, Node at)
    {
        switch (obj)
        {
            case Undefined u:
                throw Fail(at, u.Hint);
            case null:
                throw Fail(at, "'None' is not subscriptable");
            case OrderedDictionary<string, object?> d:
                if (key is string k)
                {
                    return d.TryGetValue(k, out var v) ? v : new Undefined($"'dict object' has no attribute '{k}'");
                }
                return new Undefined($"'dict object' has no key {Py.Repr(key)}");
            case List<object?> l when key is long or bool:
                var i = Py.ToLong(key);
                if (i < 0)
                {
                    i += l.Count;
                }
                return i >= 0 && i < l.Count ? l[(int)i] : new Undefined($"list index {Py.ToLong(key)} out of range");
            case string s when key is long or bool:
                var j = Py.ToLong(key);
                if (j < 0)
                {
                    j += s.Length;
                }
                return j >= 0 && j < s.Length ? s[(int)j].ToString() : new Undefined($"string index {Py.ToLong(key)} out of range");
            default:
                if (key is string name)
                {
                    return GetAttr(obj, name, at);
                }
                throw Fail(at, $"'{Py.TypeName(obj)}' object is not subscriptable by {Py.TypeName(key)}");
        }
    }

    private static object? Slice(object? obj, object? start, object? stop, object? step, Node at)
    {
        long? Idx(object? v, string what) => v switch
        {
            null => null,
            long or bool => Py.ToLong(v),
            _ => throw Fail(at, $"slice {what} must be an integer or none, not {Py.TypeName(v)}"),
        };
        var st = Idx(step, "step") ?? 1;
        if (st == 0)
        {
            throw Fail(at, "slice step cannot be zero");
        }
        int len;
        switch (obj)
        {
            case string s:
                len = s.Length;
                break;
            case List<object?> l:
                len = l.Count;
                break;
            case Undefined u:
                throw Fail(at, u.Hint);
            default:
                throw Fail(at, $"'{Py.TypeName(obj)}' object cannot be sliced");
        }
        long Clamp(long? v, long def, bool isStart)
        {
            if (v is not { } x)
            {
                return def;
            }
            if (x < 0)
            {
                x += len;
            }
            if (st > 0)
            {
                return Math.Clamp(x, 0, len);
            }
            return Math.Clamp(x, -1, len - 1);
        }
        var a = Clamp(Idx(start, "start"), st > 0 ? 0 : len - 1, true);
        var b = Clamp(Idx(stop, "stop"), st > 0 ? len : -1, false);
        var idx = new List<int>();
        for (var i = a; st > 0 ? i < b : i > b; i += st)
        {
            idx.Add((int)i);
        }
        if (obj is string str)
        {
            var chars = new char[idx.Count];
            for (var i = 0; i < idx.Count; i++)
            {
                chars[i] = str[idx[i]];
            }
            return new string(chars);
        }
        var list = (List<object?>)obj!;
        var result = new List<object?>(idx.Count);
        foreach (var i in idx)
        {
            result.Add(list[i]);
        }
        return list is JTuple ? new JTuple(result) : result;
    }

    private object? Call(CallExpr c, Scope scope)
    {
        var callee = Eval(c.Callee, scope);
        var args = new List<object?>(c.Args.Count);
        foreach (var a in c.Args)
        {
            args.Add(Eval(a, scope));
        }
        var kwargs = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (name, value) in c.Kwargs)
        {
            kwargs[name] = Eval(value, scope);
        }
        return callee switch
        {
            JCallable f => f.Invoke(new CallArgs(args, kwargs, c)),
            Undefined u => throw Fail(c, u.Hint),
            _ => throw Fail(c, $"'{Py.TypeName(callee)}' object is not callable"),
        };
    }

    private static object? LoopAttr(LoopInfo loop, string name, Node at) => name switch
    {
        "index" => loop.Index0 + 1,
        "index0" => loop.Index0,
        "revindex" => loop.Length - loop.Index0,
        "revindex0" => loop.Length - loop.Index0 - 1,
        "first" => loop.Index0 == 0,
        "last" => loop.Index0 == loop.Length - 1,
        "length" => loop.Length,
        "previtem" => loop.PrevItem,
        "nextitem" => loop.NextItem,
        "depth" => 1L,
        "depth0" => 0L,
        "cycle" => new JCallable("cycle", call =>
            call.Args.Count == 0 ? throw Fail(call.At, "loop.cycle needs at least one value") : call.Args[(int)(loop.Index0 % call.Args.Count)]),
        _ => new Undefined($"'LoopContext' has no attribute '{name}'"),
    };
}
