using System.Globalization;

namespace Prova.Lm.Text.Jinja;

/// <summary>Recursive-descent parser for the Jinja subset chat templates use; precedence as in Jinja2's parser.</summary>
internal sealed class JinjaParser
{
    private const int MaxDepth = 200;
    private readonly List<Token> _tokens;
    private int _pos;
    private int _depth;

    private JinjaParser(List<Token> tokens) => _tokens = tokens;

    public static List<Node> Parse(string template)
    {
        var parser = new JinjaParser(JinjaLexer.Tokenize(template));
        var body = parser.ParseBody([]);
        if (parser.Peek.Kind != TokenKind.End)
        {
            throw Error(parser.Peek, "unexpected tag");
        }
        return body;
    }

    private Token Peek => _tokens[_pos];

    private Token PeekAt(int offset) => _tokens[Math.Min(_pos + offset, _tokens.Count - 1)];

    private Token Next() => _tokens[_pos < _tokens.Count - 1 ? _pos++ : _pos];

    internal static LmException Error(Token at, string message) =>
        new($"chat template line {at.Line}, column {at.Column}: {message}");

    private bool IsOp(string op) => Peek.Kind == TokenKind.Op && Peek.Value == op;

    private bool IsName(string name) => Peek.Kind == TokenKind.Name && Peek.Value == name;

    private Token Expect(TokenKind kind, string? value = null)
    {
        var t = Peek;
        if (t.Kind != kind || (value is not null && t.Value != value))
        {
            throw Error(t, $"expected {value ?? kind.ToString()}, found {Describe(t)}");
        }
        return Next();
    }

    private static string Describe(Token t) => t.Kind switch
    {
        TokenKind.End => "the end of the template",
        TokenKind.BlockEnd => "'%}'",
        TokenKind.VarEnd => "'}}'",
        TokenKind.Text => "text",
        TokenKind.String => "a string",
        _ => $"'{t.Value}'",
    };

    private void Enter(Token at)
    {
        if (++_depth > MaxDepth)
        {
            throw Error(at, $"nesting deeper than {MaxDepth}");
        }
    }

    /// <summary>Parses nodes until a block tag whose name is in <paramref name="stopAt"/> (left unconsumed).</summary>
    private List<Node> ParseBody(HashSet<string> stopAt)
    {
        var nodes = new List<Node>();
        while (true)
        {
            var t = Peek;
            switch (t.Kind)
            {
                case TokenKind.End:
                    if (stopAt.Count > 0)
                    {
                        throw Error(t, $"missing '{{% {string.Join("' or '", stopAt)} %}}'");
                    }
                    return nodes;
                case TokenKind.Text:
                    Next();
                    nodes.Add(new TextNode(t.Value, t.Line, t.Column));
                    break;
                case TokenKind.VarStart:
                    Next();
                    var e = ParseExpression();
                    Expect(TokenKind.VarEnd);
                    nodes.Add(new OutputNode(e, t.Line, t.Column));
                    break;
                case TokenKind.BlockStart:
                    var name = PeekAt(1);
                    if (name.Kind == TokenKind.Name && stopAt.Contains(name.Value))
                    {
                        return nodes;
                    }
                    Next();
                    nodes.Add(ParseStatement(t));
                    break;
                default:
                    throw Error(t, $"unexpected {Describe(t)}");
            }
        }
    }

    private Node ParseStatement(Token start)
    {
        var kw = Peek;
        if (kw.Kind != TokenKind.Name)
        {
            throw Error(kw, $"expected a tag name after '{{%', found {Describe(kw)}");
        }
        Enter(kw);
        try
        {
            switch (kw.Value)
            {
                case "if":
                    return ParseIf(start);
                case "for":
                    return ParseFor(start);
                case "set":
                    return ParseSet(start);
                case "macro":
                    return ParseMacro(start);
                case "filter":
                    return ParseFilterBlock(start);
                case "generation":
                    Next();
                    Expect(TokenKind.BlockEnd);
                    var body = ParseBody(["endgeneration"]);
                    EndTag("endgeneration");
                    return new BlockNode(body, start.Line, start.Column);
                case "break":
                case "continue":
                    Next();
                    Expect(TokenKind.BlockEnd);
                    return kw.Value == "break" ? new BreakNode(start.Line, start.Column) : new ContinueNode(start.Line, start.Column);
                default:
                    throw Error(kw, $"tag '{kw.Value}' is not supported (supported: if, for, set, macro, filter, break, continue, raw, generation)");
            }
        }
        finally
        {
            _depth--;
        }
    }

    private void EndTag(string name)
    {
        Expect(TokenKind.BlockStart);
        Expect(TokenKind.Name, name);
        Expect(TokenKind.BlockEnd);
    }

    private IfNode ParseIf(Token start)
    {
        Next();
        var branches = new List<(Expr, List<Node>)>();
        var test = ParseExpression();
        Expect(TokenKind.BlockEnd);
        List<Node>? elseBody = null;
        while (true)
        {
            var body = ParseBody(["elif", "else", "endif"]);
            branches.Add((test, body));
            Expect(TokenKind.BlockStart);
            var tag = Next();
            if (tag.Value == "elif")
            {
                test = ParseExpression();
                Expect(TokenKind.BlockEnd);
                continue;
            }
            if (tag.Value == "else")
            {
                Expect(TokenKind.BlockEnd);
                elseBody = ParseBody(["endif"]);
                EndTag("endif");
            }
            else
            {
                Expect(TokenKind.BlockEnd);
            }
            return new IfNode(branches, elseBody, start.Line, start.Column);
        }
    }

    private ForNode ParseFor(Token start)
    {
        Next();
        var targets = new List<string> { Expect(TokenKind.Name).Value };
        while (IsOp(","))
        {
            Next();
            targets.Add(Expect(TokenKind.Name).Value);
        }
        Expect(TokenKind.Name, "in");
        var iterable = ParseCondition(allowTernary: false);
        Expr? filter = null;
        if (IsName("if"))
        {
            Next();
            filter = ParseCondition(allowTernary: false);
        }
        if (IsName("recursive"))
        {
            throw Error(Peek, "recursive loops are not supported");
        }
        Expect(TokenKind.BlockEnd);
        var body = ParseBody(["else", "endfor"]);
        List<Node>? elseBody = null;
        Expect(TokenKind.BlockStart);
        var tag = Next();
        Expect(TokenKind.BlockEnd);
        if (tag.Value == "else")
        {
            elseBody = ParseBody(["endfor"]);
            EndTag("endfor");
        }
        return new ForNode(targets, iterable, filter, body, elseBody, start.Line, start.Column);
    }

    private SetNode ParseSet(Token start)
    {
        Next();
        var nameTok = Expect(TokenKind.Name);
        Expr target = new NameExpr(nameTok.Value, nameTok.Line, nameTok.Column);
        if (IsOp("."))
        {
            Next();
            var attr = Expect(TokenKind.Name);
            target = new AttrExpr(target, attr.Value, attr.Line, attr.Column);
        }
        else if (IsOp(","))
        {
            var names = new List<Expr> { target };
            while (IsOp(","))
            {
                Next();
                var n = Expect(TokenKind.Name);
                names.Add(new NameExpr(n.Value, n.Line, n.Column));
            }
            target = new ListExpr(names, true, nameTok.Line, nameTok.Column);
        }
        if (IsOp("="))
        {
            Next();
            var value = ParseTupleOrExpression();
            Expect(TokenKind.BlockEnd);
            return new SetNode(target, value, null, start.Line, start.Column);
        }
        if (target is not NameExpr)
        {
            throw Error(Peek, "a block 'set' assigns one plain name");
        }
        Expect(TokenKind.BlockEnd);
        var body = ParseBody(["endset"]);
        EndTag("endset");
        return new SetNode(target, null, body, start.Line, start.Column);
    }

    private MacroNode ParseMacro(Token start)
    {
        Next();
        var name = Expect(TokenKind.Name).Value;
        Expect(TokenKind.Op, "(");
        var ps = new List<(string, Expr?)>();
        while (!IsOp(")"))
        {
            var p = Expect(TokenKind.Name).Value;
            Expr? def = null;
            if (IsOp("="))
            {
                Next();
                def = ParseExpression();
            }
            ps.Add((p, def));
            if (!IsOp(","))
            {
                break;
            }
            Next();
        }
        Expect(TokenKind.Op, ")");
        Expect(TokenKind.BlockEnd);
        var body = ParseBody(["endmacro"]);
        EndTag("endmacro");
        return new MacroNode(name, ps, body, start.Line, start.Column);
    }

    private FilterBlockNode ParseFilterBlock(Token start)
    {
        Next();
        var f = ParseFilter(null);
        Expect(TokenKind.BlockEnd);
        var body = ParseBody(["endfilter"]);
        EndTag("endfilter");
        return new FilterBlockNode(f, body, start.Line, start.Column);
    }

    // ---- expressions ----

    private Expr ParseTupleOrExpression()
    {
        var first = ParseExpression();
        if (!IsOp(","))
        {
            return first;
        }
        var items = new List<Expr> { first };
        while (IsOp(","))
        {
            Next();
            if (Peek.Kind is TokenKind.BlockEnd or TokenKind.VarEnd)
            {
                break;
            }
            items.Add(ParseExpression());
        }
        return new ListExpr(items, true, first.Line, first.Column);
    }

    public Expr ParseExpression() => ParseCondition(allowTernary: true);

    private Expr ParseCondition(bool allowTernary)
    {
        Enter(Peek);
        try
        {
            var expr = ParseOr();
            while (allowTernary && IsName("if"))
            {
                var t = Next();
                var test = ParseOr();
                Expr? otherwise = null;
                if (IsName("else"))
                {
                    Next();
                    otherwise = ParseCondition(true);
                }
                expr = new CondExpr(test, expr, otherwise, t.Line, t.Column);
            }
            return expr;
        }
        finally
        {
            _depth--;
        }
    }

    private Expr ParseOr()
    {
        var left = ParseAnd();
        while (IsName("or"))
        {
            var t = Next();
            left = new BinaryExpr("or", left, ParseAnd(), t.Line, t.Column);
        }
        return left;
    }

    private Expr ParseAnd()
    {
        var left = ParseNot();
        while (IsName("and"))
        {
            var t = Next();
            left = new BinaryExpr("and", left, ParseNot(), t.Line, t.Column);
        }
        return left;
    }

    private Expr ParseNot()
    {
        if (IsName("not"))
        {
            var t = Next();
            Enter(t);
            try
            {
                return new UnaryExpr("not", ParseNot(), t.Line, t.Column);
            }
            finally
            {
                _depth--;
            }
        }
        return ParseCompare();
    }

    private Expr ParseCompare()
    {
        var left = ParseMath1();
        while (true)
        {
            var t = Peek;
            string? op = null;
            if (t.Kind == TokenKind.Op && t.Value is "==" or "!=" or "<" or ">" or "<=" or ">=")
            {
                op = t.Value;
                Next();
            }
            else if (IsName("in"))
            {
                op = "in";
                Next();
            }
            else if (IsName("not") && PeekAt(1).Kind == TokenKind.Name && PeekAt(1).Value == "in")
            {
                op = "not in";
                Next();
                Next();
            }
            if (op is null)
            {
                return left;
            }
            left = new BinaryExpr(op, left, ParseMath1(), t.Line, t.Column);
        }
    }

    private Expr ParseMath1()
    {
        var left = ParseConcat();
        while (Peek.Kind == TokenKind.Op && Peek.Value is "+" or "-")
        {
            var t = Next();
            left = new BinaryExpr(t.Value, left, ParseConcat(), t.Line, t.Column);
        }
        return left;
    }

    private Expr ParseConcat()
    {
        var left = ParseMath2();
        while (IsOp("~"))
        {
            var t = Next();
            left = new BinaryExpr("~", left, ParseMath2(), t.Line, t.Column);
        }
        return left;
    }

    private Expr ParseMath2()
    {
        var left = ParsePow();
        while (Peek.Kind == TokenKind.Op && Peek.Value is "*" or "/" or "//" or "%")
        {
            var t = Next();
            left = new BinaryExpr(t.Value, left, ParsePow(), t.Line, t.Column);
        }
        return left;
    }

    private Expr ParsePow()
    {
        var left = ParseUnary(true);
        while (IsOp("**"))
        {
            var t = Next();
            left = new BinaryExpr("**", left, ParseUnary(true), t.Line, t.Column);
        }
        return left;
    }

    private Expr ParseUnary(bool withFilter)
    {
        var t = Peek;
        Expr node;
        if (t.Kind == TokenKind.Op && t.Value is "-" or "+")
        {
            Next();
            Enter(t);
            try
            {
                node = new UnaryExpr(t.Value, ParseUnary(false), t.Line, t.Column);
            }
            finally
            {
                _depth--;
            }
        }
        else
        {
            node = ParsePrimary();
        }
        node = ParsePostfix(node);
        return withFilter ? ParseFilterExpr(node) : node;
    }

    private Expr ParsePrimary()
    {
        var t = Next();
        switch (t.Kind)
        {
            case TokenKind.String:
                var s = t.Value;
                while (Peek.Kind == TokenKind.String)
                {
                    s += Next().Value; // adjacent literals concatenate, as in Python
                }
                return new LiteralExpr(s, t.Line, t.Column);
            case TokenKind.Integer:
                if (!long.TryParse(t.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var i))
                {
                    throw Error(t, $"integer literal {t.Value} is too large");
                }
                return new LiteralExpr(i, t.Line, t.Column);
            case TokenKind.Float:
                return new LiteralExpr(double.Parse(t.Value, CultureInfo.InvariantCulture), t.Line, t.Column);
            case TokenKind.Name:
                return t.Value switch
                {
                    "true" or "True" => new LiteralExpr(true, t.Line, t.Column),
                    "false" or "False" => new LiteralExpr(false, t.Line, t.Column),
                    "none" or "None" => new LiteralExpr(null, t.Line, t.Column),
                    _ => new NameExpr(t.Value, t.Line, t.Column),
                };
            case TokenKind.Op when t.Value == "(":
                Enter(t);
                try
                {
                    if (IsOp(")"))
                    {
                        Next();
                        return new ListExpr([], true, t.Line, t.Column);
                    }
                    var first = ParseExpression();
                    if (IsOp(","))
                    {
                        var items = new List<Expr> { first };
                        while (IsOp(","))
                        {
                            Next();
                            if (IsOp(")"))
                            {
                                break;
                            }
                            items.Add(ParseExpression());
                        }
                        Expect(TokenKind.Op, ")");
                        return new ListExpr(items, true, t.Line, t.Column);
                    }
                    Expect(TokenKind.Op, ")");
                    return first;
                }
                finally
                {
                    _depth--;
                }
            case TokenKind.Op when t.Value == "[":
                Enter(t);
                try
                {
                    var list = new List<Expr>();
                    while (!IsOp("]"))
                    {
                        list.Add(ParseExpression());
                        if (!IsOp(","))
                        {
                            break;
                        }
                        Next();
                    }
                    Expect(TokenKind.Op, "]");
                    return new ListExpr(list, false, t.Line, t.Column);
                }
                finally
                {
                    _depth--;
                }
            case TokenKind.Op when t.Value == "{":
                Enter(t);
                try
                {
                    var items = new List<(Expr, Expr)>();
                    while (!IsOp("}"))
                    {
                        var k = ParseExpression();
                        Expect(TokenKind.Op, ":");
                        items.Add((k, ParseExpression()));
                        if (!IsOp(","))
                        {
                            break;
                        }
                        Next();
                    }
                    Expect(TokenKind.Op, "}");
                    return new DictExpr(items, t.Line, t.Column);
                }
                finally
                {
                    _depth--;
                }
            default:
                throw Error(t, $"unexpected {Describe(t)} in an expression");
        }
    }

    private Expr ParsePostfix(Expr node)
    {
        while (true)
        {
            var t = Peek;
            if (IsOp("."))
            {
                Next();
                var name = Next();
                if (name.Kind == TokenKind.Name)
                {
                    node = new AttrExpr(node, name.Value, name.Line, name.Column);
                }
                else if (name.Kind == TokenKind.Integer)
                {
                    node = new IndexExpr(node, new LiteralExpr(long.Parse(name.Value, CultureInfo.InvariantCulture), name.Line, name.Column), name.Line, name.Column);
                }
                else
                {
                    throw Error(name, $"expected an attribute name after '.', found {Describe(name)}");
                }
            }
            else if (IsOp("["))
            {
                Next();
                Enter(t);
                try
                {
                    node = ParseSubscript(node, t);
                }
                finally
                {
                    _depth--;
                }
            }
            else if (IsOp("("))
            {
                node = ParseCall(node);
            }
            else
            {
                return node;
            }
        }
    }

    private Expr ParseSubscript(Expr target, Token t)
    {
        Expr? start = null;
        Expr? stop = null;
        Expr? step = null;
        if (!IsOp(":"))
        {
            start = ParseExpression();
            if (IsOp("]"))
            {
                Next();
                return new IndexExpr(target, start, t.Line, t.Column);
            }
        }
        Expect(TokenKind.Op, ":");
        if (!IsOp("]") && !IsOp(":"))
        {
            stop = ParseExpression();
        }
        if (IsOp(":"))
        {
            Next();
            if (!IsOp("]"))
            {
                step = ParseExpression();
            }
        }
        Expect(TokenKind.Op, "]");
        return new SliceExpr(target, start, stop, step, t.Line, t.Column);
    }

    private CallExpr ParseCall(Expr callee)
    {
        var t = Expect(TokenKind.Op, "(");
        Enter(t);
        try
        {
            var (args, kwargs) = ParseArgs();
            return new CallExpr(callee, args, kwargs, t.Line, t.Column);
        }
        finally
        {
            _depth--;
        }
    }

    /// <summary>Arguments after '(' up to and including ')'.</summary>
    private (List<Expr>, List<(string, Expr)>) ParseArgs()
    {
        var args = new List<Expr>();
        var kwargs = new List<(string, Expr)>();
        while (!IsOp(")"))
        {
            if (Peek.Kind == TokenKind.Name && PeekAt(1).Kind == TokenKind.Op && PeekAt(1).Value == "=")
            {
                var name = Next().Value;
                Next();
                kwargs.Add((name, ParseExpression()));
            }
            else
            {
                if (kwargs.Count > 0)
                {
                    throw Error(Peek, "a positional argument follows a keyword argument");
                }
                args.Add(ParseExpression());
            }
            if (!IsOp(","))
            {
                break;
            }
            Next();
        }
        Expect(TokenKind.Op, ")");
        return (args, kwargs);
    }

    private Expr ParseFilterExpr(Expr node)
    {
        while (true)
        {
            if (IsOp("|"))
            {
                Next();
                node = ParsePostfix(ParseFilter(node));
            }
            else if (IsName("is"))
            {
                var t = Next();
                var negated = false;
                if (IsName("not"))
                {
                    Next();
                    negated = true;
                }
                var nameTok = Expect(TokenKind.Name);
                var name = nameTok.Value;
                while (IsOp("."))
                {
                    Next();
                    name += "." + Expect(TokenKind.Name).Value;
                }
                var args = new List<Expr>();
                if (IsOp("("))
                {
                    Next();
                    Enter(t);
                    try
                    {
                        (args, _) = ParseArgs();
                    }
                    finally
                    {
                        _depth--;
                    }
                }
                else if (Peek.Kind is TokenKind.String or TokenKind.Integer or TokenKind.Float
                    || (Peek.Kind == TokenKind.Name && Peek.Value is not ("else" or "or" or "and" or "if" or "not" or "in" or "is"))
                    || IsOp("[") || IsOp("{"))
                {
                    args.Add(ParsePostfix(ParsePrimary()));
                }
                node = new TestExpr(node, name, args, negated, t.Line, t.Column);
            }
            else
            {
                return node;
            }
        }
    }

    private FilterExpr ParseFilter(Expr? target)
    {
        var nameTok = Expect(TokenKind.Name);
        var name = nameTok.Value;
        while (IsOp("."))
        {
            Next();
            name += "." + Expect(TokenKind.Name).Value;
        }
        var args = new List<Expr>();
        var kwargs = new List<(string, Expr)>();
        if (IsOp("("))
        {
            Next();
            Enter(nameTok);
            try
            {
                (args, kwargs) = ParseArgs();
            }
            finally
            {
                _depth--;
            }
        }
        return new FilterExpr(target, name, args, kwargs, nameTok.Line, nameTok.Column);
    }
}
