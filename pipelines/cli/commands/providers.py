"""``run_pipeline.py providers [--json]`` (or ``--list-providers``): who can run.

Each provider, its settings (secret or not, set or not: never a value of a secret), whether
it can run, and its options as a run reads them (pipeline.toml's values over the defaults).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from providers.base import Provider

if TYPE_CHECKING:
    from pipelines.cli.main import CommandContext

HELP = (
    "List the providers, their settings and whether each is configured. Settings are shown "
    "set or not (never a secret's value), options with their source. Same as --list-providers."
)
JSON_OUTPUT = True


def configure(parser: argparse.ArgumentParser) -> None:
    """No options beyond the common ones, so that ``--list-providers`` stands in for it."""


def execute(args: argparse.Namespace, context: CommandContext) -> int:
    report = provider_report(context.providers, context.env, context.config.providers)
    if args.json:
        sys.stdout.write(json.dumps(report, indent=2, default=str) + "\n")
    else:
        print_provider_list(report)
    return 0


def provider_report(
    providers: Mapping[str, Provider],
    env: Mapping[str, str],
    options: Mapping[str, Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """Each provider's state: settings (no values), problems, options and their source."""
    report = []
    for provider in providers.values():
        values = options.get(provider.name, {})
        settings = [{
            "env": s.env, "kind": "secret" if s.secret else ("required" if s.required
                                                             else "optional"),
            "set": bool(env.get(s.env)), "default": s.default, "description": s.description,
        } for s in provider.settings]  # fmt: skip
        report.append({
            "name": provider.name, "title": provider.title,
            "configured": provider.is_configured(env),
            "problems": provider.check_environment(env), "settings": settings,
            "options": [{
                "name": o.name, "value": values.get(o.name, o.default),
                "source": "default" if values.get(o.name, o.default) == o.default
                else "pipeline.toml", "description": o.description,
            } for o in provider.options],
        })  # fmt: skip
    return report


def print_provider_list(report: list[dict[str, Any]]) -> None:
    """``provider_report`` as text: one block per provider."""
    for entry in report:
        configured = "configured" if entry["configured"] else "not configured"
        print(f"{entry['name']} ({entry['title']}): {configured}")
        for problem in entry["problems"]:
            print(f"  ! {problem}")
        for s in entry["settings"]:
            state = "set" if s["set"] else (f"default {s['default']}" if s["default"] else "unset")
            print(f"  {s['env']:<36} {s['kind']:<8} {state:<16} {s['description']}")
        for o in entry["options"]:
            print(f"  [providers.{entry['name']}] {o['name']} = {o['value']!r} ({o['source']})  "
                  f"{o['description']}")  # fmt: skip
