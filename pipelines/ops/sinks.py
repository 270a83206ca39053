"""Run-log sinks: after each run its record goes to every target of ``[sinks.runlog]``.

A record a target could not take is queued on disk (``<log_dir>/sinks/<target>/pending/``,
one file per run id) and sent again, oldest first, after the next run. Delivery is tried
``attempts`` times with doubling backoff, all targets together bounded by
``deadline_seconds``, and never fails the run: a target that stays down is one warning and
a count (``pending``) in the outcome the metrics export. What a target accepted is noted in
``sent.json`` (run id and record hash), so re-sending the same run never duplicates it.

Settings (non-secret) come from ``pipeline.toml``; credentials from the environment, named
by ``*_env`` settings and registered for masking. See docs/sinks.md.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.errors import ConfigError
from pipelines.net.extras import require
from pipelines.net.secrets import mask, mask_data, register_basic_auth, register_secret
from pipelines.ops.sink_targets import (
    BulkTarget,
    CloudWatchTarget,
    Delivery,
    HttpJsonTarget,
    SinkDownError,
    Target,
)

log = logging.getLogger("pipeline.sinks")

SINK_DIR = "sinks"
SENT_REMEMBERED = 5000  # run ids kept in sent.json per target
# setting: (type, default); per kind: the keys it takes (required first) and the env defaults.
DELIVERY = {"deadline_seconds": (float, 30.0), "attempts": (int, 3),
            "backoff_seconds": (float, 1.0), "max_queued": (int, 1000)}  # fmt: skip
KINDS: dict[str, dict[str, str | None]] = {
    "cloudwatch": {"group": None, "stream": "runs", "region": "", "endpoint_url": ""},
    "opensearch": {"url": None, "index": "pipeline-runs", "username_env": "OPENSEARCH_USERNAME",
                   "password_env": "OPENSEARCH_PASSWORD", "api_key_env": "OPENSEARCH_API_KEY"},
    "http": {"url": None, "token_env": "PIPELINE_SINK_HTTP_TOKEN"},
}  # fmt: skip


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
    table = (section or {}).get("runlog") if isinstance(section, dict) else None
    if not table:
        return None
    errors: list[str] = []
    known = {*DELIVERY, "targets"}
    errors += [f"sinks.runlog.{k}: unknown setting (known: {', '.join(sorted(known))})"
               for k in table.keys() - known]  # fmt: skip
    values = {}
    for key, (kind, default) in DELIVERY.items():
        value = table.get(key, default)
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            errors.append(f"sinks.runlog.{key}: expected a number of at least 0, got {value!r}")
            value = default
        values[key] = kind(value)
    targets = [_target_table(i, t, errors) for i, t in enumerate(table.get("targets") or [])]
    names = [t["name"] for t in targets]
    errors += [f"sinks.runlog.targets: name {n!r} is used twice"
               for n in sorted({n for n in names if names.count(n) > 1})]  # fmt: skip
    if errors:
        raise ConfigError("; ".join(errors))
    return SinkSettings(targets=tuple(targets), **values)


def _target_table(index: int, table: Any, errors: list[str]) -> dict[str, str]:
    where = f"sinks.runlog.targets[{index}]"
    if not isinstance(table, dict) or table.get("kind") not in KINDS:
        errors.append(f"{where}.kind: expected one of {', '.join(KINDS)}")
        return {"name": f"#{index}"}
    declared = KINDS[table["kind"]]
    if table["kind"] == "cloudwatch":
        require("aws", f"{where}.kind = cloudwatch")
    found = {"kind": table["kind"], "name": str(table.get("name", table["kind"]))}
    for key in table.keys() - {"kind", "name", *declared}:
        errors.append(f"{where}.{key}: unknown setting (known: {', '.join(sorted(declared))})")
    for key, default in declared.items():
        value = table.get(key, default)
        if value is None or not isinstance(value, str) or (default is None and not value):
            errors.append(f"{where}.{key}: expected a non-empty string")
            continue
        found[key] = value
    if not found["name"].replace("-", "").replace("_", "").isalnum():
        errors.append(f"{where}.name: letters, digits, - and _ only, got {found['name']!r}")
    return found


def build_target(spec: Mapping[str, str], env: Mapping[str, str]) -> Target:
    """The client of one configured target, its credentials read from ``env`` and registered."""
    name, kind = spec["name"], spec["kind"]
    if kind == "cloudwatch":
        return CloudWatchTarget(name, spec["group"], spec["stream"], spec["region"],
                                spec["endpoint_url"])  # fmt: skip
    if kind == "opensearch":
        user, password = env.get(spec["username_env"], ""), env.get(spec["password_env"], "")
        api_key = env.get(spec["api_key_env"], "")
        if user:
            register_basic_auth(user, password)
        register_secret(api_key)
        return BulkTarget(name, spec["url"], spec["index"], user, password, api_key)
    token = env.get(spec["token_env"], "")
    register_secret(token)
    return HttpJsonTarget(name, spec["url"], token)


class SinkQueue:
    """One target's records waiting on disk, and the ledger of what it already accepted."""

    def __init__(self, log_dir: Path, target: str, max_queued: int) -> None:
        self.root = log_dir / SINK_DIR / target
        self.pending_dir = self.root / "pending"
        self.max_queued = max_queued

    def pending(self) -> list[dict[str, Any]]:
        """Queued records, oldest first (unreadable files are set aside with a warning)."""
        records = []
        files = self.pending_dir.glob("*.json") if self.pending_dir.exists() else []
        for path in sorted(files, key=lambda p: (p.stat().st_mtime, p.name)):
            try:
                records.append(json.loads(path.read_text()))
            except (OSError, ValueError) as exc:
                log.warning("sink queue file %s is unreadable (%s); set aside", path, exc)
                path.replace(path.with_suffix(".corrupt"))
        return records

    def put(self, record: Mapping[str, Any]) -> None:
        self.pending_dir.mkdir(parents=True, exist_ok=True)
        path = self.pending_dir / f"{record['run_id']}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, sort_keys=True, default=str))
        tmp.replace(path)

    def drop(self, run_id: str) -> None:
        (self.pending_dir / f"{run_id}.json").unlink(missing_ok=True)

    def trim(self) -> int:
        """Keep the newest ``max_queued`` records; returns how many old ones were dropped."""
        files = sorted(self.pending_dir.glob("*.json"), key=lambda p: p.stat().st_mtime)
        extra = files[: max(len(files) - self.max_queued, 0)]
        for path in extra:
            path.unlink(missing_ok=True)
        return len(extra)

    def sent(self) -> dict[str, str]:
        try:
            return json.loads((self.root / "sent.json").read_text())
        except (OSError, ValueError):
            return {}

    def mark_sent(self, hashes: Mapping[str, str]) -> None:
        ledger = {**self.sent(), **hashes}
        keep = dict(list(ledger.items())[-SENT_REMEMBERED:])
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / "sent.json.tmp"
        tmp.write_text(json.dumps(keep))
        tmp.replace(self.root / "sent.json")


def record_hash(record: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()


def deliver_run(
    record: Mapping[str, Any] | None,
    settings: SinkSettings | None,
    env: Mapping[str, str],
    log_dir: Path,
) -> dict[str, dict[str, int]]:
    """Send ``record`` (and what earlier runs left queued) to every target; never raises.

    Returns, per target, how many records were ``delivered``, ``refused`` and are still
    ``pending`` on disk.
    """
    if settings is None:
        return {}
    targets = {spec["name"]: build_target(spec, env) for spec in settings.targets}
    masked = mask_data(dict(record)) if record else None  # the sinks' own secrets included
    deadline = time.monotonic() + settings.deadline_seconds
    outcome = {}
    for spec in settings.targets:
        queue = SinkQueue(log_dir, spec["name"], settings.max_queued)
        try:
            outcome[spec["name"]] = _deliver_to(
                targets[spec["name"]], queue, masked, settings, deadline
            )
        except Exception as exc:  # a sink never fails the run, whatever it raises
            log.warning(
                "run-log sink %s failed: %s", spec["name"], mask(f"{type(exc).__name__}: {exc}")
            )
            if masked is not None:
                queue.put(masked)
            outcome[spec["name"]] = {"delivered": 0, "refused": 0, "pending": len(queue.pending())}
    return outcome


def _deliver_to(
    target: Target,
    queue: SinkQueue,
    record: dict[str, Any] | None,
    settings: SinkSettings,
    deadline: float,
) -> dict[str, int]:
    """Queue ``record``, then send what is queued and not yet accepted, retrying what failed."""
    if record is not None:
        queue.put(record)
    dropped = queue.trim()
    if dropped:
        log.warning("run-log sink %s: queue full, %d oldest records dropped", target.name, dropped)
    sent = queue.sent()
    waiting = {r["run_id"]: r for r in queue.pending()}
    for run_id in [k for k, r in waiting.items() if sent.get(k) == record_hash(r)]:
        queue.drop(run_id)  # accepted before (an earlier send whose answer was lost)
        del waiting[run_id]
    done = _attempts(target, waiting, settings, deadline)
    queue.mark_sent({k: record_hash(waiting[k]) for k in done.accepted})
    for run_id in done.accepted | set(done.refused):
        queue.drop(run_id)
    for run_id, problem in done.refused.items():
        log.warning("run-log sink %s refused run %s: %s", target.name, run_id, problem)
    pending = len(queue.pending())
    if pending:
        log.warning("run-log sink %s: %d record(s) queued for the next run", target.name, pending)
    return {"delivered": len(done.accepted), "refused": len(done.refused), "pending": pending}


def _attempts(
    target: Target, waiting: dict[str, dict[str, Any]], settings: SinkSettings, deadline: float
) -> Delivery:
    """Up to ``attempts`` tries, doubling the pause, each sending only what is still owed."""
    total = Delivery()
    owed = dict(waiting)
    for attempt in range(max(settings.attempts, 1)):
        left = deadline - time.monotonic()
        if not owed or left <= 0:
            break
        try:
            got = target.send(list(owed.values()), timeout=min(left, 10.0))
        except SinkDownError as exc:
            log.info("run-log sink %s: attempt %d failed: %s", target.name, attempt + 1, exc)
            got = Delivery(retry=set(owed))
        total.accepted |= got.accepted
        total.refused.update(got.refused)
        owed = {k: owed[k] for k in got.retry if k in owed}
        pause = settings.backoff_seconds * 2**attempt
        if owed and attempt + 1 < settings.attempts:
            time.sleep(max(min(pause, deadline - time.monotonic()), 0))
    return total
