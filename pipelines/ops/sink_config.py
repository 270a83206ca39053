"""The ``[sinks]`` table of pipeline.toml: its model, checked when the file loads.

``[sinks.runlog]`` says how hard to try and lists the targets, each a ``kind`` with its own
keys (see docs/sinks.md); ``pipelines/ops/sinks.py`` delivers the run records to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from pipelines.net.extras import require
from pipelines.run.postgres_settings import PostgresSettings
from pipelines.validation import Section, checked, setting

NON_EMPTY, ANY_TEXT, NOT_NEGATIVE = "a non-empty string", "a string", "a number of at least 0"
WHOLE = "a whole number of at least 0"
NAME = setting("", "letters, digits, - and _ only", pattern=r"^[A-Za-z0-9_-]+$")


class CloudWatchSink(Section):
    kind: Literal["cloudwatch"]
    name: str = NAME
    group: str = setting(..., NON_EMPTY, min_length=1)
    stream: str = setting("runs", ANY_TEXT)
    region: str = setting("", ANY_TEXT)
    endpoint_url: str = setting("", ANY_TEXT)


class OpenSearchSink(Section):
    kind: Literal["opensearch"]
    name: str = NAME
    url: str = setting(..., NON_EMPTY, min_length=1)
    index: str = setting("pipeline-runs", ANY_TEXT)
    username_env: str = setting("OPENSEARCH_USERNAME", ANY_TEXT)
    password_env: str = setting("OPENSEARCH_PASSWORD", ANY_TEXT)
    api_key_env: str = setting("OPENSEARCH_API_KEY", ANY_TEXT)


class HttpSink(Section):
    kind: Literal["http"]
    name: str = NAME
    url: str = setting(..., NON_EMPTY, min_length=1)
    token_env: str = setting("PIPELINE_SINK_HTTP_TOKEN", ANY_TEXT)


Target = Annotated[CloudWatchSink | OpenSearchSink | HttpSink, Field(discriminator="kind")]


class RunlogModel(Section):
    """``[sinks.runlog]``."""

    deadline_seconds: float = setting(30.0, NOT_NEGATIVE, ge=0)
    attempts: int = setting(3, WHOLE, ge=0)
    backoff_seconds: float = setting(1.0, NOT_NEGATIVE, ge=0)
    max_queued: int = setting(1000, WHOLE, ge=0)
    targets: list[Target] = setting([], "a list of tables such as { kind = 'http', url = '…' }")

    @field_validator("targets")
    @classmethod
    def _distinct_names(cls, targets: list[Any]) -> list[Any]:
        names = [target.name or target.kind for target in targets]
        for name in sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"name {name!r} is used twice")
        return targets


class SinksModel(Section):
    """``[sinks]``: the run log's targets, and the PostgreSQL sink of the data."""

    runlog: RunlogModel | None = setting(None, "a table")
    postgres: PostgresSettings | None = setting(None, "a table")


@dataclass(frozen=True)
class SinkSettings:
    """``[sinks.runlog]``: how hard to try, and the targets (each a kind and its settings)."""

    deadline_seconds: float
    attempts: int
    backoff_seconds: float
    max_queued: int
    targets: tuple[dict[str, str], ...]


def parse_sinks(section: Any) -> SinkSettings | None:
    """``[sinks]`` of ``pipeline.toml`` checked; ``None`` when no run-log sink is configured.

    Every problem is collected into one ``ConfigError`` naming its key.
    """
    model = checked("sinks", SinksModel, section)
    if model.runlog is None or not section.get("runlog"):
        return None
    runlog = model.runlog
    for index, target in enumerate(runlog.targets):
        if target.kind == "cloudwatch":
            require("aws", f"sinks.runlog.targets[{index}].kind = cloudwatch")
    targets = tuple({**t.model_dump(), "name": t.name or t.kind} for t in runlog.targets)
    return SinkSettings(float(runlog.deadline_seconds), runlog.attempts,
                        float(runlog.backoff_seconds), runlog.max_queued, targets)  # fmt: skip
