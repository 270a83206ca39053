"""The Amazon provider against a fake Creators API on 127.0.0.1, through the real wrapper."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from pipelines.errors import (
    ConfigError,
    FatalProviderError,
    RetriableProviderError,
    SkippableRecordError,
)
from pipelines.lake.schema import AVAILABILITIES, BUSINESS_COLUMNS, CONDITIONS
from pipelines.net.cache import ResponseCache
from pipelines.net.offline import Recording, offline_env, replay_server
from pipelines.net.secrets import mask
from providers.amazon import AmazonProvider
from providers.base import FetchContext
from tests.fakes.amazon import (
    GET_ITEMS_PATH,
    SEARCH_ITEMS_PATH,
    FakeCreatorsApi,
    make_item,
    make_listing,
    numbered_catalog,
)

FIXTURES = Path(__file__).parents[2] / "fixtures" / "amazon"
FAST = {"throttling_seconds": 0.0}
REQUEST_ID = "[request id: fake-request-0001]"

BuildContext = Callable[..., FetchContext]
Serve = Callable[..., FakeCreatorsApi]


@pytest.fixture
def provider() -> AmazonProvider:
    return AmazonProvider()


@pytest.fixture
def serve(http_server: HTTPServer) -> Serve:
    """Build a fake Creators API on the shared server: ``with serve(catalog, ...) as fake``."""

    def build(catalog: list[dict[str, Any]], **kwargs: Any) -> FakeCreatorsApi:
        return FakeCreatorsApi(catalog, server=http_server, **kwargs)

    return build


@pytest.fixture
def fake(serve: Serve) -> Iterator[FakeCreatorsApi]:
    catalog = numbered_catalog(25)
    hub = [item["asin"] for item in catalog]
    with serve(catalog, searches={"usb c hub": hub[::-1]}) as server:
        yield server


def asins(count: int) -> list[str]:
    return [f"B0TEST{n:04d}" for n in range(1, count + 1)]


def fetch_all(provider: AmazonProvider, ctx: FetchContext) -> list[dict[str, Any]]:
    return list(provider.fetch(ctx))


def fixture_items() -> list[dict[str, Any]]:
    return json.loads((FIXTURES / "get_items_response.json").read_text())["itemsResult"]["items"]


# --- migration from PA-API 5.0 -------------------------------------------------------------------


def test_retired_paapi_variables_get_a_migration_message(provider: AmazonProvider) -> None:
    env = {"AMAZON_PAAPI_ACCESS_KEY": "AKIAOLDKEY123", "AMAZON_PAAPI_PARTNER_TAG": "mystore-20"}

    problems = provider.check_environment(env)

    assert problems == [
        "amazon: PA-API 5.0 was retired on 2026-04-30; set AMAZON_CREATORS_CREDENTIAL_ID, "
        "AMAZON_CREATORS_CREDENTIAL_SECRET, AMAZON_CREATORS_VERSION (the version shown with the "
        "credentials) and AMAZON_PARTNER_TAG (your tracking id, unchanged) from new Creators "
        "API credentials (Amazon Associates Central), and remove AMAZON_PAAPI_ACCESS_KEY, "
        "AMAZON_PAAPI_PARTNER_TAG, which no longer work."
    ]
    assert "AKIAOLDKEY123" not in problems[0]
    assert "mystore-20" not in problems[0]


@pytest.mark.parametrize(
    "name",
    [
        "AMAZON_PAAPI_ACCESS_KEY",
        "AMAZON_PAAPI_SECRET_KEY",
        "AMAZON_PAAPI_PARTNER_TAG",
        "AMAZON_PAAPI_HOST",
        "AMAZON_PAAPI_REGION",
    ],
)
def test_each_retired_paapi_variable_is_named(provider: AmazonProvider, name: str) -> None:
    [problem] = provider.check_environment({name: "old-value"})

    assert problem.endswith(f"and remove {name}, which no longer works.")
    assert "old-value" not in problem


def test_no_migration_message_without_paapi_variables(provider: AmazonProvider) -> None:
    assert provider.check_environment({"AMAZON_CREATORS_CREDENTIAL_ID": "x"}) == []


# --- GetItems: batches, auth, tokens -------------------------------------------------------------


def test_get_items_batches_of_ten_in_order(
    provider: AmazonProvider, fake: FakeCreatorsApi, fetch_context: BuildContext
) -> None:
    ctx = fetch_context(provider, fake.env(), {**FAST, "asins": asins(25)})

    records = fetch_all(provider, ctx)

    assert [r["asin"] for r in records] == asins(25)
    assert {r["__marketplace"] for r in records} == {"www.amazon.com"}
    sent = [call["json"]["itemIds"] for call in fake.api_calls(GET_ITEMS_PATH)]
    assert sent == [asins(25)[:10], asins(25)[10:20], asins(25)[20:]]
    assert ctx.stats.pages == 3
    assert ctx.stats.api_calls == 4  # one token, three GetItems
    assert ctx.stats.errors == []


@pytest.mark.parametrize(
    ("version", "content_type", "scope", "authorization"),
    [
        # LWA (3.x): a JSON body with the client credentials, no Basic auth, plain Bearer.
        ("3.1", "application/json", "creatorsapi::default", "Bearer Atc|fake-access-token-1"),
        # Cognito (2.x): the same fields form-encoded; the version rides in Authorization.
        (
            "2.1",
            "application/x-www-form-urlencoded",
            "creatorsapi/default",
            "Bearer Atc|fake-access-token-1, Version 2.1",
        ),
    ],
)
def test_auth_is_sent_as_the_wrapper_does_for_the_version(
    provider: AmazonProvider,
    serve: Serve,
    fetch_context: BuildContext,
    version: str,
    content_type: str,
    scope: str,
    authorization: str,
) -> None:
    with serve(numbered_catalog(2), version=version) as fake:
        fetch_all(provider, fetch_context(provider, fake.env(), {**FAST, "asins": asins(2)}))

    assert fake.token_requests == [
        {
            "content_type": content_type,
            "authorization": None,
            "fields": {
                "grant_type": "client_credentials",
                "client_id": "fake-credential-id",
                "client_secret": "fake-credential-secret",
                "scope": scope,
            },
        }
    ]
    [call] = fake.api_calls()
    assert call["authorization"] == authorization
    assert call["marketplace"] == "www.amazon.com"
    assert call["content_type"] == "application/json"
    assert call["json"]["partnerTag"] == "pipelinetest-20"
    assert call["json"]["itemIds"] == asins(2)
    assert "offersV2.listings.price" in call["json"]["resources"]


def test_minted_tokens_are_registered_as_secrets(
    provider: AmazonProvider, fake: FakeCreatorsApi, fetch_context: BuildContext
) -> None:
    fetch_all(provider, fetch_context(provider, fake.env(), {**FAST, "asins": asins(1)}))

    assert mask("token Atc|fake-access-token-1 leaked") == "token *** leaked"


def test_token_is_fetched_once_and_reused(
    provider: AmazonProvider, fake: FakeCreatorsApi, fetch_context: BuildContext
) -> None:
    ctx = fetch_context(
        provider, fake.env(), {**FAST, "asins": asins(25), "searches": [{"keywords": "usb c hub"}]}
    )

    fetch_all(provider, ctx)

    assert len(fake.token_requests) == 1
    assert {call["authorization"] for call in fake.api_calls()} == {
        "Bearer Atc|fake-access-token-1"
    }
    assert len(fake.api_calls()) == 4


def test_short_lived_token_is_refreshed_before_each_call(
    provider: AmazonProvider, serve: Serve, fetch_context: BuildContext
) -> None:
    # The wrapper renews 30 s before expiry, so a 30 s token is stale by the next call.
    with serve(numbered_catalog(25), expires_in=30) as fake:
        fetch_all(provider, fetch_context(provider, fake.env(), {**FAST, "asins": asins(25)}))

    assert fake.tokens_issued == [f"Atc|fake-access-token-{n}" for n in (1, 2, 3)]
    assert [call["authorization"] for call in fake.api_calls()] == [
        f"Bearer {token}" for token in fake.tokens_issued
    ]


def test_token_rejected_mid_run_is_refreshed_once_and_the_call_repeated(
    provider: AmazonProvider, fake: FakeCreatorsApi, fetch_context: BuildContext
) -> None:
    ctx = fetch_context(provider, fake.env(), {**FAST, "asins": asins(20)})
    records = provider.fetch(ctx)
    first_page = [next(records) for _ in range(10)]

    fake.revoke_tokens()
    rest = list(records)

    assert len(first_page) + len(rest) == 20
    assert len(fake.tokens_issued) == 2
    assert [call["authorization"] for call in fake.api_calls()] == [
        "Bearer Atc|fake-access-token-1",
        "Bearer Atc|fake-access-token-1",  # 401 TokenExpired
        "Bearer Atc|fake-access-token-2",
    ]


# --- partial errors ------------------------------------------------------------------------------


def test_partial_errors_keep_good_items_and_list_bad_asins(
    provider: AmazonProvider, serve: Serve, fetch_context: BuildContext
) -> None:
    with serve(numbered_catalog(12), inaccessible={"B0TEST0003"}) as fake:
        ctx = fetch_context(provider, fake.env(), {**FAST, "asins": [*asins(12), "B0NOSUCH01"]})
        records = fetch_all(provider, ctx)

    assert [r["asin"] for r in records] == [a for a in asins(12) if a != "B0TEST0003"]
    assert ctx.stats.errors == [
        "ASIN B0TEST0003: ItemNotAccessible",
        "ASIN B0NOSUCH01: InvalidParameterValue",
    ]


def test_a_batch_with_no_accessible_item_is_reported_and_the_run_goes_on(
    provider: AmazonProvider, serve: Serve, fetch_context: BuildContext
) -> None:
    bad = {f"B0TEST{n:04d}" for n in range(1, 11)}
    with serve(numbered_catalog(12), inaccessible=bad) as fake:
        ctx = fetch_context(provider, fake.env(), {**FAST, "asins": asins(12)})
        records = fetch_all(provider, ctx)

    assert [r["asin"] for r in records] == ["B0TEST0011", "B0TEST0012"]
    assert ctx.stats.errors == [f"ASIN {a}: ItemNotAccessible" for a in asins(10)]


# --- SearchItems ---------------------------------------------------------------------------------


def test_search_pages_and_asins_are_deduplicated(
    provider: AmazonProvider, fake: FakeCreatorsApi, fetch_context: BuildContext
) -> None:
    search = {"keywords": "usb c hub", "search_index": "Electronics", "pages": 2}
    ctx = fetch_context(provider, fake.env(), {**FAST, "asins": asins(3), "searches": [search]})

    records = fetch_all(provider, ctx)

    found = [r["asin"] for r in records]
    assert found == asins(3) + [f"B0TEST{n:04d}" for n in range(25, 5, -1)]
    assert len(found) == len(set(found))
    sent = [call["json"] for call in fake.api_calls(SEARCH_ITEMS_PATH)]
    assert [(s["keywords"], s["searchIndex"], s["itemCount"], s["itemPage"]) for s in sent] == [
        ("usb c hub", "Electronics", 10, 1),
        ("usb c hub", "Electronics", 10, 2),
    ]


def test_search_stops_at_a_short_page(
    provider: AmazonProvider, serve: Serve, fetch_context: BuildContext
) -> None:
    catalog = numbered_catalog(12)
    with serve(catalog, searches={"mouse": [i["asin"] for i in catalog]}) as fake:
        ctx = fetch_context(
            provider, fake.env(), {**FAST, "searches": [{"keywords": "mouse", "pages": 5}]}
        )
        records = fetch_all(provider, ctx)

    assert len(records) == 12
    assert [c["json"]["itemPage"] for c in fake.api_calls(SEARCH_ITEMS_PATH)] == [1, 2]


def test_search_without_results_is_zero_items(
    provider: AmazonProvider, fake: FakeCreatorsApi, fetch_context: BuildContext
) -> None:
    ctx = fetch_context(
        provider, fake.env(), {**FAST, "searches": [{"keywords": "nothing", "pages": 3}]}
    )

    assert fetch_all(provider, ctx) == []
    assert len(fake.api_calls(SEARCH_ITEMS_PATH)) == 1
    assert ctx.stats.errors == []


# --- limit, cache, raw records -------------------------------------------------------------------


def test_limit_sizes_the_batches_and_stops(
    provider: AmazonProvider, fake: FakeCreatorsApi, fetch_context: BuildContext
) -> None:
    options = {**FAST, "asins": asins(25), "searches": [{"keywords": "usb c hub"}]}
    ctx = fetch_context(provider, fake.env(), options, limit=13)

    records = fetch_all(provider, ctx)

    assert [r["asin"] for r in records] == asins(13)
    assert [len(c["json"]["itemIds"]) for c in fake.api_calls(GET_ITEMS_PATH)] == [10, 3]
    assert fake.api_calls(SEARCH_ITEMS_PATH) == []


def test_cached_pages_are_served_without_calls(
    provider: AmazonProvider, fake: FakeCreatorsApi, fetch_context: BuildContext, tmp_path: Path
) -> None:
    options = {**FAST, "asins": asins(12), "searches": [{"keywords": "usb c hub"}]}
    first = fetch_context(provider, fake.env(), options)
    first.cache = ResponseCache(tmp_path, ttl_seconds=60)
    expected = fetch_all(provider, first)
    calls = len(fake.api_calls()) + len(fake.token_requests)

    again = fetch_context(provider, fake.env(), options)
    again.cache = ResponseCache(tmp_path, ttl_seconds=60)

    assert fetch_all(provider, again) == expected
    assert len(fake.api_calls()) + len(fake.token_requests) == calls
    assert (again.stats.api_calls, again.stats.cache_hits) == (0, 3)


def test_raw_record_is_the_item_as_sent_plus_marketplace(
    provider: AmazonProvider, serve: Serve, fetch_context: BuildContext
) -> None:
    items = fixture_items()
    with serve(copy.deepcopy(items), partner_tag="offlinedemo-20") as fake:
        ctx = fetch_context(provider, fake.env(), {**FAST, "asins": [i["asin"] for i in items]})
        records = fetch_all(provider, ctx)

    assert records == [{**item, "__marketplace": "www.amazon.com"} for item in items]


# --- errors --------------------------------------------------------------------------------------

UNAUTHORIZED = {
    "type": "UnauthorizedException",
    "message": "Token is invalid",
    "reason": "InvalidToken",
}
NOT_ELIGIBLE = {
    "type": "AccessDeniedException",
    "message": "Your account is not eligible",
    "reason": "AssociateNotEligible",
}
BAD_ASSOCIATE = {
    "type": "ValidationException",
    "message": "The partner tag is not mapped to a valid associate store",
    "reason": "InvalidAssociate",
}
BAD_FIELD = {
    "type": "ValidationException",
    "message": "itemIds is not valid",
    "reason": "FieldValidationFailed",
}
THROTTLED = {"type": "ThrottleException", "message": "Rate exceeded"}
UNAVAILABLE = {"type": "InternalServerException", "message": "Service unavailable"}
NOW = {"Retry-After": "0"}
WHAT = "amazon getItems batch 1 (2 ASINs)"


@pytest.mark.parametrize(
    ("status", "body", "headers", "times", "error", "message"),
    [
        pytest.param(
            401,
            UNAUTHORIZED,
            {},
            2,
            FatalProviderError,
            f"{WHAT}: authentication failed; check AMAZON_CREATORS_CREDENTIAL_ID, "
            "AMAZON_CREATORS_CREDENTIAL_SECRET and that AMAZON_CREATORS_VERSION is the version "
            "Amazon issued them for (Authentication failed - InvalidToken; Token is invalid "
            f"{REQUEST_ID})",
            id="401-after-one-refresh",
        ),
        pytest.param(
            403,
            NOT_ELIGIBLE,
            {},
            1,
            FatalProviderError,
            f"{WHAT}: access denied; the Associates account may not be eligible for the "
            "Creators API yet (Access denied for the requested operation - "
            f"AssociateNotEligible; Your account is not eligible {REQUEST_ID})",
            id="403",
        ),
        pytest.param(
            400,
            BAD_ASSOCIATE,
            {},
            1,
            FatalProviderError,
            f"{WHAT}: AMAZON_PARTNER_TAG is not a valid tracking id for www.amazon.com "
            "(Credentials are not valid for the selected marketplace - InvalidAssociate; The "
            f"partner tag is not mapped to a valid associate store {REQUEST_ID})",
            id="400-associate",
        ),
        pytest.param(
            400,
            BAD_FIELD,
            {},
            1,
            FatalProviderError,
            f"{WHAT}: request rejected (The request was rejected by Amazon - "
            f"FieldValidationFailed; itemIds is not valid {REQUEST_ID})",
            id="400-validation",
        ),
        pytest.param(
            429,
            THROTTLED,
            NOW,
            4,
            RetriableProviderError,
            f"{WHAT}: rate limited by Amazon after retries; raise [providers.amazon] "
            f"throttling_seconds (Rate limit exceeded, try increasing throttling - Rate "
            f"exceeded {REQUEST_ID})",
            id="429-after-retries",
        ),
        pytest.param(
            503,
            UNAVAILABLE,
            NOW,
            4,
            RetriableProviderError,
            f"{WHAT}: request failed after retries (Request failed with status 503 - Service "
            f"unavailable {REQUEST_ID})",
            id="503-after-retries",
        ),
    ],
)
def test_error_responses_become_clear_errors(
    provider: AmazonProvider,
    fake: FakeCreatorsApi,
    fetch_context: BuildContext,
    status: int,
    body: dict[str, Any],
    headers: dict[str, str],
    times: int,
    error: type[Exception],
    message: str,
) -> None:
    fake.fail_next(status, body, headers, times=times)
    ctx = fetch_context(provider, fake.env(), {**FAST, "asins": asins(2)})

    with pytest.raises(error) as raised:
        fetch_all(provider, ctx)

    assert str(raised.value) == message
    assert len(fake.api_calls()) == times
    assert "Atc|" not in str(raised.value)


def test_rejected_credentials_at_the_token_endpoint_are_fatal(
    provider: AmazonProvider, fake: FakeCreatorsApi, fetch_context: BuildContext
) -> None:
    env = fake.env(AMAZON_CREATORS_CREDENTIAL_SECRET="wrong-secret")
    ctx = fetch_context(provider, env, {**FAST, "asins": asins(2)})

    with pytest.raises(FatalProviderError, match="authentication failed") as raised:
        fetch_all(provider, ctx)

    assert "OAuth2 token request failed with status 401" in str(raised.value)
    assert "wrong-secret" not in str(raised.value)
    assert fake.api_calls() == []


def test_one_throttled_call_is_retried_by_the_wrapper(
    provider: AmazonProvider, fake: FakeCreatorsApi, fetch_context: BuildContext
) -> None:
    fake.fail_next(429, THROTTLED, NOW)
    ctx = fetch_context(provider, fake.env(), {**FAST, "asins": asins(2)})

    assert len(fetch_all(provider, ctx)) == 2
    assert len(fake.api_calls(GET_ITEMS_PATH)) == 2


# --- configuration -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env_name", "url"),
    [
        ("AMAZON_CREATORS_API_URL", "http://creatorsapi.example.com"),
        ("AMAZON_CREATORS_AUTH_URL", "http://auth.example.com/auth/o2/token"),
    ],
)
def test_plain_http_override_refused_off_loopback(
    provider: AmazonProvider,
    fake: FakeCreatorsApi,
    fetch_context: BuildContext,
    env_name: str,
    url: str,
) -> None:
    ctx = fetch_context(provider, fake.env(**{env_name: url}), {**FAST, "asins": asins(1)})

    with pytest.raises(ConfigError, match=f"{env_name}: plain http is only allowed"):
        fetch_all(provider, ctx)
    assert fake.api_calls() == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "nothing to fetch"),
        ({"asins": ["not an asin"]}, "asins: 'not an asin' is not an ASIN"),
        ({"asins": ["B0TEST0001"], "country": "XX"}, "country: 'XX' is not one of"),
        ({"searches": [{"pages": 2}]}, "searches #1: keywords is required"),
        ({"searches": [{"keywords": "hub", "pages": 11}]}, "pages must be an integer from 1 to 10"),
        ({"searches": [{"keywords": "hub", "sort": "x"}]}, "searches #1: unknown keys sort"),
    ],
)
def test_bad_options_are_config_errors(
    provider: AmazonProvider,
    fake: FakeCreatorsApi,
    fetch_context: BuildContext,
    options: dict[str, Any],
    message: str,
) -> None:
    ctx = fetch_context(provider, fake.env(), {**FAST, **options})

    with pytest.raises(ConfigError, match=message):
        fetch_all(provider, ctx)


def test_unsupported_version_is_a_config_error(
    provider: AmazonProvider, fake: FakeCreatorsApi, fetch_context: BuildContext
) -> None:
    env = fake.env(AMAZON_CREATORS_VERSION="9.1")
    ctx = fetch_context(provider, env, {**FAST, "asins": asins(1)})

    with pytest.raises(ConfigError, match=r"Unsupported version: 9\.1.*AMAZON_CREATORS_VERSION"):
        fetch_all(provider, ctx)


def test_version_defaults_to_3_1(provider: AmazonProvider) -> None:
    settings = provider.resolve_settings({"AMAZON_CREATORS_CREDENTIAL_ID": "x"})

    assert settings["AMAZON_CREATORS_VERSION"] == "3.1"


# --- normalize -----------------------------------------------------------------------------------


def test_normalize_recorded_items_as_whole_rows(provider: AmazonProvider) -> None:
    records = [{**item, "__marketplace": "www.amazon.com"} for item in fixture_items()]
    base = dict.fromkeys(BUSINESS_COLUMNS)
    base.update(source="amazon", marketplace="www.amazon.com")
    image = "https://m.media-amazon.com/images/I/{}._SL500_.jpg"
    url = "https://www.amazon.com/dp/{}?tag=offlinedemo-20&linkCode=ogi&th=1&psc=1"

    rows = [row for record in records for row in provider.normalize(record)]

    assert rows == [
        {
            **base,
            "source_id": "B01Z6VWB6J",
            "source_parent_id": "B0J986Q7GY",
            "gtin": "1643940093290",
            "mpn": "910-006556",
            "brand": "Logitech",
            "title": "Logitech MX Master 3S Wireless Performance Mouse, Ergo, 8K DPI, Quiet "
            "Clicks, USB-C, Graphite",
            "description": "8K DPI optical sensor tracks on glass.\n"
            "Quiet clicks, 90% less click noise.",
            "product_type": "Personal Computer",
            "category_path": [
                "Electronics",
                "Computers & Accessories",
                "Accessories & Peripherals",
                "Keyboards, Mice & Accessories",
                "Mice",
            ],
            "condition": "new",
            "availability": "in_stock",
            "price_amount": Decimal("89.99"),
            "list_price_amount": Decimal("99.99"),
            "currency": "USD",
            "url": url.format("B01Z6VWB6J"),
            "image_url": image.format("74u4yd4mkvH"),
            "additional_image_urls": [
                image.format("eufm6tzrTr3"),
                image.format("vTDpQfE8wCT"),
                image.format("sioDsMDnhNC"),
            ],
            "seller_name": "Amazon.com",
        },
        {
            **base,
            "source_id": "B05VYXT1SC",
            "gtin": "6016926566968",
            "mpn": "WH1000XM4/B",
            "brand": "Sony",
            "title": "Sony WH-1000XM4 Wireless Noise Canceling Headphones, Black (Used - Very "
            "Good)",
            "description": "Used item inspected by Amazon.",
            "product_type": "Wireless",
            "category_path": [
                "Electronics",
                "Headphones, Earbuds & Accessories",
                "Headphones",
                "Earbud Headphones",
            ],
            "condition": "used",
            "availability": "in_stock",
            "price_amount": Decimal("168.0"),
            "currency": "USD",
            "url": url.format("B05VYXT1SC"),
            "image_url": image.format("VaFaSDJ4zOT"),
            "seller_name": "Amazon Resale",
        },
        {
            **base,
            "source_id": "B02NGJC0P9",
            "mpn": "53933",
            "brand": "Technivorm",
            "title": "Moccamaster KBGV Select 10-Cup Coffee Maker",
            "product_type": "Kitchen",
            "category_path": [
                "Home & Kitchen",
                "Kitchen & Dining",
                "Coffee, Tea & Espresso",
                "Coffee Makers",
            ],
            "condition": "unknown",
            "availability": "unknown",
            "url": url.format("B02NGJC0P9"),
            "image_url": image.format("PBQ9FDANs6R"),
        },
        {
            **base,
            "source_id": "B0TD9UZXTY",
            "title": "Python Crash Course, 3rd Edition: A Hands-On, Project-Based Introduction "
            "to Programming",
            "product_type": "Book",
            "category_path": ["Books", "Computers & Technology", "Programming", "Python"],
            "condition": "new",
            "availability": "preorder",
            "price_amount": Decimal("27.99"),
            "list_price_amount": Decimal("39.99"),
            "currency": "USD",
            "url": url.format("B0TD9UZXTY"),
            "image_url": image.format("dxkeRHTrfkS"),
            "seller_name": "Amazon.com",
        },
    ]
    for row in rows:
        assert tuple(row) == BUSINESS_COLUMNS
        assert row["condition"] in CONDITIONS
        assert row["availability"] in AVAILABILITIES


@pytest.mark.parametrize(
    ("amazon_type", "expected"),
    [
        ("IN_STOCK", "in_stock"),
        ("IN_STOCK_SCARCE", "in_stock"),
        ("OUT_OF_STOCK", "out_of_stock"),
        ("UNAVAILABLE", "out_of_stock"),
        ("PREORDER", "preorder"),
        ("AVAILABLE_DATE", "backorder"),
        ("LEADTIME", "backorder"),
        ("BACKORDER", "backorder"),
        ("OutOfStock", "out_of_stock"),
        ("UNKNOWN", "unknown"),
        ("SOMETHING_NEW", "unknown"),
    ],
)
def test_availability_vocabulary(provider: AmazonProvider, amazon_type: str, expected: str) -> None:
    item = make_item("B0TEST0001", "Hub", listing=make_listing(9.99, availability=amazon_type))

    [row] = provider.normalize(item)

    assert row["availability"] == expected


@pytest.mark.parametrize(
    ("condition", "expected"),
    [("New", "new"), ("Used", "used"), ("Collectible", "used"), ("Refurbished", "refurbished")],
)
def test_condition_vocabulary(provider: AmazonProvider, condition: str, expected: str) -> None:
    item = make_item("B0TEST0001", "Hub", listing=make_listing(9.99, condition=condition))

    assert provider.normalize(item)[0]["condition"] == expected


def test_upc_is_the_gtin_when_there_is_no_ean(provider: AmazonProvider) -> None:
    item = make_item("B0TEST0001", "Cable", upc="841667174051")

    assert provider.normalize(item)[0]["gtin"] == "841667174051"


def test_empty_title_is_kept_for_the_quality_gate(provider: AmazonProvider) -> None:
    assert provider.normalize(make_item("B0TEST0001", "  "))[0]["title"] == ""


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"itemInfo": {"title": {"displayValue": "Hub"}}}, "asin is missing"),
        ({"asin": "B0TEST0001", "itemInfo": {}}, "amazon record B0TEST0001: itemInfo.title"),
    ],
)
def test_unmappable_records_are_skippable(
    provider: AmazonProvider, item: dict[str, Any], message: str
) -> None:
    with pytest.raises(SkippableRecordError, match=message):
        provider.normalize(item)


# --- offline recording ---------------------------------------------------------------------------


def test_offline_recording_replays(provider: AmazonProvider, fetch_context: BuildContext) -> None:
    path = provider.recording_path()
    payload = json.loads(path.read_text())
    recording = Recording(path)

    with replay_server(recording) as base_url:
        env = offline_env(recording, base_url)
        ctx = fetch_context(provider, env, recording.options)
        records = fetch_all(provider, ctx)

    assert len(records) == payload["expected_records"] == 47
    assert len({r["asin"] for r in records}) == 47
    assert ctx.stats.errors == [
        "ASIN B0DRSZNT03: ItemNotAccessible",
        "ASIN B000000000: InvalidParameterValue",
    ]
    rows = {row["source_id"]: row for r in records for row in provider.normalize(r)}
    assert rows["B0BAQ88K9R"]["title"] == ""
    assert rows["B059479FSX"]["price_amount"] == 0
    assert sum(row["price_amount"] is None for row in rows.values()) == 3
