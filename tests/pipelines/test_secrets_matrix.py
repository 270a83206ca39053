"""Fault injection: error bodies that echo the request never leak a secret, in any form.

Every provider and GitHub answer with bodies that repeat the request's headers and body
(``Authorization: Basic <base64 of id:secret>``, ``X-Shopify-Access-Token``, bearer tokens,
``client_secret=<form-encoded secret>``): as JSON fields, inside the error message, and as a
proxy's HTML page. One healthy run fills the cache, then one run per fault (401, 403, 500,
token endpoint failures, time-outs) bypasses it; each run is a subprocess, with text or JSON
log lines (six runs: ~15 s). After each run ``gha-publish`` writes the job summary and
annotations and stages the products and state artifacts, and ``file-issues`` files the
failure issues against a fake GitHub that itself answers with echoing errors first (both in
this process, without the provider secrets, as the workflow's later steps run). Then every
output is searched for every secret as is, base64-encoded (alone and as Basic auth's
``id:secret``), URL- and form-encoded and JSON-escaped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pipelines.run_pipeline import main
from tests.fakes.amazon import numbered_catalog
from tests.fakes.ebay import FakeEbay
from tests.fakes.shopify import make_product
from tests.pipelines.echo_fakes import (
    EchoingCreatorsApi,
    EchoingGitHub,
    EchoingShopify,
    echo,
)
from tests.pipelines.test_cli import clean_env, cli
from tests.secret_forms import secret_forms
from tests.written_files import readable

SHOPIFY_TOKEN = "shpat_canary0shopify0token0a1b2c3"
EBAY_ID, EBAY_SECRET = "canary-ebay-client-id", 'canary-ebay/secret+"quoted"=1&x'
AMAZON_ID, AMAZON_SECRET = "canary-amazon-credential-id", "canary-amazon/secret+key=2&y z"
TIMEOUT, SLOW = 0.4, 0.9  # the time-out run's read timeout, and how long a hung answer takes
CONFIG = """
[pipeline]
http_backoff_seconds = 0.001
http_timeout_seconds = {timeout}
http_max_retries = 1
[providers.amazon]
asins = ["B0TEST0001", "B0TEST0002", "B0TEST0003"]
throttling_seconds = 0.0
[providers.ebay]
page_size = 5
queries = [{{ q = "film camera" }}]
"""


class Fakes:
    def __init__(self, shopify: EchoingShopify, amazon: EchoingCreatorsApi, ebay: FakeEbay):
        self.shopify, self.amazon, self.ebay = shopify, amazon, ebay

    def clear(self) -> None:
        self.shopify.echoes.clear()
        self.amazon.echoes.clear()
        self.amazon.token_echoes.clear()
        self.ebay.search_faults.clear()
        self.ebay.token_faults.clear()


def api_faults(fakes: Fakes, make: Callable[[], object], times: int = 6) -> None:
    """Every provider's API calls answered by ``make()`` (enough for every retry)."""
    fakes.shopify.echoes += [make() for _ in range(times)]
    fakes.amazon.echoes += [make() for _ in range(times)]
    fakes.ebay.search_faults += [make() for _ in range(times)]


def token_faults(fakes: Fakes) -> None:
    fakes.ebay.token_faults.append(echo(401))  # Basic id:secret in the echoed header
    fakes.amazon.token_echoes.append(echo(401))  # client_secret=… in the echoed form body
    fakes.shopify.echoes += [echo(502, page=True) for _ in range(6)]  # a proxy's page


SCENARIOS: list[tuple[str, str, Callable[[Fakes], None]]] = [
    ("healthy", "text", lambda fakes: None),
    ("401", "json", lambda fakes: api_faults(fakes, lambda: echo(401))),
    ("403", "text", lambda fakes: api_faults(fakes, lambda: echo(403))),
    ("500", "json", lambda fakes: api_faults(fakes, lambda: echo(500, page=True))),
    ("token", "text", token_faults),
    ("timeout", "json", lambda fakes: api_faults(fakes, lambda: echo(500, delay=SLOW), times=4)),
]
# file-issues after these runs, GitHub answering these echoes first (then normally).
GITHUB_FAULTS = {
    "500": [[]],
    "token": [[echo(403)], [echo(500), echo(401)]],
    "timeout": [[echo(502, page=True), echo(401)], []],
}


@pytest.fixture
def fakes() -> Iterator[Fakes]:
    shopify = EchoingShopify([make_product(n) for n in range(1, 4)], token=SHOPIFY_TOKEN)
    amazon = EchoingCreatorsApi(numbered_catalog(3), credential_id=AMAZON_ID,
                                credential_secret=AMAZON_SECRET, version="2.1")  # fmt: skip
    ebay = FakeEbay(client_id=EBAY_ID, client_secret=EBAY_SECRET)
    with ebay, shopify, amazon:
        ebay.add_search(total=7, q="film camera")
        yield Fakes(shopify, amazon, ebay)


@pytest.fixture
def github() -> Iterator[EchoingGitHub]:
    with EchoingGitHub() as fake:
        yield fake


def publish_and_file(work: Path, name: str, gh: EchoingGitHub, capsys) -> dict[str, str]:
    """gha-publish, then file-issues once per entry of ``GITHUB_FAULTS``: what they printed."""
    args = ["gha-publish", "--exit-code", "1", "--runs-before", "0",
            "--products-dir", "products", "--state-dir", "state"]  # fmt: skip
    assert main(args) == 0
    printed = {f"{name} gha-publish stdout": capsys.readouterr().out}
    for number, faults in enumerate(GITHUB_FAULTS.get(name, [])):
        gh.echoes[:] = faults
        code = main(["file-issues", "--products-dir", "."])
        assert code == (1 if faults else 0)
        out, err = capsys.readouterr()
        printed[f"{name} file-issues {number}"] = out + err
    return printed


def test_no_secret_in_any_form_in_any_output(
    fakes: Fakes, github: EchoingGitHub, tmp_path: Path, monkeypatch, capsys
) -> None:
    env = clean_env(**fakes.shopify.env(), **fakes.amazon.env(), **fakes.ebay.env())
    monkeypatch.chdir(tmp_path)
    for name, value in {**github.env(), "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
                        "GITHUB_EVENT_NAME": "schedule", "GITHUB_RUN_ID": "1"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    outputs: dict[str, str] = {}
    statuses = []
    for name, log_format, inject in SCENARIOS:
        fakes.clear()
        inject(fakes)
        timeout = TIMEOUT if name == "timeout" else 10.0  # a loaded machine is no time-out
        (tmp_path / "pipeline.toml").write_text(CONFIG.format(timeout=timeout))
        no_cache = () if name == "healthy" else ("--no-cache",)  # the fault runs reach the fakes
        result = cli("--verbose", "--log-format", log_format, *no_cache, cwd=tmp_path, env=env)
        outputs |= {f"{name} stdout": result.stdout, f"{name} stderr": result.stderr}
        statuses.append(result.returncode)
        outputs |= publish_and_file(tmp_path, name, github, capsys)

    assert statuses == [0, 4, 4, 4, 4, 4], outputs  # every provider failed in every fault run
    runs = [json.loads(line) for line in (tmp_path / "logs/runs.jsonl").read_text().splitlines()]
    errors = [e.get("error", "") for run in runs[1:] for e in run["providers"].values()]
    assert all(errors), errors
    assert all("time" in e["error"] for e in runs[-1]["providers"].values())  # timed out
    assert any("***" in error for error in errors)  # and an echoed credential was there, masked
    sent = [r.body for r in github.requests if r.method == "POST"]
    assert sum("/issues" in r.path for r in github.requests if r.method == "POST") >= 4
    outputs["issue bodies and comments as sent"] = json.dumps(sent)
    files = [
        p
        for d in ("data", "logs", ".cache", "products", "state")
        for p in tmp_path.glob(f"{d}/**/*")
    ]
    outputs |= {str(p.relative_to(tmp_path)): readable(p) for p in files if p.is_file()}
    outputs["job summary"] = (tmp_path / "summary.md").read_text()
    assert any(name.startswith("products/") for name in outputs)  # staged
    assert any(name.startswith("state/") for name in outputs)

    secrets = {
        **{f"shopify token {k}": v for k, v in secret_forms(SHOPIFY_TOKEN).items()},
        **{f"ebay secret {k}": v for k, v in secret_forms(EBAY_SECRET, EBAY_ID).items()},
        **{f"amazon secret {k}": v for k, v in secret_forms(AMAZON_SECRET, AMAZON_ID).items()},
        "ebay client id": EBAY_ID,
        "amazon credential id": AMAZON_ID,
        "github token": github.token,
    }
    minted = [*fakes.ebay.minted, *fakes.amazon.tokens_issued]
    assert minted
    for token in minted:
        secrets |= {f"minted {token} {k}": v for k, v in secret_forms(token).items()}
    leaks = [(where, what) for where, text in outputs.items()
             for what, value in secrets.items() if value in text]  # fmt: skip
    assert leaks == []
