"""The read API (``serve``): FastAPI's test client over a demo lake, and one real uvicorn.

One offline demo run (a subprocess, about a second) feeds the module.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from pipelines.cli.main import main
from pipelines.lake.storage import LocalStorage, open_storage
from pipelines.ops.lake_api import MAX_PAGE, create_app
from pipelines.ops.lake_reads import LakeReader, QueryTimeoutError
from tests.fakes import s3 as fake_s3
from tests.fakes.s3 import FakeS3
from tests.pipelines.test_cli import SCRIPT, clean_env, cli

s3_server, s3_env = fake_s3.s3_server, fake_s3.s3_env
KEY = "test-api-key-0123456789"  # pragma: allowlist secret
DEMO_ROWS = 175
PARKA = "gid://shopify/ProductVariant/45871200001001"


@pytest.fixture
def reader(lake_dir: Path, monkeypatch: pytest.MonkeyPatch) -> LakeReader:
    monkeypatch.chdir(lake_dir)  # the run log names its lake as given: data/demo
    return LakeReader(LocalStorage(Path("data/demo")), Path("logs/demo"), timeout=10)


@pytest.fixture
def client(reader: LakeReader) -> Iterator[TestClient]:
    with TestClient(create_app(reader, None)) as test_client:
        yield test_client


def all_pages(client: TestClient, **params: object) -> list[dict]:
    items, cursor = [], None
    for _ in range(100):
        page = client.get("/products", params={**params, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("paging did not end")


def test_paging_walks_the_whole_catalog_once_in_key_order(client: TestClient) -> None:
    items = all_pages(client, limit=40)
    keys = [(i["source"], i["source_id"]) for i in items]
    assert len(keys) == DEMO_ROWS
    assert keys == sorted(set(keys))
    first = client.get("/products").json()
    assert len(first["items"]) == 100  # the default page
    assert first["items"][0]["price_amount"] is None or isinstance(
        first["items"][0]["price_amount"], str
    )  # money as exact decimal text


@pytest.mark.parametrize(
    ("params", "check"),
    [
        ({"source": "ebay"}, lambda i: i["source"] == "ebay"),
        ({"availability": "out_of_stock"}, lambda i: i["availability"] == "out_of_stock"),
        ({"min_price": "100", "max_price": "400.5"},
         lambda i: 100 <= float(i["price_amount"]) <= 400.5),
        ({"q": "PARKA"}, lambda i: "parka" in i["title"].lower()),
    ],
)  # fmt: skip
def test_filters_keep_only_matching_rows(client: TestClient, params: dict, check) -> None:
    items = all_pages(client, limit=500, **params)
    assert items
    assert len(items) < DEMO_ROWS
    assert all(check(i) for i in items)


def test_values_are_bound_never_sql(client: TestClient) -> None:
    for text in ("'; DROP TABLE runs; --", "%", "_", "\\"):
        response = client.get("/products", params={"q": text, "source": text})
        assert response.status_code == 200
        assert response.json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"limit": MAX_PAGE + 1}, 422),
        ({"limit": 0}, 422),
        ({"min_price": "NaN"}, 422),
        ({"q": "x" * 201}, 422),
        ({"cursor": "not-a-cursor"}, 400),
        ({"cursor": "WyJhIl0"}, 400),  # a valid encoding of the wrong key shape
    ],
)
def test_bad_parameters_are_refused(client: TestClient, params: dict, status: int) -> None:
    assert client.get("/products", params=params).status_code == status


def test_one_product_and_its_history(client: TestClient) -> None:
    found = client.get(f"/products/shopify/{quote(PARKA, safe='')}")
    assert found.status_code == 200
    assert (found.json()["source_id"], found.json()["title"]) == (PARKA, "Muskoka Down Parka - S")
    history = client.get(f"/products/shopify/{quote(PARKA, safe='')}/history").json()["items"]
    assert [(h["source_id"], h["change_type"]) for h in history] == [(PARKA, "new")]
    assert client.get("/products/shopify/nope").status_code == 404
    assert client.get("/products/shopify/nope/history").json() == {"items": []}


def test_runs_and_one_run(client: TestClient) -> None:
    runs = client.get("/runs").json()
    assert runs["next_cursor"] is None
    [run] = runs["items"]
    assert (run["mode"], run["written"], run["exit_code"]) == ("offline", DEMO_ROWS, 0)
    record = client.get(f"/runs/{run['run_id']}").json()
    assert record["providers"]["shopify"]["status"] == "ok"
    assert client.get("/runs/20990101T000000Z-000000").status_code == 404


def test_anomalies_list_warn_and_alert_verdicts_of_runs_recorded_since(
    client: TestClient, lake_dir: Path
) -> None:
    assert client.get("/anomalies").json() == {"items": []}
    log = lake_dir / "logs/demo/runs.jsonl"
    before = log.read_text()
    record = json.loads(before.splitlines()[-1])
    verdict = {"provider": "ebay", "metric": "new", "value": 0, "verdict": "alert", "z": -9.0}
    later = {**record, "run_id": "20991231T000000Z-abcdef", "anomaly": {"worst": "alert",
             "verdicts": [*record["anomaly"]["verdicts"], verdict]}}  # fmt: skip
    log.write_text(before + json.dumps(later) + "\n")
    try:
        found = client.get("/anomalies").json()["items"]
        assert found == [{"run_id": later["run_id"], **verdict}]
        assert client.get("/anomalies", params={"provider": "shopify"}).json() == {"items": []}
        assert client.get("/runs", params={"limit": 1}).json()["next_cursor"]
    finally:
        log.write_text(before)


def test_an_object_store_lake_is_served_through_the_storage_layer(
    s3_server: FakeS3, s3_env: dict, tmp_path: Path
) -> None:
    bucket = s3_server.new_bucket()
    run = cli(
        "--offline", "--lake-uri", f"s3://{bucket}/lake", cwd=tmp_path, env=clean_env(**s3_env)
    )
    assert run.returncode == 0, run.stderr
    storage = open_storage(f"s3://{bucket}/lake/demo", endpoint_url=s3_server.url)
    lake = LakeReader(storage, tmp_path / "no-local-log", timeout=10)
    with TestClient(create_app(lake, None)) as client:
        assert len(all_pages(client, limit=500)) == DEMO_ROWS
        assert [r["mode"] for r in client.get("/runs").json()["items"]] == ["offline"]


def test_an_api_key_guards_everything_but_health(reader: LakeReader) -> None:
    with TestClient(create_app(reader, KEY)) as client:
        assert client.get("/health").json() == {"status": "ok"}
        assert client.get("/products").status_code == 401
        assert client.get("/runs", headers={"X-API-Key": "wrong"}).status_code == 401
        assert client.get("/runs", headers={"X-API-Key": KEY}).status_code == 200
        spec = client.get("/openapi.json").json()
        assert {"/products", "/runs/{run_id}", "/anomalies", "/health"} <= set(spec["paths"])
        assert "X-API-Key" in json.dumps(spec["components"]["securitySchemes"])


def test_a_slow_query_is_interrupted(reader: LakeReader, client: TestClient, monkeypatch) -> None:
    reader.timeout = 0.2
    with pytest.raises(QueryTimeoutError, match=r"query stopped after 0\.2 s"):
        reader.rows("SELECT sum(hash(range)) FROM range(1000000000000)", [])

    def slow(*args: object) -> None:
        raise QueryTimeoutError("query stopped after 0.2 s")

    monkeypatch.setattr(reader, "products", slow)
    response = client.get("/products")
    assert (response.status_code, response.json()) == (503, {"detail": "query stopped after 0.2 s"})


def test_serve_without_fastapi_names_the_extra(
    lake_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.chdir(lake_dir)
    monkeypatch.setitem(sys.modules, "fastapi", None)  # import fastapi raises ImportError
    assert main(["serve", "--offline"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "serve needs the optional 'serve' dependencies (fastapi is not installed)" in err[0]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch(url: str, **headers: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_serve_answers_over_real_http_on_localhost(lake_dir: Path) -> None:
    port = free_port()
    env = clean_env(PIPELINE_API_KEY=KEY)
    server = subprocess.Popen(
        [sys.executable, str(SCRIPT), "serve", "--offline", "--port", str(port)],
        cwd=lake_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):  # at most ~20 s for the process to import and bind
            try:
                if fetch(f"{base}/health")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        assert fetch(f"{base}/products")[0] == 401
        status, page = fetch(f"{base}/products?limit=2&source=amazon", **{"X-API-Key": KEY})
        assert status == 200
        assert [i["source"] for i in page["items"]] == ["amazon", "amazon"]
    finally:
        server.terminate()
        out, err = server.communicate(timeout=10)
    assert f"on http://127.0.0.1:{port}" in out
    assert KEY not in out + err


def test_serve_refuses_a_port_in_use(lake_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = cli("serve", "--offline", "--port", str(port), cwd=lake_dir)
    assert result.returncode == 2
    assert f"--port: cannot serve on 127.0.0.1:{port}" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
