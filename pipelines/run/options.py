"""What a run was asked for (``RunOptions``), what it gave back, and where its lake lives."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipelines.config import PipelineConfig
from pipelines.errors import ConfigError
from pipelines.lake.storage import Storage, open_storage
from pipelines.net.extras import require
from providers.base import Provider


@dataclass(frozen=True)
class RunOptions:
    """What the user asked for on the command line (kept in the run's checkpoint)."""

    providers: tuple[str, ...] | None = None
    limit: int | None = None
    dry_run: bool = False
    no_cache: bool = False
    offline: bool = False
    replay: Path | None = None
    full_refresh: bool = False
    fail_on_anomaly: bool = False
    shard: str | None = None  # "K/N": this process's share of the work (pipelines/run/shard.py)
    max_duration: float | None = None  # seconds after which fetching stops (--max-duration)
    allow_mass_delete: bool = False  # a complete pull may mark more than max_delete_share deleted
    defer_gate: bool = False  # a shard of a joined run: the join decides the quality gate
    datasets: tuple[str, ...] = ("products",)  # what is pulled (pipelines/lake/datasets.py)
    workers: int | None = None  # processes normalizing a provider (None: pipeline.workers)

    @property
    def mode(self) -> str:
        if self.dry_run:
            return "dry_run"
        if self.replay is not None:
            return "replay"
        return "offline" if self.offline else "live"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["providers"] = list(self.providers) if self.providers else None
        data["replay"] = str(self.replay) if self.replay else None
        data["mode"] = self.mode
        data["datasets"] = list(self.datasets)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunOptions:
        names = data.get("providers")
        return cls(
            providers=tuple(names) if names else None,
            limit=data.get("limit"),
            dry_run=data.get("dry_run", False),
            no_cache=data.get("no_cache", False),
            offline=data.get("offline", False),
            replay=Path(data["replay"]) if data.get("replay") else None,
            full_refresh=data.get("full_refresh", False),
            fail_on_anomaly=data.get("fail_on_anomaly", False),
            shard=data.get("shard"),
            max_duration=data.get("max_duration"),
            allow_mass_delete=data.get("allow_mass_delete", False),
            defer_gate=data.get("defer_gate", False),
            datasets=tuple(data.get("datasets") or ("products",)),
            workers=data.get("workers"),
        )


@dataclass
class RunResult:
    """A finished (or stopped) run: its record, exit code and a preview of written rows."""

    record: dict[str, Any]
    exit_code: int
    previews: dict[str, list[dict[str, Any]]]


def new_run_id(now: datetime | None = None) -> str:
    """Sortable, unique run id: UTC time plus a random suffix."""
    return f"{(now or datetime.now(UTC)):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def lake_uri(config: PipelineConfig) -> str:
    """The lake: ``lake_uri`` when set, else the ``data_dir`` folder."""
    return config.lake_uri or config.data_dir


def lake_storage(config: PipelineConfig, options: RunOptions) -> Storage:
    """Where this run's lake lives: offline demo rows never mix with real ones."""
    storage = open_storage(
        lake_uri(config), endpoint_url=config.s3_endpoint_url, region=config.s3_region
    )
    return storage.child("demo") if options.offline else storage


def work_roots(config: PipelineConfig) -> list[Path]:
    """Where checkpoints and staged files live (real, then demo): the lake when it is a
    local folder, else the local ``data_dir``."""
    uri = lake_uri(config)
    root = Path(config.data_dir if "://" in uri else uri)
    return [root, root / "demo"]


def select_providers(
    providers: Mapping[str, Provider], wanted: tuple[str, ...] | None
) -> list[Provider]:
    if not wanted:
        return list(providers.values())
    unknown = [name for name in wanted if name not in providers]
    if unknown:
        raise ConfigError(
            f"--providers: unknown provider {', '.join(unknown)} (known: {', '.join(providers)})"
        )
    return [providers[name] for name in wanted]


def replay_files(path: Path) -> dict[tuple[str, str], list[Path]]:
    """Raw landing files under ``path``, grouped by dataset (``raw_dataset``: the place they
    landed in) and by the ``source=NAME`` folder they sit in."""
    from pipelines.lake.datasets import raw_dataset  # pyarrow: not for `status`

    if not path.exists():
        raise ConfigError(f"--replay: {path} does not exist")
    files = [path] if path.is_file() else sorted(path.rglob("*.jsonl*"))
    grouped: dict[tuple[str, str], list[Path]] = {}
    for file in files:
        sources = [p.removeprefix("source=") for p in file.parts if p.startswith("source=")]
        if not sources:
            raise ConfigError(
                f"--replay: cannot tell the provider of {file}: expected it under a "
                "source=NAME folder"
            )
        grouped.setdefault((raw_dataset(file), sources[-1]), []).append(file)
    if not grouped:
        raise ConfigError(f"--replay: no .jsonl or .jsonl.zst files under {path}")
    return grouped


def find_replay_files(path: Path, dataset: str = "products") -> dict[str, list[Path]]:
    """``dataset``'s raw landing files under ``path``, grouped by provider."""
    return {source: found for (d, source), found in replay_files(path).items() if d == dataset}


def replay_files_of(path: Path, datasets: tuple[str, ...]) -> list[Path]:
    """Every raw file under ``path`` of the ``datasets`` a replay asked for; a
    ``ConfigError`` when there is none (naming the datasets the files are of)."""
    grouped = replay_files(path)
    files = [f for (d, _), found in grouped.items() if d in datasets for f in found]
    if not files:
        held = ",".join(sorted({d for d, _ in grouped}))
        raise ConfigError(
            f"--replay: no raw files of {','.join(datasets)} under {path} (it holds raw "
            f"files of {held}: ask for them with --datasets {held})"
        )
    return files


def check_run_options(
    config: PipelineConfig,
    providers: Mapping[str, Provider],
    env: Mapping[str, str],
    options: RunOptions,
    *,
    sharded: bool,
) -> None:
    """Refuse, before any work, the combinations a run cannot do (one ``ConfigError``)."""
    if sharded and options.replay is not None:
        raise ConfigError("--shard: a --replay run is not sharded; replay each provider once")
    if options.defer_gate and not sharded:
        raise ConfigError("--defer-gate: only a shard (--shard K/N) leaves its gate to a join")
    if not options.offline and options.replay is None:
        selected = select_providers(providers, options.providers)
        conflicts = [c for p in selected for c in p.conflicting_settings(env)]
        if conflicts:
            raise ConfigError("; ".join(conflicts))
    if config.table_format == "delta":
        require("delta", 'pipeline.table_format = "delta"')
