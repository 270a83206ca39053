"""The ``[quality]`` table of pipeline.toml: ``QualityConfig``, its defaults and validation.

Apart from the rules (pipelines.checks.quality), which it knows only by code and default
severity: the config is read once per run, the rules run on every batch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from pipelines.checks.quality import RULES_BY_CODE, SEVERITIES, Severity
from pipelines.errors import ConfigError

DEFAULT_REJECT_THRESHOLD = 0.05
DEFAULT_MAX_TITLE_LENGTH = 500
DEFAULT_MAX_DESCRIPTION_LENGTH = 10_000


@dataclass(frozen=True)
class RuleSettings:
    """A rule's overrides from ``[quality.rules.<code>]``; ``severity=None`` keeps the default."""

    enabled: bool = True
    severity: Severity | None = None


@dataclass(frozen=True)
class QualityConfig:
    """The validated ``[quality]`` table; ``QualityConfig()`` is the defaults."""

    reject_threshold: float = DEFAULT_REJECT_THRESHOLD
    max_title_length: int = DEFAULT_MAX_TITLE_LENGTH
    max_description_length: int = DEFAULT_MAX_DESCRIPTION_LENGTH
    rules: Mapping[str, RuleSettings] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.rules) - set(RULES_BY_CODE))
        if unknown:
            raise ConfigError(f"quality.rules: unknown rule code(s) {', '.join(unknown)}")
        object.__setattr__(self, "rules", MappingProxyType(dict(self.rules)))

    def is_enabled(self, code: str) -> bool:
        return self.rules.get(code, RuleSettings()).enabled

    def severity(self, code: str) -> Severity:
        return self.rules.get(code, RuleSettings()).severity or RULES_BY_CODE[code].severity

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> QualityConfig:
        """Validate pipeline.toml's ``[quality]`` table; every problem is reported at once."""
        if not isinstance(table, Mapping):
            raise ConfigError(f"quality: expected a table, got {table!r}")
        problems = [
            f"quality.{key}: unknown key (known: {', '.join(_KNOWN_KEYS)})"
            for key in table
            if key not in _KNOWN_KEYS
        ]
        values = {s.key: s.read(table, problems) for s in SETTINGS if s.key in table}
        rules = _read_rules(table.get("rules", {}), problems)
        if problems:
            raise ConfigError("; ".join(problems))
        return cls(**values, rules=rules)


@dataclass(frozen=True)
class Setting:
    """One scalar key of ``[quality]``: its default, its check and its doc line."""

    key: str
    default: float | int
    description: str
    valid: Callable[[Any], bool]
    expected: str

    def read(self, table: Mapping[str, Any], problems: list[str]) -> Any:
        value = table[self.key]
        if isinstance(value, bool) or not self.valid(value):
            problems.append(f"quality.{self.key}: expected {self.expected}, got {value!r}")
        return value


def _is_share(value: Any) -> bool:
    return isinstance(value, int | float) and 0 <= value <= 1


def _is_positive_int(value: Any) -> bool:
    return isinstance(value, int) and value >= 1


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "reject_threshold",
        DEFAULT_REJECT_THRESHOLD,
        "Share of a provider's rows that may be rejected; above it none of its rows are committed.",
        _is_share,
        "a number from 0 to 1",
    ),
    Setting(
        "max_title_length",
        DEFAULT_MAX_TITLE_LENGTH,
        "Longest title accepted, in characters (rule title_length).",
        _is_positive_int,
        "a positive integer",
    ),
    Setting(
        "max_description_length",
        DEFAULT_MAX_DESCRIPTION_LENGTH,
        "Longest description accepted, in characters (rule description_length).",
        _is_positive_int,
        "a positive integer",
    ),
)
_KNOWN_KEYS = (*(s.key for s in SETTINGS), "rules")
_RULE_KEYS = ("enabled", "severity")


def _read_rules(table: Any, problems: list[str]) -> dict[str, RuleSettings]:
    if not isinstance(table, Mapping):
        problems.append(f"quality.rules: expected a table, got {table!r}")
        return {}
    rules = {}
    for code, raw in table.items():
        where = f"quality.rules.{code}"
        if code not in RULES_BY_CODE:
            problems.append(f"{where}: unknown rule code (known: {', '.join(RULES_BY_CODE)})")
        elif not isinstance(raw, Mapping):
            problems.append(f"{where}: expected a table, got {raw!r}")
        else:
            rules[code] = _read_rule(where, raw, problems)
    return rules


def _read_rule(where: str, raw: Mapping[str, Any], problems: list[str]) -> RuleSettings:
    for key in raw:
        if key not in _RULE_KEYS:
            problems.append(f"{where}.{key}: unknown key (known: {', '.join(_RULE_KEYS)})")
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        problems.append(f"{where}.enabled: expected true or false, got {enabled!r}")
    severity = raw.get("severity")
    if severity is not None and severity not in SEVERITIES:
        problems.append(f"{where}.severity: expected 'error' or 'warn', got {severity!r}")
    return RuleSettings(enabled=enabled, severity=severity)


def describe_settings() -> list[dict[str, str]]:
    """The ``[quality]`` keys for docs: key, default and description."""
    rows = [
        {"key": f"quality.{s.key}", "default": str(s.default), "description": s.description}
        for s in SETTINGS
    ]
    rule_doc = "Turn a rule off, or set its severity to 'error' (reject) or 'warn' (count)."
    rows.append({"key": "quality.rules.<code>.enabled", "default": "true", "description": rule_doc})
    rows.append(
        {"key": "quality.rules.<code>.severity", "default": "per rule", "description": rule_doc}
    )
    return rows
