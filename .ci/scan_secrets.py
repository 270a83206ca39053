"""Fail when a file holds a secret that ``.secrets.baseline`` does not list.

``make lint`` (and so CI) and the pre-commit hook run this. It is ``detect-secrets-hook
--baseline`` without the baseline rewrite: a known fake secret that moved to another line is
still known, so edits elsewhere in a test file never fail the check. Findings name the file,
line and kind of secret, never the value. With no file arguments it scans ``git ls-files``.

Usage: python .ci/scan_secrets.py [--baseline PATH] [FILE ...]
Exit codes: 0 nothing new, 1 new secrets found, 2 bad baseline.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from detect_secrets.core import baseline
from detect_secrets.core.secrets_collection import SecretsCollection

DEFAULT_BASELINE = ".secrets.baseline"


def tracked_files() -> list[str]:
    """Every file git tracks, relative to the repository root (the working directory)."""
    out = subprocess.run(["git", "ls-files", "-z"], check=True, capture_output=True, text=True)
    return [name for name in out.stdout.split("\0") if name]


def load_baseline(baseline_path: str) -> SecretsCollection:
    """The baseline's secrets; its settings (plugins, filters) become detect-secrets' own.

    Custom plugins and filters are named ``file://.ci/…`` relative to the baseline's
    folder, so the scan works from any working directory.
    """
    data = baseline.load_from_file(baseline_path)
    root = Path(baseline_path).resolve().parent
    for entry in [*data.get("plugins_used", []), *data.get("filters_used", [])]:
        if entry.get("path", "").startswith("file://"):
            entry["path"] = f"file://{root / entry['path'].removeprefix('file://')}"
    return baseline.load(data, baseline_path)


def new_secrets(baseline_path: str, files: list[str] | None = None) -> SecretsCollection:
    """What the scanners find in ``files`` (default: tracked) minus what the baseline lists."""
    known = load_baseline(baseline_path)
    if files is None:
        files = tracked_files()
    found = SecretsCollection()
    for name in files:
        found.scan_file(name)
    return found - known


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scan_secrets.py", description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, metavar="PATH")
    parser.add_argument("files", nargs="*", metavar="FILE")
    args = parser.parse_args(argv)
    try:
        fresh = new_secrets(args.baseline, args.files or None)
    except (OSError, ValueError, KeyError) as exc:
        sys.stderr.write(f"scan_secrets.py: error: {args.baseline}: unreadable baseline ({exc})\n")
        return 2
    except subprocess.CalledProcessError:
        sys.stderr.write("scan_secrets.py: error: not in a git repository; name the files\n")
        return 2
    findings = sorted((s.filename, s.line_number, s.type) for _, s in fresh)
    for filename, line, kind in findings:
        sys.stderr.write(f"{filename}:{line}: {kind} not in {args.baseline}\n")
    if findings:
        sys.stderr.write(
            f"scan_secrets.py: {len(findings)} possible secret(s). Remove them, or, for a fake "
            "value in a test, add `# pragma: allowlist secret` to the line or refresh the "
            "baseline with `make secrets-baseline` (docs/security.md).\n"
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
