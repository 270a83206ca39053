"""pipeline.yml's own steps with ``PIPELINE_SHARDS``: three shards on moto's S3, joined as one run.

Each leg runs its shard and leaves its leg in the lake; the finalize job joins them (one
record, one verdict over the whole run, the job summary with the shards, their artifacts and
a chart) and the issues job files the whole run's issues once. About 30 s: one workflow
run, starting the CLI 3 times per shard, twice to join and once to file issues.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.fakes import s3 as fake_s3
from tests.fakes.github import FakeGitHub
from tests.fakes.s3 import FakeS3
from tests.test_workflow import Actions
from tests.test_workflow_lake import lake_settings

s3_server = fake_s3.s3_server  # the fake S3 server's fixture
WHOLE_RUNS = "products/demo/_log/whole_runs.jsonl"


def whole_runs(s3: FakeS3, bucket: str) -> list[dict]:
    body = s3.client().get_object(Bucket=bucket, Key=WHOLE_RUNS)["Body"].read()
    return [json.loads(line) for line in body.splitlines()]


def seed_whole_history(s3: FakeS3, bucket: str) -> None:
    """Ten earlier whole runs in which shopify fetched about 600 rows (the offline recording
    has 74) and which counted nothing else: shopify's volume alerts, and only it (the others,
    and the total, have no history to be judged against)."""
    now = datetime.now(UTC)
    lines = []
    for i in range(10):
        started = now - timedelta(hours=6 * (10 - i) + 1)
        record = {"run_id": f"{started:%Y%m%dT%H%M%SZ}-{i:06x}", "started_at": started.isoformat(),
                  "mode": "offline", "bootstrap": False, "backfill": False, "exit_code": 0,
                  "providers": {"shopify": {"status": "ok", "fetched": 600 + 7 * i}},
                  "anomaly": {"worst": "ok", "verdicts": []}}  # fmt: skip
        lines.append(json.dumps(record))
    s3.client().put_object(Bucket=bucket, Key=WHOLE_RUNS, Body="\n".join(lines).encode() + b"\n")


def test_three_shards_are_one_run_with_one_summary_and_exactly_one_issue(
    tmp_path: Path, s3_server: FakeS3
) -> None:
    bucket = s3_server.new_bucket()
    variables, secrets = lake_settings(s3_server, bucket)
    variables["PIPELINE_SHARDS"] = '["1/3", "2/3", "3/3"]'
    (tmp_path / "gh").mkdir()
    with FakeGitHub() as gh:
        actions = Actions(gh, tmp_path / "gh")

        seed_whole_history(s3_server, bucket)
        jobs = actions.run_workflow("schedule", variables=variables, secrets=secrets)
        legs = jobs["run"].legs
        assert len(legs) == 3
        outs = [leg.steps["publish"]["outputs"] for leg in legs]
        assert all(out["committed"] == "true" for out in outs), [leg.logs for leg in legs]
        assert {out["notify"] for out in outs} == {"false"}  # no shard files issues itself
        assert not [leg for leg in legs if "volume" in leg.logs["Summary, annotations and outputs"]]

        # One join: one record over the three shards, in the whole runs' history.
        final = jobs["finalize"]
        assert final.result == "success", final.logs
        joined = whole_runs(s3_server, bucket)
        assert len(joined) == 11
        record = joined[-1]
        assert [leg["shard"] for leg in record["legs"]] == ["1/3", "2/3", "3/3"]
        assert {leg["run_id"] for leg in record["legs"]} == {out["run_id"] for out in outs}
        out = final.steps["finalize"]["outputs"]
        assert out["run_id"] == record["run_id"] == final.outputs["run_id"]

        # One verdict over the whole run, one issue: shopify's, filed once.
        assert (out["anomaly"], out["notify"], out["alert_providers"]) == (
            "alert", "true", "shopify",
        )  # fmt: skip
        assert "::error title=volume alert::shopify fetched 74" in final.logs["Join the shards"]
        assert jobs["issues"].result == "success", jobs["issues"].logs
        issues = gh.issues("volume-anomaly")
        assert [issue["title"] for issue in issues] == ["Volume anomaly: shopify fetched"]
        assert f"<!-- pipeline-run: {record['run_id']} -->" in issues[0]["body"]
        assert len(gh.state.comments) == 0

        # The summary: the shards, a chart, links to each artifact itself, human times.
        names = sorted(a.name for a in gh.state.artifacts)
        assert names == ["products-7001-1", *(f"products-7001-1-shard-{k}-of-3" for k in (1, 2, 3))]
        summary = final.summary
        assert "## Shards" in summary
        assert "xychart-beta" in summary
        assert "bar [" in summary
        for k in (1, 2, 3):  # a link to each shard's artifact itself, not the run page
            [artifact] = [a for a in gh.state.artifacts if a.name.endswith(f"-{k}-of-3")]
            url = f"https://github.com/octo/products/actions/runs/7001/artifacts/{artifact.id}"
            assert f"[products]({url})" in summary
        for k, leg in enumerate(legs, start=1):  # each leg's summary links its own artifact
            [artifact] = [a for a in gh.state.artifacts if a.name.endswith(f"-{k}-of-3")]
            assert f"/actions/runs/7001/artifacts/{artifact.id})" in leg.summary
        [own] = [a for a in gh.state.artifacts if a.name == "products-7001-1"]
        assert f"/actions/runs/7001/artifacts/{own.id})" in summary
        started = datetime.fromisoformat(record["legs"][0]["started_at"])
        assert f"| {started:%Y-%m-%d %H:%M} UTC |" in summary
        # One quality gate over the whole run: a share of amazon's or ebay's recorded rejects
        # crosses 5% in one shard, which commits its valid rows all the same (--defer-gate);
        # over the whole run they pass, and the summary says so.
        assert all(leg.steps["pipeline"]["outputs"]["exit_code"] == "0" for leg in legs)
        assert "alone was over)" in summary
        assert final.outputs["exit_code"] == "0"
        assert final.steps["_7"]["outcome"] == "success"  # the job fails when the joined run did
