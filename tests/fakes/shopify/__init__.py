"""A fake Shopify GraphQL Admin API on 127.0.0.1: import its public names from here.

``server`` has ``FakeShopify`` (HTTP, auth, versions, fault injection), ``graphql`` the
queries it answers and the product builders, ``bulk`` bulk operations and their JSONL
download, ``throttle`` the cost bucket and THROTTLED, ``oauth`` the client credentials grant,
``wire`` the requests seen and faults, ``orders`` the orders query and its builders.
"""

from tests.fakes.shopify.bulk import BulkOp
from tests.fakes.shopify.graphql import encode_cursor, make_product, make_variant, matching
from tests.fakes.shopify.oauth import (
    DEFAULT_CLIENT_SECRET,
    INVALID_CLIENT,
    SHOP_NOT_PERMITTED,
    TOKEN_LIFETIME,
)
from tests.fakes.shopify.orders import CANARY, make_line, make_order, money
from tests.fakes.shopify.server import (
    DEFAULT_DOMAIN,
    DEFAULT_TOKEN,
    INVALID_TOKEN_BODY,
    SUPPORTED_VERSIONS,
    UNDEFINED_FIELD_ERROR,
    FakeShopify,
)
from tests.fakes.shopify.throttle import MAX_COST, THROTTLED_ERROR, CostBucket, requested_cost
from tests.fakes.shopify.wire import Fault, SeenRequest

__all__ = [
    "CANARY",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_DOMAIN",
    "DEFAULT_TOKEN",
    "INVALID_CLIENT",
    "INVALID_TOKEN_BODY",
    "MAX_COST",
    "SHOP_NOT_PERMITTED",
    "SUPPORTED_VERSIONS",
    "THROTTLED_ERROR",
    "TOKEN_LIFETIME",
    "UNDEFINED_FIELD_ERROR",
    "BulkOp",
    "CostBucket",
    "FakeShopify",
    "Fault",
    "SeenRequest",
    "encode_cursor",
    "make_line",
    "make_order",
    "make_product",
    "make_variant",
    "matching",
    "money",
    "requested_cost",
]
