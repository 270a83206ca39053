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
from typing import Any, Literal

from dotenv import dotenv_values
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from pipelines.errors import ConfigError
from pipelines.net.notify import URLS_ENV, NotifySettings, notify_settings, register_urls
from pipelines.net.pii import BUYER_KEY_SECRET_ENV
from pipelines.net.secret_stores import SOURCES, SecretRef, parse_reference, read_references
from pipelines.net.secrets import register_secret
from pipelines.validation import validate_table
from providers.base import Option, Provider

DEFAULT_CONFIG_PATH = Path("pipeline.toml")
DEMO_LOG_DIR = "demo"  # under log_dir: the offline demo's run log, reports and run-level files
KNOWN_SECTIONS = (
    "pipeline", "providers", "quality", "anomaly", "orchestration", "secrets", "notify", "sinks",
    "budget",
)  # fmt: skip

PIPELINE_OPTIONS: tuple[Option, ...] = (
    Option("data_dir", str, "data", "Root of the lake (raw, normalized, quarantine, state)."),
    Option(
        "log_dir",
        str,
        "logs",
        "Run log (runs.jsonl, runs.sqlite) and reports; the offline demo's in log_dir/demo.",
    ),
    Option(
        "keep_reports",
        int,
        30,
        "Runs whose reports (report-<run_id>.md/.html) log_dir keeps; older ones are deleted.",
        minimum=1,
    ),
    Option("cache_dir", str, ".cache/api", "API response cache, one folder per provider."),
    Option("cache_ttl_seconds", int, 3600, "How long a cached API response is reused."),
    Option(
        "batch_size",
        int,
        5000,
        "Raw records normalized and checked at a time (a block); rows deduplicated at a time.",
        minimum=1,
    ),
    Option("row_group_size", int, 131072, "Rows per Parquet row group.", minimum=1),
    Option(
        "workers",
        int,
        0,
        "Processes normalizing one provider's records (blocks of lines in turn); 0: auto, the "
        "CPU count when its raw input reaches workers_min_raw_mb, else 1. --workers overrides it.",
    ),
    Option(
        "workers_min_raw_mb",
        float,
        16.0,
        "Raw input (landed files, compressed) from which workers = 0 splits a provider.",
    ),
    Option("http_timeout_seconds", float, 30.0, "Read timeout of every API call."),
    Option("http_connect_timeout_seconds", float, 5.0, "Connect timeout of every API call."),
    Option("http_max_retries", int, 4, "Retries of one API call (429, 5xx, connection errors)."),
    Option("http_backoff_seconds", float, 0.5, "First backoff step; doubles per retry, jittered."),
    Option("http_retry_budget", int, 50, "Retries allowed in a whole run, all providers together."),
    Option("http_breaker_threshold", int, 5, "Failures in a row that stop a provider; 0: never."),
    Option(
        "http_deadline_seconds", float, 120.0, "Whole API call (connect, headers, body).", above=0
    ),
    Option("http_max_body_mb", float, 64.0, "Largest API response body held in memory."),
    Option(
        "http_call_budget_seconds",
        float,
        180.0,
        "One call's attempts and waits together.",
        above=0,
    ),
    Option(
        "http_download_deadline_seconds", float, 3600.0, "A whole bulk result download.", above=0
    ),
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
        maximum=1,
    ),
    Option(
        "table_format",
        str,
        "parquet",
        "parquet, or delta: also keep Delta tables.",
        choices=("parquet", "delta"),
    ),
    Option("delta_retention_hours", int, 168, "What compact keeps of old Delta table files."),
    Option(
        "datasets",
        list,
        ["products"],
        "What a run pulls: products, orders (docs/orders.md); --datasets overrides it.",
    ),
)


@dataclass(frozen=True)
class PipelineConfig:
    """The validated configuration of one run (read-only once built)."""

    path: Path | None
    pipeline: Mapping[str, Any]
    providers: Mapping[str, Mapping[str, Any]]
    sections: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    secret_refs: Mapping[str, SecretRef] = field(default_factory=dict)
    notify: NotifySettings = field(default_factory=NotifySettings)
    budgets: Mapping[str, int] = field(default_factory=dict)  # [budget]: units per UTC day
    budget_units: Mapping[str, str] = field(default_factory=dict)  # "calls" or "points"

    def with_pipeline(self, **overrides: Any) -> PipelineConfig:
        """A copy with some ``[pipeline]`` settings replaced (command-line overrides)."""
        return replace(self, pipeline={**self.pipeline, **overrides})

    def run_log_dir(self, offline: bool = False) -> Path:
        """The folder of the run log (``runs.jsonl``, ``runs.sqlite``), the reports and the
        run-level files: ``log_dir`` for real runs, ``log_dir/demo`` for the offline demo.

        Every writer and reader of those files asks here, so demo and real runs never mix."""
        return Path(self.log_dir) / DEMO_LOG_DIR if offline else Path(self.log_dir)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.pipeline[name]
        except KeyError:
            raise AttributeError(name) from None


_SECTION_RULES = ConfigDict(extra="forbid", strict=True)


def _field(option: Option) -> tuple[Any, Any]:
    """The pydantic annotation and field of one declared option."""
    if option.choices:
        annotation: Any = Literal[option.choices]
    elif option.type is list:
        annotation = list[option.item] if option.item else list[Any]
    else:
        annotation = option.type
    bounds: dict[str, float] = {}
    if option.type in (int, float):
        if option.above is not None:
            bounds["gt"] = option.above
        else:
            bounds["ge"] = option.minimum if option.minimum is not None else 0
        if option.maximum is not None:
            bounds["le"] = option.maximum
    return annotation, Field(default=option.default, **bounds)


def section_model(prefix: str, options: tuple[Option, ...]) -> type[BaseModel]:
    """The validating model of one section, built from its declared options."""
    fields = {o.name: _field(o) for o in options}
    return create_model(prefix.replace(".", "_"), __config__=_SECTION_RULES, **fields)


def _range_words(option: Option, value: Any) -> str:
    if option.choices:
        return f"expected {option.allowed()}, got {value!r}"
    if option.above is not None and option.maximum is None:
        return f"must be more than {option.above:g}, got {value!r}"
    if option.maximum is None and not option.minimum:
        return f"must not be negative, got {value!r}"
    return f"must be {option.allowed()}, got {value!r}"


def _problem(prefix: str, declared: Mapping[str, Option], error: Mapping[str, Any]) -> str:
    """One pydantic error as ``key: what is wrong (what is allowed), got value``."""
    loc = error["loc"]
    key = prefix + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)
    value, kind = error.get("input"), error["type"]
    option = declared.get(str(loc[0]))
    if option is None:
        return f"{key}: unknown setting (known: {', '.join(sorted(declared)) or 'none'})"
    if len(loc) > 1:  # inside a table of a list option: the item model's own words
        if kind == "extra_forbidden":
            known = ", ".join(option.item.model_fields) if option.item else "none"
            return f"{key}: unknown key (known: {known})"
        return f"{key}: {error['msg'].removeprefix('Value error, ')}, got {value!r}"
    if kind.endswith("_type") and not option.choices:
        return f"{key}: expected {option.type.__name__}, got {type(value).__name__} {value!r}"
    return f"{key}: {_range_words(option, value)}"


def validate_options(
    prefix: str, options: tuple[Option, ...], table: Any, errors: list[str]
) -> dict[str, Any]:
    """Defaults overlaid with ``table``; every problem the section's model finds is appended
    to ``errors`` (unknown keys, types, ranges, allowed values)."""
    declared = {o.name: o for o in options}
    values = {o.name: o.default for o in options}
    if not isinstance(table, Mapping):
        errors.append(f"{prefix}: expected a table of settings, got {table!r}")
        return values
    try:
        section_model(prefix, options).model_validate(dict(table))
    except ValidationError as exc:
        errors += [_problem(prefix, declared, error) for error in exc.errors()]
        return values
    for key, value in table.items():
        values[key] = float(value) if declared[key].type is float else value
    return values


def load_config(
    path: Path | None,
    providers: Mapping[str, Provider],
    section_models: Mapping[str, type[BaseModel]] | None = None,
) -> PipelineConfig:
    """Read and validate ``pipeline.toml`` (a missing default file means all defaults).

    Every problem is collected before one ``ConfigError`` names them all, each with the file
    and its key; ``section_models`` are the models of the tables other wings read
    (``[quality]``, ``[anomaly]``, ``[orchestration]``, ``[sinks]``), checked in the same pass
    with the provider names as their validation context.
    """
    raw = _read_toml(path) if path is not None else {}
    errors: list[str] = []
    for section in raw:
        if section not in KNOWN_SECTIONS:
            errors.append(f"{section}: unknown section (known: {', '.join(KNOWN_SECTIONS)})")
    pipeline = validate_options("pipeline", PIPELINE_OPTIONS, raw.get("pipeline", {}), errors)
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
    context = {"providers": tuple(providers)}
    for name, model in (section_models or {}).items():
        errors += validate_table(name, model, raw.get(name, {}), context)[1]
    notify = notify_settings(raw.get("notify", {}), errors)
    budgets, units = daily_budgets(raw.get("budget", {}), providers, errors)
    if errors:
        where = f"{path}: " if path is not None else ""
        raise ConfigError("; ".join(where + error for error in errors))
    sections = {k: raw.get(k, {}) for k in ("quality", "anomaly", "orchestration", "sinks")}
    return PipelineConfig(path, pipeline, provider_options, sections, refs, notify=notify,
                          budgets=budgets, budget_units=units)  # fmt: skip


def _read_toml(path: Path) -> dict[str, Any]:
    """The settings file as a table, or one ``ConfigError`` line saying why it cannot be read."""
    try:
        return tomllib.loads(path.read_text())
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


def daily_budgets(
    table: Any, providers: Mapping[str, Provider], errors: list[str]
) -> tuple[dict[str, int], dict[str, str]]:
    """``[budget]``: ``<provider> = calls (or points) per UTC day`` (0: no limit) over each
    provider's documented default (``Provider.daily_budget``), and each provider's unit
    (``Provider.budget_unit``)."""
    budgets = {name: provider.daily_budget for name, provider in providers.items()}
    units = {name: provider.budget_unit for name, provider in providers.items()}
    if not isinstance(table, dict):
        errors.append("budget: expected a table of <provider> = calls (or points) per day")
        return budgets, units
    for name, value in table.items():
        if name not in providers:
            errors.append(f"budget.{name}: no such provider (known: {', '.join(providers)})")
        elif not isinstance(value, int) or isinstance(value, bool) or value < 0:
            unit = providers[name].budget_unit
            errors.append(f"budget.{name}: expected a whole number of {unit} (0: no limit), "
                          f"got {value!r}")  # fmt: skip
        else:
            budgets[name] = value
    return budgets, units


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
    """Hand every secret setting's value (and the notification URLs) to the masking filter
    before anything is logged."""
    register_urls(env.get(URLS_ENV))
    register_secret(env.get(BUYER_KEY_SECRET_ENV))  # the buyer key's (pipelines/net/pii.py)
    for provider in providers.values():
        for setting in provider.settings:
            if setting.secret:
                register_secret(env.get(setting.env))
