"""Secret values known to this process, and masking them out of any text.

Every secret setting is registered when the configuration is read, and every
token minted at run time when it arrives, so that the logging filter and the
error messages can replace them before anything is printed or written.
"""

from __future__ import annotations

import logging

MASK = "***"
_MIN_SECRET_LENGTH = 4
_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember ``value`` so that ``mask`` hides it from now on."""
    if value and len(value) >= _MIN_SECRET_LENGTH:
        _secrets.add(value)


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
