"""Secret values known to this process, and masking them out of any text.

Every secret setting is registered when the configuration is read, and every
token minted at run time when it arrives, so that the logging filter and the
error messages can replace them before anything is printed or written.
Inside GitHub Actions a newly registered value is also announced with
``::add-mask::`` on stdout, so the runner hides it from the job log too.
"""

from __future__ import annotations

import logging

from pipelines.net.workflow_commands import add_mask, in_actions

MASK = "***"
_MIN_SECRET_LENGTH = 4
_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember ``value`` so that ``mask`` hides it from now on (and, in Actions, the runner)."""
    if value and len(value) >= _MIN_SECRET_LENGTH and value not in _secrets:
        _secrets.add(value)
        if in_actions():
            add_mask(value)


def mask(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class SecretMaskingFilter(logging.Filter):
    """A logging filter that masks secrets in the formatted message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True
