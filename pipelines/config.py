"""Configuration: ``pipeline.toml`` (non-secret settings) and the environment (secrets).

Secrets come from the environment, or from a secret store that ``[secrets]`` names by
reference (``pipelines/net/secret_stores.py``); the file never holds a secret value.

Every ``[pipeline]`` setting is declared once in ``PIPELINE_OPTIONS`` with its
type, default and description; provider options are declared by each provider.
Errors are collected and reported together, each naming its key.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from pipelines.errors import ConfigError
from pipelines.net.secret_stores import SOURCES, SecretRef, parse_reference, read_references
from pipelines.net.secrets import register_secret
from providers.base import Option, Provider

DEFAULT_CONFIG_PATH = Path("pipeline.toml")
KNOWN_SECTIONS = (
    "pipeline", "providers", "quality", "anomaly", "orchestration", "secrets", "sinks", "budget",
)  # fmt: skip

PIPELINE_OPTIONS: tuple[Option, ...] = (
    Option("data_dir", str, "data", "Root of the lake (raw, normalized, quarantine, state)."),
    Option("log_dir", str, "logs", "Run log (runs.jsonl, runs.sqlite) and reports."),
    Option("cache_dir", str, ".cache/api", "API response cache, one folder per provider."),
    Option("cache_ttl_seconds", int, 3600, "How long a cached API response is reused."),
    Option("batch_size", int, 5000, "Rows normalized, checked and deduplicated at a time."),
    Option("row_group_size", int, 131072, "Rows per Parquet row group."),
    Option("http_timeout_seconds", float, 30.0, "Read timeout of every API call."),
    Option("http_connect_timeout_seconds", float, 5.0, "Connect timeout of every API call."),
    Option("http_max_retries", int, 4, "Retries of one API call (429, 5xx, connection errors)."),
    Option("http_backoff_seconds", float, 0.5, "First backoff step; doubles per retry, jittered."),
    Option("http_retry_budget", int, 50, "Retries allowed in a whole run, all providers together."),
    Option("http_breaker_threshold", int, 5, "Failures in a row that stop a provider; 0: never."),
    Option("http_deadline_seconds", float, 120.0, "Whole API call (connect, headers, body)."),
    Option("http_max_body_mb", float, 64.0, "Largest API response body held in memory."),
    Option("http_call_budget_seconds", float, 180.0, "One call's attempts and waits together."),
    Option("http_download_deadline_seconds", float, 3600.0, "A whole bulk result download."),
    Option("max_pages", int, 10000, "Pages one paged listing may take; 0: no cap."),
    Option("max_empty_pages", int, 3, "Empty pages in a row that stop a paged listing."),
    Option("lake_uri", str, "", "The lake: a local path or s3://bucket/prefix; empty: data_dir."),
    Option("s3_endpoint_url", str, "", "S3-compatible endpoint (MinIO); empty: AWS_ENDPOINT_URL."),
    Option("s3_region", str, "", "S3 region; empty: AWS_REGION, else us-east-1."),
    Option("lock_wait_seconds", float, 600.0, "How long a run waits for another's commit lock."),
    Option("lock_ttl_seconds", float, 300.0, "Lease of the commit lock; renewed while held."),
    Option(
        "run_lease_ttl_seconds",
        float,
        60.0,
        "A run's lease: another run takes it over after this long without a heartbeat.",
    ),
    Option("run_wait_seconds", float, 3600.0, "How long --wait waits for a live run to end."),
    Option(
        "trash_retention_days",
        float,
        7.0,
        "How long recovery keeps uncommitted files under _trash/ before deleting them.",
    ),
    Option(
        "max_delete_share",
        float,
        0.5,
        "Most of a provider's held catalog one complete pull may mark deleted (0.5: half).",
    ),
    Option("table_format", str, "parquet", "parquet, or delta: also keep Delta tables."),
    Option("delta_retention_hours", int, 168, "What compact keeps of old Delta table files."),
)
CHOICES = {"table_format": ("parquet", "delta")}
# Time limits where 0 would fail every call rather than mean "no limit".
POSITIVE = ("http_deadline_seconds", "http_call_budget_seconds", "http_download_deadline_seconds")


@dataclass(frozen=True)
class PipelineConfig:
    """The validated configuration of one run (read-only once built)."""

    path: Path | None
    pipeline: Mapping[str, Any]
    providers: Mapping[str, Mapping[str, Any]]
    sections: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    secret_refs: Mapping[str, SecretRef] = field(default_factory=dict)
    budgets: Mapping[str, int] = field(default_factory=dict)  # [budget]: calls per UTC day

    def with_pipeline(self, **overrides: Any) -> PipelineConfig:
        """A copy with some ``[pipeline]`` settings replaced (command-line overrides)."""
        return replace(self, pipeline={**self.pipeline, **overrides})

    def __getattr__(self, name: str) -> Any:
        try:
            return self.pipeline[name]
        except KeyError:
            raise AttributeError(name) from None


def _check_value(key: str, option: Option, value: Any) -> str | None:
    if option.type is float and isinstance(value, int) and not isinstance(value, bool):
        return None
    if not isinstance(value, option.type) or isinstance(value, bool) != (option.type is bool):
        return f"{key}: expected {option.type.__name__}, got {type(value).__name__} {value!r}"
    if option.type in (int, float) and value < 0:
        return f"{key}: must not be negative, got {value!r}"
    return None


def validate_options(
    prefix: str, options: tuple[Option, ...], table: Mapping[str, Any], errors: list[str]
) -> dict[str, Any]:
    """Defaults overlaid with ``table``; unknown keys and wrong types appended to ``errors``."""
    declared = {o.name: o for o in options}
    values = {o.name: o.default for o in options}
    for key, value in table.items():
        option = declared.get(key)
        if option is None:
            known = ", ".join(sorted(declared)) or "none"
            errors.append(f"{prefix}.{key}: unknown setting (known: {known})")
            continue
        problem = _check_value(f"{prefix}.{key}", option, value)
        if problem:
            errors.append(problem)
        else:
            values[key] = float(value) if option.type is float else value
    return values


def load_config(path: Path | None, providers: Mapping[str, Provider]) -> PipelineConfig:
    """Read and validate ``pipeline.toml`` (a missing default file means all defaults)."""
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"--config: {path} does not exist") from None
        except IsADirectoryError:
            raise ConfigError(f"--config: {path} is a folder, not a settings file") from None
        except UnicodeDecodeError:
            raise ConfigError(f"--config: {path} is not a text file (not UTF-8)") from None
        except OSError as exc:
            raise ConfigError(f"--config: {path} cannot be read ({exc.strerror})") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    errors: list[str] = []
    for section in raw:
        if section not in KNOWN_SECTIONS:
            errors.append(f"{section}: unknown section (known: {', '.join(KNOWN_SECTIONS)})")
    pipeline = validate_options("pipeline", PIPELINE_OPTIONS, raw.get("pipeline", {}), errors)
    errors += [f"pipeline.{key}: must be more than 0, got {pipeline[key]!r}"
               for key in POSITIVE if pipeline[key] == 0]  # fmt: skip
    for key, allowed in CHOICES.items():
        if pipeline[key] not in allowed:
            errors.append(f"pipeline.{key}: expected one of {', '.join(allowed)}, "
                          f"got {pipeline[key]!r}")  # fmt: skip
    provider_tables = raw.get("providers", {})
    for name in provider_tables:
        if name not in providers:
            errors.append(f"providers.{name}: no such provider (known: {', '.join(providers)})")
    provider_options = {
        name: validate_options(
            f"providers.{name}", provider.options, provider_tables.get(name, {}), errors
        )
        for name, provider in providers.items()
    }
    refs = secret_references(raw.get("secrets", {}), errors)
    budgets = daily_budgets(raw.get("budget", {}), providers, errors)
    if errors:
        raise ConfigError("; ".join(errors))
    sections = {k: raw.get(k, {}) for k in ("quality", "anomaly", "orchestration", "sinks")}
    return PipelineConfig(path, pipeline, provider_options, sections, refs, budgets)


def daily_budgets(
    table: Any, providers: Mapping[str, Provider], errors: list[str]
) -> dict[str, int]:
    """``[budget]``: ``<provider> = calls per UTC day`` (0: no limit) over each provider's
    documented default (``Provider.daily_budget``)."""
    budgets = {name: provider.daily_budget for name, provider in providers.items()}
    if not isinstance(table, dict):
        errors.append("budget: expected a table of <provider> = calls per day")
        return budgets
    for name, value in table.items():
        if name not in providers:
            errors.append(f"budget.{name}: no such provider (known: {', '.join(providers)})")
        elif not isinstance(value, int) or isinstance(value, bool) or value < 0:
            errors.append(f"budget.{name}: expected a whole number of calls (0: no limit), "
                          f"got {value!r}")  # fmt: skip
        else:
            budgets[name] = value
    return budgets


def secret_references(table: Any, errors: list[str]) -> dict[str, SecretRef]:
    """``[secrets]``: ``source`` (env, aws, vault) and ``[secrets.refs]`` NAME = "reference"."""
    if not isinstance(table, dict):
        errors.append("secrets: expected a table")
        return {}
    for key in table.keys() - {"source", "refs"}:
        errors.append(f"secrets.{key}: unknown setting (known: refs, source)")
    source, refs = table.get("source", "env"), table.get("refs", {})
    if source not in SOURCES:
        errors.append(f"secrets.source: expected one of {', '.join(SOURCES)}, got {source!r}")
        source = "env"
    if not isinstance(refs, dict):
        errors.append('secrets.refs: expected a table of NAME = "store:path#key"')
        return {}
    parsed = {}
    for name, text in refs.items():
        try:
            parsed[name] = parse_reference(name, text, source)
        except ValueError as exc:
            errors.append(f"secrets.refs.{name}: {exc}")
    return parsed


def read_environment(dotenv_path: Path = Path(".env")) -> dict[str, str]:
    """The process environment over a local ``.env`` (which never overrides real variables)."""
    env = {k: v for k, v in dotenv_values(dotenv_path).items() if v is not None}
    env.update(os.environ)
    return env


def read_secret_stores(config: PipelineConfig, env: Mapping[str, str]) -> dict[str, str]:
    """``env`` with every ``[secrets.refs]`` variable read from its store (store values win).

    Each value is registered for masking as it arrives; a secret that cannot be read is a
    ``ConfigError`` naming the variable and its reference.
    """
    if not config.secret_refs:
        return dict(env)
    return {**env, **read_references(config.secret_refs, env)}


def register_provider_secrets(providers: Mapping[str, Provider], env: Mapping[str, str]) -> None:
    """Hand every secret setting's value to the masking filter before anything is logged."""
    for provider in providers.values():
        for setting in provider.settings:
            if setting.secret:
                register_secret(env.get(setting.env))
