using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace Prova.Evm.Generators;

/// <summary>
/// A small JSON reader (objects → Dictionary, arrays → List, strings, numbers as double, bools, null):
/// generators run inside the compiler on netstandard2.0, where System.Text.Json is not available.
/// </summary>
internal sealed class MiniJson
{
    private readonly string _text;
    private int _position;

    private MiniJson(string text)
    {
        _text = text;
    }

    public static object? Parse(string text)
    {
        var reader = new MiniJson(text);
        reader.SkipWhitespace();
        object? value = reader.ReadValue(0);
        reader.SkipWhitespace();
        if (reader._position != text.Length)
        {
            throw reader.Error("trailing characters");
        }
        return value;
    }

    private object? ReadValue(int depth)
    {
        if (depth > 64)
        {
            throw Error("nesting too deep");
        }
        if (_position >= _text.Length)
        {
            throw Error("unexpected end");
        }
        char c = _text[_position];
        switch (c)
        {
            case '{':
                {
                    _position++;
                    var result = new Dictionary<string, object?>(StringComparer.Ordinal);
                    SkipWhitespace();
                    if (Peek() == '}')
                    {
                        _position++;
                        return result;
                    }
                    while (true)
                    {
                        SkipWhitespace();
                        string key = ReadString();
                        SkipWhitespace();
                        Expect(':');
                        SkipWhitespace();
                        result[key] = ReadValue(depth + 1);
                        SkipWhitespace();
                        if (Peek() == ',')
                        {
                            _position++;
                            continue;
                        }
                        Expect('}');
                        return result;
                    }
                }
            case '[':
                {
                    _position++;
                    var result = new List<object?>();
                    SkipWhitespace();
                    if (Peek() == ']')
                    {
                        _position++;
                        return result;
                    }
                    while (true)
                    {
                        SkipWhitespace();
                        result.Add(ReadValue(depth + 1));
                        SkipWhitespace();
                        if (Peek() == ',')
                        {
                            _position++;
                            continue;
                        }
                        Expect(']');
                        return result;
                    }
                }
            case '"':
                return ReadString();
            case 't':
                ExpectWord("true");
                return true;
            case 'f':
                ExpectWord("false");
                return false;
            case 'n':
                ExpectWord("null");
                return null;
            default:
                {
                    int start = _position;
                    while (_position < _text.Length && "+-0123456789.eE".IndexOf(_text[_position]) >= 0)
                    {
                        _position++;
                    }
                    if (start == _position || !double.TryParse(_text.Substring(start, _position - start), NumberStyles.Float, CultureInfo.InvariantCulture, out double number))
                    {
                        throw Error("unexpected character");
                    }
                    return number;
                }
        }
    }

    private string ReadString()
    {
        Expect('"');
        var builder = new StringBuilder();
        while (true)
        {
            if (_position >= _text.Length)
            {
                throw Error("unterminated string");
            }
            char c = _text[_position++];
            if (c == '"')
            {
                return builder.ToString();
            }
            if (c != '\\')
            {
                builder.Append(c);
                continue;
            }
            if (_position >= _text.Length)
            {
                throw Error("unterminated escape");
            }
            char e = _text[_position++];
            switch (e)
            {
                case 'n': builder.Append('\n'); break;
                case 't': builder.Append('\t'); break;
                case 'r': builder.Append('\r'); break;
                case 'b': builder.Append('\b'); break;
                case 'f': builder.Append('\f'); break;
                case 'u':
                    if (_position + 4 > _text.Length)
                    {
                        throw Error("bad \\u escape");
                    }
                    builder.Append((char)int.Parse(_text.Substring(_position, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                    _position += 4;
                    break;
                default: builder.Append(e); break;
            }
        }
    }

    private char Peek() => _position < _text.Length ? _text[_position] : '\0';

    private void Expect(char c)
    {
        if (Peek() != c)
        {
            throw Error($"expected '{c}'");
        }
        _position++;
    }

    private void ExpectWord(string word)
    {
        if (string.CompareOrdinal(_text, _position, word, 0, word.Length) != 0)
        {
            throw Error("unexpected word");
        }
        _position += word.Length;
    }

    private void SkipWhitespace()
    {
        while (_position < _text.Length && char.IsWhiteSpace(_text[_position]))
        {
            _position++;
        }
    }

    private FormatException Error(string what) => new($"invalid JSON at offset {_position}: {what}");
}
