"""pipeline.yml's own steps with an object-store lake (``LAKE_URI`` on moto's S3 server).

The data and state stay in the bucket: the run job reads the run's manifest from the lake to
know it committed, uploads a products artifact holding what a person reads (reports, run
record, manifest, a sample of rows; no data files), saves no state, and the issues job files
its issues from that artifact (which carries the lake's run log). About 15 s: two workflow
runs, each starting the CLI 4 times.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from tests.fakes import s3 as fake_s3
from tests.fakes.github import FakeGitHub
from tests.fakes.s3 import KEYS, FakeS3
from tests.test_workflow import Actions, artifact_zip, seed_history

s3_server = fake_s3.s3_server  # the fake S3 server's fixture


def lake_settings(s3: FakeS3, bucket: str) -> tuple[dict[str, str], dict[str, str]]:
    """The repository variables and secrets that point the workflow at ``bucket``."""
    variables = {"PIPELINE_OFFLINE": "true", "LAKE_URI": f"s3://{bucket}/products",
                 "LAKE_ENDPOINT_URL": s3.url, "LAKE_REGION": "us-east-1"}  # fmt: skip
    secrets = {"LAKE_ACCESS_KEY_ID": KEYS["AWS_ACCESS_KEY_ID"],
               "LAKE_SECRET_ACCESS_KEY": KEYS["AWS_SECRET_ACCESS_KEY"]}  # fmt: skip
    return variables, secrets


def seed_lake_history(s3: FakeS3, bucket: str, tmp_path: Path) -> None:
    """Prepend far larger earlier runs to the lake's run log, so that the next run alerts."""
    key = "products/demo/_log/runs.jsonl"
    client = s3.client()
    runs = tmp_path / "runs.jsonl"
    runs.write_bytes(client.get_object(Bucket=bucket, Key=key)["Body"].read())
    seed_history(runs)
    client.put_object(Bucket=bucket, Key=key, Body=runs.read_bytes())


def test_an_object_store_lake_commits_publishes_a_readable_artifact_and_files_issues(
    tmp_path: Path, s3_server: FakeS3
) -> None:
    bucket = s3_server.new_bucket()
    variables, secrets = lake_settings(s3_server, bucket)
    with FakeGitHub() as gh:
        actions = Actions(gh, tmp_path)

        # 1. The first run commits to the bucket; publish reads its manifest there; the export
        #    step writes the current catalog from the bucket into the artifact.
        exports = variables | {"PIPELINE_EXPORTS": "csv,gmc"}
        jobs = actions.run_workflow("schedule", variables=exports, secrets=secrets)
        run = jobs["run"]
        assert run.result == "success", run.logs
        out = run.steps["publish"]["outputs"]
        run_id = out["run_id"]
        assert (out["committed"], out["exit_code"]) == ("true", "0")
        assert f"products/demo/_manifests/{run_id}.json" in s3_server.keys(bucket)
        archive = artifact_zip(gh, "products-7001-1")
        names = set(archive.namelist())
        logs = "logs/demo"  # an offline run: the demo's run log folder
        assert {f"{logs}/report-{run_id}.md", f"{logs}/report-{run_id}.html", f"{logs}/runs.jsonl",
                f"{logs}/run-{run_id}.json", f"lake/_manifests/{run_id}.json",
                f"lake/sample-{run_id}.jsonl"} <= names  # fmt: skip
        assert not [name for name in names if name.endswith((".parquet", ".zst"))]
        manifest = json.loads(archive.read(f"lake/_manifests/{run_id}.json"))
        sample = [
            json.loads(line) for line in archive.read(f"lake/sample-{run_id}.jsonl").splitlines()
        ]
        normalized = [f for f in manifest["files"] if f["zone"] == "normalized"]
        assert {row["_file"] for row in sample} == {f["path"] for f in normalized}
        assert all(row["source_id"] for row in sample)
        products = list(csv.DictReader(io.StringIO(archive.read("exports/products.csv").decode())))
        assert len(products) == sum(f["rows"] for f in normalized)  # a first run: all new
        feed = archive.read("exports/gmc-products.tsv").decode().splitlines()
        rejects = list(
            csv.DictReader(io.StringIO(archive.read("exports/gmc-rejects.csv").decode()))
        )
        assert feed[0].startswith("id\ttitle\t")
        assert len(feed) - 1 + len(rejects) == len(products)
        record = json.loads(archive.read(f"{logs}/run-{run_id}.json"))
        assert record["data_dir"] == f"s3://{bucket}/products/demo"
        # The lake holds the state: nothing is cached or uploaded as pipeline-state.
        assert actions.caches == {}
        assert not [a for a in gh.state.artifacts if a.name == "pipeline-state"]
        assert jobs["issues"].result == "skipped"

        # 2. Volumes far below the lake's history: alerts, and the issues job (which never
        #    sees the data) files them from the products artifact.
        seed_lake_history(s3_server, bucket, tmp_path)
        jobs = actions.run_workflow("schedule", variables=variables, secrets=secrets)
        out = jobs["run"].steps["publish"]["outputs"]
        assert (out["committed"], out["anomaly"], out["notify"]) == ("true", "alert", "true")
        assert jobs["issues"].result == "success", jobs["issues"].logs
        # the artifact carries the lake's run log (not this runner's one run): the issues show
        # the metric's history across every earlier run
        archive = artifact_zip(gh, "products-7002-1")
        runs = archive.read(f"{logs}/runs.jsonl").decode().splitlines()
        assert (len(runs), json.loads(runs[-1])["run_id"]) == (12, out["run_id"])
        issues = gh.issues("volume-anomaly")
        assert issues
        assert all(issue["body"].count("\n| 20") == 12 for issue in issues)  # 12 dated rows
        assert issues
        assert all(f"<!-- pipeline-run: {out['run_id']} -->" in i["body"] for i in issues)
