"""The Amazon provider against a fake Creators API on 127.0.0.1, through the real wrapper."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from pipelines.net.cache import ResponseCache
from pipelines.net.offline import Recording, offline_env, replay_server
from pipelines.net.secrets import mask
from providers.amazon import AmazonProvider
from tests.fakes.amazon import GET_ITEMS_PATH, SEARCH_ITEMS_PATH, FakeCreatorsApi, numbered_catalog
from tests.providers.amazon.helpers import (
    FAST,
    BuildContext,
    Serve,
    asins,
    fetch_all,
    fixture_items,
)

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
