"""A fake eBay (OAuth token and Browse search) on 127.0.0.1: import its public names from here.

``server`` has ``FakeEbay`` and the transport faults, ``payloads`` eBay's error bodies and
``make_item``; tests use the error bodies as ``fake_ebay.INTERNAL_ERROR`` and the like.
"""

from tests.fakes.ebay.payloads import (
    ACCESS_DENIED,
    BAD_LIMIT,
    INTERNAL_ERROR,
    INVALID_CLIENT,
    INVALID_SCOPE,
    INVALID_TOKEN,
    MISSING_CRITERIA,
    MISSING_TOKEN,
    OFFSET_NOT_MULTIPLE,
    OFFSET_TOO_LARGE,
    TOO_MANY_REQUESTS,
    UNSUPPORTED_GRANT,
    ebay_error,
    make_item,
)
from tests.fakes.ebay.server import (
    CRITERIA,
    RESULT_CAP,
    SCOPE,
    SEARCH_PATH,
    TOKEN_PATH,
    Answer,
    FakeEbay,
    FakeSearch,
    Fault,
    SeenRequest,
    reset_connection,
    slow,
    truncated_body,
)

__all__ = [
    "ACCESS_DENIED",
    "BAD_LIMIT",
    "CRITERIA",
    "INTERNAL_ERROR",
    "INVALID_CLIENT",
    "INVALID_SCOPE",
    "INVALID_TOKEN",
    "MISSING_CRITERIA",
    "MISSING_TOKEN",
    "OFFSET_NOT_MULTIPLE",
    "OFFSET_TOO_LARGE",
    "RESULT_CAP",
    "SCOPE",
    "SEARCH_PATH",
    "TOKEN_PATH",
    "TOO_MANY_REQUESTS",
    "UNSUPPORTED_GRANT",
    "Answer",
    "FakeEbay",
    "FakeSearch",
    "Fault",
    "SeenRequest",
    "ebay_error",
    "make_item",
    "reset_connection",
    "slow",
    "truncated_body",
]
