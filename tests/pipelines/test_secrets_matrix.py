"""Fault injection: error bodies that echo the request never leak a secret, in any form.

Every provider and GitHub answer with bodies that repeat the request's headers and body
(``Authorization: Basic <base64 of id:secret>``, ``X-Shopify-Access-Token``,
``x-amz-access-token``, bearer tokens, ``client_secret=…`` and ``refresh_token=…``
form-encoded): as JSON fields, inside the error message, and as a proxy's HTML page. The test
runs once per dataset: ``products`` (Shopify, the Creators API, eBay Browse) and ``orders``
(Shopify's orders on the same token, eBay's Fulfillment API on a user token minted from
``EBAY_REFRESH_TOKEN``, the SP-API on an LWA token minted from the client secret and refresh
token), both with ``PIPELINE_BUYER_KEY_SECRET`` set. One healthy run fills the cache, then one
run per fault (401, 403, 500, token endpoint failures, time-outs) bypasses it; each run is a
subprocess, with text or JSON log lines (six runs a dataset: ~15 s each). After each run
``gha-publish`` writes the job summary and annotations and stages the products and state
artifacts, and ``file-issues`` files the failure issues against a fake GitHub that itself
answers with echoing errors first (both in this process, without the provider secrets, as the
workflow's later steps run). Then every output is searched for every secret as is,
base64-encoded (alone and as Basic auth's ``id:secret``), URL- and form-encoded and
JSON-escaped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from pipelines.run_pipeline import main
from tests.fakes import amazon_sp
from tests.fakes.amazon import numbered_catalog
from tests.fakes.ebay import FakeEbay
from tests.fakes.ebay.orders import make_order as make_ebay_order
from tests.fakes.shopify import make_product
from tests.fakes.shopify.orders import make_order as make_shopify_order
from tests.pipelines.echo_fakes import (
    Answer,
    EchoingCreatorsApi,
    EchoingGitHub,
    EchoingSellingPartner,
    EchoingShopify,
    echo,
)
from tests.pipelines.test_cli import clean_env, cli
from tests.secret_forms import secret_forms
from tests.written_files import readable

SHOPIFY_TOKEN = "shpat_canary0shopify0token0a1b2c3"
EBAY_ID, EBAY_SECRET = "canary-ebay-client-id", 'canary-ebay/secret+"quoted"=1&x'
EBAY_REFRESH = "v^1.1#i^1#canary/ebay+refresh=3&r"  # pragma: allowlist secret
AMAZON_ID, AMAZON_SECRET = "canary-amazon-credential-id", "canary-amazon/secret+key=2&y z"
LWA_ID = "amzn1.application-oa2-client.canary"
LWA_SECRET = "canary-lwa/client+secret=4&s"  # pragma: allowlist secret
LWA_REFRESH = "Atzr|canary/lwa+refresh=5&t"  # pragma: allowlist secret
BUYER_KEY_SECRET = "canary-buyer-key/secret+6&b"  # pragma: allowlist secret
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


@dataclass
class Fakes:
    """One dataset's fakes: the queues of answers served before the real ones, the settings
    pointing the providers at them, the secrets that must not leak and the tokens minted."""

    dataset: str
    env: dict[str, str]
    api_queues: list[list[Any]]  # each provider API's queue of answers served first
    token_queues: list[list[Any]]  # each token endpoint's, Shopify's GraphQL for a proxy page
    secrets: dict[str, tuple[str, str | None]]  # name: (value, the Basic auth user or None)
    minted: Callable[[], list[str]]
    github_faults: dict[str, list[list[Answer]]]  # file-issues runs after a scenario
    issues: int  # issues and comments file-issues posts at least
    failed_exit: int  # a run's exit code when every pull failed (docs/reference.md)

    def clear(self) -> None:
        for queue in [*self.api_queues, *self.token_queues]:
            queue.clear()

    def pulls(self, run: dict[str, Any]) -> list[dict[str, Any]]:
        """The run log's entries of this dataset's pulls."""
        if self.dataset == "products":
            return list(run["providers"].values())
        return [pull for name, pull in run["datasets"].items() if name.startswith("orders.")]


def api_faults(fakes: Fakes, make: Callable[[], Answer], times: int = 6) -> None:
    """Every provider's API calls answered by ``make()`` (enough for every retry)."""
    for queue in fakes.api_queues:
        queue += [make() for _ in range(times)]


def token_faults(fakes: Fakes) -> None:
    """Token endpoints echo their form and Basic auth; Shopify's API is behind a proxy page."""
    *tokens, graphql = fakes.token_queues
    for queue in tokens:
        queue.append(echo(401))
    graphql += [echo(502, page=True) for _ in range(6)]


SCENARIOS: list[tuple[str, str, Callable[[Fakes], None]]] = [
    ("healthy", "text", lambda fakes: None),
    ("401", "json", lambda fakes: api_faults(fakes, lambda: echo(401))),
    ("403", "text", lambda fakes: api_faults(fakes, lambda: echo(403))),
    ("500", "json", lambda fakes: api_faults(fakes, lambda: echo(500, page=True))),
    ("token", "text", token_faults),
    ("timeout", "json", lambda fakes: api_faults(fakes, lambda: echo(500, delay=SLOW), times=4)),
]
# file-issues after these runs, GitHub answering these echoes first (then normally). A run
# whose order pulls failed files no issue (failure issues are about the products pulls), so
# the orders runs call it once, to see it write nothing secret either.
GITHUB_FAULTS = {
    "500": [[]],
    "token": [[echo(403)], [echo(500), echo(401)]],
    "timeout": [[echo(502, page=True), echo(401)], []],
}
SHARED_SECRETS = {
    "shopify token": (SHOPIFY_TOKEN, None),
    "ebay secret": (EBAY_SECRET, EBAY_ID),
    "buyer key secret": (BUYER_KEY_SECRET, None),
}


def product_fakes(stack: ExitStack) -> Fakes:
    shopify_fake = EchoingShopify([make_product(n) for n in range(1, 4)], token=SHOPIFY_TOKEN)
    amazon = EchoingCreatorsApi(numbered_catalog(3), credential_id=AMAZON_ID,
                                credential_secret=AMAZON_SECRET, version="2.1")  # fmt: skip
    ebay_fake = FakeEbay(client_id=EBAY_ID, client_secret=EBAY_SECRET)
    for fake in (ebay_fake, shopify_fake, amazon):
        stack.enter_context(fake)
    ebay_fake.add_search(total=7, q="film camera")
    return Fakes(
        "products",
        {**shopify_fake.env(), **amazon.env(), **ebay_fake.env()},
        [shopify_fake.echoes, amazon.echoes, ebay_fake.search_faults],
        [ebay_fake.token_faults, amazon.token_echoes, shopify_fake.echoes],
        {**SHARED_SECRETS, "amazon secret": (AMAZON_SECRET, AMAZON_ID),
         "ebay client id": (EBAY_ID, None), "amazon credential id": (AMAZON_ID, None)},
        lambda: [*ebay_fake.minted, *amazon.tokens_issued],
        GITHUB_FAULTS,
        4,
        4,  # every provider failed
    )  # fmt: skip


def order_fakes(stack: ExitStack) -> Fakes:
    """Shopify (orders on the products token), eBay (a user token from the refresh token) and
    the SP-API (an LWA token from the client secret and refresh token; one order shipped, so
    listTransactions is called too)."""
    orders = [make_shopify_order(n) for n in range(1, 4)]
    shopify_fake = EchoingShopify([], orders=orders, token=SHOPIFY_TOKEN)
    ebay_fake = FakeEbay(client_id=EBAY_ID, client_secret=EBAY_SECRET, refresh_token=EBAY_REFRESH)
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    stack.callback(server.stop)
    seller = [amazon_sp.make_order(1, "SHIPPED"), amazon_sp.make_order(2)]
    sp = EchoingSellingPartner(seller, server, client_id=LWA_ID, client_secret=LWA_SECRET,
                               refresh_token=LWA_REFRESH)  # fmt: skip
    for fake in (ebay_fake, shopify_fake, sp):
        stack.enter_context(fake)
    ebay_fake.orders = [make_ebay_order(n) for n in range(1, 4)]
    return Fakes(
        "orders",
        {**shopify_fake.env(), **ebay_fake.env(), **sp.env()},
        [shopify_fake.echoes, sp.echoes, ebay_fake.order_faults],
        [ebay_fake.token_faults, sp.token_echoes, shopify_fake.echoes],
        {**SHARED_SECRETS, "ebay refresh token": (EBAY_REFRESH, None),
         "lwa client secret": (LWA_SECRET, None), "lwa refresh token": (LWA_REFRESH, None)},
        lambda: [*ebay_fake.minted, *sp.issued],
        {"token": [[]]},
        0,
        1,  # a dataset pull failed
    )  # fmt: skip


DATASETS = {"products": product_fakes, "orders": order_fakes}


@pytest.fixture(params=sorted(DATASETS))
def fakes(request: pytest.FixtureRequest) -> Iterator[Fakes]:
    with ExitStack() as stack:
        yield DATASETS[request.param](stack)


@pytest.fixture
def github() -> Iterator[EchoingGitHub]:
    with EchoingGitHub() as fake:
        yield fake


def publish_and_file(
    name: str, faults_of: dict[str, list[list[Answer]]], gh: EchoingGitHub, capsys
) -> dict[str, str]:
    """gha-publish, then file-issues once per entry of ``faults_of[name]``: what they printed."""
    args = ["gha-publish", "--exit-code", "1", "--runs-before", "0",
            "--products-dir", "products", "--state-dir", "state"]  # fmt: skip
    assert main(args) == 0
    printed = {f"{name} gha-publish stdout": capsys.readouterr().out}
    for number, faults in enumerate(faults_of.get(name, [])):
        gh.echoes[:] = faults
        code = main(["file-issues", "--products-dir", "."])
        assert code == (1 if faults else 0)
        out, err = capsys.readouterr()
        printed[f"{name} file-issues {number}"] = out + err
    return printed


def test_no_secret_in_any_form_in_any_output(
    fakes: Fakes, github: EchoingGitHub, tmp_path: Path, monkeypatch, capsys
) -> None:
    env = clean_env(**fakes.env, PIPELINE_BUYER_KEY_SECRET=BUYER_KEY_SECRET)
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
        result = cli("--verbose", "--log-format", log_format, "--datasets", fakes.dataset,
                     *no_cache, cwd=tmp_path, env=env)  # fmt: skip
        outputs |= {f"{name} stdout": result.stdout, f"{name} stderr": result.stderr}
        statuses.append(result.returncode)
        outputs |= publish_and_file(name, fakes.github_faults, github, capsys)

    assert statuses == [0, *[fakes.failed_exit] * 5], (
        outputs
    )  # every pull failed in every fault run
    runs = [json.loads(line) for line in (tmp_path / "logs/runs.jsonl").read_text().splitlines()]
    errors = [e.get("error", "") for run in runs[1:] for e in fakes.pulls(run)]
    assert len(errors) == 5 * 3
    assert all(errors), errors
    assert all("time" in e["error"] for e in fakes.pulls(runs[-1]))  # timed out
    assert any("***" in error for error in errors)  # and an echoed credential was there, masked
    sent = [r.body for r in github.requests if r.method == "POST"]
    posted = sum("/issues" in r.path for r in github.requests if r.method == "POST")
    assert posted >= fakes.issues
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

    secrets = {"github token": github.token}
    for name, (value, user) in fakes.secrets.items():
        secrets |= {f"{name} {k}": v for k, v in secret_forms(value, user).items()}
    minted = fakes.minted()
    assert minted
    for token in minted:
        secrets |= {f"minted {token} {k}": v for k, v in secret_forms(token).items()}
    leaks = [(where, what) for where, text in outputs.items()
             for what, value in secrets.items() if value in text]  # fmt: skip
    assert leaks == []
