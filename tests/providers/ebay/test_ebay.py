"""The eBay provider against a fake Browse API and token endpoint on 127.0.0.1."""

from __future__ import annotations

import base64

import pytest

from pipelines.errors import FatalProviderError
from pipelines.lake.schema import AVAILABILITIES, CONDITIONS
from pipelines.net.offline import Recording, offline_env, replay_server
from pipelines.net.secrets import mask
from providers.ebay import EbayProvider
from tests.fakes.ebay import make_item
from tests.providers.ebay.helpers import CAMERA, fetch_all


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


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
        "Check the value of the Authorization HTTP request header. (1001)"
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
