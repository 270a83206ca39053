"""Where run records go besides ``logs/``: CloudWatch Logs, an OpenSearch ``_bulk`` endpoint, or
any HTTP endpoint that takes JSON.

Each target's ``send(records, timeout)`` makes one attempt at delivering ``records`` (run-log
records, secrets already masked) and returns a ``Delivery``: the run ids the sink accepted,
the ones it refused for good (the record itself is bad: retrying cannot help) and the ones
to try again. Transport trouble (a refused connection, a timeout, a 5xx) is ``SinkDownError``: all
of ``records`` stay to be tried again. Every target is idempotent on the run id: OpenSearch
uses it as the document id, the HTTP endpoint receives it as ``Idempotency-Key``, and
``pipelines/ops/sinks.py`` never sends a record a sink already accepted.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import requests

from pipelines.net.secrets import mask

# What a sink answers when the record itself is unacceptable (retrying cannot help).
REFUSED_STATUSES = frozenset({400, 413, 422})
# CloudWatch refuses events older than 14 days; queued records older than that are sent as now.
CLOUDWATCH_MAX_AGE = timedelta(days=13)


class SinkDownError(Exception):
    """The sink could not be reached or answered with a temporary failure; try again later."""


@dataclass
class Delivery:
    """The outcome of one attempt: run ids accepted, refused for good, and to try again."""

    accepted: set[str] = field(default_factory=set)
    refused: dict[str, str] = field(default_factory=dict)
    retry: set[str] = field(default_factory=set)


class Target(Protocol):
    name: str

    def send(self, records: list[dict[str, Any]], timeout: float) -> Delivery: ...


def _document(record: Mapping[str, Any]) -> str:
    return json.dumps(record, sort_keys=True, default=str)


def _status_problem(response: requests.Response) -> str:
    return mask(f"HTTP {response.status_code}: {response.text[:200]}")


@dataclass
class HttpJsonTarget:
    """POST each record as a JSON body to ``url``; ``Idempotency-Key`` carries the run id."""

    name: str
    url: str
    token: str = ""

    def send(self, records: list[dict[str, Any]], timeout: float) -> Delivery:
        delivery = Delivery()
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        for number, record in enumerate(records):
            run_id = record["run_id"]
            try:
                response = requests.post(
                    self.url, data=_document(record), timeout=timeout,
                    headers={**headers, "Idempotency-Key": run_id},
                )  # fmt: skip
            except requests.RequestException as exc:
                problem = mask(f"{type(exc).__name__}: {exc}")
            else:
                if response.ok:
                    delivery.accepted.add(run_id)
                    continue
                if response.status_code in REFUSED_STATUSES:
                    delivery.refused[run_id] = _status_problem(response)
                    continue
                problem = _status_problem(response)
            if not delivery.accepted and not delivery.refused:
                raise SinkDownError(problem)
            delivery.retry |= {r["run_id"] for r in records[number:]}  # the rest: next attempt
            break
        return delivery


@dataclass
class BulkTarget:
    """OpenSearch or Elasticsearch: one ``_bulk`` request, the run id as each document's id.

    A bulk answer with ``errors: true`` lists a status per item: the accepted ones are done,
    429 and 5xx items are tried again, any other item status means the document was refused.
    """

    name: str
    url: str
    index: str
    username: str = ""
    password: str = ""
    api_key: str = ""

    def send(self, records: list[dict[str, Any]], timeout: float) -> Delivery:
        lines = []
        for record in records:
            lines.append(json.dumps({"index": {"_index": self.index, "_id": record["run_id"]}}))
            lines.append(_document(record))
        try:
            response = requests.post(
                self.url.rstrip("/") + "/_bulk", data="\n".join(lines) + "\n", timeout=timeout,
                headers=self._headers(), auth=self._auth(),
            )  # fmt: skip
        except requests.RequestException as exc:
            raise SinkDownError(mask(f"{type(exc).__name__}: {exc}")) from None
        if not response.ok:
            raise SinkDownError(_status_problem(response))
        try:
            items = response.json()["items"]
        except (ValueError, KeyError, TypeError):
            raise SinkDownError(f"{self.url}/_bulk answered without an items list") from None
        return _bulk_delivery(records, items)

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/x-ndjson"}
        if self.api_key:
            headers["Authorization"] = f"ApiKey {self.api_key}"
        return headers

    def _auth(self) -> tuple[str, str] | None:
        return (self.username, self.password) if self.username else None


def _bulk_delivery(records: list[dict[str, Any]], items: list[Any]) -> Delivery:
    """Read a ``_bulk`` answer item by item (items come back in the order they were sent)."""
    delivery = Delivery()
    for record, item in zip(records, items, strict=False):
        run_id = record["run_id"]
        result = next(iter(item.values()), {}) if isinstance(item, dict) else {}
        status = int(result.get("status", 0))
        if 200 <= status < 300:
            delivery.accepted.add(run_id)
        elif status == 429 or status >= 500:
            delivery.retry.add(run_id)
        else:
            reason = (result.get("error") or {}).get("reason", "no reason given")
            delivery.refused[run_id] = mask(f"HTTP {status}: {reason}")
    delivery.retry |= {r["run_id"] for r in records[len(items) :]}
    return delivery


@dataclass
class CloudWatchTarget:
    """CloudWatch Logs: one event per record in ``group``/``stream``, both created if missing."""

    name: str
    group: str
    stream: str
    region: str = ""
    endpoint_url: str = ""

    def send(self, records: list[dict[str, Any]], timeout: float) -> Delivery:
        import boto3  # the optional "aws" extra, checked when the sinks are parsed
        from botocore.config import Config as BotoConfig
        from botocore.exceptions import BotoCoreError, ClientError

        client = boto3.client(
            "logs", region_name=self.region or None, endpoint_url=self.endpoint_url or None,
            config=BotoConfig(connect_timeout=timeout, read_timeout=timeout,
                              retries={"max_attempts": 1}),
        )  # fmt: skip
        events = sorted((_event(r) for r in records), key=lambda e: e["timestamp"])
        try:
            try:
                self._put(client, events)
            except client.exceptions.ResourceNotFoundException:
                self._create(client)
                self._put(client, events)
        except (BotoCoreError, ClientError) as exc:
            raise SinkDownError(mask(f"{type(exc).__name__}: {exc}")) from None
        return Delivery(accepted={r["run_id"] for r in records})

    def _put(self, client: Any, events: list[dict[str, Any]]) -> None:
        client.put_log_events(logGroupName=self.group, logStreamName=self.stream, logEvents=events)

    def _create(self, client: Any) -> None:
        for create, kwargs in (
            (client.create_log_group, {"logGroupName": self.group}),
            (client.create_log_stream, {"logGroupName": self.group, "logStreamName": self.stream}),
        ):
            with contextlib.suppress(client.exceptions.ResourceAlreadyExistsException):
                create(**kwargs)


def _event(record: Mapping[str, Any]) -> dict[str, Any]:
    """A log event stamped with the run's end (or now, for records too old for CloudWatch)."""
    now = datetime.now(UTC)
    try:
        ended = datetime.fromisoformat(str(record.get("ended_at")))
    except ValueError:
        ended = now
    if ended.tzinfo is None or not now - CLOUDWATCH_MAX_AGE <= ended <= now:
        ended = now
    return {"timestamp": int(ended.timestamp() * 1000), "message": _document(record)}
