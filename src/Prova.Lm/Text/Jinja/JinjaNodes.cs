namespace Prova.Lm.Text.Jinja;

internal abstract record Node(int Line, int Column);

// Statements
internal sealed record TextNode(string Text, int Line, int Column) : Node(Line, Column);

internal sealed record OutputNode(Expr Value, int Line, int Column) : Node(Line, Column);

internal sealed record IfNode(List<(Expr Test, List<Node> Body)> Branches, List<Node>? Else, int Line, int Column) : Node(Line, Column);

internal sealed record ForNode(List<string> Targets, Expr Iterable, Expr? Filter, List<Node> Body, List<Node>? Else, int Line, int Column) : Node(Line, Column);

internal sealed record SetNode(Expr Target, Expr? Value, List<Node>? Body, int Line, int Column) : Node(Line, Column);

internal sealed record MacroNode(string Name, List<(string Name, Expr? Default)> Params, List<Node> Body, int Line, int Column) : Node(Line, Column);

internal sealed record FilterBlockNode(FilterExpr Filter, List<Node> Body, int Line, int Column) : Node(Line, Column);

internal sealed record BlockNode(List<Node> Body, int Line, int Column) : Node(Line, Column);

internal sealed record BreakNode(int Line, int Column) : Node(Line, Column);

internal sealed record ContinueNode(int Line, int Column) : Node(Line, Column);

// Expressions
internal abstract record Expr(int Line, int Column) : Node(Line, Column);

internal sealed record LiteralExpr(object? Value, int Line, int Column) : Expr(Line, Column);

internal sealed record NameExpr(string Name, int Line, int Column) : Expr(Line, Column);

internal sealed record ListExpr(List<Expr> Items, bool IsTuple, int Line, int Column) : Expr(Line, Column);

internal sealed record DictExpr(List<(Expr Key, Expr Value)> Items, int Line, int Column) : Expr(Line, Column);

internal sealed record AttrExpr(Expr Target, string Name, int Line, int Column) : Expr(Line, Column);

internal sealed record IndexExpr(Expr Target, Expr Index, int Line, int Column) : Expr(Line, Column);

internal sealed record SliceExpr(Expr Target, Expr? Start, Expr? Stop, Expr? Step, int Line, int Column) : Expr(Line, Column);

internal sealed record CallExpr(Expr Callee, List<Expr> Args, List<(string Name, Expr Value)> Kwargs, int Line, int Column) : Expr(Line, Column);

internal sealed record FilterExpr(Expr? Target, string Name, List<Expr> Args, List<(string Name, Expr Value)> Kwargs, int Line, int Column) : Expr(Line, Column);

internal sealed record TestExpr(Expr Target, string Name, List<Expr> Args, bool Negated, int Line, int Column) : Expr(Line, Column);

internal sealed record UnaryExpr(string Op, Expr Operand, int Line, int Column) : Expr(Line, Column);

internal sealed record BinaryExpr(string Op, Expr Left, Expr Right, int Line, int Column) : Expr(Line, Column);

internal sealed record CondExpr(Expr Test, Expr Then, Expr? Else, int Line, int Column) : Expr(Line, Column);
