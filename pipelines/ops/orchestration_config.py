"""The ``[orchestration]`` table of pipeline.toml: its model, checked when the file loads.

See ``pipelines/ops/plan.py`` for what the plan makes of it and docs/scheduling.md for the keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationInfo, field_validator

from pipelines.validation import Section, checked, setting
from providers.base import Provider

MODES = (
    "plain_cron", "windows_task_scheduler", "github_actions", "airflow", "dagster", "prefect",
    "temporal", "external_scheduler",
)  # fmt: skip
# Run options a schedule may pin for every step; --run-id, --force and step names are the
# adapters' business, and --config/--data-dir come from the plan command's own flags.
RUN_FLAGS = {"--offline": False, "--no-cache": False, "--full-refresh": False, "--limit": True}
CRON_FIELDS = "five fields: minute hour day-of-month month day-of-week, e.g. '15 0 * * *'"


class GithubIssueAlert(Section):
    kind: Literal["github_issue"]


class EmailAlert(Section):
    kind: Literal["email"]
    to: str = setting(..., "an email address")


class WebhookAlert(Section):
    kind: Literal["webhook"]
    url_env: str = setting(..., "the name of the environment variable holding the URL")


ALERT_MODELS = (GithubIssueAlert, EmailAlert, WebhookAlert)
# Alert kinds and the keys each needs; ``*_env`` keys name environment variables (secrets).
ALERT_KINDS: dict[str, tuple[str, ...]] = {
    get_args(model.model_fields["kind"].annotation)[0]: tuple(model.model_fields)[1:]
    for model in ALERT_MODELS
}
Alert = Annotated[GithubIssueAlert | EmailAlert | WebhookAlert, Field(discriminator="kind")]


class Schedule(Section):
    """``[orchestration.schedule]``."""

    cron: str = setting("15 0 * * *", "a cron expression string")
    timezone: str = setting("UTC", "an IANA time zone name")

    @field_validator("cron")
    @classmethod
    def _cron(cls, expression: str) -> str:
        from croniter import croniter  # only when a schedule is set: loading the config stays cheap

        if len(expression.split()) != 5 or not croniter.is_valid(expression):
            raise ValueError(f"{expression!r} is not a valid cron expression ({CRON_FIELDS})")
        return expression

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {name!r} (use an IANA name such as UTC or Europe/Berlin)"
            ) from None
        return name


class OrchestrationModel(Section):
    """The ``[orchestration]`` table; the provider names come in the validation context."""

    mode: Literal[MODES] = setting("plain_cron")  # type: ignore[valid-type]
    python: str = setting(".venv/bin/python", "a path string")
    extra_args: list[str] = setting([], "a list of strings")
    providers: list[str] = setting([], "a list of provider names")
    alerts: list[Alert] = setting([], "a list of tables such as { kind = 'github_issue' }")
    shards: int = setting(1, "a whole number >= 1", ge=1)
    schedule: Schedule = setting(Schedule(), "a table")

    @field_validator("extra_args")
    @classmethod
    def _run_flags(cls, args: list[str]) -> list[str]:
        expects_value = False
        for arg in args:
            if expects_value:
                expects_value = False
                continue
            flag = arg.split("=", 1)[0]
            if flag not in RUN_FLAGS:
                raise ValueError(f"{arg!r} is not allowed (allowed: {', '.join(RUN_FLAGS)})")
            expects_value = RUN_FLAGS[flag] and "=" not in arg
        if expects_value:
            raise ValueError(f"{args[-1]} needs a value")
        return args

    @field_validator("providers")
    @classmethod
    def _known_providers(cls, names: list[str], info: ValidationInfo) -> list[str]:
        known = (info.context or {}).get("providers", ())
        for name in names:
            if name not in known:
                raise ValueError(f"no such provider {name!r} (known: {', '.join(known)})")
        return names


def read_orchestration(
    table: Mapping[str, Any], providers: Mapping[str, Provider]
) -> dict[str, Any]:
    """The validated ``[orchestration]`` table, defaults filled in; errors name their key."""
    model = checked("orchestration", OrchestrationModel, table, {"providers": tuple(providers)})
    return model.model_dump()
