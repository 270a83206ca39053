"""``run_pipeline.py doctor`` (or ``--check``): is every configured provider ready to run?

Each configured provider makes one cheap authenticated call through its ``probe(ctx)``
(eBay: a token and a one-item search; Amazon: one GetItems or a one-item search); no
catalog is fetched, nothing is written, the response cache is neither read nor written.
Each gets a verdict: ok, bad credentials (401), missing scope (403), wrong shop/URL (404),
unreachable (no response: refused, reset, time-out), config error, no check (the provider
has no probe), unsupported API (the configured API version is past its end of support) or
error; ok becomes "warning" when the probe found something to act on soon (an API version
near its end of support). What else the probe learned (the kind of credentials, the token's
remaining life, the scopes granted) is printed under the table, one line each. Exit 0 when
every configured provider is ok or warning, 1 otherwise (also when none is configured).
Then each daily API budget the lake's runs drew on today: calls used, and what is left.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from pipelines.errors import ConfigError, ProviderError, UnsupportedApiError
from pipelines.net.secrets import mask
from providers.base import FetchContext, ProbeResult, Provider, ProviderStats

if TYPE_CHECKING:
    from pipelines.cli.main import CommandContext
    from pipelines.config import PipelineConfig

HELP = (
    "Check each configured provider with one cheap authenticated call (no catalog fetched): "
    "ok, bad credentials, missing scope, wrong shop/URL, unreachable or error. Exit 0 when all "
    "are ok. Same as --check."
)
# One retry: a single 503 should not fail the check, a dead host should not take minutes.
PROBE_MAX_RETRIES = 1
VERDICTS = {401: "bad credentials", 403: "missing scope", 404: "wrong shop/URL"}
OK, WARNING = "ok", "warning"
CALLS_PROVIDERS = True
JSON_OUTPUT = True

log = logging.getLogger("pipeline.doctor")


@dataclass(frozen=True)
class Check:
    """One provider's verdict and what the probe said."""

    provider: str
    verdict: str
    detail: str
    facts: tuple[str, ...] = ()


def configure(parser: argparse.ArgumentParser) -> None:
    """No options beyond the common ones, so that ``--check`` can stand in for ``doctor``."""


def execute(args: argparse.Namespace, context: CommandContext) -> int:
    from pipelines.cli.status import budget_lines  # not for --help

    checks, unconfigured = check_providers(context.config, context.providers, context.env)
    budgets = budget_lines(context.config, used_only=True)
    ok = bool(checks) and all(c.verdict in (OK, WARNING) for c in checks)
    if args.json:
        report = {"ok": ok, "checks": [asdict(c) for c in checks],
                  "not_configured": unconfigured, "budgets": budgets}  # fmt: skip
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        print_checks(checks, unconfigured, budgets)
    return 0 if ok else 1


def print_checks(checks: list[Check], unconfigured: dict[str, list[str]],
                 budgets: list[str]) -> None:  # fmt: skip
    """The verdicts as a table, what each probe learned under it, then what is missing."""
    if checks:
        from pipelines.cli.tables import print_table

        rows = [(c.provider, c.verdict, c.detail) for c in checks]
        print_table(("provider", "result", "detail"), rows)
        for check in checks:
            for fact in check.facts:
                print(f"  {check.provider}: {fact}")
    else:
        print("No provider is configured: nothing to check.")
    for name, missing in unconfigured.items():
        print(f"not configured: {name} (missing {', '.join(missing)})")
    for line in budgets:
        print(f"budget: {line}")


def check_providers(
    config: PipelineConfig, providers: Mapping[str, Provider], env: Mapping[str, str]
) -> tuple[list[Check], dict[str, list[str]]]:
    """A ``Check`` per configured provider, and the missing settings of the others."""
    checks: list[Check] = []
    unconfigured: dict[str, list[str]] = {}
    for name, provider in providers.items():
        problems = provider.check_environment(env)
        missing = provider.missing_settings(env)
        if problems:
            checks.append(Check(name, "config error", mask("; ".join(problems))))
        elif missing:
            unconfigured[name] = missing
        else:
            checks.append(check_provider(provider, config, env))
    return checks, unconfigured


def check_provider(provider: Provider, config: PipelineConfig, env: Mapping[str, str]) -> Check:
    """Run one provider's probe and name the outcome."""
    name = provider.name
    ctx = probe_context(provider, config, env)
    try:
        result = provider.probe(ctx)
    except NotImplementedError as exc:
        return Check(name, "no check", str(exc))
    except ConfigError as exc:
        return Check(name, "config error", mask(str(exc)))
    except ProviderError as exc:
        return Check(name, verdict_for(exc), mask(str(exc)))
    except Exception as exc:  # a probe's bug must not hide the other providers' verdicts
        log.debug("%s probe failed", name, exc_info=True)
        return Check(name, "error", mask(f"{type(exc).__name__}: {exc}"))
    if isinstance(result, str):
        result = ProbeResult(result)
    warnings = tuple(f"warning: {w}" for w in ctx.stats.warnings)
    facts = tuple(mask(fact) for fact in (*result.facts, *warnings))
    return Check(name, WARNING if warnings else OK, mask(result.detail), facts)


def verdict_for(exc: ProviderError) -> str:
    """The verdict for a failed probe: by kind of failure, then by HTTP status."""
    from pipelines.net.http import ProviderUnreachableError

    if isinstance(exc, ProviderUnreachableError):
        return "unreachable"
    if isinstance(exc, UnsupportedApiError):
        return "unsupported API"
    return VERDICTS.get(exc.status or 0, "error")


def probe_context(
    provider: Provider, config: PipelineConfig, env: Mapping[str, str]
) -> FetchContext:
    """A fetch context without cache or state, with the run's time-outs and one retry."""
    from pipelines.net.http import HttpClient  # requests: only when a probe runs

    stats = ProviderStats()
    plog = logging.getLogger(f"pipeline.{provider.name}")
    http = HttpClient(
        provider.name,
        stats,
        timeout=(config.http_connect_timeout_seconds, config.http_timeout_seconds),
        max_retries=min(config.http_max_retries, PROBE_MAX_RETRIES),
        backoff_factor=config.http_backoff_seconds,
        log=plog,
    )
    return FetchContext(
        settings=provider.resolve_settings(env),
        options=config.providers.get(provider.name, {}),
        http=http,
        stats=stats,
        log=plog,
        limit=1,
        datasets=tuple(str(name) for name in config.datasets),
    )
