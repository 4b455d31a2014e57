using System.Text;

namespace Prova.Lm.Text.Jinja;

internal enum TokenKind
{
    Text,
    VarStart,
    VarEnd,
    BlockStart,
    BlockEnd,
    Name,
    String,
    Integer,
    Float,
    Op,
    End,
}

internal readonly record struct Token(TokenKind Kind, string Value, int Line, int Column);

/// <summary>
/// Splits a Jinja template into text and tag tokens with the whitespace rules transformers renders chat templates with:
/// <c>trim_blocks</c> (the newline after a block tag or comment is dropped), <c>lstrip_blocks</c> (spaces and tabs
/// before a block tag or comment at the start of a line are dropped), and the <c>-</c> / <c>+</c> modifiers.
/// </summary>
internal sealed class JinjaLexer
{
    private readonly string _src;
    private readonly List<Token> _tokens = [];
    private int _pos;

    private readonly List<int> _lineStarts = [0];

    private JinjaLexer(string src)
    {
        _src = src;
        for (var i = 0; i < src.Length; i++)
        {
            if (src[i] == '\n')
            {
                _lineStarts.Add(i + 1);
            }
        }
    }

    public static List<Token> Tokenize(string src)
    {
        var lexer = new JinjaLexer(src);
        lexer.Run();
        return lexer._tokens;
    }

    private (int Line, int Column) Where(int pos)
    {
        pos = Math.Clamp(pos, 0, _src.Length);
        var idx = _lineStarts.BinarySearch(pos);
        var line = idx >= 0 ? idx : ~idx - 1;
        return (line + 1, pos - _lineStarts[line] + 1);
    }

    private LmException Error(int pos, string message)
    {
        var (line, col) = Where(pos);
        return new LmException($"chat template line {line}, column {col}: {message}");
    }

    private void Run()
    {
        var text = new StringBuilder();
        var textStart = 0;
        var stripNextText = false; // after '-%}' / '-}}': drop leading whitespace of the next text
        var trimNewline = false; // trim_blocks: after '%}' / '#}' drop one newline
        while (_pos < _src.Length)
        {
            var open = FindTagOpen(_pos);
            var chunk = open < 0 ? _src[_pos..] : _src[_pos..open];
            if (trimNewline)
            {
                if (chunk.StartsWith("\r\n", StringComparison.Ordinal))
                {
                    chunk = chunk[2..];
                }
                else if (chunk.StartsWith('\n'))
                {
                    chunk = chunk[1..];
                }
                trimNewline = false;
            }
            if (stripNextText)
            {
                chunk = chunk.TrimStart();
                stripNextText = false;
            }
            if (open < 0)
            {
                AddText(chunk, textStart);
                _pos = _src.Length;
                break;
            }

            var kind = _src[open + 1];
            var modifier = open + 2 < _src.Length ? _src[open + 2] : '\0';
            if (modifier == '-')
            {
                chunk = chunk.TrimEnd();
            }
            else if (kind != '{' && modifier != '+')
            {
                // lstrip_blocks: drop spaces/tabs between the line start and a block tag or comment.
                var lineStart = chunk.LastIndexOf('\n') + 1;
                var tail = chunk.AsSpan(lineStart);
                if (tail.IndexOfAnyExcept(' ', '\t') < 0 && (lineStart > 0 || open - chunk.Length == 0 || IsLineStartBefore(open - chunk.Length)))
                {
                    chunk = chunk[..lineStart];
                }
            }
            AddText(chunk, textStart);
            _pos = open + 2 + (modifier is '-' or '+' ? 1 : 0);

            if (kind == '#')
            {
                var close = _src.IndexOf("#}", _pos, StringComparison.Ordinal);
                if (close < 0)
                {
                    throw Error(open, "comment '{#' is never closed with '#}'");
                }
                stripNextText = close > _pos && _src[close - 1] == '-';
                trimNewline = !stripNextText;
                _pos = close + 2;
                textStart = _pos;
                continue;
            }

            var isBlock = kind == '%';
            if (isBlock && TryRaw(open, out var rawText, out var afterRaw, out var rawStrip))
            {
                AddText(rawText, _pos);
                _pos = afterRaw;
                stripNextText = rawStrip;
                trimNewline = !rawStrip;
                textStart = _pos;
                continue;
            }
            var (l, c) = Where(open);
            _tokens.Add(new Token(isBlock ? TokenKind.BlockStart : TokenKind.VarStart, "", l, c));
            var closedStrip = LexCode(isBlock, open);
            stripNextText = closedStrip;
            trimNewline = isBlock && !closedStrip;
            textStart = _pos;
        }
        var (el, ec) = Where(_src.Length);
        _tokens.Add(new Token(TokenKind.End, "", el, ec));
    }

    private bool IsLineStartBefore(int pos) => pos == 0 || _src[pos - 1] == '\n';

    private void AddText(string text, int start)
    {
        if (text.Length == 0)
        {
            return;
        }
        var (l, c) = Where(start);
        _tokens.Add(new Token(TokenKind.Text, text, l, c));
    }

    private int FindTagOpen(int from)
    {
        var i = from;
        while (true)
        {
            i = _src.IndexOf('{', i);
            if (i < 0 || i + 1 >= _src.Length)
            {
                return -1;
            }
            if (_src[i + 1] is '{' or '%' or '#')
            {
                return i;
            }
            i++;
        }
    }

    /// <summary>Handles <c>{% raw %}...{% endraw %}</c>, whose body is text.</summary>
    private bool TryRaw(int open, out string text, out int after, out bool stripAfter)
    {
        text = "";
        after = 0;
        stripAfter = false;
        var p = _pos;
        while (p < _src.Length && char.IsWhiteSpace(_src[p]))
        {
            p++;
        }
        if (string.CompareOrdinal(_src, p, "raw", 0, 3) != 0)
        {
            return false;
        }
        p += 3;
        while (p < _src.Length && char.IsWhiteSpace(_src[p]))
        {
            p++;
        }
        if (p < _src.Length && _src[p] == '-')
        {
            p++;
        }
        if (string.CompareOrdinal(_src, p, "%}", 0, 2) != 0)
        {
            return false;
        }
        var bodyStart = p + 2;
        var search = bodyStart;
        while (true)
        {
            var tag = _src.IndexOf("{%", search, StringComparison.Ordinal);
            if (tag < 0)
            {
                throw Error(open, "'raw' block is never closed with 'endraw'");
            }
            var q = tag + 2;
            if (q < _src.Length && _src[q] is '-' or '+')
            {
                q++;
            }
            while (q < _src.Length && char.IsWhiteSpace(_src[q]))
            {
                q++;
            }
            if (string.CompareOrdinal(_src, q, "endraw", 0, 6) == 0)
            {
                q += 6;
                while (q < _src.Length && char.IsWhiteSpace(_src[q]))
                {
                    q++;
                }
                if (q < _src.Length && _src[q] == '-')
                {
                    stripAfter = true;
                    q++;
                }
                if (string.CompareOrdinal(_src, q, "%}", 0, 2) != 0)
                {
                    throw Error(tag, "malformed 'endraw' tag");
                }
                text = _src[bodyStart..tag];
                if (tag + 2 < _src.Length && _src[tag + 2] == '-')
                {
                    text = text.TrimEnd();
                }
                after = q + 2;
                return true;
            }
            search = tag + 2;
        }
    }

    /// <summary>Lexes the inside of a tag up to its closing delimiter; returns whether it closed with '-'.</summary>
    private bool LexCode(bool isBlock, int open)
    {
        var close = isBlock ? '%' : '}';
        var depth = 0;
        while (true)
        {
            if (_pos >= _src.Length)
            {
                throw Error(open, isBlock ? "tag '{%' is never closed with '%}'" : "'{{' is never closed with '}}'");
            }
            var ch = _src[_pos];
            if (char.IsWhiteSpace(ch))
            {
                _pos++;
                continue;
            }
            var (l, c) = Where(_pos);
            if (depth == 0 && ch == '-' && _pos + 2 < _src.Length && _src[_pos + 1] == close && _src[_pos + 2] == '}')
            {
                _tokens.Add(new Token(isBlock ? TokenKind.BlockEnd : TokenKind.VarEnd, "", l, c));
                _pos += 3;
                return true;
            }
            if (depth == 0 && ch == close && _pos + 1 < _src.Length && _src[_pos + 1] == '}')
            {
                _tokens.Add(new Token(isBlock ? TokenKind.BlockEnd : TokenKind.VarEnd, "", l, c));
                _pos += 2;
                return false;
            }
            if (ch is '\'' or '"')
            {
                _tokens.Add(new Token(TokenKind.String, LexString(ch), l, c));
                continue;
            }
            if (char.IsAsciiDigit(ch))
            {
                var start = _pos;
                while (_pos < _src.Length && (char.IsAsciiDigit(_src[_pos]) || _src[_pos] == '_'))
                {
                    _pos++;
                }
                var isFloat = false;
                if (_pos + 1 < _src.Length && _src[_pos] == '.' && char.IsAsciiDigit(_src[_pos + 1]))
                {
                    isFloat = true;
                    _pos++;
                    while (_pos < _src.Length && char.IsAsciiDigit(_src[_pos]))
                    {
                        _pos++;
                    }
                }
                if (_pos < _src.Length && _src[_pos] is 'e' or 'E')
                {
                    var save = _pos;
                    _pos++;
                    if (_pos < _src.Length && _src[_pos] is '+' or '-')
                    {
                        _pos++;
                    }
                    if (_pos < _src.Length && char.IsAsciiDigit(_src[_pos]))
                    {
                        isFloat = true;
                        while (_pos < _src.Length && char.IsAsciiDigit(_src[_pos]))
                        {
                            _pos++;
                        }
                    }
                    else
                    {
                        _pos = save;
                    }
                }
                _tokens.Add(new Token(isFloat ? TokenKind.Float : TokenKind.Integer, _src[start.._pos].Replace("_", ""), l, c));
                continue;
            }
            if (char.IsLetter(ch) || ch == '_')
            {
                var start = _pos;
                while (_pos < _src.Length && (char.IsLetterOrDigit(_src[_pos]) || _src[_pos] == '_'))
                {
                    _pos++;
                }
                _tokens.Add(new Token(TokenKind.Name, _src[start.._pos], l, c));
                continue;
            }
            var op = MatchOp();
            if (op is null)
            {
                throw Error(_pos, $"unexpected character '{ch}'");
            }
            if (op is "(" or "[" or "{")
            {
                depth++;
            }
            else if (op is ")" or "]" or "}")
            {
                depth = Math.Max(0, depth - 1);
            }
            _tokens.Add(new Token(TokenKind.Op, op, l, c));
            _pos += op.Length;
        }
    }

    private static readonly string[] s_ops =
    [
        "//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "=", "(", ")", "[", "]", "{", "}", ",", ".", ":", "|",
    ];

    private string? MatchOp()
    {
        foreach (var op in s_ops)
        {
            if (string.CompareOrdinal(_src, _pos, op, 0, op.Length) == 0)
            {
                return op;
            }
        }
        return null;
    }

    private string LexString(char quote)
    {
        var start = _pos;
        _pos++;
        var sb = new StringBuilder();
        while (true)
        {
            if (_pos >= _src.Length)
            {
                throw Error(start, "string literal is never closed");
            }
            var ch = _src[_pos++];
            if (ch == quote)
            {
                return sb.ToString();
            }
            if (ch != '\\')
            {
                sb.Append(ch);
                continue;
            }
            if (_pos >= _src.Length)
            {
                throw Error(start, "string literal is never closed");
            }
            var e = _src[_pos++];
            switch (e)
            {
                case 'n': sb.Append('\n'); break;
                case 't': sb.Append('\t'); break;
                case 'r': sb.Append('\r'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'v': sb.Append('\v'); break;
                case 'a': sb.Append('\a'); break;
                case '0': sb.Append('\0'); break;
                case '\\': sb.Append('\\'); break;
                case '\'': sb.Append('\''); break;
                case '"': sb.Append('"'); break;
                case '\n': break;
                case 'x': sb.Append(Hex(2, start)); break;
                case 'u': sb.Append(Hex(4, start)); break;
                case 'U': sb.Append(Hex(8, start)); break;
                default:
                    sb.Append('\\').Append(e);
                    break;
            }
        }
    }

    private string Hex(int digits, int start)
    {
        if (_pos + digits > _src.Length || !int.TryParse(_src.AsSpan(_pos, digits), System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture, out var code)
            || code < 0 || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF))
        {
            throw Error(start, $"bad \\{(digits == 2 ? 'x' : digits == 4 ? 'u' : 'U')} escape in a string literal");
        }
        _pos += digits;
        return char.ConvertFromUtf32(code);
    }
}
