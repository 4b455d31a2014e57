#!/usr/bin/env python3
"""Small Jinja templates exercising one feature each, rendered by Python Jinja2 in transformers' environment
(see ../chat-templates/generate_goldens.py); JinjaSnippetTests compares Prova's renderer to snippets.golden.json.
Run from this folder: python3 generate_snippets.py"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "chat-templates"))
from generate_goldens import environment, TemplateError  # noqa: E402
import jinja2  # noqa: E402

VARS = {
    "messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": " Hi there "}, {"role": "assistant", "content": "Yo"}],
    "n": 7,
    "f": 2.5,
    "s": "Hello, World",
    "empty": "",
    "items": [3, 1, 2],
    "d": {"b": 1, "a": [1, 2], "c": {"x": None}},
}

SNIPPETS = [
    # output and literals
    "{{ 'a' }}{{ \"b\" }}{{ 1 }}{{ 1.0 }}{{ true }}{{ none }}{{ [1, 'x', none] }}{{ {'k': 'v'} }}{{ (1, 2) }}{{ (1,) }}",
    "{{ 1e20 }}|{{ 1.5e-7 }}|{{ 0.1 + 0.2 }}|{{ 1 / 3 }}|{{ 10 / 2 }}|{{ 2 ** 10 }}|{{ 2 ** -1 }}|{{ 1e16 }}|{{ 123456.789 }}",
    "{{ -7 // 2 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }} {{ 'ab' * 3 }} {{ 3 * [0] }}",
    "{{ 'a\\tb\\\\c\\'d\\\"e\\u00e9\\x41' }}",
    "{{ 'adjacent' 'strings' }}",
    # whitespace control, trim_blocks, lstrip_blocks
    "  {% if true %}\n  x\n  {% endif %}\n  y",
    "a  {%- if true -%}  b  {%- endif -%}  c",
    "a {{- ' b ' -}} c",
    "line\n    {%+ if true %}kept{% endif %}\n",
    "{# comment #}\n  {# indented comment #}\nafter",
    "{% for i in items %}\n{{ i }}\n{% endfor %}\n",
    "{% raw %}{{ not rendered }}{% endraw %}",
    # names, attributes, items
    "{{ messages[1].role }}|{{ messages[1]['content'] }}|{{ messages[-1].content }}|{{ d.c.x }}|{{ d['a'][1] }}",
    "{{ missing }}|{{ missing is defined }}|{{ d.nope is defined }}|{{ d.nope }}|{{ items[10] is defined }}",
    "{{ missing.attr }}",
    "{{ missing + 1 }}",
    "{{ 'x' in missing }}|{{ missing | length }}|{{ missing | default('dflt') }}|{{ '' | default('e', true) }}",
    "{% for x in missing %}never{% else %}empty{% endfor %}",
    # slicing
    "{{ items[1:] }}{{ items[:-1] }}{{ items[::-1] }}{{ s[7:] }}{{ s[::2] }}{{ s[-5:-1] }}{{ items[5:] }}",
    # comparisons and logic
    "{{ 1 == 1.0 }}{{ 'a' < 'b' }}{{ [1, 2] < [1, 3] }}{{ 1 != 2 }}{{ 2 in items }}{{ 'ell' in s }}{{ 'a' in d }}{{ 5 not in items }}",
    "{{ 'a' < 1 }}",
    "{{ none or 'x' }}|{{ 0 and 'y' }}|{{ not empty }}|{{ 'yes' if n > 5 else 'no' }}|{{ 'only' if false }}|",
    "{{ not 1 == 2 }}{{ -n }}{{ - f }}{{ +n }}",
    # filters
    "{{ s | upper }}|{{ s | lower }}|{{ s | length }}|{{ ' x ' | trim }}|{{ s | replace('l', 'L') }}|{{ 'ab cd' | title }}|{{ 'aB' | capitalize }}",
    "{{ items | first }}{{ items | last }}{{ items | sort }}{{ items | reverse | list }}{{ items | sum }}{{ items | min }}{{ items | max }}{{ items | join('-') }}",
    "{{ messages | map(attribute='role') | join(',') }}|{{ messages | selectattr('role', 'equalto', 'user') | list | length }}|{{ messages | rejectattr('role', 'eq', 'system') | map(attribute='content') | list }}",
    "{{ d | tojson }}|{{ d | tojson(indent=2) }}|{{ 'é\"\\n' | tojson }}|{{ [] | tojson }}|{{ {} | tojson(indent=2) }}|{{ 1.0 | tojson }}",
    "{{ d | items | list }}|{{ d | dictsort }}|{{ n | string }}|{{ '42' | int + 1 }}|{{ '2.5' | float }}|{{ 3.7 | int }}|{{ -3 | abs }}|{{ 2.567 | round(1) }}",
    "{{ [1, 2, 2, 3, 1] | unique | list }}|{{ ['b', 'a'] | sort(reverse=true) }}|{{ items | map('string') | join }}|{{ [0, 1, '', 'a'] | select | list }}",
    "{{ 'a\\nb' | indent(2) }}|{{ 'a\\nb' | indent(2, true) }}|{{ 'one two  three' | wordcount }}|{{ [1,2,3,4,5] | batch(2) | list }}",
    "{{ s | nosuchfilter }}",
    # tests
    "{{ s is string }}{{ n is number }}{{ f is float }}{{ n is integer }}{{ true is boolean }}{{ d is mapping }}{{ items is iterable }}{{ none is none }}{{ n is odd }}{{ n is even }}{{ 9 is divisibleby 3 }}{{ n is not none }}",
    "{{ n is gt 3 }}{{ n is lessthan 3 }}{{ 'a' is in 'abc' }}{{ s is lower }}{{ 'ABC' is upper }}{{ n is sameas 7 }}{{ none is sameas none }}",
    "{{ n is nosuchtest }}",
    # string methods
    "{{ s.split(', ') }}|{{ ' a  b '.split() }}|{{ 'a,b,c'.split(',', 1) }}|{{ s.startswith('Hell') }}|{{ s.endswith(('x', 'World')) }}|{{ '  pad '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ '\\n\\nz'.lstrip('\\n') }}",
    "{{ s.upper() }}|{{ s.lower() }}|{{ s.replace('o', '0', 1) }}|{{ s.find('o') }}|{{ s.count('l') }}|{{ '-'.join(['a', 'b']) }}|{{ 'hello world'.title() }}",
    "{{ d.items() | list }}|{{ d.keys() | list }}|{{ d.get('b') }}|{{ d.get('zz', 'dflt') }}|{{ d.values() | list | length }}",
    # loops
    "{% for m in messages %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex }}{{ loop.revindex0 }};{% endfor %}",
    "{% for m in messages if m.role != 'system' %}{{ loop.index }}:{{ m.role }}{% if not loop.last %},{% endif %}{% endfor %}",
    "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}",
    "{% for i in range(5) %}{% if i == 1 %}{% continue %}{% endif %}{% if i == 3 %}{% break %}{% endif %}{{ i }}{% endfor %}",
    "{% for i in range(1, 10, 3) %}{{ i }}{% endfor %}{% for i in range(3, 0, -1) %}{{ i }}{% endfor %}",
    "{% for c in 'abc' %}{{ c }}.{% endfor %}{% for k in d %}{{ k }}{% endfor %}",
    "{% for i in items %}{{ loop.previtem }}>{{ i }}<{{ loop.nextitem }} {% endfor %}",
    "{% for i in items %}{{ loop.cycle('odd', 'even') }}{% endfor %}",
    # scoping
    "{% set x = 1 %}{% for i in [1, 2] %}{{ x }}{% set x = x + 10 %}{{ x }};{% endfor %}{{ x }}",
    "{% if true %}{% set y = 3 %}{% endif %}{{ y }}",
    "{% set ns = namespace(total=0, seen=false) %}{% for i in items %}{% set ns.total = ns.total + i %}{% endfor %}{{ ns.total }}{{ ns.seen }}",
    "{% set a, b = [1, 2] %}{{ a }}{{ b }}{% set t = 'x', 'y' %}{{ t }}",
    "{% set block %}inner {{ n }}{% endset %}[{{ block }}]",
    # macros
    "{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('Ann') }} {{ greet('Bob', '?') }} {{ greet(name='Cy', punct='.') }}",
    "{% macro fact(k) %}{% if k <= 1 %}1{% else %}{{ k * fact(k - 1) | int }}{% endif %}{% endmacro %}{{ fact(5) }}",
    # filter blocks and misc
    "{% filter upper %}shout {{ s }}{% endfilter %}",
    "{{ raise_exception('custom failure') }}",
    "{{ strftime_now('%Y-%m-%d %H:%M %b %B %a %A %d') }}",
    "{{ dict(a=1, b='x') }}|{{ range(3) | list }}",
    # errors the template author would see
    "{% if true %}unclosed",
    "{{ 1 + }}",
    "{% for %}{% endfor %}",
    "{% unknowntag %}",
    "{{ 'unterminated }}",
    "{% endif %}",
    "{{ items.append(4) }}",
    "{{ 1 / 0 }}",
    "{{ (1 }}",
]


def main():
    env = environment()
    cases = []
    for src in SNIPPETS:
        case = {"template": src}
        try:
            case["expected"] = env.from_string(src).render(**VARS)
        except TemplateError as e:
            case["error"] = str(e)
        except jinja2.exceptions.TemplateSyntaxError as e:
            case["syntax_error"] = f"line {e.lineno}: {e.message}"
        except Exception as e:  # noqa: BLE001 - the golden records that Python fails, whatever the type
            case["error"] = f"{type(e).__name__}: {e}"
        cases.append(case)
    with open("snippets.golden.json", "w", encoding="utf-8") as f:
        json.dump({"generator": f"generate_snippets.py with jinja2 {jinja2.__version__}", "variables": VARS, "cases": cases}, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(len(cases), "snippets,", sum("expected" not in c for c in cases), "errors")


if __name__ == "__main__":
    main()
