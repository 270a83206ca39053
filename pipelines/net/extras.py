"""Optional dependencies ("extras"): a feature that needs one asks for it before any work.

The default install (requirements.lock) holds what a run needs; heavy or rarely used parts are
extras, each with its lock (requirements-extra-NAME.lock, docs/development.md). ``require``
turns a missing one into a ``ConfigError`` (exit 2) whose one line names the feature, the extra
and the command that installs it.
"""

from __future__ import annotations

import importlib

from pipelines.errors import ConfigError

# extra -> the modules it provides (requirements.txt tags its pins `# extra: NAME`).
EXTRAS: dict[str, tuple[str, ...]] = {
    "aws": ("boto3", "botocore"),
    "delta": ("deltalake",),
    "export": ("openpyxl",),
    "notify": ("apprise",),
    "postgres": ("psycopg",),
    "serve": ("fastapi", "uvicorn"),
    "vault": ("hvac",),
}


class MissingExtraError(ConfigError):
    """A feature was asked for whose optional dependencies are not installed (exit 2)."""


def install_hint(extra: str) -> str:
    """The commands that install ``extra``: make in a checkout, pip elsewhere."""
    return (
        f'make install EXTRAS="{extra}" '
        f"(or pip install --require-hashes -r requirements-extra-{extra}.lock)"
    )


def require(extra: str, feature: str) -> None:
    """Raise ``MissingExtraError`` unless every module of ``extra`` imports.

    ``feature`` is what asked, as the user wrote it (``lake_uri = s3://…``)."""
    for module in EXTRAS[extra]:
        try:
            importlib.import_module(module)
        except ImportError:
            raise MissingExtraError(
                f"{feature} needs the optional {extra!r} dependencies ({module} is not "
                f"installed): {install_hint(extra)}"
            ) from None
