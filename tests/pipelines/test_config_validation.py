"""pipeline.toml is checked when it loads: every error names the file, the key and what is
allowed, all of them in one go, exit 2 before any work (nothing written)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.cli.main import section_models
from pipelines.config import load_config
from pipelines.errors import ConfigError
from pipelines.run_pipeline import main
from providers.registry import load_providers


def _errors(toml: str, tmp_path: Path) -> str:
    path = tmp_path / "pipeline.toml"
    path.write_text(toml)
    providers = load_providers()
    with pytest.raises(ConfigError) as raised:
        load_config(path, providers, section_models())
    return str(raised.value)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        # enums: the allowed values are named
        ("[providers.shopify]\nbulk = 'sometimes'\n",
         "providers.shopify.bulk: expected one of auto, full_refresh, always, never, "
         "got 'sometimes'"),
        ("[providers.ebay]\nmarketplace = 'EBAY_MARS'\n",
         "providers.ebay.marketplace: expected one of EBAY_AT, "),
        ("[providers.ebay]\nqueries = [{ q = 'x', marketplace = 'EBAY_MARS' }]\n",
         "providers.ebay.queries[0].marketplace: "),
        ("[providers.amazon]\ncountry = 'XX'\n",
         "providers.amazon.country: expected one of AU, BE, BR, CA, "),
        ("[pipeline]\ntable_format = 'csv'\n",
         "pipeline.table_format: expected one of parquet, delta, got 'csv'"),
        # ranges: the APIs' limits
        ("[providers.ebay]\npage_size = 500\n",
         "providers.ebay.page_size: must be from 1 to 200, got 500"),
        ("[providers.shopify]\npage_size = 251\n",
         "providers.shopify.page_size: must be from 1 to 250, got 251"),
        ("[providers.amazon]\nsearches = [{ keywords = 'hub', pages = 99 }]\n",
         "providers.amazon.searches[0].pages: Input should be less than or equal to 10, got 99"),
        ("[pipeline]\nmax_delete_share = 2\n",
         "pipeline.max_delete_share: must be from 0 to 1, got 2"),
        ("[pipeline]\nhttp_deadline_seconds = 0\n",
         "pipeline.http_deadline_seconds: must be more than 0, got 0"),
        ("[pipeline]\ncache_ttl_seconds = -1\n",
         "pipeline.cache_ttl_seconds: must not be negative, got -1"),
        # types
        ("[pipeline]\nbatch_size = true\n", "pipeline.batch_size: expected int, got bool True"),
        ("[providers.amazon]\nasins = 'B0TEST0001'\n",
         "providers.amazon.asins: expected list, got str 'B0TEST0001'"),
        # unknown keys, at every level
        ("[pipeline]\nbatchsize = 5\n", "pipeline.batchsize: unknown setting (known: batch_size"),
        ("[providers.amazon]\nsearches = [{ keywords = 'hub', item_count = 5 }]\n",
         "providers.amazon.searches[0].item_count: unknown key (known: keywords, search_index, "
         "pages)"),
        ("[providers.ebay]\nqueries = [{ sort = 'price' }]\n",
         "providers.ebay.queries[0]: needs at least one of q, category_ids, epid or gtin"),
        # the sections other wings read, in the same pass
        ("[orchestration]\nmode = 'kubernetes'\n",
         "orchestration.mode: expected one of plain_cron, "),
        ("[quality]\nreject_treshold = 0.1\n", "quality.reject_treshold: unknown key"),
        ("[anomaly]\nwindow = 3\n", "anomaly.window: unknown key"),
    ],
)  # fmt: skip
def test_a_bad_setting_names_the_file_the_key_and_the_allowed_values(
    tmp_path: Path, toml: str, message: str
) -> None:
    errors = _errors(toml, tmp_path)
    assert f"{tmp_path / 'pipeline.toml'}: {message}" in errors


# The tables other wings read, each a pydantic model checked at load: one case per key class.
@pytest.mark.parametrize(
    ("toml", "message"),
    [
        # [quality]
        ("[quality]\nreject_threshold = '5%'\n",
         "quality.reject_threshold: expected a number from 0 to 1, got '5%'"),
        ("[quality]\nmax_title_length = 0\n",
         "quality.max_title_length: expected a positive integer, got 0"),
        ("[quality.rules.price_positive]\nseverity = 'fatal'\n",
         "quality.rules.price_positive.severity: expected 'error' or 'warn', got 'fatal'"),
        ("[quality.rules.price_negative]\nenabled = false\n",
         "quality.rules.price_negative: unknown key (known: source_required, "),
        # [anomaly]
        ("[anomaly]\nwindow_days = 1.5\n",
         "anomaly.window_days: expected an integer of at least 1, got 1.5"),
        ("[anomaly]\nwarn_z = 0\n", "anomaly.warn_z: expected a number above 0, got 0"),
        ("[anomaly]\nwarn_z = nan\n", "anomaly.warn_z: expected a number above 0, got nan"),
        ("[anomaly]\nslot_hours = 5\n",
         "anomaly.slot_hours: expected a divisor of 24: one of 1, 2, 3, 4, 6, 8, 12, 24, got 5"),
        ("[anomaly]\nmetrics = ['bogus']\n",
         "anomaly.metrics[0]: expected one of 'api_calls', 'changed', "),
        ("[anomaly]\nwindow = 3\n", "anomaly.window: unknown key (known: window_days, "),
        # [orchestration]
        ("[orchestration]\nshards = '3'\n",
         "orchestration.shards: expected a whole number >= 1, got '3'"),
        ("[orchestration]\nshards = 0\n",
         "orchestration.shards: expected a whole number >= 1, got 0"),
        ("[orchestration]\nalerts = [{ kind = 'pager' }]\n",
         "orchestration.alerts[0].kind: expected one of github_issue, email, webhook, got 'pager'"),
        ("[orchestration.schedule]\ntimezone = 5\n",
         "orchestration.schedule.timezone: expected an IANA time zone name, got 5"),
        ("[orchestration]\nretries = 3\n",
         "orchestration.retries: unknown key (known: mode, python, extra_args, providers, alerts, "
         "shards, schedule)"),
        # [sinks]
        ("[sinks.runlog]\nattempts = 'x'\n",
         "sinks.runlog.attempts: expected a whole number of at least 0, got 'x'"),
        ("[sinks.runlog]\ndeadline_seconds = -1\n",
         "sinks.runlog.deadline_seconds: expected a number of at least 0, got -1"),
        ("[[sinks.runlog.targets]]\nkind = 'kafka'\n",
         "sinks.runlog.targets[0].kind: expected one of cloudwatch, opensearch, http, got 'kafka'"),
        ("[[sinks.runlog.targets]]\nkind = 'http'\n",
         "sinks.runlog.targets[0].url: expected a non-empty string (required)"),
        ("[[sinks.runlog.targets]]\nkind = 'http'\nurl = 'http://127.0.0.1:9'\nname = 'a b'\n",
         "sinks.runlog.targets[0].name: expected letters, digits, - and _ only, got 'a b'"),
        ("[[sinks.runlog.targets]]\nkind = 'http'\nurl = 'http://127.0.0.1:9'\ntoken = 'x'\n",
         "sinks.runlog.targets[0].token: unknown key (known: kind, name, url, token_env)"),
        ("[sinks]\nmetrics = {}\n", "sinks.metrics: unknown key (known: runlog, postgres)"),
        ("[sinks]\nrunlog = 5\n", "sinks.runlog: expected a table, got 5"),
    ],
)  # fmt: skip
def test_each_section_model_names_the_key_the_allowed_values_and_the_value(
    tmp_path: Path, toml: str, message: str
) -> None:
    (line,) = _errors(toml, tmp_path).split("; ")  # one problem, one line
    assert line.startswith(f"{tmp_path / 'pipeline.toml'}: {message}")


def test_every_problem_of_one_section_names_the_file(tmp_path: Path) -> None:
    errors = _errors("[orchestration]\nmode = 'x'\nshards = 0\nretries = 3\n", tmp_path)
    lines = errors.split("; ")
    assert len(lines) == 3
    assert all(line.startswith(f"{tmp_path / 'pipeline.toml'}: orchestration.") for line in lines)


def test_a_bad_sinks_table_stops_the_status_command_before_any_work(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--status`` runs nothing that reads ``[sinks]``; the model still checks it at load."""
    (workdir / "pipeline.toml").write_text("[[sinks.runlog.targets]]\nkind = 'kafka'\n")
    assert main(["--status"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "run_pipeline.py: error: pipeline.toml: sinks.runlog.targets[0].kind: expected one of "
        "cloudwatch, opensearch, http, got 'kafka'"
    ]
    assert not (workdir / "data").exists()
    assert not (workdir / "logs").exists()


def test_every_error_is_reported_in_one_go(tmp_path: Path) -> None:
    errors = _errors(
        "[providers.shopify]\nbulk = 'sometimes'\n[providers.ebay]\npage_size = 500\n"
        "[providers.amazon]\ncountry = 'XX'\n[orchestration]\nmode = 'kubernetes'\n",
        tmp_path,
    )
    for key in ("shopify.bulk", "ebay.page_size", "amazon.country", "orchestration.mode"):
        assert key in errors


def test_the_shipped_pipeline_toml_is_valid() -> None:
    repo = Path(__file__).resolve().parents[2]
    providers = load_providers()
    load_config(repo / "pipeline.toml", providers, section_models())


@pytest.mark.parametrize(
    "toml",
    [
        "[providers.shopify]\nbulk = 'sometimes'\n",
        "[providers.ebay]\nmarketplace = 'EBAY_MARS'\n",
        "[providers.amazon]\nsearches = [{ keywords = 'hub', pages = 99 }]\n",
        "[orchestration]\nmode = 'kubernetes'\n",
        "[quality]\nreject_threshold = 2\n",
        "[anomaly]\nslot_hours = 5\n",
        "[[sinks.runlog.targets]]\nkind = 'kafka'\n",
    ],
)
def test_an_offline_run_with_a_bad_setting_exits_2_before_any_work(
    workdir: Path, capsys: pytest.CaptureFixture[str], toml: str
) -> None:
    (workdir / "pipeline.toml").write_text(toml)
    assert main(["--offline"]) == 2
    assert "pipeline.toml: " in capsys.readouterr().err
    assert not (workdir / "data").exists()
    assert not (workdir / "logs").exists()


def test_download_artifacts_refuses_zero_runs(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["download-artifacts", "--runs", "0"])
    assert raised.value.code == 2
    assert "--runs: must be 1 or more, got 0" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({"SHOPIFY_SHOP_DOMAIN": "shop.myshopify.com"}, "SHOPIFY_CLIENT_ID, SHOPIFY_CLIENT_SECRET"),
        ({"SHOPIFY_ACCESS_TOKEN": "shpat_x"}, "SHOPIFY_SHOP_DOMAIN"),  # pragma: allowlist secret
        ({"EBAY_CLIENT_ID": "id"}, "EBAY_CLIENT_SECRET"),
        ({"AMAZON_PARTNER_TAG": "tag-20"}, "AMAZON_CREATORS_CREDENTIAL_ID"),
    ],
)
def test_half_set_credentials_name_what_is_missing(
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    missing: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["--limit", "1"]) == 2
    err = capsys.readouterr().err
    assert missing in err
    assert "running OFFLINE" not in err
    assert not (workdir / "data").exists()


def test_no_credential_at_all_runs_offline_and_the_banner_names_the_folder(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--providers", "ebay", "--limit", "1", "--data-dir", "elsewhere"]) == 0
    err = capsys.readouterr().err
    assert "No credential of ebay is set: running OFFLINE" in err
    assert "writes to elsewhere/demo/" in err
    assert list((workdir / "elsewhere/demo").rglob("*.parquet"))
    assert json.loads(next(workdir.rglob("runs.jsonl")).read_text().splitlines()[-1])
