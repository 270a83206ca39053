"""The HTML report as a browser draws it: headless Chromium takes a screenshot of the page.

Needs Debian's ``chromium`` on PATH (CI installs it: ``.ci/run``); the test installs nothing
and skips, saying so, when there is no browser.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from datetime import timedelta
from pathlib import Path

import pytest

from pipelines.checks.anomaly import AnomalyConfig, detect_anomalies
from pipelines.checks.report import render_html
from tests.pipelines.test_report import NOW, VARIED, record

BROWSER = next(filter(None, map(shutil.which, ("chromium", "chromium-browser"))), None)
pytestmark = pytest.mark.skipif(
    BROWSER is None, reason="no chromium on PATH (CI installs it: apt-get install chromium)"
)
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--enable-logging=stderr", "--v=0", "--window-size=1000,1400")  # fmt: skip
BLUE, RED = (0x1F, 0x6F, 0xEB), (0xCF, 0x22, 0x2E)  # the fetched line, the alert dot


def screenshot(tmp_path: Path, page: str, name: str) -> tuple[bytes, list[str]]:
    """The PNG of ``page`` and the browser's console lines."""
    html, png = tmp_path / f"{name}.html", tmp_path / f"{name}.png"
    html.write_text(page, encoding="utf-8")
    done = subprocess.run(
        [BROWSER, *FLAGS, f"--user-data-dir={tmp_path / f'profile-{name}'}",
         f"--screenshot={png}", html.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return png.read_bytes(), [line for line in done.stderr.splitlines() if ":CONSOLE" in line]


def pixels(png: bytes) -> set[tuple[int, ...]]:
    """The distinct RGB colours of an 8-bit, non-interlaced RGB or RGBA PNG."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = {}, 8
    while at < len(png):
        size, kind = struct.unpack(">I4s", png[at : at + 8])
        chunks.setdefault(kind, []).append(png[at + 8 : at + 8 + size])
        at += size + 12
    width, height, depth, colour, *_ = struct.unpack(">IIBB3B", chunks[b"IHDR"][0])
    assert depth == 8
    assert colour in (2, 6)  # RGB or RGBA
    step = 4 if colour == 6 else 3
    raw, stride = zlib.decompress(b"".join(chunks[b"IDAT"])), width * step
    seen, previous = set(), bytearray(stride)
    for row in range(height):
        start = row * (stride + 1)
        line = unfilter(raw[start], bytearray(raw[start + 1 : start + 1 + stride]), previous, step)
        seen.update(tuple(line[i : i + 3]) for i in range(0, stride, step))
        previous = line
    return seen


def unfilter(kind: int, line: bytearray, up: bytearray, step: int) -> bytearray:
    """Undo one scanline's PNG filter (None, Sub, Up, Average, Paeth)."""
    for i in range(len(line)):
        left = line[i - step] if i >= step else 0
        corner = up[i - step] if i >= step else 0
        if kind == 1:
            line[i] = (line[i] + left) & 0xFF
        elif kind == 2:
            line[i] = (line[i] + up[i]) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + (left + up[i]) // 2) & 0xFF
        elif kind == 4:
            guess = left + up[i] - corner
            near = min((abs(guess - left), 0, left), (abs(guess - up[i]), 1, up[i]),
                       (abs(guess - corner), 2, corner))  # fmt: skip
            line[i] = (line[i] + near[2]) & 0xFF
    return line


def test_the_report_renders_with_its_plots_and_no_console_error(tmp_path: Path) -> None:
    history = [record(NOW - timedelta(days=i + 1), v) for i, v in enumerate(VARIED)]
    current = record(NOW, 40, ebay_ok=False)
    current["providers"]["ebay"]["error"] = "<script>alert(1)</script> | 503"
    page = render_html(current, history, detect_anomalies(history, current, AnomalyConfig()))
    png, console = screenshot(tmp_path, page, "report")
    assert console == []
    assert len(png) > 20_000
    colours = pixels(png)
    assert len(colours) > 50  # text, axes, bands, lines: not a blank page
    assert {BLUE, RED} <= colours  # the fetched lines and the alert dot were drawn


def test_a_first_run_renders_too(tmp_path: Path) -> None:
    png, console = screenshot(tmp_path, render_html(record(NOW, 40), [], None), "first")
    assert console == []
    assert BLUE in pixels(png)


def test_a_page_error_would_be_seen(tmp_path: Path) -> None:
    """The console check above can fail: a page that throws shows up in it."""
    _, console = screenshot(tmp_path, "<p>x</p><script>throw new Error('kaboom')</script>", "bad")
    assert any("Uncaught Error: kaboom" in line for line in console)
