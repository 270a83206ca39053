"""The command line as users run it: a subprocess of pipelines/run_pipeline.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "pipelines" / "run_pipeline.py"
PROVIDER_ENV = (
    "SHOPIFY_", "AMAZON_", "EBAY_", "CI", "GITHUB_ACTIONS", "EXAMPLE_",
)  # fmt: skip


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(PROVIDER_ENV)}
    env.update(extra)
    return env


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=cwd,
        env=env or clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--limit", "zero"], "--limit: expected a whole number, got 'zero'"),
        (["--limit", "0"], "--limit: must be 1 or more, got 0"),
        (["--providers", "shopify,nope", "--offline"], "--providers: unknown provider nope"),
        (["--datasets", "products,invoices"], "--datasets: no such dataset invoices"),
        (["--log-format", "xml"], "--log-format: invalid choice: 'xml'"),
        (["--frobnicate"], "unrecognized arguments: --frobnicate"),
        (["--config", "missing.toml"], "--config: missing.toml does not exist"),
        (["--replay", "nowhere"], "--replay: nowhere does not exist"),
    ],
)
def test_bad_flags_give_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = cli(*args, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0]


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[pipeline]\nbatch_size = 'big'\n", "pipeline.batch_size: expected int, got str 'big'"),
        ("[pipeline]\nbatchsize = 5\n", "pipeline.batchsize: unknown setting"),
        ("[providers.ebay]\npage_size = -1\n", "providers.ebay.page_size"),
        ("[providers.nope]\n", "providers.nope: no such provider"),
        ("[pipelin]\n", "pipelin: unknown section"),
        ("not toml = = 1", "not valid TOML"),
    ],
)
def test_bad_config_values_name_the_key(tmp_path: Path, toml: str, message: str) -> None:
    (tmp_path / "bad.toml").write_text(toml)
    result = cli("--config", "bad.toml", "--offline", cwd=tmp_path)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert message in result.stderr


def test_help_explains_every_flag(tmp_path: Path) -> None:
    result = cli("--help", cwd=tmp_path)
    assert result.returncode == 0
    for flag in ("--providers", "--limit", "--dry-run", "--no-cache", "--verbose", "--offline",
                 "--config", "--data-dir", "--log-format", "--replay", "--list-providers",
                 "--status"):  # fmt: skip
        assert flag in result.stdout


def test_list_providers_shows_settings_without_secret_values(tmp_path: Path) -> None:
    env = clean_env(SHOPIFY_SHOP_DOMAIN="shop.example.com", SHOPIFY_ACCESS_TOKEN="shpat_s3cret")
    result = cli("--list-providers", cwd=tmp_path, env=env)
    assert result.returncode == 0
    assert "shopify (Shopify (GraphQL Admin API)): configured" in result.stdout
    assert "ebay (eBay (Browse API)): not configured" in result.stdout
    assert "SHOPIFY_ACCESS_TOKEN" in result.stdout
    assert "shpat_s3cret" not in result.stdout + result.stderr


def test_retired_amazon_paapi_settings_give_a_migration_error(tmp_path: Path) -> None:
    env = clean_env(AMAZON_PAAPI_ACCESS_KEY="AKIAOLD", AMAZON_PAAPI_SECRET_KEY="oldsecret")
    listing = cli("--list-providers", cwd=tmp_path, env=env)
    assert "AMAZON_PAAPI_ACCESS_KEY" in listing.stdout
    assert "AMAZON_CREATORS_CREDENTIAL_ID" in listing.stdout
    run = cli("--providers", "amazon", "--dry-run", cwd=tmp_path, env=env)
    assert "Traceback" not in run.stderr
    assert "AMAZON_CREATORS_CREDENTIAL_ID" in run.stderr + run.stdout
    assert "oldsecret" not in run.stderr + run.stdout


def test_no_credentials_in_ci_is_an_error_naming_the_secrets(tmp_path: Path) -> None:
    result = cli(cwd=tmp_path, env=clean_env(CI="true"))
    assert result.returncode == 2
    assert "SHOPIFY_CLIENT_SECRET" in result.stderr
    assert "EBAY_CLIENT_ID" in result.stderr
    assert not (tmp_path / "data").exists()


def test_no_credentials_locally_runs_the_offline_demo(tmp_path: Path) -> None:
    result = cli("--log-format", "json", cwd=tmp_path)
    assert result.returncode in (0, 3), result.stderr
    assert "running OFFLINE" in result.stderr
    assert list((tmp_path / "data/demo/normalized").rglob("*.parquet"))
    assert not (tmp_path / "data/normalized").exists()
    run = json.loads((tmp_path / "logs/demo/runs.jsonl").read_text().splitlines()[-1])
    assert run["mode"] == "offline"
    for name in ("shopify", "amazon", "ebay"):
        assert run["providers"][name]["status"] in ("ok", "quality_failed")
        assert run["providers"][name]["fetched"] >= 20
        assert run["providers"][name]["pages"] >= 2
    log_lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert log_lines
    assert all(line["run_id"] == run["run_id"] for line in log_lines)
    status = cli("--status", cwd=tmp_path)
    assert run["run_id"] in status.stdout


def test_third_party_provider_registers_through_entry_points(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "example_provider-0.1.dist-info").mkdir(parents=True)
    (site / "example_provider-0.1.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: example-provider\nVersion: 0.1\n"
    )
    (site / "example_provider-0.1.dist-info" / "entry_points.txt").write_text(
        "[pipeline.providers]\nexample = example_provider:ExampleProvider\n"
    )
    (site / "example_provider.py").write_text(
        textwrap.dedent(
            """
            from tests.catalog_provider import CatalogProvider
            from providers.base import Setting

            class ExampleProvider(CatalogProvider):
                name = "example"
                title = "Example plug-in"
                settings = (Setting("EXAMPLE_TOKEN", "token", secret=True),)

                def __init__(self):
                    super().__init__([{"id": "x-1", "title": "Plug-in item", "price": "3.50"}],
                                     name="example")
            """
        )
    )
    env = clean_env(PYTHONPATH=f"{site}{os.pathsep}{REPO}", EXAMPLE_TOKEN="tok")
    listing = cli("--list-providers", cwd=tmp_path, env=env)
    assert "example (Example plug-in): configured" in listing.stdout
    result = cli("--providers", "example", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    run = json.loads((tmp_path / "logs/runs.jsonl").read_text().splitlines()[-1])
    assert run["providers"]["example"]["new"] == 1
    assert list((tmp_path / "data/normalized").rglob("source=example/*.parquet"))
