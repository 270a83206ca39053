"""``--verbose`` (before or after the command): each HTTP call, each page, each step's time,
and never a secret nor a query string."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.cli.main import main
from tests.fakes.ebay import FakeEbay
from tests.secret_forms import secret_forms


@pytest.fixture
def ebay(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeEbay]:
    (workdir / "pipeline.toml").write_text('[providers.ebay]\nqueries = [{ q = "film camera" }]\n')
    with FakeEbay(client_secret="verbose-s3cret-value") as fake:  # pragma: allowlist secret
        fake.add_search(total=7, q="film camera")
        for name, value in fake.env().items():
            monkeypatch.setenv(name, value)
        yield fake


def request_lines(err: str) -> list[str]:
    return [line.split(": ", 1)[1] for line in err.splitlines() if " -> " in line]


def test_verbose_logs_each_request_page_and_step_without_secrets(ebay: FakeEbay, capsys) -> None:
    port = ebay.server.port
    assert main(["--verbose", "run", "--providers", "ebay", "--limit", "5"]) == 0
    err = capsys.readouterr().err
    calls = request_lines(err)
    assert calls[0].startswith(f"POST 127.0.0.1:{port}/identity/v1/oauth2/token -> 200 in ")
    assert calls[0].endswith(" ms, cache off")  # a token is never cached
    search = f"GET 127.0.0.1:{port}/buy/browse/v1/item_summary/search -> 200 in "
    assert calls[1].startswith(search)
    assert calls[1].endswith(" ms, cache miss")
    assert "ebay: page 1, 5 records" in err
    for step in ("extract.ebay", "normalize.ebay", "quality", "write", "detect", "report"):
        assert f"step {step} done in " in err
    assert not [line for line in calls if "?" in line or "film" in line]  # no query string
    for form, value in {**secret_forms(ebay.client_secret, ebay.client_id),
                        **{f"token {t}": t for t in ebay.minted}}.items():  # fmt: skip
        assert value not in err, form

    assert main(["run", "--providers", "ebay", "--limit", "5", "--verbose"]) == 0
    again = request_lines(capsys.readouterr().err)
    assert any(c.startswith(search) and c.endswith(" ms, cache hit") for c in again), again


def test_without_verbose_no_request_is_logged(ebay: FakeEbay, capsys) -> None:
    assert main(["run", "--providers", "ebay", "--limit", "5"]) == 0
    assert request_lines(capsys.readouterr().err) == []
