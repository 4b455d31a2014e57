using System.Text;

namespace Prova.Lm.Text.Jinja;

internal sealed class Scope(Scope? parent)
{
    public Dictionary<string, object?> Vars { get; } = new(StringComparer.Ordinal);

    public Scope? Parent { get; } = parent;

    public bool TryGet(string name, out object? value)
    {
        for (var s = this; s is not null; s = s.Parent)
        {
            if (s.Vars.TryGetValue(name, out value))
            {
                return true;
            }
        }
        value = null;
        return false;
    }
}

/// <summary>
/// Evaluates a parsed template. Jinja scoping: a for-loop iteration and a macro call get their own scope ('set' inside
/// them does not leak out, hence <c>namespace()</c>); 'if' does not. Work is bounded (steps, output size, call depth) so
/// no template can hang or exhaust memory.
/// </summary>
internal sealed partial class JinjaRenderer
{
    private const long MaxSteps = 2_000_000;
    private const int MaxOutput = 4 * 1024 * 1024;
    private const int MaxCallDepth = 64;

    private readonly Func<DateTimeOffset> _clock;
    private long _steps;
    private int _callDepth;

    public JinjaRenderer(Func<DateTimeOffset> clock) => _clock = clock;

    private enum Flow
    {
        Normal,
        Break,
        Continue,
    }

    public string Render(List<Node> nodes, Scope scope)
    {
        var sb = new StringBuilder();
        var flow = Exec(nodes, scope, sb);
        if (flow != Flow.Normal)
        {
            throw new LmException("chat template: 'break' or 'continue' outside a loop");
        }
        return sb.ToString();
    }

    internal static LmException Fail(Node at, string message) =>
        new($"chat template line {at.Line}, column {at.Column}: {message}");

    private void Step(Node at) => Charge(1, at);

    /// <summary>Counts work; builtins charge one step per element they touch so no filter can run unbounded.</summary>
    private void Charge(long steps, Node at)
    {
        _steps += steps;
        if (_steps > MaxSteps)
        {
            throw Fail(at, $"rendering took more than {MaxSteps:N0} steps");
        }
    }

    private static void Append(StringBuilder sb, string s, Node at)
    {
        if (sb.Length + s.Length > MaxOutput)
        {
            throw Fail(at, $"rendered text exceeds {MaxOutput:N0} characters");
        }
        sb.Append(s);
    }

    private Flow Exec(List<Node> nodes, Scope scope, StringBuilder sb)
    {
        foreach (var node in nodes)
        {
            var flow = Exec(node, scope, sb);
            if (flow != Flow.Normal)
            {
                return flow;
            }
        }
        return Flow.Normal;
    }

    private Flow Exec(Node node, Scope scope, StringBuilder sb)
    {
        Step(node);
        switch (node)
        {
            case TextNode t:
                Append(sb, t.Text, t);
                return Flow.Normal;
            case OutputNode o:
                Append(sb, Py.Str(Eval(o.Value, scope)), o);
                return Flow.Normal;
            case IfNode i:
                foreach (var (test, body) in i.Branches)
                {
                    if (Py.Truthy(Eval(test, scope)))
                    {
                        return Exec(body, scope, sb);
                    }
                }
                return i.Else is null ? Flow.Normal : Exec(i.Else, scope, sb);
            case ForNode f:
                return ExecFor(f, scope, sb);
            case SetNode s:
                ExecSet(s, scope);
                return Flow.Normal;
            case MacroNode m:
                scope.Vars[m.Name] = MakeMacro(m, scope);
                return Flow.Normal;
            case FilterBlockNode fb:
                var inner = new StringBuilder();
                if (Exec(fb.Body, scope, inner) != Flow.Normal)
                {
                    throw Fail(fb, "'break' or 'continue' inside a filter block");
                }
                Append(sb, Py.Str(ApplyFilter(fb.Filter, inner.ToString(), scope)), fb);
                return Flow.Normal;
            case BlockNode b:
                return Exec(b.Body, scope, sb);
            case BreakNode:
                return Flow.Break;
            case ContinueNode:
                return Flow.Continue;
            default:
                throw Fail(node, $"cannot execute {node.GetType().Name}");
        }
    }

    private Flow ExecFor(ForNode f, Scope scope, StringBuilder sb)
    {
        var source = Eval(f.Iterable, scope);
        var items = new List<object?>();
        foreach (var item in Iterate(source, f.Iterable))
        {
            if (f.Filter is not null)
            {
                var probe = new Scope(scope);
                Bind(f, probe, item);
                if (!Py.Truthy(Eval(f.Filter, probe)))
                {
                    continue;
                }
            }
            items.Add(item);
        }
        if (items.Count == 0)
        {
            return f.Else is null ? Flow.Normal : Exec(f.Else, scope, sb);
        }
        var loop = new LoopInfo { Length = items.Count };
        for (var i = 0; i < items.Count; i++)
        {
            loop.Index0 = i;
            loop.PrevItem = i > 0 ? items[i - 1] : new Undefined("there is no previous item");
            loop.NextItem = i + 1 < items.Count ? items[i + 1] : new Undefined("there is no next item");
            var iteration = new Scope(scope);
            iteration.Vars["loop"] = loop;
            Bind(f, iteration, items[i]);
            if (Exec(f.Body, iteration, sb) == Flow.Break)
            {
                break;
            }
        }
        return Flow.Normal;
    }

    private static void Bind(ForNode f, Scope scope, object? item)
    {
        if (f.Targets.Count == 1)
        {
            scope.Vars[f.Targets[0]] = item;
            return;
        }
        if (item is not List<object?> parts || parts.Count != f.Targets.Count)
        {
            throw Fail(f, $"cannot unpack a {Py.TypeName(item)} into {f.Targets.Count} loop variables");
        }
        for (var i = 0; i < parts.Count; i++)
        {
            scope.Vars[f.Targets[i]] = parts[i];
        }
    }

    internal List<object?> Iterate(object? v, Node at)
    {
        List<object?> items = v switch
        {
            Undefined => [],
            string s => [.. StringChars(s)],
            List<object?> l => [.. l],
            OrderedDictionary<string, object?> d => [.. d.Keys],
            _ => throw Fail(at, $"'{Py.TypeName(v)}' object is not iterable"),
        };
        Charge(items.Count, at);
        return items;
    }

    private static IEnumerable<object?> StringChars(string s)
    {
        var e = System.Globalization.StringInfo.GetTextElementEnumerator(s);
        for (var i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                yield return s.Substring(i, 2);
                i++;
            }
            else
            {
                yield return s[i].ToString();
            }
        }
    }

    private void ExecSet(SetNode s, Scope scope)
    {
        object? value;
        if (s.Body is not null)
        {
            var sb = new StringBuilder();
            if (Exec(s.Body, scope, sb) != Flow.Normal)
            {
                throw Fail(s, "'break' or 'continue' inside a set block");
            }
            value = sb.ToString();
        }
        else
        {
            value = Eval(s.Value!, scope);
        }
        switch (s.Target)
        {
            case NameExpr n:
                scope.Vars[n.Name] = value;
                break;
            case AttrExpr { Target: NameExpr owner } a:
                if (!scope.TryGet(owner.Name, out var ns) || ns is not JNamespace space)
                {
                    throw Fail(a, $"cannot assign attribute '{a.Name}' on '{owner.Name}', which is not a namespace()");
                }
                space.Values[a.Name] = value;
                break;
            case ListExpr names:
                if (value is not List<object?> parts || parts.Count != names.Items.Count)
                {
                    throw Fail(s, $"cannot unpack a {Py.TypeName(value)} into {names.Items.Count} names");
                }
                for (var i = 0; i < parts.Count; i++)
                {
                    scope.Vars[((NameExpr)names.Items[i]).Name] = parts[i];
                }
                break;
            default:
                throw Fail(s, "cannot assign to this target");
        }
    }

    private JCallable MakeMacro(MacroNode m, Scope defining) => new(m.Name, call =>
    {
        if (++_callDepth > MaxCallDepth)
        {
            throw Fail(m, $"macro calls nest deeper than {MaxCallDepth}");
        }
        try
        {
            var local = new Scope(defining);
            for (var i = 0; i < m.Params.Count; i++)
            {
                var (name, def) = m.Params[i];
                local.Vars[name] = i < call.Args.Count ? call.Args[i]
                    : call.Kwargs.TryGetValue(name, out var kw) ? kw
                    : def is not null ? Eval(def, local)
                    : new Undefined($"'{name}' is undefined");
            }
            if (call.Args.Count > m.Params.Count)
            {
                throw Fail(call.At, $"macro '{m.Name}' takes {m.Params.Count} arguments, got {call.Args.Count}");
            }
            var sb = new StringBuilder();
            if (Exec(m.Body, local, sb) != Flow.Normal)
            {
                throw Fail(m, "'break' or 'continue' outside a loop in a macro");
            }
            return sb.ToString();
        }
        finally
        {
            _callDepth--;
        }
    });
}
