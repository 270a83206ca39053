"""Timing a child process on a shared machine: wall, CPU, peak RSS of its process tree.

CPU time is user + system of the child and every descendant it waited for (``wait4``), or
the sum over every process sampled in its tree when that is more (worker processes of a fork
server, which no process of the tree waits for; each loses at most its last sample period);
peak RSS is the larger of ``wait4``'s (the largest single process) and the highest
sum over the process tree sampled every ``SAMPLE_SECONDS`` (worker processes running side by
side add up). ``machine_load`` says what else was running: the load average and the processes
outside the benchmark that used more than a tenth of a core over one second.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

SAMPLE_SECONDS = 0.1
PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Timing:
    """One child process: wall seconds, CPU seconds (user + system), peak RSS, exit code."""

    wall: float
    cpu: float
    rss_mib: float
    code: int


def _stat(pid: str) -> tuple[int, str, int] | None:
    """(parent pid, command name, CPU ticks) of ``pid``, or None once it has gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), name, int(fields[11]) + int(fields[12])


def _processes() -> dict[int, tuple[int, str, int]]:
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(entry)) is not None:
            found[int(entry)] = stat
    return found


def _tree(root: int, processes: dict[int, tuple[int, str, int]]) -> set[int]:
    """``root`` and all its descendants."""
    children: dict[int, list[int]] = {}
    for pid, (parent, _, _) in processes.items():
        children.setdefault(parent, []).append(pid)
    tree, todo = set(), [root]
    while todo:
        pid = todo.pop()
        tree.add(pid)
        todo += children.get(pid, [])
    return tree


def _rss_bytes(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


class TreeSampler(threading.Thread):
    """Samples ``root``'s process tree until stopped: the highest summed RSS, and the CPU
    ticks each process of it used, as last seen."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root, self.peak = root, 0
        self.ticks: dict[int, int] = {}
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(SAMPLE_SECONDS):
            processes = _processes()
            tree = _tree(self.root, processes)
            self.peak = max(self.peak, sum(_rss_bytes(pid) for pid in tree))
            self.ticks.update({pid: processes[pid][2] for pid in tree if pid in processes})

    def cpu(self) -> float:
        """CPU seconds of every process seen in the tree (each its own, not its children's)."""
        return sum(self.ticks.values()) / TICKS


def time_child(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> Timing:
    """Run ``command`` (output discarded) and measure it."""
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL)
    sampler = TreeSampler(child.pid)
    sampler.start()
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    sampler.done.set()
    sampler.join()
    child.returncode = os.waitstatus_to_exitcode(status)
    peak = max(usage.ru_maxrss * 1024, sampler.peak)
    # wait4 misses workers nobody in the tree waited for (a fork server's): the samples see them
    cpu = max(usage.ru_utime + usage.ru_stime, sampler.cpu())
    return Timing(elapsed, cpu, peak / 2**20, child.returncode)


def _label(pid: int, name: str) -> str:
    """The command's name; for a Python, the module or script it runs (its base name only:
    the rest of a command line may hold anything)."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return name
    if name.startswith("python") and len(args) > 2 and args[1] == "-m":
        return f"{name} -m {args[2]}"
    if name.startswith("python") and len(args) > 1 and args[1] and args[1][0] != "-":
        return f"{name} {Path(args[1]).name}"
    return name


def busy_processes(window: float = 1.0, share: float = 0.1) -> list[str]:
    """The processes outside this one's tree that used more than ``share`` of a core over
    ``window`` seconds, busiest first, as ``name (pid) 45%``."""
    before = _processes()
    time.sleep(window)
    after = _processes()
    mine = _tree(os.getpid(), after)
    used = []
    for pid, (_, name, ticks) in after.items():
        if pid in mine or pid not in before:
            continue
        fraction = (ticks - before[pid][2]) / TICKS / window
        if fraction > share:
            used.append((fraction, f"{_label(pid, name)} {fraction:.0%}"))
    return [text for _, text in sorted(used, reverse=True)]


def machine_load() -> str:
    """One line: the load average (1, 5, 15 min), the cores, what else is running."""
    one, five, fifteen = os.getloadavg()
    busy = busy_processes()
    others = ", ".join(busy[:8]) if busy else "nothing above 10% of a core"
    return (
        f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} on {os.cpu_count()} cores; {others}"
    )
