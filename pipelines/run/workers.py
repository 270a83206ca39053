"""One provider's large stream normalized by several worker processes, split by position.

The parent reads the provider's landed lines (the extract's raw file or a replay) and sends
them in blocks of ``batch_size`` lines, joined into one bytes object with the number of the
block's first line in the stream, to the workers in turn: block k to worker k mod N. It
parses nothing. Each worker runs the ordinary ``NormalizeStage`` on its blocks, in stream
order (the Arrow read, hashing, the early skip, quality) and stages its own candidate,
quarantine and unchanged part files; the parent adds up the counts. Everything after that (the
run-wide quality gate, dedup, the commit of one manifest) reads the workers' files as it reads
one process's.

Exactness: the duplicate-id rule compares a row with the earlier rows of the whole stream, and
dedup keeps the last row of a key. A worker sees its blocks in order, so it judges as one
process would unless another worker staged rows of one of its ids (a repeated id in blocks
that went to different workers). The workers send the hashes of the ids they staged and the
parent checks that no id crossed (``worker_ids.py``: exact, a sort of 8 bytes an id); if one
did, the workers' files are discarded and the provider runs again in one process.

Memory: the parent holds one block of lines and at most ``QUEUE_DEPTH`` blocks per worker;
each worker holds one block, as one process does. Workers are forks of a ``forkserver`` (or,
where there is none, ``spawn``ed): nothing is inherited from the parent's threads. A worker
that dies or fails stops the step with an error; nothing of the provider is kept and
``--resume`` runs the step again.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.forkserver
import os
import pickle
import queue
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.checks.quality_config import QualityConfig
from pipelines.config import PipelineConfig
from pipelines.errors import WorkerError
from pipelines.lake.lake import StagedFile
from pipelines.lake.storage import Storage
from pipelines.run.block_normalize import Normalizer
from pipelines.run.block_rows import RunContext
from pipelines.run.counts import EXAMPLES_PER_CAUSE, MAX_LOGGED_ERRORS, ProviderCounts
from pipelines.run.process import NormalizeStage
from pipelines.run.skip import skip_state
from pipelines.run.worker_ids import ids_cross, shared_hashes, worker_hashes

log = logging.getLogger("pipeline.workers")

QUEUE_DEPTH = 2  # blocks waiting per worker: what bounds the parent's memory
POLL_SECONDS = 0.5  # how often a blocked parent looks for dead workers
Lines = Callable[[], Iterator[bytes]]


def workers_for(requested: int | None, config: PipelineConfig, extract: dict[str, Any]) -> int:
    """How many processes normalize a provider: ``--workers``, else ``pipeline.workers``, else
    (0: auto) one when its raw input (the extract step's landed file, or the files it
    replays) is under ``pipeline.workers_min_raw_mb``, else the CPUs this process may use
    that the last minute's load average leaves idle (at least one: on a saturated machine,
    workers only add their own cost)."""
    if requested or config.workers:
        return requested or config.workers
    inputs = [Path(f) for f in extract.get("replay_files", [])]
    if "raw" in extract:
        inputs.append(StagedFile.from_dict(extract["raw"]).staged)
    size = sum(path.stat().st_size for path in inputs if path.exists())
    min_raw_mb = config.workers_min_raw_mb
    if size < min_raw_mb * 1024 * 1024:
        return 1
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(cpus or 1, (cpus or 1) - int(os.getloadavg()[0])))


@dataclass(frozen=True)
class NormalizeJob:
    """One provider's normalize step: what a process (or each worker) needs to run it.

    ``storage`` and ``mark``: where the committed state is read for the early skip
    (``skip.py``), None for none (a ``--full-refresh``)."""

    provider: Normalizer
    run: RunContext
    quality: QualityConfig
    candidates: StagedFile
    quarantine: StagedFile
    unchanged: StagedFile
    storage: Storage | None
    mark: str

    def stage(self) -> NormalizeStage:
        name = self.provider.name
        state = None if self.storage is None else skip_state(self.storage, name, self.mark)
        files = (self.candidates, self.quarantine, self.unchanged)
        return NormalizeStage(self.provider, self.run, self.quality, *files, state)

    def portable(self) -> NormalizeJob | None:
        """This job as a worker gets it, with a new instance of the provider (normalize is
        pure; what the fetch left on the instance, such as tokens, stays here); None when the
        provider's class does not build without arguments or cannot be pickled. A storage
        that cannot be pickled leaves the workers without the early skip (same results)."""
        try:
            provider = type(self.provider)()
            pickle.dumps((provider, self.quality))
        except Exception:  # a plug-in's provider that cannot be copied runs in one process
            return None
        try:
            pickle.dumps(self.storage)
        except Exception:
            return replace(self, provider=provider, storage=None)
        return replace(self, provider=provider)

    def share(self, index: int) -> NormalizeJob:
        """Worker ``index``'s job: the same, staging its own part files (``part-…-<index>``)."""
        files = (self.candidates, self.quarantine, self.unchanged)
        candidates, quarantine, unchanged = (_numbered(file, index) for file in files)
        return replace(self, candidates=candidates, quarantine=quarantine, unchanged=unchanged)


def _numbered(file: StagedFile, index: int) -> StagedFile:
    stem, _, _ = file.path.rpartition("-")
    staged = file.staged.with_name(f"{file.staged.stem}-{index}.parquet")
    return replace(file, staged=staged, path=f"{stem}-{index}.parquet")


def run_normalize(job: NormalizeJob, lines: Lines, workers: int
                  ) -> tuple[ProviderCounts, list[StagedFile]]:  # fmt: skip
    """Normalize and check a provider's landed lines: split across ``workers`` processes when
    it can be, else in this process. ``lines`` gives the stream (again, if it must)."""
    portable = job.portable() if workers > 1 else None
    if portable is not None:
        result = Split(portable, workers).run(lines)
        if result is not None:
            return result
    stage = job.stage()
    stage.feed(lines())
    return stage.counts, stage.close()


def worker_context(provider: Normalizer) -> multiprocessing.context.BaseContext:
    """``forkserver`` where there is one (a clean single-threaded server that imported the
    program, this module and the provider's once; each worker is a fork of it), else ``spawn``.
    Never a fork of this process, whose threads (HTTP pools, queue feeders) a fork would copy
    mid-flight."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["__main__", __name__, type(provider).__module__])
    _start_forkserver()
    return context


def _start_forkserver() -> None:
    """Start the fork server (if not running) with this repository on its ``PYTHONPATH``:
    Python 3.11's server preloads before it takes this process's ``sys.path``, and skips a
    module it cannot import without a word (each worker would import everything again)."""
    root = str(Path(__file__).resolve().parents[2])
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([root, before] if before else [root])
    try:
        multiprocessing.forkserver.ensure_running()
    finally:
        if before is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = before


class Split:
    """The parent's side of one split provider: start, feed, gather, check, merge."""

    def __init__(self, job: NormalizeJob, workers: int) -> None:
        self.job, self.workers = job, workers
        self.context = worker_context(job.provider)
        self.inboxes = [self.context.Queue(QUEUE_DEPTH) for _ in range(workers)]
        self.outbox = self.context.Queue()
        self.processes: list[Any] = []
        self.starting: Future[None] | None = None
        self.shares = [job.share(index) for index in range(workers)]

    def run(self, lines: Lines) -> tuple[ProviderCounts, list[StagedFile]] | None:
        """The merged counts and every worker's staged files; None when two workers saw one id
        (their files are discarded: the caller runs the provider in one process). The workers
        start in a thread while ``lines`` is read (the fork server's first start imports the
        program; a replay's key pass runs meanwhile)."""
        name = self.job.provider.name
        log.info("%s: normalizing in %d worker processes", name, self.workers)
        starter = ThreadPoolExecutor(1, thread_name_prefix="start-workers")
        self.starting = starter.submit(self.start)
        try:
            self.scatter(lines())
            self.starting.result()
            results = self.gather()
        except BaseException:
            wait([self.starting])  # every worker started is stopped
            self.discard()
            raise
        finally:
            starter.shutdown()
            self.stop()
        staged = [[StagedFile.from_dict(f) for f in files] for _, files, _ in results]
        if ids_cross(staged, shared_hashes([hashes for _, _, hashes in results])):
            log.warning("%s: rows of one id came from records in different workers; "
                        "normalizing it again in one process", name)  # fmt: skip
            self.discard()
            return None
        counts = merge_counts([ProviderCounts.from_dict(c) for c, _, _ in results])
        return counts, [f for files in staged for f in files]

    def start(self) -> None:
        name = self.job.provider.name
        for index, share in enumerate(self.shares):
            process = self.context.Process(
                target=work, args=(share, index, self.inboxes[index], self.outbox),
                name=f"normalize-{name}-{index}", daemon=True,
            )  # fmt: skip
            process.start()
            self.processes.append(process)

    def scatter(self, stream: Iterator[bytes]) -> None:
        """Send the stream in blocks of ``batch_size`` lines, block k to worker k mod N, each
        with the number of its first line in the stream."""
        size, ordinal, index = self.job.run.batch_size, 1, 0
        while block := list(islice(stream, size)):
            self.send(index, (ordinal, b"\n".join(block)))
            ordinal += len(block)
            index = (index + 1) % self.workers
        for index in range(self.workers):
            self.send(index, None)

    def send(self, index: int, message: Any) -> None:
        while True:
            try:
                self.inboxes[index].put(message, timeout=POLL_SECONDS)
                return
            except queue.Full:
                if self.starting.done():
                    self.starting.result()  # the start's error, if it failed
                self.check_alive(done=set())

    def gather(self) -> list[tuple[dict[str, Any], list[dict[str, Any]], np.ndarray]]:
        """Each worker's counts, staged files and id hashes, in worker order; a failure raised
        here."""
        results: dict[int, tuple[dict[str, Any], list[dict[str, Any]], np.ndarray]] = {}
        while len(results) < self.workers:
            try:
                index, counts, files, hashes, error = self.outbox.get(timeout=POLL_SECONDS)
            except queue.Empty:
                self.check_alive(done=set(results))
                continue
            if error is not None:
                raise error
            results[index] = (counts, files, hashes)
        return [results[index] for index in range(self.workers)]

    def check_alive(self, done: set[int]) -> None:
        """Raise what a stopped worker reported, or that it died without a word."""
        for index, process in enumerate(self.processes):
            if index in done or process.exitcode is None:
                continue
            try:  # it may have reported just before it ended
                *_, error = self.outbox.get(timeout=POLL_SECONDS)
            except queue.Empty:
                error = None
            if error is not None:
                raise error
            raise WorkerError(_died(self.job.provider.name, index, self.workers, process.exitcode))

    def stop(self) -> None:
        for inbox in self.inboxes:
            inbox.cancel_join_thread()  # a dead worker's unread batches must not block exit
        for process in self.processes:
            if process.is_alive():
                process.terminate()
            process.join(timeout=5)

    def discard(self) -> None:
        for share in self.shares:
            for file in (share.candidates, share.quarantine, share.unchanged):
                file.staged.unlink(missing_ok=True)
                file.staged.with_suffix(".arrow").unlink(missing_ok=True)  # candidates.py


def _died(name: str, index: int, workers: int, code: int) -> str:
    how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
    return (
        f"{name}: normalize worker {index + 1} of {workers} {how} before finishing its share; "
        f"nothing of {name} was kept from this step: --resume runs it again"
    )


def work(job: NormalizeJob, index: int, inbox: Any, outbox: Any) -> None:
    """A worker process: normalize and stage the lines the parent sends, then report, with
    the hashes of the ids it staged."""
    try:
        stage = job.stage()
        numbers: deque[int] = deque()
        stage.feed(_received(inbox, numbers), _popped(numbers))
        staged = stage.close()
        files = [f.to_dict() for f in staged]
        outbox.put((index, stage.counts.to_dict(), files, worker_hashes(staged), None))
    except BaseException as exc:
        outbox.put((index, None, None, None, _portable(exc, job.provider.name, index)))
        raise SystemExit(1) from None


def _received(inbox: Any, numbers: deque[int]) -> Iterator[bytes]:
    while (message := inbox.get()) is not None:
        first, block = message
        lines = block.split(b"\n")
        numbers.extend(range(first, first + len(lines)))
        yield from lines


def _popped(numbers: deque[int]) -> Iterator[int]:
    while True:
        yield numbers.popleft()


def _portable(exc: BaseException, name: str, index: int) -> BaseException:
    """``exc`` if it survives the trip to the parent, else a ``WorkerError`` naming it."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return WorkerError(f"{name}: normalize worker {index + 1}: {type(exc).__name__}: {exc}")
    return exc


def merge_counts(shares: list[ProviderCounts]) -> ProviderCounts:
    """The workers' counts as one process would have kept them: numbers and tallies added
    up; the examples (a few rejected ids, a few error lines per cause) taken in worker order,
    within the same limits, so they may name other records than one process would."""
    merged = ProviderCounts()
    for share in shares:
        for name, value in vars(share).items():
            if isinstance(value, int):
                setattr(merged, name, getattr(merged, name) + value)
            elif isinstance(value, dict):
                tally = getattr(merged, name)
                for key, count in value.items():
                    tally[key] = tally.get(key, 0) + count
        merged.rejected_examples += share.rejected_examples[: 3 - len(merged.rejected_examples)]
    causes: dict[str, int] = {}
    for message in (m for share in shares for m in share.errors):
        cause = message.split(": ", 1)[-1]
        causes[cause] = causes.get(cause, 0) + 1
        if causes[cause] <= EXAMPLES_PER_CAUSE and len(merged.errors) < MAX_LOGGED_ERRORS:
            merged.errors.append(message)
    return merged
