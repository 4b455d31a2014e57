#!/usr/bin/env python3
"""Renders every *.jinja chat template here with Python Jinja2 the way transformers' apply_chat_template does
(ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols, its tojson/raise_exception/strftime_now)
and writes <name>.golden.json. ChatTemplateGoldenTests compares Prova's renderer to these files.

Run from this folder: python3 generate_goldens.py   (jinja2 3.1.x)
Template sources are listed in SOURCES.md.
"""
import json
import glob
import os
from datetime import datetime

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

FIXED_NOW = datetime(2026, 12, 7, 9, 30, 0)

TOKENS = {
    "smollm2": ("<|im_start|>", "<|im_end|>"),
    "smollm3": ("<|im_start|>", "<|im_end|>"),
    "qwen2.5": (None, "<|im_end|>"),
    "qwen3": (None, "<|im_end|>"),
    "zephyr": ("<s>", "</s>"),
    "llama-2": ("<s>", "</s>"),
    "llama-3": ("<|begin_of_text|>", "<|eot_id|>"),
    "llama-3.1": ("<|begin_of_text|>", "<|eot_id|>"),
    "phi-3-mini": ("<s>", "<|endoftext|>"),
    "phi-3.5-mini": ("<s>", "<|endoftext|>"),
    "mistral-v0.1": ("<s>", "</s>"),
    "mistral-v0.2": ("<s>", "</s>"),
    "mixtral": ("<s>", "</s>"),
    "mistral-nemo": ("<s>", "</s>"),
    "gemma": ("<bos>", "<eos>"),
    "gemma-3": ("<bos>", "<eos>"),
    "deepseek-v3": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    "deepseek-r1": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
}

TOOLS = [{
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city, in °C.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "City name, e.g. \"Paris\""}, "days": {"type": "integer"}},
            "required": ["city"],
        },
    },
}]

CONVERSATIONS = {
    "user": [{"role": "user", "content": "Hello, how are you?"}],
    "system_user": [
        {"role": "system", "content": "You are a terse assistant."},
        {"role": "user", "content": "What is 2+2?"},
    ],
    "multi_turn": [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello! How can I help?"},
        {"role": "user", "content": "Tell me a joke."},
    ],
    "system_multi_turn": [
        {"role": "system", "content": "You are a pirate."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Ahoy!"},
        {"role": "user", "content": "Where is the treasure?"},
    ],
    "tricky_content": [
        {"role": "user", "content": "  spaces around  \n{{ not a tag }} {% neither %} 'single' \"double\" émoji 😀 中文\n"},
        {"role": "assistant", "content": "   I am an assistant   "},
        {"role": "user", "content": "Another question</think>"},
    ],
    "assistant_first": [
        {"role": "assistant", "content": "I speak first."},
        {"role": "user", "content": "ok"},
    ],
}

WITH_TOOLS = {"qwen2.5", "qwen3", "llama-3.1", "smollm3", "mistral-nemo"}


class TemplateError(Exception):
    pass


def raise_exception(message):
    raise TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(fmt):
    return FIXED_NOW.strftime(fmt)


class AssistantTracker(Extension):
    # transformers' {% generation %} block; it only marks assistant text, the rendering passes through.
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_generation_support"), [], [], body).set_lineno(lineno)

    def _generation_support(self, caller):
        return caller()


def environment():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[AssistantTracker, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def render(template, messages, add_generation_prompt, bos, eos, tools):
    kwargs = {}
    if bos is not None:
        kwargs["bos_token"] = bos
    if eos is not None:
        kwargs["eos_token"] = eos
    try:
        text = template.render(messages=messages, tools=tools, documents=None, add_generation_prompt=add_generation_prompt, **kwargs)
        return {"expected": text}
    except TemplateError as e:
        return {"error": str(e)}
    except jinja2.exceptions.TemplateError as e:
        return {"error": str(e)}


def main():
    env = environment()
    for path in sorted(glob.glob("*.jinja")):
        name = os.path.basename(path)[:-len(".jinja")]
        source = open(path, encoding="utf-8").read()
        template = env.from_string(source)
        bos, eos = TOKENS[name]
        cases = []
        for conv_name, messages in CONVERSATIONS.items():
            for agp in (True, False):
                case = {"conversation": conv_name, "add_generation_prompt": agp, "tools": False}
                case.update(render(template, messages, agp, bos, eos, None))
                cases.append(case)
        if name in WITH_TOOLS:
            case = {"conversation": "system_user", "add_generation_prompt": True, "tools": True}
            case.update(render(template, CONVERSATIONS["system_user"], True, bos, eos, TOOLS))
            cases.append(case)
        out = {
            "generator": f"generate_goldens.py with jinja2 {jinja2.__version__} (transformers' sandboxed environment)",
            "bos_token": bos,
            "eos_token": eos,
            "now": FIXED_NOW.isoformat(),
            "conversations": CONVERSATIONS,
            "tools": TOOLS,
            "cases": cases,
        }
        with open(f"{name}.golden.json", "w", encoding="utf-8") as f:
            json.dump(out, f, ensure_ascii=False, indent=1)
            f.write("\n")
        print(name, sum("error" in c for c in cases), "errors of", len(cases))


if __name__ == "__main__":
    main()
