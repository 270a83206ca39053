"""The ``[quality]`` table: defaults, validation and error messages, and the docs tables."""

from __future__ import annotations

from typing import Any

import pytest

from pipelines.checks.quality import CHECKS, RULES_BY_CODE
from pipelines.checks.quality_config import QualityConfig, RuleSettings, describe_settings
from pipelines.checks.quality_rules import RULE_INFO_BY_CODE, describe_rules
from pipelines.errors import ConfigError


def test_config_defaults_and_a_full_table() -> None:
    assert QualityConfig.from_table({}) == QualityConfig()
    config = QualityConfig.from_table(
        {
            "reject_threshold": 0,
            "max_title_length": 200,
            "max_description_length": 5000,
            "rules": {
                "price_positive": {"severity": "warn"},
                "url_scheme": {"enabled": False},
                "title_length": {"enabled": True, "severity": "error"},
            },
        }
    )
    assert (config.reject_threshold, config.max_title_length) == (0, 200)
    assert config.severity("price_positive") == "warn"
    assert config.severity("description_length") == "warn"
    assert not config.is_enabled("url_scheme")
    assert config.is_enabled("title_length")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            {"rules": {"price_positive": {"severity": "fatal"}}},
            "quality.rules.price_positive.severity: expected 'error' or 'warn', got 'fatal'",
        ),
        (
            {"rules": {"url_scheme": {"enabled": "no"}}},
            "quality.rules.url_scheme.enabled: expected true or false, got 'no'",
        ),
        (
            {"rules": {"url_scheme": {"enable": False}}},
            "quality.rules.url_scheme.enable: unknown key (known: enabled, severity)",
        ),
        ({"rules": {"url_scheme": True}}, "quality.rules.url_scheme: expected a table, got True"),
        ({"rules": []}, "quality.rules: expected a table, got []"),
        (
            {"reject_threshold": 1.5},
            "quality.reject_threshold: expected a number from 0 to 1, got 1.5",
        ),
        (
            {"reject_threshold": "5%"},
            "quality.reject_threshold: expected a number from 0 to 1, got '5%'",
        ),
        ({"max_title_length": 0}, "quality.max_title_length: expected a positive integer, got 0"),
        (
            {"max_title_length": True},
            "quality.max_title_length: expected a positive integer, got True",
        ),
        (
            {"max_description_length": 10.5},
            "quality.max_description_length: expected a positive integer, got 10.5",
        ),
        ("yes", "quality: expected a table, got 'yes'"),
    ],
)
def test_config_errors_name_the_key(table: Any, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        QualityConfig.from_table(table)
    assert str(raised.value) == message


def test_unknown_keys_and_rule_codes_are_reported_together() -> None:
    with pytest.raises(ConfigError) as raised:
        QualityConfig.from_table({"threshold": 0.1, "rules": {"price_negative": {}}})
    first, second = str(raised.value).split("; ", 1)
    assert first == (
        "quality.threshold: unknown key "
        "(known: reject_threshold, max_title_length, max_description_length, rules)"
    )
    assert second.startswith("quality.rules.price_negative: unknown key (known: ")
    assert "duplicate_source_id" in second


def test_constructor_rejects_unknown_rule_codes() -> None:
    with pytest.raises(ConfigError, match="price_negative"):
        QualityConfig(rules={"price_negative": RuleSettings()})


def test_every_rule_named_as_data_has_a_check_and_every_check_a_name() -> None:
    assert set(CHECKS) == set(RULE_INFO_BY_CODE)
    assert [(r.code, r.description, r.severity) for r in RULES_BY_CODE.values()] == [
        (i.code, i.description, i.severity) for i in RULE_INFO_BY_CODE.values()
    ]


def test_describe_rules_and_settings_cover_everything() -> None:
    described = describe_rules()
    assert [d["code"] for d in described] == list(RULES_BY_CODE)
    assert all(d["description"] and d["severity"] in ("error", "warn") for d in described)
    keys = [d["key"] for d in describe_settings()]
    assert keys == [
        "quality.reject_threshold",
        "quality.max_title_length",
        "quality.max_description_length",
        "quality.rules.<code>.enabled",
        "quality.rules.<code>.severity",
    ]
