"""The eBay provider against a fake Browse API and token endpoint on 127.0.0.1."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from pipelines.errors import (
    ConfigError,
    FatalProviderError,
    RetriableProviderError,
    SkippableRecordError,
)
from pipelines.lake.schema import AVAILABILITIES, BUSINESS_COLUMNS, CONDITIONS
from pipelines.net.offline import Recording, offline_env, replay_server
from pipelines.net.secrets import mask
from providers.ebay import EbayProvider
from providers.ebay.normalize import normalize_condition
from tests.fakes import ebay as fake_ebay
from tests.fakes.ebay import FakeEbay, make_item

FIXTURES = Path(__file__).parents[2] / "fixtures" / "ebay"
CAMERA = {"queries": [{"q": "film camera"}], "page_size": 10}


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeEbay]:
    with FakeEbay() as server:
        yield server


@pytest.fixture
def fake(fake_server: FakeEbay) -> FakeEbay:
    """The module's fake eBay, emptied for this test (a server start/stop costs ~0.5 s)."""
    fake_server.reset()
    return fake_server


def fetch_all(fetch_context, env, options, provider=None, **kw) -> list[dict[str, Any]]:
    provider = provider or EbayProvider()
    return list(provider.fetch(fetch_context(provider, env, options, **kw)))


# --- paging and auth ----------------------------------------------------------------------------


def test_pages_until_total_and_sends_token_and_marketplace(fake, fetch_context):
    fake.add_search(total=25, q="film camera")

    records = fetch_all(fetch_context, fake.env(), CAMERA)

    assert [r["itemId"] for r in records] == [f"v1|{100_000_000_000 + n}|0" for n in range(25)]
    assert fake.offsets() == [0, 10, 20]
    for seen in fake.search_requests:
        assert seen.args == {"q": "film camera", "limit": "10", "offset": seen.args["offset"]}
        assert seen.headers["X-Ebay-C-Marketplace-Id"] == "EBAY_US"
    assert list(fake.bearer_tokens()) == fake.minted * 3
    assert records[0] == {**make_item(0), "__marketplace": "EBAY_US", "__query": "film camera"}


def test_token_request_uses_basic_auth_and_client_credentials_form(fake, fetch_context):
    fake.add_search(total=3, q="film camera")

    fetch_all(fetch_context, fake.env(), CAMERA)

    (seen,) = fake.token_requests
    basic = base64.b64encode(b"fake-client-id:fake-client-secret").decode()
    assert seen.headers["Authorization"] == f"Basic {basic}"
    assert seen.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert seen.form == {
        "grant_type": "client_credentials",
        "scope": "https://api.ebay.com/oauth/api_scope",
    }
    assert mask(f"token {fake.minted[0]}") == "token ***"  # registered as a secret on arrival


def test_token_minted_once_across_pages_and_queries(fake, fetch_context):
    fake.add_search(total=45, q="film camera")
    fake.add_search(total=30, q="keyboard", marketplace="EBAY_GB", prefix=300_000_000_000)
    options = {
        "queries": [{"q": "film camera"}, {"q": "keyboard", "marketplace": "EBAY_GB"}],
        "page_size": 10,
    }

    records = fetch_all(fetch_context, fake.env(), options)

    assert len(fake.search_requests) == 8
    assert len(fake.minted) == 1
    assert {r["__marketplace"] for r in records[45:]} == {"EBAY_GB"}
    assert [r.headers["X-Ebay-C-Marketplace-Id"] for r in fake.search_requests[5:]] == [
        "EBAY_GB"
    ] * 3


def test_token_reused_by_a_second_fetch_of_the_same_provider(fake, fetch_context):
    fake.add_search(total=5, q="film camera")
    provider = EbayProvider()

    fetch_all(fetch_context, fake.env(), CAMERA, provider=provider)
    fetch_all(fetch_context, fake.env(), CAMERA, provider=provider)

    assert len(fake.minted) == 1


def test_token_refreshed_shortly_before_it_expires(fake, fetch_context):
    clock = FakeClock()
    provider = EbayProvider(clock=clock)
    fake.expires_in = 600
    fake.add_search(total=30, q="film camera")
    records = provider.fetch(fetch_context(provider, fake.env(), CAMERA))
    first_page = [next(records) for _ in range(10)]
    clock.now += 539  # the token lives 600 s and is refreshed a tenth of that early
    second_page = [next(records) for _ in range(10)]
    clock.now += 1
    rest = list(records)

    assert len(first_page + second_page + rest) == 30
    assert len(fake.minted) == 2
    assert list(fake.bearer_tokens()) == [fake.minted[0], fake.minted[0], fake.minted[1]]


def test_token_minted_again_once_when_the_api_refuses_it(fake, fetch_context):
    fake.add_search(total=30, q="film camera")
    provider = EbayProvider()
    records = provider.fetch(fetch_context(provider, fake.env(), CAMERA))
    first_page = [next(records) for _ in range(10)]
    fake.revoke_tokens()  # the cached token lapses early on eBay's side

    rest = list(records)

    assert len(first_page + rest) == 30
    assert fake.offsets() == [0, 10, 10, 20]
    assert list(fake.bearer_tokens()) == [fake.minted[0], fake.minted[0], *[fake.minted[1]] * 2]


def test_a_second_401_after_minting_again_is_fatal(fake, fetch_context):
    fake.add_search(total=30, q="film camera")
    fake.reject_all_tokens = True

    with pytest.raises(FatalProviderError) as raised:
        fetch_all(fetch_context, fake.env(), CAMERA)

    assert str(raised.value) == (
        "401 Unauthorized from ebay search 'film camera' (EBAY_US) page 1: Invalid access token. "
        "Check the value of the Authorization HTTP request header."
    )
    assert len(fake.minted) == 2
    assert len(fake.search_requests) == 2


def test_static_token_is_used_as_is(fake, fetch_context):
    fake.add_search(total=12, q="film camera")
    fake.accept_token("v^1.1#static-user-supplied")
    env = {"EBAY_API_URL": fake.base_url, "EBAY_OAUTH_TOKEN": "v^1.1#static-user-supplied"}

    records = fetch_all(fetch_context, env, CAMERA)

    assert len(records) == 12
    assert fake.token_requests == []
    assert list(fake.bearer_tokens()) == ["v^1.1#static-user-supplied"] * 2


def test_expired_static_token_says_to_use_client_credentials(fake, fetch_context):
    fake.add_search(total=12, q="film camera")
    env = {"EBAY_API_URL": fake.base_url, "EBAY_OAUTH_TOKEN": "v^1.1#static-expired"}

    with pytest.raises(FatalProviderError) as raised:
        fetch_all(fetch_context, env, CAMERA)

    message = str(raised.value)
    assert message.startswith("401 Unauthorized from ebay search 'film camera' (EBAY_US) page 1")
    assert "static EBAY_OAUTH_TOKEN has expired or is invalid" in message
    assert "set EBAY_CLIENT_ID and EBAY_CLIENT_SECRET instead (preferred)" in message
    assert "static-expired" not in message
    assert fake.token_requests == []


def test_client_credentials_are_preferred_over_a_static_token(fake, fetch_context):
    fake.add_search(total=3, q="film camera")

    fetch_all(fetch_context, fake.env(EBAY_OAUTH_TOKEN="v^1.1#ignored"), CAMERA)

    assert list(fake.bearer_tokens()) == fake.minted


# --- paging limits ------------------------------------------------------------------------------


@pytest.mark.parametrize(("page_size", "last_offset"), [(200, 9_800), (150, 9_750)])
def test_paging_stops_at_the_10k_cap(fake, fetch_context, page_size, last_offset):
    fake.add_search(total=250_000, q="film camera")
    options = {"queries": [{"q": "film camera"}], "page_size": page_size}

    records = fetch_all(fetch_context, fake.env(), options)

    assert fake.offsets()[-1] == last_offset
    assert all(offset + page_size <= 10_000 for offset in fake.offsets())
    assert len(records) == last_offset + page_size


def test_paging_stops_when_next_is_absent(fake, fetch_context):
    fake.add_search(total=30, q="film camera", drop_next_from=20)

    records = fetch_all(fetch_context, fake.env(), CAMERA)

    assert fake.offsets() == [0, 10]
    assert len(records) == 20


def test_no_results_is_one_request_and_no_records(fake, fetch_context):
    assert fetch_all(fetch_context, fake.env(), CAMERA) == []
    assert fake.offsets() == [0]


def test_max_results_per_query_caps_each_query(fake, fetch_context):
    fake.add_search(total=100, q="film camera")
    fake.add_search(
        [make_item(n, prefix=200_000_000_000) for n in range(100)], gtin="0885909950805"
    )
    options = {
        "queries": [{"q": "film camera"}, {"gtin": "0885909950805"}],
        "page_size": 10,
        "max_results_per_query": 25,
    }

    records = fetch_all(fetch_context, fake.env(), options)

    assert fake.offsets() == [0, 10, 20, 0, 10, 20]
    assert [r["__query"] for r in records] == ["film camera"] * 25 + ["gtin=0885909950805"] * 25


def test_items_found_by_two_queries_are_kept_once(fake, fetch_context):
    shared = [make_item(n) for n in range(5)]
    fake.add_search([*shared, make_item(50), make_item(51)], q="film camera")
    fake.add_search([make_item(60), *shared[:3], make_item(61)], category_ids="15230")
    options = {"queries": [{"q": "film camera"}, {"category_ids": [15230]}], "page_size": 10}

    records = fetch_all(fetch_context, fake.env(), options)

    assert [(r["legacyItemId"], r["__query"]) for r in records] == [
        *[(str(100_000_000_000 + n), "film camera") for n in (0, 1, 2, 3, 4, 50, 51)],
        *[(str(100_000_000_000 + n), "category_ids=15230") for n in (60, 61)],
    ]


def test_limit_sizes_pages_and_stops_early(fake, fetch_context):
    fake.add_search(total=300, q="film camera")

    small = fetch_all(fetch_context, fake.env(), {"queries": [{"q": "film camera"}]}, limit=15)
    assert len(small) == 15
    assert [(r.args["offset"], r.args["limit"]) for r in fake.search_requests] == [("0", "15")]

    fake.search_requests.clear()
    larger = fetch_all(fetch_context, fake.env(), CAMERA, limit=25)
    assert len(larger) == 25
    assert fake.offsets() == [0, 10, 20]


def test_page_done_is_called_per_page(fake, fetch_context):
    fake.add_search(total=25, q="film camera")
    provider = EbayProvider()
    ctx = fetch_context(provider, fake.env(), CAMERA)
    pages: list[int] = []
    ctx.on_page = pages.append

    list(provider.fetch(ctx))

    assert pages == [10, 10, 5]
    assert ctx.stats.pages == 3
    assert ctx.stats.api_calls == 4  # one token, three pages


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
            "internal system or process. Contact eBay developer support for assistance.",
        ),
        (
            429,
            fake_ebay.TOO_MANY_REQUESTS,
            RetriableProviderError,
            f"429 Too Many Requests from {SEARCH_WHAT}: The request limit has been reached for "
            "the resource.",
        ),
        (
            403,
            fake_ebay.ACCESS_DENIED,
            FatalProviderError,
            f"403 Forbidden from {SEARCH_WHAT}: Insufficient permissions to fulfill the request.",
        ),
        (
            400,
            fake_ebay.OFFSET_TOO_LARGE,
            FatalProviderError,
            f"400 Bad Request from {SEARCH_WHAT}: The 'offset' plus 'limit' values must not "
            "exceed 10000; narrow the search with filters.",
        ),
        (
            400,
            fake_ebay.MISSING_CRITERIA,
            FatalProviderError,
            f"400 Bad Request from {SEARCH_WHAT}: The call must have a valid 'q', 'category_ids', "
            "'charity_ids', 'epid' or 'gtin' query parameter.",
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
        "exceed 10000; narrow the search with filters."
    )


# --- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({}, ["EBAY_CLIENT_ID", "EBAY_CLIENT_SECRET"]),
        ({"EBAY_CLIENT_ID": "id"}, ["EBAY_CLIENT_SECRET"]),
        ({"EBAY_CLIENT_SECRET": "secret"}, ["EBAY_CLIENT_ID"]),
        ({"EBAY_CLIENT_ID": "id", "EBAY_CLIENT_SECRET": "secret"}, []),
        ({"EBAY_OAUTH_TOKEN": "token"}, []),
        ({"EBAY_CLIENT_ID": "id", "EBAY_OAUTH_TOKEN": "token"}, []),
    ],
)
def test_configured_by_the_pair_or_a_token(env, missing):
    provider = EbayProvider()
    assert provider.missing_settings(env) == missing
    assert provider.is_configured(env) is (missing == [])


def test_check_environment_flags_half_a_pair_and_bad_endpoints():
    env = {
        "EBAY_CLIENT_ID": "id",
        "EBAY_OAUTH_TOKEN": "token",
        "EBAY_API_URL": "http://ebay.example.com",
    }
    assert EbayProvider().check_environment(env) == [
        "EBAY_CLIENT_ID is set without EBAY_CLIENT_SECRET; set both, or neither",
        "EBAY_API_URL: plain http is only allowed for loopback hosts (127.0.0.1, ::1, "
        "localhost); use https for ebay.example.com",
    ]


@pytest.mark.parametrize("env_name", ["EBAY_API_URL", "EBAY_OAUTH_URL"])
def test_plain_http_endpoint_override_is_refused_off_loopback(fetch_context, env_name):
    env = {"EBAY_CLIENT_ID": "id", "EBAY_CLIENT_SECRET": "secret", env_name: "http://proxy.example"}

    with pytest.raises(ConfigError, match=rf"^{env_name}: plain http is only allowed for loopback"):
        fetch_all(fetch_context, env, CAMERA)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"queries": []},
            "providers.ebay.queries: give at least one search table (q, category_ids, epid or "
            "gtin); the Browse API cannot list every item",
        ),
        (
            {"queries": [{"q": "ok"}, {"filter": "price:[10..50]", "sort": "price"}]},
            "providers.ebay.queries[1]: needs at least one of q, category_ids, epid or gtin",
        ),
        (
            {"queries": [{"q": "ok", "keywords": "x"}]},
            "providers.ebay.queries[0].keywords: unknown key",
        ),
        (
            {"queries": ["film camera"]},
            'providers.ebay.queries[0]: must be a table such as { q = "film camera" }',
        ),
        (
            {"queries": [{"q": "  "}]},
            "providers.ebay.queries[0].q: must be a non-empty string; "
            "providers.ebay.queries[0]: needs at least one of q, category_ids, epid or gtin",
        ),
        (
            {"queries": [{"q": "x", "marketplace": "GB"}]},
            "providers.ebay.queries[0].marketplace: 'GB' is not an eBay marketplace id such as "
            "EBAY_US or EBAY_GB",
        ),
        (
            {"queries": [{"q": "x"}], "page_size": 201},
            "providers.ebay.page_size: must be an integer from 1 to 200, got 201",
        ),
        (
            {"queries": [{"q": "x"}], "max_results_per_query": 20_000},
            "providers.ebay.max_results_per_query: must be an integer from 1 to 10000, got 20000",
        ),
    ],
)
def test_option_errors_name_the_key(fetch_context, options, message):
    env = {"EBAY_OAUTH_TOKEN": "token"}

    with pytest.raises(ConfigError) as raised:
        fetch_all(fetch_context, env, options)

    assert str(raised.value) == message


def test_option_errors_are_reported_together(fetch_context):
    options = {"queries": [{"sort": "price"}], "page_size": 0}

    with pytest.raises(ConfigError) as raised:
        fetch_all(fetch_context, {"EBAY_OAUTH_TOKEN": "token"}, options)

    assert str(raised.value) == (
        "providers.ebay.page_size: must be an integer from 1 to 200, got 0; "
        "providers.ebay.queries[0]: needs at least one of q, category_ids, epid or gtin"
    )


def test_query_parameters_are_sent_as_configured(fake, fetch_context):
    fake.add_search(total=1, category_ids="15230,625", q="canon")
    options = {
        "marketplace": "EBAY_DE",
        "queries": [
            {
                "q": "canon",
                "category_ids": ["15230", 625],
                "filter": ["price:[10..500]", "priceCurrency:USD"],
                "sort": "-price",
                "marketplace": "EBAY_US",
            },
            {"epid": "249325755"},
        ],
    }

    records = fetch_all(fetch_context, fake.env(), options)

    assert [r.args for r in fake.search_requests] == [
        {
            "q": "canon",
            "category_ids": "15230,625",
            "filter": "price:[10..500],priceCurrency:USD",
            "sort": "-price",
            "limit": "100",
            "offset": "0",
        },
        {"epid": "249325755", "limit": "100", "offset": "0"},
    ]
    assert [r.headers["X-Ebay-C-Marketplace-Id"] for r in fake.search_requests] == [
        "EBAY_US",
        "EBAY_DE",
    ]
    assert [r["__query"] for r in records] == ["canon"]


# --- normalize ----------------------------------------------------------------------------------


def recorded_items() -> list[dict[str, Any]]:
    page = json.loads((FIXTURES / "search_page.json").read_text())
    return [
        {**item, "__marketplace": "EBAY_US", "__query": "film camera"}
        for item in page["itemSummaries"]
    ]


ROW_DEFAULTS = dict.fromkeys(BUSINESS_COLUMNS)


def test_normalize_full_item_with_variations_and_marketing_price():
    (row,) = EbayProvider().normalize(recorded_items()[0])

    assert row == {
        **ROW_DEFAULTS,
        "source": "ebay",
        "source_id": "v1|335512345678|544712345678",
        "source_parent_id": "335512345678",
        "marketplace": "EBAY_US",
        "title": "Canon AE-1 Program 35mm SLR Film Camera w/ FD 50mm f/1.8 Lens - Tested",
        "category_path": ["Cameras & Photo", "Film Cameras"],
        "condition": "used",
        "availability": "in_stock",
        "price_amount": Decimal("189.99"),
        "list_price_amount": Decimal("229.99"),
        "currency": "USD",
        "url": "https://www.ebay.com/itm/335512345678?var=544712345678",
        "image_url": "https://i.ebayimg.com/images/g/7yUAAOSwq1Fh/s-l225.jpg",
        "additional_image_urls": [
            "https://i.ebayimg.com/images/g/QmcAAOSw3vBh/s-l225.jpg",
            "https://i.ebayimg.com/images/g/ZTkAAOSwl2Vh/s-l225.jpg",
        ],
        "tags": ["FIXED_PRICE", "BEST_OFFER"],
        "seller_name": "vintage_optics_co",
        "source_created_at": datetime(2026, 9, 14, 17, 2, 11, tzinfo=UTC),
    }
    assert list(row) == list(BUSINESS_COLUMNS)


def test_normalize_minimal_item_leaves_optional_fields_empty():
    (row,) = EbayProvider().normalize(recorded_items()[1])

    assert row == {
        **ROW_DEFAULTS,
        "source": "ebay",
        "source_id": "v1|126612345001|0",
        "marketplace": "EBAY_US",
        "title": "Zenit-E 35mm SLR Camera Helios-44-2 58mm f/2 Lens USSR",
        "condition": "used",
        "availability": "in_stock",
        "price_amount": Decimal("59.00"),
        "currency": "USD",
        "url": "https://www.ebay.com/itm/126612345001",
    }


def test_normalize_auction_uses_the_current_bid():
    (row,) = EbayProvider().normalize(recorded_items()[2])

    assert row == {
        **ROW_DEFAULTS,
        "source": "ebay",
        "source_id": "v1|126612345002|0",
        "marketplace": "EBAY_US",
        "title": "Vintage Brownie Hawkeye Flash Model Camera - Display Only",
        "category_path": ["Film Cameras"],
        "condition": "used",
        "availability": "in_stock",
        "price_amount": Decimal("18.50"),
        "currency": "USD",
        "url": "https://www.ebay.com/itm/126612345002",
        "tags": ["AUCTION"],
        "seller_name": "estate_lot_liquidators",
        "source_created_at": datetime(2026, 11, 18, 19, 15, tzinfo=UTC),
    }


def test_normalize_refurbished_out_of_stock_item_in_pounds():
    raw = {**recorded_items()[3], "__marketplace": "EBAY_GB", "__query": "keyboard"}

    (row,) = EbayProvider().normalize(raw)

    assert row == {
        **ROW_DEFAULTS,
        "source": "ebay",
        "source_id": "v1|395812345003|0",
        "marketplace": "EBAY_GB",
        "title": "Logitech G915 TKL Lightspeed Wireless RGB Mechanical Keyboard",
        "description": "Refurbished by Logitech & tested. UK layout",
        "category_path": [
            "Computers, Tablets & Network Hardware",
            "Keyboards, Mice & Pointers",
            "Keyboards",
        ],
        "condition": "refurbished",
        "availability": "out_of_stock",
        "price_amount": Decimal("129.99"),
        "list_price_amount": Decimal("189.99"),
        "currency": "GBP",
        "inventory_quantity": 0,
        "url": "https://www.ebay.co.uk/itm/395812345003",
        "image_url": "https://i.ebayimg.com/images/g/pX0AAOSwc2Zh/s-l225.jpg",
        "tags": ["FIXED_PRICE"],
        "seller_name": "logi_outlet_uk",
        "source_created_at": datetime(2026, 10, 2, 8, 30, tzinfo=UTC),
    }


@pytest.mark.parametrize(
    ("condition_id", "condition"),
    [
        ("1000", "new"),
        ("1500", "new"),
        ("1750", "new"),
        ("2000", "refurbished"),
        ("2010", "refurbished"),
        ("2020", "refurbished"),
        ("2030", "refurbished"),
        ("2500", "refurbished"),
        ("2750", "used"),
        ("2990", "used"),
        ("3000", "used"),
        ("3010", "used"),
        ("4000", "used"),
        ("5000", "used"),
        ("6000", "used"),
        ("7000", "used"),
        ("2040", "refurbished"),  # an id added later falls in its band
        ("9999", "unknown"),
        (None, "unknown"),
        ("NEW", "unknown"),
    ],
)
def test_condition_ids(condition_id, condition):
    assert normalize_condition(condition_id) == condition
    assert condition in CONDITIONS


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"itemId": None}, "ebay record <no itemId>: itemId is missing"),
        ({"title": None}, "ebay record v1|126612345001|0: title is missing"),
        (
            {"price": {"value": "12,99", "currency": "EUR"}},
            "ebay record v1|126612345001|0: price.value '12,99' is not a number",
        ),
    ],
)
def test_unmappable_records_are_skipped(change, message):
    raw = {**recorded_items()[1], **change}

    with pytest.raises(SkippableRecordError) as raised:
        EbayProvider().normalize(raw)

    assert str(raised.value) == message


def test_bad_but_mappable_values_reach_the_quality_gate():
    raw = {
        **recorded_items()[1],
        "title": "",
        "price": {"value": "0.00", "currency": "USD"},
        "image": {"imageUrl": "ftp://images.example/1.jpg"},
    }

    (row,) = EbayProvider().normalize(raw)

    assert (row["title"], row["price_amount"], row["image_url"]) == (
        "",
        Decimal("0.00"),
        "ftp://images.example/1.jpg",
    )


# --- offline recording --------------------------------------------------------------------------


def test_offline_recording_replays_through_the_provider(fetch_context):
    recording = Recording(EbayProvider.recording_path())
    provider = EbayProvider()

    with replay_server(recording) as base_url:
        ctx = fetch_context(provider, offline_env(recording, base_url), recording.options)
        records = list(provider.fetch(ctx))

    assert len(records) == 62
    assert ctx.stats.pages == 7
    assert {r["__marketplace"] for r in records} == {"EBAY_US", "EBAY_GB", "EBAY_DE"}
    rows = [row for raw in records for row in provider.normalize(raw)]
    assert len(rows) == 62
    assert {row["currency"] for row in rows} == {"USD", "GBP", "EUR"}
    assert all(row["condition"] in CONDITIONS for row in rows)
    assert all(row["availability"] in AVAILABILITIES for row in rows)
    bad = {
        row["source_id"]: (row["title"], row["price_amount"], row["image_url"])
        for row in rows
        if not row["title"]
        or row["price_amount"] <= 0
        or not (row["image_url"] or "https://").startswith("https://")
    }
    assert sorted(bad) == ["v1|126600039595|0", "v1|126600118785|0", "v1|395800015838|0"]
    assert sum(row["image_url"] is None for row in rows) >= 5
    assert sum(row["list_price_amount"] is None for row in rows) >= 20
