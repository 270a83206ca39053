"""The benchmark's figures: the best of several runs, as a markdown table, and where it goes in
the docs (between ``<!-- bench:start -->`` and ``<!-- bench:end -->``)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from measure import Timing

START, END = "<!-- bench:start -->", "<!-- bench:end -->"
COLUMNS = ("rows", "run", "system", "wall s", "CPU s", "rows/s", "rows per CPU s",
           "peak RSS", "compared", "rows written")  # fmt: skip


@dataclass(frozen=True)
class Run:
    """One run: its timing and the rows it wrote (None: not known, dlt)."""

    timing: Timing
    written: int | None


@dataclass(frozen=True)
class Result:
    """The best of several runs of one scenario: best wall, best CPU, highest peak RSS."""

    rows: int
    run: str
    system: str
    wall: float
    cpu: float
    rss_mib: float
    written: int | None
    compared: str = ""
    per_row: bool = True  # rows/s figures: not for a change run, which reads a few rows

    @classmethod
    def best(cls, rows: int, run: str, system: str, runs: list[Run]) -> Result:
        timings = [r.timing for r in runs]
        return cls(rows, run, system, min(t.wall for t in timings), min(t.cpu for t in timings),
                   max(t.rss_mib for t in timings), runs[-1].written)  # fmt: skip

    def against(self, ours: Result) -> Result:
        """This (dlt's) result, saying how many times ``ours`` is faster."""
        ratio = (
            f"ours {self.wall / ours.wall:.2f}× faster by wall, {self.cpu / ours.cpu:.2f}× by CPU"
        )
        return replace(self, compared=ratio)

    def share_of(self, first: Result) -> Result:
        """This (a re-run's) result, as a share of the first run's."""
        share = f"{self.wall / first.wall:.0%} of the first run's wall, "
        share += f"{self.cpu / first.cpu:.0%} of its CPU"
        return replace(self, compared=share)

    def cells(self) -> list[str]:
        rates = [f"{self.rows / self.wall:,.0f}", f"{self.rows / self.cpu:,.0f}"]
        return [
            f"{self.rows:,}", self.run, self.system, f"{self.wall:.1f}", f"{self.cpu:.1f}",
            *(rates if self.per_row else ["", ""]), f"{self.rss_mib:,.0f} MiB", self.compared,
            "" if self.written is None else f"{self.written:,}",
        ]  # fmt: skip


def table(results: list[Result]) -> str:
    """The results as a markdown table, one line each."""
    align = ["---:", "---", "---", "---:", "---:", "---:", "---:", "---:", "---", "---:"]
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(r.cells()) + " |" for r in results]
    return "\n".join(lines)


def replace_block(path: Path, markdown: str) -> None:
    """Put ``markdown`` between the bench markers of ``path`` (which must have them)."""
    text = path.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"--write-docs: {path} has no {START} … {END} block")
    head, rest = text.split(START, 1)
    path.write_text(f"{head}{START}\n{markdown}\n{END}{rest.split(END, 1)[1]}")
