"""Redirects never carry credentials to another origin: each client, against loopback servers.

The configured endpoint is on 127.0.0.1; ``Elsewhere`` (127.0.0.2) records whatever reaches
it. A redirect there must fail naming both origins, with nothing sent; a redirect within the
origin is followed. GitHub's artifact download is the one documented cross-origin redirect:
followed with no ``Authorization`` header, and only to https (plain http on loopback).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import urllib3
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from pipelines.net.http import HttpClient
from pipelines.net.redirects import RedirectRefusedError, refuse_pool_redirects
from pipelines.net.stats import ProviderStats
from pipelines.ops.github import Artifact, GitHubClient
from providers.amazon import AmazonProvider
from providers.ebay import EbayProvider
from tests.fakes.amazon import FakeCreatorsApi, numbered_catalog
from tests.fakes.ebay import FakeEbay
from tests.fakes.elsewhere import Elsewhere
from tests.fakes.github import FakeGitHub

SECRET = "redirect-probe-secret"


@pytest.fixture(scope="module")
def other() -> Iterator[Elsewhere]:
    with Elsewhere({"ok": "served by the other host"}) as server:
        yield server


@pytest.fixture
def redirector(http_server: HTTPServer, other: Elsewhere) -> HTTPServer:
    """The module's 127.0.0.1 server, emptied; ``other`` emptied too."""
    http_server.clear()
    other.seen.clear()
    return http_server


def base(server: HTTPServer) -> str:
    return server.url_for("").rstrip("/")


def client() -> HttpClient:
    return HttpClient("probe", ProviderStats(), max_retries=0)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_the_shared_client_refuses_a_redirect_to_another_host(
    redirector: HTTPServer, other: Elsewhere, status: int
) -> None:
    redirector.expect_request(re.compile(".*")).respond_with_handler(other.redirect(status))
    with pytest.raises(RedirectRefusedError) as caught:
        client().request(
            "POST", base(redirector) + "/token", what="token", data={"client_secret": SECRET},
            headers={"X-Shopify-Access-Token": SECRET}, auth=("id", SECRET),
        )  # fmt: skip
    assert str(caught.value).startswith(
        f"probe: refused a redirect from {base(redirector)} to {other.origin}: "
    )
    assert other.seen == []


def test_the_shared_client_follows_a_redirect_within_its_origin(
    redirector: HTTPServer, other: Elsewhere
) -> None:
    redirector.expect_request("/old").respond_with_response(
        Response(status=308, headers={"Location": "/new"})
    )
    redirector.expect_request("/new").respond_with_json({"moved": True})
    response = client().request("GET", base(redirector) + "/old", what="moved page")
    assert response.json("moved page") == {"moved": True}


def test_a_redirect_loop_is_cut_short(redirector: HTTPServer) -> None:
    loop = Response(status=302, headers={"Location": "/loop"})
    redirector.expect_request("/loop").respond_with_response(loop)
    with pytest.raises(RedirectRefusedError, match="more than 5 redirects"):
        client().request("GET", base(redirector) + "/loop", what="loop")


def test_a_vendor_urllib3_pool_follows_only_same_origin_redirects(
    redirector: HTTPServer, other: Elsewhere
) -> None:
    """The Amazon wrapper's pool (its data calls): same origin followed, another refused."""
    redirector.expect_request("/old").respond_with_response(
        Response(status=307, headers={"Location": "/new"})
    )
    redirector.expect_request("/new", method="POST").respond_with_json({"moved": True})
    redirector.expect_request("/away").respond_with_handler(other.redirect(307))
    pool = urllib3.PoolManager()
    refuse_pool_redirects(pool, "vendor")
    headers = {"Authorization": f"Bearer {SECRET}"}
    moved = pool.request("POST", base(redirector) + "/old", body=b"{}", headers=headers)
    assert (moved.status, moved.json()) == (200, {"moved": True})
    with pytest.raises(
        RedirectRefusedError, match=f"vendor: refused a redirect from {base(redirector)}"
    ):
        pool.request("POST", base(redirector) + "/away", body=b"{}", headers=headers)
    assert other.seen == []


def test_the_ebay_token_endpoint_does_not_follow_a_307_elsewhere(
    other: Elsewhere, redirector: HTTPServer, fetch_context: Callable
) -> None:
    with FakeEbay(client_secret=SECRET) as ebay:
        ebay.token_faults = [other.redirect(307)]  # a 307 would send the form body again
        provider = EbayProvider()
        ctx = fetch_context(provider, ebay.env(), {"queries": [{"q": "lens"}]})
        with pytest.raises(RedirectRefusedError, match=f"to {other.origin}"):
            list(provider.fetch(ctx))
    assert other.seen == []
    basic = base64.b64encode(f"fake-client-id:{SECRET}".encode()).decode()
    assert ebay.token_requests[0].headers["Authorization"] == f"Basic {basic}"


@pytest.mark.parametrize("version", ["3.1", "2.1"])  # LwA (JSON body) and Cognito (form body)
def test_the_amazon_token_endpoint_does_not_follow_a_307_elsewhere(
    other: Elsewhere, redirector: HTTPServer, fetch_context: Callable, version: str
) -> None:
    redirector.expect_request(re.compile(".*")).respond_with_handler(other.redirect(307))
    with FakeCreatorsApi(numbered_catalog(1), credential_secret=SECRET, version=version) as api:
        provider = AmazonProvider()
        env = api.env(AMAZON_CREATORS_AUTH_URL=base(redirector) + "/auth/o2/token")
        ctx = fetch_context(provider, env, {"asins": ["B0TEST0001"], "throttling_seconds": 0.0})
        with pytest.raises(RedirectRefusedError) as caught:
            list(provider.fetch(ctx))
    assert f"amazon token: refused a redirect from {base(redirector)} to {other.origin}" in str(
        caught.value
    )
    assert other.seen == []
    assert api.api_requests == []  # no data call without a token


def test_the_github_client_does_not_follow_an_api_redirect_elsewhere(
    redirector: HTTPServer, other: Elsewhere
) -> None:
    redirector.expect_request(re.compile(".*")).respond_with_handler(other.redirect(301))
    github = GitHubClient("octo/products", "ghs_redirectprobe", base(redirector), max_retries=0)
    with pytest.raises(RedirectRefusedError, match=f"to {re.escape(other.origin)}"):
        list(github.list_issues("volume-anomaly"))
    assert other.seen == []


def test_the_artifact_download_follows_its_storage_redirect_with_no_credential(
    gh: FakeGitHub, tmp_path: Path
) -> None:
    artifact = gh.add_artifact("products-7-1", 7, b"PK zip bytes")
    github = GitHubClient.from_env(gh.env())
    github.download_artifact(Artifact.from_api(artifact.to_api()), tmp_path / "a.zip")
    assert (tmp_path / "a.zip").read_bytes() == b"PK zip bytes"
    assert gh.requests[-1].headers["Authorization"] == f"Bearer {gh.token}"
    [blob] = gh.blob_requests
    assert not {"authorization", "cookie"} & {name.lower() for name in blob.headers}


@pytest.mark.parametrize(
    "location", ["http://blob.example.net/a.zip?sig=x", "ftp://127.0.0.1/a.zip", "/relative.zip"]
)
def test_the_artifact_download_refuses_storage_over_plain_http(
    redirector: HTTPServer, tmp_path: Path, location: str
) -> None:
    def answer(request: Request) -> Response:
        if request.path.endswith("/zip"):
            return Response(status=302, headers={"Location": location})
        return Response(b"served with no check", status=200)

    redirector.expect_request(re.compile(".*")).respond_with_handler(answer)
    github = GitHubClient("octo/products", "ghs_redirectprobe", base(redirector), max_retries=0)
    artifact = Artifact(5, "products-5-1", False, 9, "", 5, "main")
    if location.startswith("/"):  # same origin, loopback http: a storage URL like any other
        github.download_artifact(artifact, tmp_path / "a.zip")
        assert (tmp_path / "a.zip").read_bytes() == b"served with no check"
        return
    with pytest.raises(RedirectRefusedError, match="only fetched over https"):
        github.download_artifact(artifact, tmp_path / "a.zip")
    assert not (tmp_path / "a.zip").exists()
