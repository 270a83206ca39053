"""Notifications: a webhook and an SMTP server on 127.0.0.1 receive exactly one message per
incident and one per recovery across a sequence of runs, in their own markup, without secrets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from pytest_httpserver import HTTPServer

from pipelines.config import load_config
from pipelines.errors import ConfigError
from pipelines.net.notify import NotifySettings, notify_settings, register_urls, split_urls
from pipelines.net.secrets import mask, register_secret
from pipelines.run.notify import Notifier
from pipelines.run.options import RunOptions
from pipelines.run.runner import Runner
from tests.pipelines.notify_servers import (
    HOOK_PATH,
    Mailbox,
    free_port,
    mail_url,
    webhook_messages,
)
from tests.pipelines.test_deletion_guard import complete
from tests.pipelines.test_runner import ENV

HOOK_TOKEN = "hooktoken-9d1f7c2ab4e6"  # pragma: allowlist secret
PROVIDER_SECRET = "shpat_canary0123456789abcdef"  # pragma: allowlist secret
EBAY_SECRET = "ebay-canary-secret-55aa77"  # pragma: allowlist secret


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    """An SMTP server on 127.0.0.1 and its port."""
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield box, controller.port
    finally:
        controller.stop()


@pytest.fixture
def webhook(httpserver: HTTPServer) -> HTTPServer:
    """A webhook receiver answering 200 to apprise's JSON posts."""
    httpserver.expect_request(HOOK_PATH, method="POST").respond_with_data("ok")
    return httpserver


def hook_url(server: HTTPServer, query: str = "") -> str:
    return f"json://pipeline:{HOOK_TOKEN}@127.0.0.1:{server.port}{HOOK_PATH}{query}"


def verdict(metric: str, value: float, alert: bool, provider: str = "shopify") -> dict[str, Any]:
    return {"provider": provider, "metric": metric, "value": value, "median": 100.0,
            "z": -6.2 if alert else 0.1, "verdict": "alert" if alert else "ok"}  # fmt: skip


def record(number: int, *verdicts: dict[str, Any], **providers: dict[str, Any]) -> dict[str, Any]:
    entries = {"shopify": {"status": "ok"}, "ebay": {"status": "ok"}, **providers}
    worst = "alert" if any(v["verdict"] == "alert" for v in verdicts) else "ok"
    anomaly = {"worst": worst, "verdicts": list(verdicts)}
    return {"run_id": f"20261205T0{number}0000Z-abc{number}", "mode": "live",
            "started_at": "2026-12-05T0{number}:00:00+00:00", "exit_code": 0,
            "providers": entries, "anomaly": anomaly}  # fmt: skip


def run_catalog(provider, env: dict[str, str]):
    registry = {provider.name: provider}
    return Runner(load_config(None, registry), registry, env, RunOptions()).run()


def notifier(tmp_path: Path, urls: str, **settings: Any) -> Notifier:
    return Notifier(NotifySettings(**settings), {"PIPELINE_NOTIFY_URLS": urls}, tmp_path)


def test_a_sequence_of_runs_sends_one_message_per_incident_and_per_recovery(
    tmp_path: Path, webhook: HTTPServer, mailbox
) -> None:
    box, port = mailbox
    register_secret(EBAY_SECRET)  # as the configuration does for every provider secret
    urls = f"{hook_url(webhook)} {mail_url(port)}"
    failure = {"status": "failed", "error": f"500 from api?token={HOOK_TOKEN} {EBAY_SECRET} "
               f"Bearer {PROVIDER_SECRET}"}  # fmt: skip
    runs = [
        record(1, verdict("fetched", 100, False)),  # normal
        record(2, verdict("fetched", 3, True)),  # anomaly
        record(3, verdict("fetched", 4, True)),  # anomaly again
        record(4, verdict("fetched", 99, False)),  # recovery
        record(5, verdict("fetched", 101, False), ebay=failure),  # failure
    ]
    tallies = [notifier(tmp_path, urls).notify_run(run).to_dict() for run in runs]

    assert [t["events"] for t in tallies] == [
        [], ["anomaly_opened"], [], ["anomaly_recovered"], ["failure"],
    ]  # fmt: skip
    assert all(t["failed"] == 0 and t["rate_limited"] == 0 for t in tallies)
    hooks = webhook_messages(webhook)
    assert [m["title"] for m in hooks] == [
        "Product pipeline: anomaly opened (shopify)",
        "Product pipeline: anomaly recovered (shopify)",
        "Product pipeline: failure (ebay)",
    ]
    assert [m["type"] for m in hooks] == ["warning", "success", "failure"]
    assert hooks[0]["message"].splitlines() == [
        "shopify fetched 3 vs median 100 (z -6.2)",
        "run 20261205T020000Z-abc2 (live), exit code 0",
    ]
    assert hooks[1]["message"].startswith("shopify fetched volumes are back in range")
    mails = box.texts()
    assert [m.splitlines()[0] for m in mails] == [m["title"] for m in hooks]
    assert "shopify fetched 3 vs median 100 (z -6.2)" in mails[0]
    assert [m.get_content_type() for m in box.messages] == ["text/plain"] * 3
    sent = json.dumps(hooks) + "".join(mails)
    assert "ebay failed: 500 from api?token=*** *** Bearer ***" in sent
    for canary in (HOOK_TOKEN, PROVIDER_SECRET, EBAY_SECRET):
        assert canary not in sent


def test_a_markdown_target_gets_escaped_markdown_and_a_plain_one_plain_text(
    tmp_path: Path, webhook: HTTPServer
) -> None:
    urls = f"{hook_url(webhook, '?format=markdown')} {hook_url(webhook)}"
    hostile = {"status": "failed", "error": "[click](https://evil.example) <img src=x> @team"}
    notifier(tmp_path, urls).notify_run(record(1, shopify=hostile))
    markdown, plain = (m["message"].splitlines()[0] for m in webhook_messages(webhook))
    assert markdown == (
        r"shopify failed: \[click\](https:&#8203;//evil.example) &lt;img src=x&gt; @&#8203;team"
    )
    assert plain == "shopify failed: [click](https://evil.example) <img src=x> @team"


def test_events_route_to_tagged_targets_and_unwanted_events_stay_silent(
    tmp_path: Path, webhook: HTTPServer
) -> None:
    other = HTTPServer(host="127.0.0.1", port=free_port())
    other.expect_request(HOOK_PATH, method="POST").respond_with_data("ok")
    other.start()
    try:
        urls = f"oncall={hook_url(other)} {hook_url(webhook)}"
        routes = {"failure": ("oncall",)}
        events = ("failure", "quality_gate_failed")
        send = notifier(tmp_path, urls, routes=routes, events=events).notify_run
        send(record(1, verdict("fetched", 3, True), shopify={"status": "failed", "error": "x"}))
        send(record(2, ebay={"status": "quality_failed", "error": "80% rejected"}))
        assert [m["title"] for m in webhook_messages(other)] == [
            "Product pipeline: failure (shopify)", "Product pipeline: quality gate failed (ebay)",
        ]  # fmt: skip
        assert [m["title"] for m in webhook_messages(webhook)] == [
            "Product pipeline: quality gate failed (ebay)",
        ]
    finally:
        other.stop()


def test_a_target_that_is_down_is_counted_and_the_incident_is_announced_next_run(
    tmp_path: Path, webhook: HTTPServer
) -> None:
    down = f"json://127.0.0.1:{free_port()}/hooks"
    alert = record(1, verdict("new", 900, True))
    tally = notifier(tmp_path, down).notify_run(alert)
    assert tally.to_dict() == {"sent": 0, "failed": 1, "rate_limited": 0, "events": []}
    tally = notifier(tmp_path, hook_url(webhook)).notify_run(record(2, verdict("new", 950, True)))
    assert tally.events == ["anomaly_opened"]
    assert len(webhook_messages(webhook)) == 1


def test_the_hourly_cap_holds_messages_back_until_a_later_run(
    tmp_path: Path, webhook: HTTPServer
) -> None:
    two = record(1, verdict("fetched", 3, True), verdict("new", 900, True))
    first = notifier(tmp_path, hook_url(webhook), rate_limit_per_hour=1).notify_run(two)
    assert (first.sent, first.rate_limited) == (1, 1)
    state = json.loads((tmp_path / "notify_state.json").read_text())
    state["sent"] = ["2026-01-01T00:00:00+00:00"]  # an hour later
    (tmp_path / "notify_state.json").write_text(json.dumps(state))
    later = notifier(tmp_path, hook_url(webhook), rate_limit_per_hour=1).notify_run(two)
    assert (later.sent, later.rate_limited) == (1, 0)
    assert [m["message"].split(" vs")[0] for m in webhook_messages(webhook)] == [
        "shopify fetched 3", "shopify new 900",
    ]  # fmt: skip


def test_deletion_guard_and_quota_are_their_own_events(tmp_path: Path, webhook: HTTPServer) -> None:
    guard = verdict("mass_delete", 9, True) | {"median": 9.0}
    budget = {"status": "budget_exhausted", "reason": "5000 of 5000 calls"}
    send = notifier(tmp_path, hook_url(webhook)).notify_run
    assert send(record(1, guard, ebay=budget)).events == ["quota_reached", "deletion_guard_tripped"]
    assert send(record(2, ebay=budget)).events == ["recovered"]  # the guard; the quota holds
    texts = [m["message"].splitlines()[0] for m in webhook_messages(webhook)]
    assert texts == [
        "ebay reached its API budget for 2026-12-05: 5000 of 5000 calls",
        "shopify: the deletion guard held back 9 deletions of 9 held products",
        "shopify is healthy again (deletion_guard)",
    ]


def test_notify_event_is_sent_once_a_day_per_provider(tmp_path: Path, webhook: HTTPServer) -> None:
    notify = notifier(tmp_path, hook_url(webhook))
    assert notify.notify_event("quota_reached", "ebay", "5000 calls", "r1").events == [
        "quota_reached"
    ]
    assert notify.notify_event("quota_reached", "ebay", "5000 calls", "r2").sent == 0
    assert notifier(tmp_path, hook_url(webhook)).notify_run(record(1)).sent == 0
    assert notify.notify_event("quota_reached", "ebay", "again", "r3").sent == 0
    assert len(webhook_messages(webhook)) == 1


def test_a_corrupt_state_or_bad_url_never_fails_the_run(tmp_path: Path) -> None:
    (tmp_path / "notify_state.json").write_text("{not json")
    tally = notifier(tmp_path, "nosuchscheme://x").notify_run(record(1, verdict("new", 9, True)))
    assert tally.to_dict() == {"sent": 0, "failed": 1, "rate_limited": 0, "events": []}


def test_urls_split_with_tags() -> None:
    assert split_urls("a,b=json://h/p?x=1\n  mailto://h?to=c") == [
        (("a", "b"), "json://h/p?x=1"), ((), "mailto://h?to=c"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ({"events": ["failure", "explosion"]}, "notify.events: unknown event 'explosion'"),
        ({"routes": {"failure": "oncall"}}, "notify.routes.failure: expected a list of names"),
        ({"rate_limit_per_hour": 0}, "notify.rate_limit_per_hour: expected a whole number"),
        ({"url": "slack://x"}, "notify.url: unknown setting"),
    ],
)
def test_notify_settings_name_the_bad_key(table: dict[str, Any], problem: str) -> None:
    errors: list[str] = []
    notify_settings(table, errors)
    assert len(errors) == 1
    assert errors[0].startswith(problem)


def test_pipeline_toml_notify_section_is_validated(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.toml"
    path.write_text('[notify]\nevents = ["failure"]\nrate_limit_per_hour = 5\n')
    assert load_config(path, {}).notify == NotifySettings(("failure",), {}, 5)
    path.write_text('[notify]\nevents = ["failures"]\n')
    with pytest.raises(ConfigError, match=r"notify.events: unknown event 'failures'"):
        load_config(path, {})


def test_register_urls_hides_tokens_but_not_host_names_or_words() -> None:
    register_urls(
        "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#general "  # pragma: allowlist secret
        "json://webhooks:pass-w0rd@hooks.example.org/services/"  # pragma: allowlist secret
        "hook?key=k3y-0123456789 "
        "mailto://smtp.example.org?user=alerts&pass=AppPassword&to=team@example.org"
    )
    words = "T1JJ3T3L2 TIiajkdnlazkcOXrIdevi7FQ pass-w0rd k3y-0123456789 AppPassword"
    assert (
        mask(f"{words} services webhooks alerts") == "*** *** *** *** *** services webhooks alerts"
    )
    assert mask("hooks.example.org general") == "hooks.example.org general"


def test_the_report_step_notifies_and_counts_it_in_the_run_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, webhook: HTTPServer
) -> None:
    monkeypatch.chdir(tmp_path)
    env = {**ENV, "PIPELINE_NOTIFY_URLS": hook_url(webhook)}
    first = run_catalog(complete(9), env)
    assert first.record["notifications"]["sent"] == 0
    assert run_catalog(complete(0), env).record["notifications"]["events"] == [
        "failure", "deletion_guard_tripped",
    ]  # fmt: skip
    kept = [
        json.loads(line) for line in (tmp_path / "logs" / "runs.jsonl").read_text().splitlines()
    ]
    assert [r["notifications"]["sent"] for r in kept] == [0, 2]
    assert "notifications" not in run_catalog(complete(9), ENV).record  # no targets: no counts
