"""A feature whose optional extra is not installed stops before any work: exit 2 and one line
naming the feature, the extra and the command that installs it (pipelines/net/extras.py).

Each test makes the extra's module unimportable (``None`` in ``sys.modules``), as on a machine
with only the core installed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pipelines.errors import ConfigError
from pipelines.net.extras import EXTRAS, MissingExtraError, install_hint, require
from pipelines.net.notify import Targets
from pipelines.net.secret_stores import STORE_CLIENTS
from pipelines.ops.sink_config import parse_sinks
from pipelines.run_pipeline import main


def block(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    """Make ``modules`` fail to import, as when their extra is not installed."""
    for module in modules:
        monkeypatch.setitem(sys.modules, module, None)


@pytest.mark.parametrize("extra", EXTRAS)
def test_require_names_the_feature_the_extra_and_the_install_command(
    extra: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    block(monkeypatch, EXTRAS[extra][0])
    with pytest.raises(MissingExtraError) as caught:
        require(extra, "the feature")
    message = str(caught.value)
    assert message.startswith(f"the feature needs the optional {extra!r} dependencies")
    assert f'make install EXTRAS="{extra}"' in message
    assert f"requirements-extra-{extra}.lock" in message
    assert "\n" not in message
    assert isinstance(caught.value, ConfigError)  # exit 2


def test_require_passes_when_the_extra_is_installed() -> None:
    for extra in EXTRAS:
        require(extra, "the feature")  # the test environment has every extra


def assert_one_line_and_nothing_written(
    workdir: Path, capsys: pytest.CaptureFixture[str], feature: str, extra: str
) -> None:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "error" in line]
    assert lines == [
        f"run_pipeline.py: error: {feature} needs the optional {extra!r} dependencies "
        f"({EXTRAS[extra][0]} is not installed): {install_hint(extra)}"
    ]
    assert "Traceback" not in err
    assert not list(workdir.rglob("checkpoint.json"))
    assert not list(workdir.rglob("*.parquet"))


def test_an_s3_lake_without_the_aws_extra_is_exit_2_before_any_work(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    block(monkeypatch, "boto3")
    assert main(["--offline", "--lake-uri", "s3://bucket/products", "--limit", "1"]) == 2
    assert_one_line_and_nothing_written(workdir, capsys, "lake_uri = s3://bucket/products", "aws")


def test_delta_tables_without_the_delta_extra_are_exit_2_before_any_work(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    block(monkeypatch, "deltalake")
    (workdir / "pipeline.toml").write_text('[pipeline]\ntable_format = "delta"\n')
    assert main(["--offline", "--limit", "1"]) == 2
    assert_one_line_and_nothing_written(workdir, capsys, 'pipeline.table_format = "delta"', "delta")
    assert main(["compact"]) == 2
    assert "compact needs the optional 'delta' dependencies" in capsys.readouterr().err


def test_notifications_without_the_notify_extra_are_exit_2_before_any_work(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    block(monkeypatch, "apprise")
    monkeypatch.setenv("PIPELINE_NOTIFY_URLS", "json://127.0.0.1:9/hook")
    assert main(["--offline", "--limit", "1"]) == 2
    assert_one_line_and_nothing_written(workdir, capsys, "PIPELINE_NOTIFY_URLS", "notify")
    assert Targets({}).apprise == []  # no targets: apprise is not needed at all


@pytest.mark.parametrize(("store", "extra", "module"), [("aws", "aws", "boto3"),
                                                        ("vault", "vault", "hvac")])  # fmt: skip
def test_a_secret_store_without_its_extra_names_it(
    store: str, extra: str, module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    block(monkeypatch, module)
    env = {"VAULT_ADDR": "http://127.0.0.1:9", "VAULT_TOKEN": "t"}  # pragma: allowlist secret
    with pytest.raises(MissingExtraError, match=f"optional {extra!r} dependencies"):
        STORE_CLIENTS[store](env)


def test_a_cloudwatch_sink_without_the_aws_extra_is_refused_when_parsed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    block(monkeypatch, "boto3")
    target = {"kind": "cloudwatch", "group": "/pipeline/runs", "stream": "runs"}
    with pytest.raises(MissingExtraError, match=r"targets\[0\]\.kind = cloudwatch needs"):
        parse_sinks({"runlog": {"targets": [target]}})
