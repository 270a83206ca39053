"""The ``[quality]`` table of pipeline.toml: ``QualityConfig``, its defaults and validation.

Apart from the rules (pipelines.checks.quality), which it knows only by code and default
severity (pipelines.checks.quality_rules, plain data): the config is read once per run, the
rules run on every batch, and loading the config does not load pyarrow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from pydantic import create_model

from pipelines.checks.quality_rules import RULE_INFO_BY_CODE, Severity
from pipelines.errors import ConfigError
from pipelines.validation import Section, checked, field_rows, setting

DEFAULT_REJECT_THRESHOLD = 0.05
DEFAULT_MAX_TITLE_LENGTH = 500
DEFAULT_MAX_DESCRIPTION_LENGTH = 10_000


class RuleModel(Section):
    """``[quality.rules.<code>]``: turn a rule off, or change its severity."""

    enabled: bool = setting(True, "true or false")
    severity: Literal["error", "warn"] | None = setting(None, "'error' or 'warn'")


# [quality.rules]: one optional table per rule code; any other code is an unknown key.
RulesModel = create_model(
    "QualityRules",
    __base__=Section,
    **{code: (RuleModel | None, setting(None, "a table")) for code in RULE_INFO_BY_CODE},
)


class QualityModel(Section):
    """The ``[quality]`` table as pipeline.toml holds it."""

    reject_threshold: float = setting(
        DEFAULT_REJECT_THRESHOLD, "a number from 0 to 1", ge=0, le=1,
        description="Share of a provider's rows (of each dataset) that may be rejected; "
        "above it none of them are committed.",
    )  # fmt: skip
    max_title_length: int = setting(
        DEFAULT_MAX_TITLE_LENGTH, "a positive integer", ge=1,
        description="Longest title accepted, in characters (rule title_length).",
    )  # fmt: skip
    max_description_length: int = setting(
        DEFAULT_MAX_DESCRIPTION_LENGTH, "a positive integer", ge=1,
        description="Longest description accepted, in characters (rule description_length).",
    )  # fmt: skip
    rules: RulesModel = setting(RulesModel(), "a table")  # type: ignore[valid-type]


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
        unknown = sorted(set(self.rules) - set(RULE_INFO_BY_CODE))
        if unknown:
            raise ConfigError(f"quality.rules: unknown rule code(s) {', '.join(unknown)}")
        object.__setattr__(self, "rules", MappingProxyType(dict(self.rules)))

    def __reduce__(self) -> tuple[Any, ...]:
        """Picklable (a worker process gets a copy): the read-only ``rules`` as a plain dict."""
        fields = (self.reject_threshold, self.max_title_length, self.max_description_length)
        return (type(self), (*fields, dict(self.rules)))

    def is_enabled(self, code: str) -> bool:
        return self.rules.get(code, RuleSettings()).enabled

    def severity(self, code: str) -> Severity:
        return self.rules.get(code, RuleSettings()).severity or RULE_INFO_BY_CODE[code].severity

    @classmethod
    def from_table(cls, table: Any) -> QualityConfig:
        """Validate pipeline.toml's ``[quality]`` table; every problem is reported at once."""
        model = checked("quality", QualityModel, table)
        rules = {code: RuleSettings(rule.enabled, rule.severity)
                 for code, rule in model.rules if rule is not None}  # fmt: skip
        return cls(model.reject_threshold, model.max_title_length,
                   model.max_description_length, rules)  # fmt: skip


def describe_settings() -> list[dict[str, str]]:
    """The ``[quality]`` keys for docs: key, default and description."""
    rows = field_rows("quality", QualityModel)[:-1]  # the rules: one row per key of a rule
    rule_doc = "Turn a rule off, or set its severity to 'error' (reject) or 'warn' (count)."
    rows.append({"key": "quality.rules.<code>.enabled", "default": "true", "description": rule_doc})
    rows.append(
        {"key": "quality.rules.<code>.severity", "default": "per rule", "description": rule_doc}
    )
    return rows
