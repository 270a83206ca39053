"""A fake Amazon Creators API on 127.0.0.1: import its public names from here.

``server`` has ``FakeCreatorsApi`` (the token endpoint and the catalog API), ``payloads`` the
builders of the items it serves.
"""

from tests.fakes.amazon.payloads import browse_path, make_item, make_listing, numbered_catalog
from tests.fakes.amazon.server import (
    COGNITO_SCOPE,
    GET_ITEMS_PATH,
    LWA_SCOPE,
    MAX_ITEM_IDS,
    SEARCH_ITEMS_PATH,
    TOKEN_PATH,
    FakeCreatorsApi,
    Fault,
)

__all__ = [
    "COGNITO_SCOPE",
    "GET_ITEMS_PATH",
    "LWA_SCOPE",
    "MAX_ITEM_IDS",
    "SEARCH_ITEMS_PATH",
    "TOKEN_PATH",
    "FakeCreatorsApi",
    "Fault",
    "browse_path",
    "make_item",
    "make_listing",
    "numbered_catalog",
]
