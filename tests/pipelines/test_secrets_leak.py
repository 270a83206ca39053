"""No token or client secret ever reaches a log line, the lake, the cache or the run log.

The command line runs end to end against the three fakes with known credentials: a verbose
text run, a verbose JSON-logs run and ``doctor`` (three subprocesses: 5-10 s). Faults make
the fakes echo the credentials they received into error bodies (as a misconfigured proxy
might), so a secret that escaped masking would land in the error messages, the log lines and
the run log. Then every output is searched: stdout and stderr, and every file under the data,
logs and cache folders (decompressed: raw landing files are zstd, Parquet is read back as rows).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug import Request, Response

from tests.fakes.amazon import FakeCreatorsApi, numbered_catalog
from tests.fakes.ebay import FakeEbay
from tests.fakes.shopify import FakeShopify, make_product
from tests.pipelines.test_cli import clean_env, cli
from tests.written_files import readable

SHOPIFY_TOKEN = "shpat_leakprobe_4f1c9e"
EBAY_CLIENT_ID = "leakprobe-ebay-client-id"
EBAY_SECRET = "leakprobe-ebay-client-secret"
AMAZON_ID = "leakprobe-amazon-credential-id"
AMAZON_SECRET = "leakprobe-amazon-credential-secret"
CONFIG = """
[pipeline]
http_backoff_seconds = 0.001
[providers.amazon]
asins = ["B0TEST0001", "B0TEST0002", "B0TEST0003"]
throttling_seconds = 0.0
[providers.ebay]
page_size = 5
queries = [{ q = "film camera" }, { q = "lens" }]
"""


def echo_credentials(request: Request) -> Response:
    """A 403 whose body repeats the Authorization header it received."""
    body = {"errors": [{"message": f"denied for {request.headers.get('Authorization')}"}]}
    return Response(json.dumps(body), 403, content_type="application/json")


@pytest.fixture
def fakes() -> Iterator[tuple[FakeShopify, FakeCreatorsApi, FakeEbay]]:
    ebay = FakeEbay(client_id=EBAY_CLIENT_ID, client_secret=EBAY_SECRET)
    shopify = FakeShopify([make_product(n) for n in range(1, 5)], token=SHOPIFY_TOKEN)
    amazon = FakeCreatorsApi(
        numbered_catalog(3), credential_id=AMAZON_ID, credential_secret=AMAZON_SECRET
    )
    with ebay, shopify, amazon:
        ebay.add_search(total=12, q="film camera")
        ebay.add_search(total=3, q="lens")
        yield shopify, amazon, ebay


def test_no_secret_in_any_output(fakes, tmp_path: Path) -> None:
    shopify, amazon, ebay = fakes
    (tmp_path / "pipeline.toml").write_text(CONFIG)
    env = clean_env(**shopify.env(), **amazon.env(), **ebay.env())
    # Run 1: eBay's token lapses mid-run (a refresh), the second query is refused with the
    # bearer token echoed back; Amazon refuses the first call, echoing its token too.
    ebay.expire_tokens_after(1)
    ebay.search_faults = [None, None, None, echo_credentials]
    amazon.fail_next(403, {"type": "AccessDeniedException", "message": "Atc|fake-access-token-1"})
    text = cli("--verbose", cwd=tmp_path, env=env)
    # Run 2: JSON log lines, no faults, the response cache filled by run 1 is read back.
    json_logs = cli("--verbose", "--log-format", "json", cwd=tmp_path, env=env)
    # Run 3: doctor, with the eBay search refused again (the secret-bearing error shown).
    ebay.search_faults = [echo_credentials]
    doctor = cli("doctor", "--verbose", cwd=tmp_path, env=env)

    assert text.returncode == 1, text.stderr  # eBay and Amazon failed, Shopify did not
    assert json_logs.returncode == 0, json_logs.stderr
    assert doctor.returncode == 1
    minted = [*ebay.minted, *amazon.tokens_issued]
    assert len(ebay.minted) >= 2  # the refresh happened
    secrets = [SHOPIFY_TOKEN, EBAY_CLIENT_ID, EBAY_SECRET, AMAZON_ID, AMAZON_SECRET, *minted]
    outputs = {
        f"{name} {stream}": getattr(result, stream)
        for name, result in (("text", text), ("json", json_logs), ("doctor", doctor))
        for stream in ("stdout", "stderr")
    }
    files = [p for d in ("data", "logs", ".cache") for p in (tmp_path / d).rglob("*")]
    outputs |= {str(p.relative_to(tmp_path)): readable(p) for p in files if p.is_file()}
    assert any(".cache/api/ebay" in name for name in outputs)  # the cache was written
    assert any(name.endswith(".jsonl.zst") for name in outputs)  # so was the raw landing zone

    leaks = [(name, s) for name, content in outputs.items() for s in secrets if s in content]

    assert leaks == []
    run_log = (tmp_path / "logs" / "runs.jsonl").read_text()
    assert "denied for Bearer ***" in run_log  # the echoed token was there, masked
    assert json.loads(run_log.splitlines()[1])["providers"]["ebay"]["cache_hits"] > 0
    assert "denied for Bearer ***" in doctor.stdout
