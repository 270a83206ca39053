"""The eBay provider's errors: search and token error responses, refused credentials."""

from __future__ import annotations

import json

import pytest

from pipelines.errors import FatalProviderError, RetriableProviderError
from providers.ebay import EbayProvider
from tests.fakes import ebay as fake_ebay
from tests.providers.ebay.helpers import CAMERA, fetch_all

# --- errors -------------------------------------------------------------------------------------

SEARCH_WHAT = "ebay search 'film camera' (EBAY_US) page 1"


@pytest.mark.parametrize(
    ("status", "body", "error", "message"),
    [
        (
            500,
            fake_ebay.INTERNAL_ERROR,
            RetriableProviderError,
            f"500 Internal Server Error from {SEARCH_WHAT}: There was a problem with an eBay "
            "internal system or process. Contact eBay developer support for assistance. (2003)",
        ),
        (
            429,
            fake_ebay.TOO_MANY_REQUESTS,
            RetriableProviderError,
            f"429 Too Many Requests from {SEARCH_WHAT}: The request limit has been reached for "
            "the resource. (2001)",
        ),
        (
            403,
            fake_ebay.ACCESS_DENIED,
            FatalProviderError,
            f"403 Forbidden from {SEARCH_WHAT}: Insufficient permissions to fulfill the request. "
            "(1100)",
        ),
        (
            400,
            fake_ebay.OFFSET_TOO_LARGE,
            FatalProviderError,
            f"400 Bad Request from {SEARCH_WHAT}: The 'offset' plus 'limit' values must not "
            "exceed 10000; narrow the search with filters. (12004)",
        ),
        (
            400,
            fake_ebay.MISSING_CRITERIA,
            FatalProviderError,
            f"400 Bad Request from {SEARCH_WHAT}: The call must have a valid 'q', 'category_ids', "
            "'charity_ids', 'epid' or 'gtin' query parameter. (12001)",
        ),
        (
            200,
            b"<html>maintenance</html>",
            FatalProviderError,
            f"{SEARCH_WHAT}: response is not valid JSON (Expecting value at byte 0): "
            "'<html>maintenance</html>'",
        ),
    ],
)
def test_search_errors(fake, fetch_context, status, body, error, message):
    fake.add_search(total=5, q="film camera")
    fake.search_faults = [(status, body)] * 5  # outlasts the client's retries

    with pytest.raises(error) as raised:
        fetch_all(fetch_context, fake.env(), CAMERA)

    assert type(raised.value) is error
    assert str(raised.value) == message
    assert fake.minted[0] not in str(raised.value)


@pytest.mark.parametrize(
    ("status", "body", "error", "message"),
    [
        (
            401,
            fake_ebay.INVALID_CLIENT,
            FatalProviderError,
            "ebay token: 401 Unauthorized: invalid_client (client authentication failed); check "
            "EBAY_CLIENT_ID and EBAY_CLIENT_SECRET (and EBAY_OAUTH_URL)",
        ),
        (
            400,
            fake_ebay.INVALID_SCOPE,
            FatalProviderError,
            "ebay token: 400 Bad Request: invalid_scope (The requested scope is invalid, unknown, "
            "malformed, or exceeds the scope granted to the client)",
        ),
        (
            503,
            {"error": "temporarily_unavailable"},
            RetriableProviderError,
            "503 Service Unavailable from ebay token: temporarily_unavailable",
        ),
        (
            200,
            {"token_type": "Application Access Token"},
            FatalProviderError,
            "ebay token: the token response has no access_token",
        ),
    ],
)
def test_token_errors(fake, fetch_context, status, body, error, message):
    fake.add_search(total=5, q="film camera")
    fake.token_faults = [(status, body)] * 5

    with pytest.raises(error) as raised:
        fetch_all(fetch_context, fake.env(), CAMERA)

    assert type(raised.value) is error
    assert str(raised.value) == message
    assert fake.search_requests == []


def test_wrong_client_secret_is_refused_and_never_echoed(fake, fetch_context):
    env = fake.env(EBAY_CLIENT_SECRET="wrong-secret-value")

    with pytest.raises(FatalProviderError, match=r"^ebay token: 401 Unauthorized: invalid_client"):
        fetch_all(fetch_context, env, CAMERA)

    assert "wrong-secret-value" not in json.dumps([r.headers for r in fake.token_requests])


def test_fake_refuses_an_offset_past_the_cap(fake, fetch_context):
    """The fake answers eBay's error past 10,000, so the cap tests would catch an overstep."""
    provider = EbayProvider()
    ctx = fetch_context(provider, {})
    fake.accept_token("t-direct")

    with pytest.raises(FatalProviderError) as raised:
        ctx.http.request(
            "GET",
            fake.base_url + fake_ebay.SEARCH_PATH,
            what="search page 101",
            params={"q": "film camera", "limit": "100", "offset": "10000"},
            headers={"Authorization": "Bearer t-direct"},
        )

    assert str(raised.value) == (
        "400 Bad Request from ebay search page 101: The 'offset' plus 'limit' values must not "
        "exceed 10000; narrow the search with filters. (12004)"
    )
