"""Notifications of a run: one message when an incident opens, one when it recovers.

The report step calls ``Notifier.notify_run`` with the run's record before the record is
appended to the run log, so that the record counts what was sent. The open incidents and the
times of recent messages live in ``logs/notify_state.json`` (next to the run log), so that the
next run knows what was already said. An event is marked said once one target accepted it; if
none did, or the hourly cap stopped it, the next run tries again. Nothing here fails a run.

``notify_event`` announces one event outside a run's record (the API budget, say).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pipelines.net.notify import Message, NotifySettings, Targets
from pipelines.run.incidents import KINDS, Incident, healthy, incidents_of

log = logging.getLogger("pipeline.notify")

STATE_FILE = "notify_state.json"
WINDOW = timedelta(hours=1)


@dataclass
class Tally:
    """What the notifications of a run did, for its record."""

    sent: int = 0  # messages at least one target accepted
    failed: int = 0  # deliveries to one target that failed
    rate_limited: int = 0  # messages held back by the hourly cap (tried again next run)
    events: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"sent": self.sent, "failed": self.failed, "rate_limited": self.rate_limited,
                "events": self.events}  # fmt: skip


class Notifier:
    """Sends the events of runs to ``PIPELINE_NOTIFY_URLS``, deduplicated by incident."""

    def __init__(self, settings: NotifySettings, env: Mapping[str, str], log_dir: Path) -> None:
        self.settings, self.targets = settings, Targets(env)
        self.path = Path(log_dir) / STATE_FILE

    def __bool__(self) -> bool:
        return bool(self.targets)

    def notify_run(self, record: Mapping[str, Any]) -> Tally:
        """Announce what opened and what recovered since the last run; never raises."""
        tally = Tally(failed=self.targets.invalid)
        try:
            state = self._load()
            current = incidents_of(record)
            for key, incident in current.items():
                opened = key in state["open"]
                if not opened and self._announce(_opened(incident, record), state, tally):
                    state["open"][key] = {"run_id": record.get("run_id"), "kind": incident.kind}
            for key in [k for k in state["open"] if k not in current]:
                if self._recover(key, record, state, tally):
                    del state["open"][key]
            self._save(state)
        except Exception:  # a notification problem must never fail the run
            log.exception("notifications of run %s failed", record.get("run_id"))
            tally.failed += 1
        return tally

    def _recover(self, key: str, record: Mapping[str, Any], state: dict, tally: Tally) -> bool:
        """Whether the open incident ``key`` is over (announced, or lapsing without a word)."""
        kind, provider, metric = key.split("/", 2)
        if kind in KINDS and not healthy(record, kind, provider, metric):
            return False
        message = _recovered(kind, provider, metric, record)
        return message is None or self._announce(message, state, tally)

    def notify_event(self, event: str, provider: str, detail: str, run_id: str = "") -> Tally:
        """Announce one event of ``EVENTS`` now, once a UTC day per event and provider."""
        tally = Tally(failed=self.targets.invalid)
        try:
            state = self._load()
            today = str(datetime.now(UTC).date())
            said = [k for k in state.get("events", []) if k.startswith(today)]
            key = f"{today}/{event}/{provider}"
            if key not in said:
                title = f"Product pipeline: {event.replace('_', ' ')} ({provider})"
                lines = (detail, f"run {run_id}") if run_id else (detail,)
                if self._announce(Message(event, title, lines), state, tally):
                    said.append(key)
            state["events"] = said
            self._save(state)
        except Exception:
            log.exception("notification of %s for %s failed", event, provider)
            tally.failed += 1
        return tally

    def _announce(self, message: Message, state: dict[str, Any], tally: Tally) -> bool:
        """Send ``message`` if its event is wanted and the hour allows; True once it is said."""
        if message.event not in self.settings.events:
            return True  # not wanted: said, as far as dedup is concerned
        now = datetime.now(UTC)
        recent = [t for t in state["sent"] if now - datetime.fromisoformat(t) < WINDOW]
        state["sent"] = recent
        if len(recent) >= self.settings.rate_limit_per_hour:
            tally.rate_limited += 1
            log.warning("%s notification held back: %d messages in the last hour",
                        message.event, len(recent))  # fmt: skip
            return False
        sent, failed = self.targets.send(message, self.settings.tags_for(message.event))
        tally.failed += failed
        if not sent:
            return False
        tally.sent += 1
        tally.events.append(message.event)
        recent.append(now.isoformat())
        return True

    def _load(self) -> dict[str, Any]:
        try:
            state = json.loads(self.path.read_text())
            if isinstance(state.get("open"), dict) and isinstance(state.get("sent"), list):
                return state
            log.warning("%s: unexpected content; starting afresh", self.path)
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as exc:
            log.warning("%s: unreadable (%s); starting afresh", self.path, exc)
        return {"open": {}, "sent": []}

    def _save(self, state: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(state, indent=1, sort_keys=True))
        os.replace(temporary, self.path)


def _opened(incident: Incident, record: Mapping[str, Any]) -> Message:
    event = KINDS[incident.kind][0]
    title = f"Product pipeline: {event.replace('_', ' ')} ({incident.provider})"
    level = "failure" if incident.kind in ("failure", "quality") else "warning"
    return Message(event, title, (incident.detail, _run_line(record)), level)


def _recovered(kind: str, provider: str, metric: str, record: Mapping[str, Any]) -> Message | None:
    event = KINDS.get(kind, (None, None))[1]
    if event is None:
        return None
    what = "volumes are back in range" if kind == "anomaly" else "is healthy again"
    title = f"Product pipeline: {event.replace('_', ' ')} ({provider})"
    line = f"{provider} {metric} {what}" if kind == "anomaly" else f"{provider} {what} ({kind})"
    return Message(event, title, (line, _run_line(record)), "success")


def _run_line(record: Mapping[str, Any]) -> str:
    return f"run {record.get('run_id')} ({record.get('mode', 'live')}), exit code " \
        f"{record.get('exit_code', 0)}"  # fmt: skip
