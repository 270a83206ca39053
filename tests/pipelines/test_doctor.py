"""``doctor`` / ``--check``: one cheap authenticated call per configured provider, a verdict."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pytest_httpserver import HTTPServer

from pipelines.cli.commands.doctor import check_provider
from pipelines.config import PipelineConfig, load_config
from pipelines.run_pipeline import main
from providers.amazon import AmazonProvider
from providers.base import FetchContext, Provider, Setting
from providers.ebay import EbayProvider
from tests.catalog_provider import CatalogProvider
from tests.fakes import ebay as fake_ebay
from tests.fakes.amazon import FakeCreatorsApi, numbered_catalog
from tests.fakes.ebay import FakeEbay

PROVIDER_PREFIXES = ("SHOPIFY_", "AMAZON_", "EBAY_", "CI", "GITHUB_ACTIONS")
CONFIG = """
[pipeline]
http_backoff_seconds = 0.001
[providers.amazon]
asins = ["B0TEST0001", "B0TEST0002"]
[providers.ebay]
queries = [{ q = "film camera" }]
"""


@pytest.fixture(scope="module")
def ebay() -> Iterator[FakeEbay]:
    with FakeEbay() as fake:
        yield fake


@pytest.fixture
def fake_ebay_api(ebay: FakeEbay) -> FakeEbay:
    ebay.reset()
    ebay.add_search(total=1234, q="film camera")
    return ebay


@pytest.fixture
def amazon(http_server: HTTPServer) -> Iterator[FakeCreatorsApi]:
    with FakeCreatorsApi(numbered_catalog(3), server=http_server) as fake:
        yield fake


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean directory and environment: no provider variable, no .env, a pipeline.toml."""
    for name in list(os.environ):
        if name.startswith(PROVIDER_PREFIXES):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pipeline.toml").write_text(CONFIG)
    return tmp_path


def set_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def config_for(provider: Provider) -> PipelineConfig:
    registry = {"amazon": AmazonProvider(), "ebay": EbayProvider(), provider.name: provider}
    return load_config(Path("pipeline.toml"), registry)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the command ---------------------------------------------------------------------------------


def test_doctor_checks_each_configured_provider_with_one_call(
    workdir, monkeypatch, capsys, fake_ebay_api, amazon
) -> None:
    set_env(monkeypatch, {**fake_ebay_api.env(), **amazon.env()})

    assert main(["doctor"]) == 0

    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["provider", "result", "detail"]
    assert out[1:] == [
        "amazon    ok      www.amazon.com: getItems B0TEST0001 answered (1 item(s))",
        "ebay      ok      search 'film camera' on EBAY_US: 1234 results",
        "not configured: shopify (missing SHOPIFY_SHOP_DOMAIN, SHOPIFY_CLIENT_ID, "
        "SHOPIFY_CLIENT_SECRET)",
        "not configured: amazon_sp (missing AMAZON_SP_LWA_CLIENT_ID, "
        "AMAZON_SP_LWA_CLIENT_SECRET, AMAZON_SP_REFRESH_TOKEN)",
    ]
    assert len(fake_ebay_api.token_requests) == 1
    assert [r.args for r in fake_ebay_api.search_requests] == [
        {"q": "film camera", "limit": "1", "offset": "0"}
    ]
    assert len(amazon.token_requests) == 1
    assert [call["json"]["itemIds"] for call in amazon.api_calls()] == [["B0TEST0001"]]
    assert sorted(p.name for p in workdir.iterdir()) == ["pipeline.toml"]  # nothing written


def test_check_flag_is_the_doctor(workdir, monkeypatch, capsys, fake_ebay_api) -> None:
    set_env(monkeypatch, fake_ebay_api.env())

    assert main(["--check"]) == 0
    via_flag = capsys.readouterr().out
    assert main(["doctor"]) == 0
    assert capsys.readouterr().out == via_flag
    assert "ebay      ok" in via_flag


def test_any_provider_not_ok_exits_1_and_names_it(
    workdir, monkeypatch, capsys, fake_ebay_api, amazon
) -> None:
    set_env(monkeypatch, {**fake_ebay_api.env(EBAY_CLIENT_SECRET="wrong-secret"), **amazon.env()})

    assert main(["doctor"]) == 1

    out = capsys.readouterr().out
    assert "amazon    ok" in out
    assert "ebay      bad credentials  ebay token: 401 Unauthorized: invalid_client" in out
    assert "wrong-secret" not in out
    assert len(fake_ebay_api.token_requests) == 1  # a refused mint is not tried again


def test_nothing_configured_exits_1_and_lists_what_is_missing(workdir, capsys) -> None:
    assert main(["doctor"]) == 1

    out = capsys.readouterr().out
    assert out.startswith("No provider is configured: nothing to check.")
    assert "not configured: ebay (missing EBAY_CLIENT_ID, EBAY_CLIENT_SECRET)" in out
    assert "not configured: amazon (missing AMAZON_CREATORS_CREDENTIAL_ID" in out


# --- verdicts ------------------------------------------------------------------------------------

Setup = Callable[[FakeEbay, FakeCreatorsApi], tuple[Provider, dict[str, str]]]


def ebay_with(env: dict[str, str] | None = None, faults: list[Any] | None = None) -> Setup:
    def setup(ebay: FakeEbay, amazon: FakeCreatorsApi) -> tuple[Provider, dict[str, str]]:
        ebay.search_faults = list(faults or [])
        return EbayProvider(), ebay.env(**(env or {}))

    return setup


def amazon_with(env: dict[str, str] | None = None, fault: tuple | None = None) -> Setup:
    def setup(ebay: FakeEbay, amazon: FakeCreatorsApi) -> tuple[Provider, dict[str, str]]:
        if fault:
            amazon.fail_next(*fault)
        return AmazonProvider(), amazon.env(**(env or {}))

    return setup


VERDICTS = {
    "ebay-ok": (ebay_with(), "ok", "search 'film camera' on EBAY_US: 1234 results"),
    "ebay-bad-client-secret": (
        ebay_with({"EBAY_CLIENT_SECRET": "nope"}),
        "bad credentials",
        "ebay token: 401 Unauthorized: invalid_client (client authentication failed)",
    ),
    "ebay-expired-static-token": (
        ebay_with({"EBAY_CLIENT_ID": "", "EBAY_CLIENT_SECRET": "", "EBAY_OAUTH_TOKEN": "v^old"}),
        "bad credentials",
        "401 Unauthorized from ebay search 'film camera' (EBAY_US) probe: Invalid access token",
    ),
    "ebay-missing-scope": (
        ebay_with(faults=[(403, fake_ebay.ACCESS_DENIED)]),
        "missing scope",
        "403 Forbidden from ebay search 'film camera' (EBAY_US) probe: Insufficient permissions",
    ),
    "ebay-wrong-url": (
        ebay_with(faults=[(404, {"errors": [{"message": "Resource not found"}]})]),
        "wrong shop/URL",
        "404 Not Found from ebay search",
    ),
    "ebay-unreachable": (
        lambda ebay, amazon: (
            EbayProvider(),
            ebay.env(EBAY_OAUTH_URL=f"http://127.0.0.1:{closed_port()}/identity/v1/oauth2/token"),
        ),
        "unreachable",
        "ebay token: 127.0.0.1 unreachable (cannot connect)",
    ),
    "ebay-server-errors": (
        ebay_with(faults=[(503, fake_ebay.INTERNAL_ERROR)] * 2),
        "error",
        "503 Service Unavailable from ebay search",
    ),
    "ebay-no-query-configured": (
        lambda ebay, amazon: (NoQueryEbay(), ebay.env()),
        "config error",
        "providers.ebay.queries: give at least one search table",
    ),
    "amazon-ok": (amazon_with(), "ok", "www.amazon.com: getItems B0TEST0001 answered"),
    "amazon-bad-secret": (
        amazon_with({"AMAZON_CREATORS_CREDENTIAL_SECRET": "nope"}),
        "bad credentials",
        "amazon getItems B0TEST0001: authentication failed",
    ),
    "amazon-not-eligible": (
        amazon_with(fault=(403, {"type": "AccessDeniedException", "message": "Not eligible"})),
        "missing scope",
        "amazon getItems B0TEST0001: access denied",
    ),
    "amazon-wrong-url": (
        amazon_with(fault=(404, {"type": "ResourceNotFoundException", "message": "No route"})),
        "wrong shop/URL",
        "amazon getItems B0TEST0001: 404 Not Found; check AMAZON_CREATORS_API_URL",
    ),
    "amazon-token-endpoint-unreachable": (
        lambda ebay, amazon: (
            AmazonProvider(),
            amazon.env(AMAZON_CREATORS_AUTH_URL=f"http://127.0.0.1:{closed_port()}/auth/o2/token"),
        ),
        "unreachable",
        "amazon getItems B0TEST0001: token endpoint unreachable",
    ),
    "no-probe": (
        lambda ebay, amazon: (Unprobed(), {"UNPROBED_TOKEN": "t0ken"}),
        "no check",
        "unprobed has no doctor check",
    ),
    "probe-bug": (
        lambda ebay, amazon: (Buggy(), {"UNPROBED_TOKEN": "t0ken"}),
        "error",
        "KeyError: 'shop'",
    ),
}


class NoQueryEbay(EbayProvider):
    """eBay with its ``queries`` option emptied, as in a pipeline.toml that forgot them."""

    def check_options(self, options):
        return super().check_options({**options, "queries": []})


class Unprobed(CatalogProvider):
    name = "unprobed"
    settings: ClassVar = (Setting("UNPROBED_TOKEN", "token", secret=True),)

    def __init__(self) -> None:
        super().__init__(name="unprobed")


class Buggy(Unprobed):
    def probe(self, ctx: FetchContext) -> str:
        return {}["shop"]


@pytest.mark.parametrize(("setup", "verdict", "detail"), VERDICTS.values(), ids=VERDICTS.keys())
def test_verdicts(workdir, fake_ebay_api, amazon, setup, verdict, detail) -> None:
    provider, env = setup(fake_ebay_api, amazon)

    check = check_provider(provider, config_for(provider), env)

    assert (check.provider, check.verdict) == (provider.name, verdict)
    assert detail in check.detail
