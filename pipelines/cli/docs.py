"""The generated parts of the documentation, made from the code so they cannot drift.

``python -m pipelines.cli.docs`` rewrites the settings tables (between the ``settings``
markers of docs/reference.md), the product schema table (between the ``schema`` markers
of docs/lake.md), the order tables (docs/orders.md) and their JSON Schemas in docs/schema/;
a test fails when any is out of date.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path

from pipelines.cli.schema_docs import order_docs, product_json_schema, schema_markdown
from pipelines.config import PIPELINE_OPTIONS
from providers.base import Option, Provider
from providers.registry import load_providers

REFERENCE = Path("docs/reference.md")
LAKE = Path("docs/lake.md")
ORDERS = Path("docs/orders.md")
JSON_SCHEMA = Path("docs/schema/products.schema.json")


def _options_table(prefix: str, options: tuple[Option, ...]) -> list[str]:
    lines = [f"| `{prefix}` key | type | default | allowed | meaning |", "|---|---|---|---|---|"]
    lines += [
        f"| `{o.name}` | {o.type.__name__} | `{o.default!r}` | {o.allowed()} | {o.description} |"
        for o in options
    ]
    return lines


def settings_markdown(providers: Mapping[str, Provider]) -> str:
    """Markdown tables of every environment setting and pipeline.toml option."""
    lines = ["### Pipeline (`pipeline.toml`)", "", *_options_table("[pipeline]", PIPELINE_OPTIONS)]
    for provider in providers.values():
        lines += ["", f"### {provider.title} (`{provider.name}`)", ""]
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


def render_block(text: str, name: str, block: str) -> str:
    """``text`` with what lies between its ``<!-- name:start/end -->`` markers replaced."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    if start not in text or end not in text:
        raise ValueError(f"the {start} and {end} markers are missing")
    head, _, rest = text.partition(start)
    _, _, tail = rest.partition(end)
    return f"{head}{start}\n{block}\n{end}{tail}"


def generated_files(root: Path, providers: Mapping[str, Provider]) -> dict[Path, str]:
    """Each generated file under ``root`` and the content it must have."""
    reference, lake = root / REFERENCE, root / LAKE
    schema = json.dumps(product_json_schema(), indent=2, ensure_ascii=False) + "\n"
    files = {
        reference: render_block(reference.read_text(), "settings", settings_markdown(providers)),
        lake: render_block(lake.read_text(), "schema", schema_markdown()),
        root / JSON_SCHEMA: schema,
    }
    orders = (root / ORDERS).read_text()
    for marker, (name, markdown, json_schema) in order_docs().items():
        orders = render_block(orders, marker, markdown)
        text = json.dumps(json_schema, indent=2, ensure_ascii=False) + "\n"
        files[root / JSON_SCHEMA.parent / name] = text
    files[root / ORDERS] = orders
    return files


def main() -> int:
    for path, text in generated_files(Path(), load_providers()).items():
        path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
