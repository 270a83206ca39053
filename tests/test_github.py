"""The GitHub REST client and the issue commands on it (file-issues, acknowledge), on a fake.

The fake GitHub runs on 127.0.0.1; download-artifacts and the state restore are in
test_github_artifacts.py.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from pipelines.cli.commands.file_issues import failure_streaks
from pipelines.errors import ConfigError, FatalProviderError
from pipelines.ops.github import ArtifactExpiredError, GitHubClient, resolve_token
from pipelines.run_pipeline import main
from tests.fakes.github import FakeGitHub

ANOMALY, FAILURE = "volume-anomaly", "pipeline-failure"


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(gh: FakeGitHub, sleeps: list[float]) -> GitHubClient:
    return GitHubClient(gh.repo, gh.token, gh.url, sleep=sleeps.append, max_retries=0)


# ---------------------------------------------------------------- transport


def test_issue_list_follows_link_pages_and_skips_pull_requests(
    gh: FakeGitHub, client: GitHubClient
) -> None:
    for n in range(5):
        gh.add_issue(f"issue {n}", labels=(ANOMALY,))
    gh.add_issue("a pull request", labels=(ANOMALY,), pull_request=True)
    gh.add_issue("another label", labels=("bug",))
    titles = [issue["title"] for issue in client.list_issues(ANOMALY)]
    assert sorted(titles) == [f"issue {n}" for n in range(5)]
    pages = [r.args.get("page", "1") for r in gh.requests if r.path.endswith("/issues")]
    assert pages == ["1", "2", "3"]  # 6 labelled entries, 2 per page
    assert gh.requests[0].args == {"per_page": "100", "state": "open", "labels": ANOMALY}


def test_a_short_rate_limit_is_waited_out(
    gh: FakeGitHub, client: GitHubClient, sleeps: list[float]
) -> None:
    gh.add_issue("one", labels=(ANOMALY,))
    gh.rate_limit(times=1, reset_in=5)
    assert [i["title"] for i in client.list_issues(ANOMALY)] == ["one"]
    assert len(sleeps) == 1
    assert 3 <= sleeps[0] <= 7


def test_a_long_rate_limit_fails_saying_when_it_resets(
    gh: FakeGitHub, client: GitHubClient, sleeps: list[float]
) -> None:
    gh.rate_limit(times=1, reset_in=3600)
    with pytest.raises(FatalProviderError, match=r"rate limit reached during list issues page 1"):
        list(client.list_issues(ANOMALY))
    assert sleeps == []


def test_a_403_that_is_no_rate_limit_names_the_missing_permission(gh: FakeGitHub) -> None:
    token = gh.issue_token({"issues:read"})
    client = GitHubClient(gh.repo, token, gh.url, max_retries=0)
    with pytest.raises(FatalProviderError) as caught:
        client.create_issue("t", "b", [])
    message = str(caught.value)
    assert "403 Forbidden from github create issue" in message
    assert "Resource not accessible by integration" in message
    assert "permission" in message


def test_the_token_comes_from_gh_when_no_variable_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_gh = tmp_path / "bin" / "gh"
    fake_gh.parent.mkdir()
    fake_gh.write_text("#!/bin/sh\n[ \"$1 $2\" = 'auth token' ] && echo gho_fromcli123\n")
    fake_gh.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_gh.parent}{os.pathsep}{os.environ['PATH']}")
    assert resolve_token({}) == "gho_fromcli123"
    assert resolve_token({"GITHUB_TOKEN": "ghs_env456"}) == "ghs_env456"
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ConfigError, match="GITHUB_TOKEN is not set"):
        resolve_token({})


def test_an_artifact_that_expired_since_it_was_listed_answers_410(
    gh: FakeGitHub, client: GitHubClient, tmp_path: Path
) -> None:
    gh.add_artifact("products-5-1", 5, b"zip bytes", expired=True)
    [listed] = client.run_artifacts(5)
    with pytest.raises(ArtifactExpiredError, match="410 Gone"):
        client.download_artifact(replace(listed, expired=False), tmp_path / "a.zip")
    assert not (tmp_path / "a.zip").exists()


# ---------------------------------------------------------------- issues


def run_record(run_id: str, statuses: dict[str, str], alerts: tuple[str, ...] = ()) -> dict:
    verdicts = [
        {"provider": p, "metric": "fetched", "value": 3, "verdict": "alert", "median": 70.0,
         "z": -9.5}
        for p in alerts
    ]  # fmt: skip
    return {
        "run_id": run_id,
        "providers": {
            name: {
                "status": status,
                **({"error": f"{name} 401 on page 1"} if status != "ok" else {}),
            }
            for name, status in statuses.items()
        },
        "anomaly": {"worst": "alert" if alerts else "ok", "verdicts": verdicts},
    }


def write_products(folder: Path, records: list[dict], events: list[str] | None = None) -> None:
    """What file-issues reads from the downloaded products artifact."""
    logs = folder / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    (logs / "runs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (logs / f"report-{records[-1]['run_id']}.md").write_text(
        f"# Pipeline run `{records[-1]['run_id']}`\n\n| Provider | Status |\n"
    )
    events = events or ["schedule"] * len(records)
    lines = [json.dumps({"run_id": r["run_id"], "event": e}) for r, e in zip(records, events)]
    (logs / "github_runs.jsonl").write_text("".join(line + "\n" for line in lines))


def file_issues(products: Path, *extra: str) -> int:
    return main(["file-issues", "--products-dir", str(products), *extra])


def test_an_alert_opens_an_issue_and_creates_the_missing_label(
    gh: FakeGitHub, github_env: Path
) -> None:
    write_products(github_env, [run_record("r1", {"shopify": "ok"}, alerts=("shopify",))])
    assert file_issues(github_env) == 0
    [issue] = gh.issues(ANOMALY)
    assert issue["title"] == "Volume anomaly: shopify fetched"
    assert "<!-- pipeline-incident: volume-anomaly/shopify/fetched -->" in issue["body"]
    assert "<!-- pipeline-run: r1 -->" in issue["body"]
    assert "shopify fetched 3 vs median 70 (z -9.5)" in issue["body"]
    assert "# Pipeline run `r1`" in issue["body"]
    posts = [(r.method, r.path.rsplit("/", 1)[-1]) for r in gh.requests if r.method != "GET"]
    assert posts == [("POST", "labels"), ("POST", "issues")]


def test_a_repeated_alert_comments_on_the_open_issue_of_its_provider(
    gh: FakeGitHub, github_env: Path
) -> None:
    marker = "<!-- pipeline-incident: volume-anomaly/shopify/fetched -->"
    gh.add_issue("Volume anomaly: shopify fetched (closed)", marker, (ANOMALY,), state="closed")
    gh.add_issue("PR quoting the marker", marker, (ANOMALY,), pull_request=True)
    write_products(github_env, [run_record("r1", {"shopify": "ok"}, alerts=("shopify",))])
    file_issues(github_env)
    first = next(i for i in gh.issues(ANOMALY) if i["title"] == "Volume anomaly: shopify fetched")
    runs = [
        run_record("r1", {"shopify": "ok"}, alerts=("shopify",)),
        run_record("r2", {"shopify": "ok", "ebay": "ok"}, alerts=("shopify", "ebay")),
    ]
    write_products(github_env, runs)
    assert file_issues(github_env) == 0
    titles = [i["title"] for i in gh.issues(ANOMALY) if i["state"] == "open"]
    assert titles.count("Volume anomaly: shopify fetched") == 1
    assert "Volume anomaly: ebay fetched" in titles
    [comment] = gh.state.comments[first["number"]]
    assert comment["body"].startswith("<!-- pipeline-run: r2 -->")
    assert sum(r.path.endswith("/labels") for r in gh.requests if r.method == "POST") == 0


def test_failure_streak_counts_scheduled_runs_only() -> None:
    failed = {"shopify": "failed", "ebay": "ok"}
    runs = [run_record(f"r{n}", failed) for n in range(1, 5)]
    runs[2] = run_record("r3", {"shopify": "ok", "ebay": "ok"})  # a manual run that worked
    events = [{"run_id": "r1", "event": "schedule"}, {"run_id": "r2", "event": "schedule"},
              {"run_id": "r3", "event": "workflow_dispatch"},
              {"run_id": "r4", "event": "schedule"}]  # fmt: skip
    streaks = failure_streaks(runs[-1], runs, events)
    assert list(streaks) == ["shopify"]
    assert [r["run_id"] for r in streaks["shopify"]] == ["r1", "r2", "r4"]
    assert failure_streaks(runs[-1], runs, events[1:]) == {}  # only two scheduled runs
    assert failure_streaks(runs[1], runs, events) == {}  # not the latest scheduled run


def test_three_scheduled_failures_open_a_pipeline_failure_issue(
    gh: FakeGitHub, github_env: Path
) -> None:
    runs = [run_record(f"r{n}", {"shopify": "failed", "ebay": "ok"}) for n in range(1, 4)]
    write_products(github_env, runs)
    assert file_issues(github_env) == 0
    [issue] = gh.issues(FAILURE)
    assert issue["title"] == "Pipeline failure: shopify"
    assert "- `r1`: shopify 401 on page 1" in issue["body"]
    assert gh.issues(ANOMALY) == []


def test_file_issues_without_the_report_is_a_clear_error(github_env: Path) -> None:
    write_products(github_env, [run_record("r1", {"shopify": "ok"}, alerts=("shopify",))])
    (github_env / "logs" / "report-r1.md").unlink()
    assert file_issues(github_env) == 2


# ---------------------------------------------------------------- acknowledge


def test_acknowledge_appends_once_and_rejects_a_malformed_id(
    github_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id = "20261122T000623Z-4240cc"
    assert main(["acknowledge", run_id]) == 0
    assert main(["acknowledge", run_id]) == 0
    assert (github_env / "logs/acknowledged_runs.txt").read_text() == run_id + "\n"
    assert main(["acknowledge", "yesterday"]) == 2
    assert "'yesterday' is not a run id" in capsys.readouterr().err


def test_acknowledge_from_issues_trusts_only_the_bot_markers(
    gh: FakeGitHub, github_env: Path
) -> None:
    bot_id, later_id, stranger_id = (f"20261122T0{n}0000Z-aaaaa{n}" for n in range(3))
    issue = gh.add_issue("Volume anomaly: ebay", f"<!-- pipeline-run: {bot_id} -->",
                         (ANOMALY, "acknowledged"), state="closed")  # fmt: skip
    gh.add_comment(issue["number"], f"<!-- pipeline-run: {later_id} -->")
    gh.add_comment(issue["number"], f"<!-- pipeline-run: {stranger_id} -->", author="mallory")
    gh.add_issue("not acknowledged", "<!-- pipeline-run: 20261122T090000Z-bbbbbb -->", (ANOMALY,))
    assert main(["acknowledge", "--from-issues"]) == 0
    lines = (github_env / "logs/acknowledged_runs.txt").read_text().splitlines()
    assert lines == [bot_id, later_id]
