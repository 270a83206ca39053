"""pipeline.yml as a GitHub runner reads it: the parsed file, the agreed action pins, ``${{ }}``
expressions and the ``GITHUB_OUTPUT`` format; shared by the workflow's static and run tests.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = REPO / ".github" / "workflows"
PIPELINE = YAML(typ="safe").load((WORKFLOWS / "pipeline.yml").read_text())
PINS = {  # /work/shared/PROVIDERS.md
    "actions/checkout": ("3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "actions/setup-python": ("5fda3b95a4ea91299a34e894583c3862153e4b97", "v7.0.0"),
    "actions/cache": ("27d5ce7f107fe9357f9df03efb73ab90386fccae", "v5.0.5"),
    "actions/upload-artifact": ("bbbca2ddaa5d8feaa63e36b76fdaad77386f024f", "v7.0.0"),
    "actions/download-artifact": ("3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c", "v8.0.1"),
}

# ---------------------------------------------------------------- expressions

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<op>==|!=|&&|\|\||[!()])"
    r"|(?P<name>[A-Za-z_][\w.-]*(?:\(\))?))"
)
FALSY = ("", 0, False, None)


def evaluate(expr: str, ctx: dict[str, Any]) -> Any:
    """A GitHub expression: literals, context paths, == != ! && || and the status functions."""
    tokens, pos, text = [], 0, expr.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        assert match, f"cannot parse {text[pos:]!r} in {expr!r}"
        tokens.append((match.lastgroup, match[match.lastgroup]))
        pos = match.end()
    tokens.append(("end", ""))
    value, rest = _or(tokens, ctx)
    assert rest[0][0] == "end", f"trailing {rest} in {expr!r}"
    return value


def _or(t: list, ctx: dict) -> tuple[Any, list]:
    value, t = _and(t, ctx)
    while t[0] == ("op", "||"):
        right, t = _and(t[1:], ctx)
        value = value if value not in FALSY else right
    return value, t


def _and(t: list, ctx: dict) -> tuple[Any, list]:
    value, t = _cmp(t, ctx)
    while t[0] == ("op", "&&"):
        right, t = _cmp(t[1:], ctx)
        value = right if value not in FALSY else value
    return value, t


def _cmp(t: list, ctx: dict) -> tuple[Any, list]:
    value, t = _unary(t, ctx)
    if t[0] in (("op", "=="), ("op", "!=")):
        right, rest = _unary(t[1:], ctx)
        same = str(render(value)).lower() == str(render(right)).lower()
        return same == (t[0][1] == "=="), rest
    return value, t


def _unary(t: list, ctx: dict) -> tuple[Any, list]:
    kind, text = t[0]
    if (kind, text) == ("op", "!"):
        value, rest = _unary(t[1:], ctx)
        return value in FALSY, rest
    if (kind, text) == ("op", "("):
        value, rest = _or(t[1:], ctx)
        assert rest[0] == ("op", ")")
        return value, rest[1:]
    if kind == "str":
        return text[1:-1].replace("''", "'"), t[1:]
    if kind == "num":
        return float(text) if "." in text else int(text), t[1:]
    if text in ("true", "false", "null"):
        return {"true": True, "false": False, "null": None}[text], t[1:]
    if text.endswith("()"):
        return ctx["functions"][text[:-2]](), t[1:]
    value: Any = ctx
    for part in text.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value, t[1:]


def render(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def interpolate(value: Any, ctx: dict[str, Any]) -> str:
    text = str(value) if not isinstance(value, bool) else render(value)
    return re.sub(r"\$\{\{(.*?)\}\}", lambda m: render(evaluate(m[1], ctx)), text)


def condition(value: Any, ctx: dict[str, Any]) -> bool:
    if value is None:
        return ctx["functions"]["success"]()
    text = str(value).strip()
    inner = re.fullmatch(r"\$\{\{(.*)\}\}", text, re.S)
    return evaluate(inner[1] if inner else text, ctx) not in FALSY


def _status_functions(ok: Any) -> dict[str, Any]:
    return {"success": ok, "failure": lambda: not ok(), "always": lambda: True,
            "cancelled": lambda: False}  # fmt: skip


def parse_outputs(path: Path) -> dict[str, str]:
    """``name=value`` and ``name<<DELIMITER`` … ``DELIMITER`` lines, as the runner reads them."""
    outputs, lines = {}, iter(path.read_text().splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            outputs[name] = "\n".join(iter(lines.__next__, delimiter))
        elif line:
            name, value = line.split("=", 1)
            outputs[name] = value
    return outputs
