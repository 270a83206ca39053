"""``run_pipeline.py doctor`` (or ``--check``): is every configured provider ready to run?

Each configured provider makes one cheap authenticated call through its ``probe(ctx)``
(eBay: a token and a one-item search; Amazon: one GetItems or a one-item search); no
catalog is fetched, nothing is written, the response cache is neither read nor written.
Each gets a verdict: ok, bad credentials (401), missing scope (403), wrong shop/URL (404),
unreachable (no response: refused, reset, time-out), config error, no check (the provider
has no probe) or error. Exit 0 when every configured provider is ok, 1 otherwise (also
when no provider is configured at all).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipelines.cli.tables import format_table
from pipelines.config import PipelineConfig
from pipelines.errors import ConfigError, ProviderError
from pipelines.net.http import HttpClient, ProviderUnreachableError
from pipelines.net.secrets import mask
from providers.base import FetchContext, Provider, ProviderStats

if TYPE_CHECKING:
    from pipelines.cli.main import CommandContext

HELP = (
    "Check each configured provider with one cheap authenticated call (no catalog fetched): "
    "ok, bad credentials, missing scope, wrong shop/URL, unreachable or error. Exit 0 when all "
    "are ok. Same as --check."
)
# One retry: a single 503 should not fail the check, a dead host should not take minutes.
PROBE_MAX_RETRIES = 1
VERDICTS = {401: "bad credentials", 403: "missing scope", 404: "wrong shop/URL"}
OK = "ok"

log = logging.getLogger("pipeline.doctor")


@dataclass(frozen=True)
class Check:
    """One provider's verdict and what the probe said."""

    provider: str
    verdict: str
    detail: str


def configure(parser: argparse.ArgumentParser) -> None:
    """No options beyond the common ones, so that ``--check`` can stand in for ``doctor``."""


def execute(args: argparse.Namespace, context: CommandContext) -> int:
    checks, unconfigured = check_providers(context.config, context.providers, context.env)
    if checks:
        rows = [(c.provider, c.verdict, c.detail) for c in checks]
        print(format_table(("provider", "result", "detail"), rows))
    else:
        print("No provider is configured: nothing to check.")
    for name, missing in unconfigured.items():
        print(f"not configured: {name} (missing {', '.join(missing)})")
    return 0 if checks and all(c.verdict == OK for c in checks) else 1


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
    try:
        detail = provider.probe(probe_context(provider, config, env))
    except NotImplementedError as exc:
        return Check(name, "no check", str(exc))
    except ConfigError as exc:
        return Check(name, "config error", mask(str(exc)))
    except ProviderError as exc:
        return Check(name, verdict_for(exc), mask(str(exc)))
    except Exception as exc:  # a probe's bug must not hide the other providers' verdicts
        log.debug("%s probe failed", name, exc_info=True)
        return Check(name, "error", mask(f"{type(exc).__name__}: {exc}"))
    return Check(name, OK, mask(detail))


def verdict_for(exc: ProviderError) -> str:
    """The verdict for a failed probe: by kind of failure, then by HTTP status."""
    if isinstance(exc, ProviderUnreachableError):
        return "unreachable"
    return VERDICTS.get(exc.status or 0, "error")


def probe_context(
    provider: Provider, config: PipelineConfig, env: Mapping[str, str]
) -> FetchContext:
    """A fetch context without cache or state, with the run's time-outs and one retry."""
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
    )
