"""What happened to one provider's records in a run: its counts, drops and their causes."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from pipelines.net.secrets import mask

MAX_LOGGED_ERRORS = 20
EXAMPLES_PER_CAUSE = 3
DRIFT_MIN_RECORDS = 10


@dataclass
class ProviderCounts:
    """What happened to one provider's records in this run (its run-log entry)."""

    records: int = 0
    fetched: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    quarantined: int = 0
    dropped: int = 0
    deleted: int = 0
    dropped_reasons: dict[str, int] = field(default_factory=dict)
    quality: dict[str, int] = field(default_factory=dict)
    rejected_examples: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    drop_causes: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def written(self) -> int:
        return self.new + self.changed + self.deleted

    def drop(self, reason: str, message: str) -> None:
        """Count a record that could not become a row; keep a few example messages per cause.

        The cause is the message without its record id ("<provider> <id>: <cause>"),
        so a thousand records broken the same way keep three examples, not a thousand.
        """
        self.dropped += 1
        self.fetched += 1
        self.dropped_reasons[reason] = self.dropped_reasons.get(reason, 0) + 1
        cause = (reason, message.split(": ", 1)[-1])
        seen = self.drop_causes[cause] = self.drop_causes.get(cause, 0) + 1
        if seen <= EXAMPLES_PER_CAUSE and len(self.errors) < MAX_LOGGED_ERRORS:
            self.errors.append(mask(message))

    def drift(self) -> list[dict[str, Any]]:
        """Causes shared by many dropped records: an upstream field that changed or vanished."""
        threshold = max(DRIFT_MIN_RECORDS, 1)
        return [
            {"reason": reason, "cause": mask(cause), "records": count}
            for (reason, cause), count in self.drop_causes.items()
            if count >= threshold or (self.records and count == self.records)
        ]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready counts (for the checkpoint)."""
        data = {k: v for k, v in self.__dict__.items() if k != "drop_causes"}
        data["drop_causes"] = [[r, c, n] for (r, c), n in self.drop_causes.items()]
        data["drift"] = self.drift()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProviderCounts:
        names = {f.name for f in fields(cls)}
        causes = {(r, c): n for r, c, n in data.get("drop_causes", [])}
        kept = {k: v for k, v in data.items() if k in names and k != "drop_causes"}
        return cls(**kept, drop_causes=causes)

    def reconciles(self) -> bool:
        """fetched = new + changed + unchanged + quarantined + dropped."""
        accounted = self.new + self.changed + self.unchanged + self.quarantined + self.dropped
        return self.fetched == accounted
