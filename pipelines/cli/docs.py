"""The README's settings reference, generated from the declarations so it cannot drift.

``python -m pipelines.cli.docs`` rewrites the block between the ``settings`` markers
in README.md; a test fails when the README is out of date.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

from pipelines.config import PIPELINE_OPTIONS
from providers.base import Option, Provider
from providers.registry import load_providers

START, END = "<!-- settings:start -->", "<!-- settings:end -->"


def _options_table(prefix: str, options: tuple[Option, ...]) -> list[str]:
    lines = [f"| `{prefix}` key | type | default | allowed | meaning |", "|---|---|---|---|---|"]
    lines += [
        f"| `{o.name}` | {o.type.__name__} | `{o.default!r}` | {o.allowed()} | {o.description} |"
        for o in options
    ]
    return lines


def settings_markdown(providers: Mapping[str, Provider]) -> str:
    """Markdown tables of every environment setting and pipeline.toml option."""
    lines = ["#### Pipeline (`pipeline.toml`)", "", *_options_table("[pipeline]", PIPELINE_OPTIONS)]
    for provider in providers.values():
        lines += ["", f"#### {provider.title} (`{provider.name}`)", ""]
        lines += ["| environment variable | secret | required | default | meaning |"]
        lines += ["|---|---|---|---|---|"]
        for s in provider.settings:
            secret = "yes" if s.secret else "no"
            required = "yes" if s.required and s.default is None else "no"
            default = f"`{s.default}`" if s.default else ""
            lines.append(f"| `{s.env}` | {secret} | {required} | {default} | {s.description} |")
        if provider.options:
            lines += ["", *_options_table(f"[providers.{provider.name}]", provider.options)]
    return "\n".join(lines)


def render_readme(readme: str, providers: Mapping[str, Provider]) -> str:
    """``readme`` with the generated block replaced."""
    head, _, rest = readme.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{settings_markdown(providers)}\n{END}{tail}"


def main() -> int:
    path = Path("README.md")
    path.write_text(render_readme(path.read_text(), load_providers()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
