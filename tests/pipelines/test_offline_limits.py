"""The offline demo serves any ``--limit`` from its recordings (slices, not exact requests)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.net.offline import Recording, is_subset, sliced_body
from pipelines.run_pipeline import main
from providers.amazon import AmazonProvider

CATALOG = {"shopify": 42, "amazon": 47, "ebay": 62}  # raw records each recording holds
# The demo's deliberately bad rows exceed the default 5% gate in small slices; this test is
# about what the transport serves, so the gate is opened.
OPEN_GATE = "[quality]\nreject_threshold = 0.5\n"


def _last_run(log_dir: Path) -> dict:
    return json.loads(next(log_dir.rglob("runs.jsonl")).read_text().splitlines()[-1])


@pytest.mark.parametrize("limit", [1, 3, 5, 9, 10, 20, None])
def test_offline_limit_serves_every_provider(tmp_path: Path, monkeypatch, limit) -> None:
    for name in ("SHOPIFY_SHOP_DOMAIN", "AMAZON_PARTNER_TAG", "EBAY_CLIENT_ID", "CI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pipeline.toml").write_text(OPEN_GATE)
    argv = ["--offline"] + ([] if limit is None else ["--limit", str(limit)])
    assert main(argv) == 0
    run = _last_run(tmp_path / "logs")
    for name, catalog in CATALOG.items():
        provider = run["providers"][name]
        assert provider["status"] == "ok", provider
        assert provider["records"] == min(limit or catalog, catalog)


def test_a_list_in_a_recorded_match_answers_any_part_of_it() -> None:
    assert is_subset({"ids": ["a", "b", "c"]}, {"ids": ["c", "a"]})
    assert not is_subset({"ids": ["a", "b"]}, {"ids": ["a", "z"]})
    assert not is_subset({"ids": ["a", "b"]}, {"ids": []})


def test_amazon_get_items_answer_is_cut_to_the_asins_asked_for() -> None:
    recording = Recording(AmazonProvider.recording_path())
    facts = {"json": {"itemIds": ["B0DRSZNT03", "B09MTYFXEA"]}}
    exchange = recording.find("POST", "/catalog/v1/getItems", facts)
    body = sliced_body(exchange, facts)
    assert [item["asin"] for item in body["itemsResult"]["items"]] == ["B09MTYFXEA"]
    assert [e["code"] for e in body["errors"]] == ["ItemNotAccessible"]
    assert "errors" not in sliced_body(exchange, {"json": {"itemIds": ["B09MTYFXEA"]}})


def test_an_offline_miss_names_the_demo_recording_not_a_url_setting() -> None:
    recording = Recording(AmazonProvider.recording_path())
    assert recording.find("POST", "/catalog/v1/getItems", {"json": {"itemIds": ["B0NOPE"]}}) is None
    message = recording.miss_message()
    assert "offline demo recording" in message
    assert "recording.json" in message
    assert "B0NOPE" in message
    assert "AMAZON_CREATORS_API_URL" not in message
