"""A fake eBay (OAuth token, Browse search, getOrders) on 127.0.0.1: import its names here.

``server`` has ``FakeEbay`` and the transport faults, ``payloads`` eBay's error bodies and
``make_item``, ``orders`` the seller's orders (``make_order``, ``CANARY``); tests use
the error bodies as ``fake_ebay.INTERNAL_ERROR`` and the like.
"""

from tests.fakes.ebay.orders import CANARY, amount, make_line, make_order
from tests.fakes.ebay.payloads import (
    ACCESS_DENIED,
    BAD_LIMIT,
    INTERNAL_ERROR,
    INVALID_CLIENT,
    INVALID_GRANT,
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
    "CANARY",
    "CRITERIA",
    "INTERNAL_ERROR",
    "INVALID_CLIENT",
    "INVALID_GRANT",
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
    "amount",
    "ebay_error",
    "make_item",
    "make_line",
    "make_order",
    "reset_connection",
    "slow",
    "truncated_body",
]
