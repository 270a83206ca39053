"""Live or offline: which providers have credentials, and what a half-set provider lacks.

A run with no ``--offline`` flag goes offline (the recorded demo catalog) only when no
provider it would run has *any* of its credentials set outside CI. A provider with some of
its credentials but not all is a usage error naming the missing variables: it never falls
back to the demo silently.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping

from pipelines.config import PipelineConfig
from pipelines.errors import ConfigError
from pipelines.run.options import lake_uri
from providers.base import Provider

CI_VARIABLES = ("CI", "GITHUB_ACTIONS")


def credentials_set(provider: Provider, env: Mapping[str, str]) -> list[str]:
    """The provider's credential variables present in ``env`` (secrets, and required settings
    without a default, such as the shop's domain); endpoint overrides are not credentials."""
    return [
        s.env
        for s in provider.settings
        if (s.secret or (s.required and s.default is None)) and env.get(s.env)
    ]


def half_set(providers: list[Provider], env: Mapping[str, str]) -> list[str]:
    """One problem per provider with some credentials set and others missing."""
    problems = []
    for provider in providers:
        present, missing = credentials_set(provider, env), provider.missing_settings(env)
        if present and missing:
            problems.append(
                f"{provider.name}: {', '.join(present)} set but {', '.join(missing)} missing "
                f"(set them for a live run, or unset {', '.join(present)} for the offline demo)"
            )
    return problems


def choose_offline(
    args: argparse.Namespace,
    config: PipelineConfig,
    providers: Mapping[str, Provider],
    env: Mapping[str, str],
) -> bool:
    """Offline when asked, or when no selected provider has a credential outside CI (a
    newcomer's first run); the banner says why and where the demo lake is written."""
    if args.offline or args.replay is not None:
        return args.offline
    wanted = args.providers or tuple(providers)
    selected = [providers[n] for n in wanted if n in providers]
    problems = half_set(selected, env)
    if problems:
        raise ConfigError("; ".join(problems))
    if any(p.is_configured(env) or p.check_environment(env) for p in selected):
        return False  # credentials (or retired settings needing a migration message) present
    missing = sorted({s for p in selected for s in p.missing_settings(env)})
    if any(env.get(name) for name in CI_VARIABLES):
        raise ConfigError(
            "no provider has credentials in CI; set the secrets: " + ", ".join(missing)
        )
    names = ", ".join(p.name for p in selected)
    sys.stderr.write(
        f"No credential of {names} is set: running OFFLINE on the recorded demo catalog "
        f"(writes to {lake_uri(config).rstrip('/')}/demo/). Set the provider secrets "
        "(see docs/providers.md) for a live run.\n"
    )
    return True
