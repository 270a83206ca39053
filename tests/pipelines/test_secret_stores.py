"""Provider secrets from a secret store: ``[secrets]`` in pipeline.toml, Vault KV v2 and AWS.

Vault is the fake of ``tests/fakes/vault.py`` (its KV v2 wire format); AWS Secrets Manager is
moto's server on 127.0.0.1. The end-to-end tests run ``doctor`` against the fake eBay, whose
token endpoint accepts only the client id and secret that live in the store.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from pipelines.config import load_config
from pipelines.errors import ConfigError
from pipelines.net.secret_stores import parse_reference, read_references
from pipelines.net.secrets import mask
from pipelines.run_pipeline import main
from providers.registry import load_providers
from tests.fakes import s3 as fake_aws
from tests.fakes import vault as fake_vault
from tests.fakes.ebay import FakeEbay
from tests.fakes.vault import FakeVault

vault_server, vault = fake_vault.vault_server, fake_vault.vault  # the fake Vault's fixtures
s3_server = fake_aws.s3_server  # moto's server: every AWS API, Secrets Manager included

CLIENT_ID = "store-ebay-client-id-7f3a"
CLIENT_SECRET = "store-ebay-client-secret-c91e"  # pragma: allowlist secret
TOKEN = "hvs.t-123456"  # pragma: allowlist secret
ISOLATED_PREFIXES = ("SHOPIFY_", "AMAZON_", "EBAY_", "VAULT_", "AWS_", "CI", "GITHUB_ACTIONS")


@pytest.fixture(scope="module")
def ebay_server() -> Iterator[FakeEbay]:
    with FakeEbay(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as fake:
        yield fake


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ebay_server: FakeEbay) -> Path:
    """No provider, Vault or AWS variable but the fake eBay's URLs; a clean directory."""
    for name in list(os.environ):
        if name.startswith(ISOLATED_PREFIXES):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    ebay_server.reset()
    ebay_server.add_search(total=7, q="film camera")
    for name, value in ebay_server.env().items():
        if name not in ("EBAY_CLIENT_ID", "EBAY_CLIENT_SECRET"):
            monkeypatch.setenv(name, value)
    return tmp_path


def write_config(folder: Path, secrets: str) -> None:
    (folder / "pipeline.toml").write_text(
        '[providers.ebay]\nqueries = [{ q = "film camera" }]\n' + secrets
    )


def refs(**texts: str) -> dict:
    return {name: parse_reference(name, text, "env") for name, text in texts.items()}


# --- pipeline.toml ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[secrets]\nsource = "gcp"', "secrets.source: expected one of env, aws, vault, got 'gcp'"),
        ('[secrets]\nstore = "aws"', "secrets.store: unknown setting (known: refs, source)"),
        ('[secrets.refs]\nEBAY_CLIENT_SECRET = "prod/ebay#secret"', "secrets.refs.EBAY_CLIENT_"
         "SECRET: 'prod/ebay#secret' names no store: prefix it with aws: or vault:"),
        ('[secrets.refs]\nX = "vault:secret/data/p"', "secrets.refs.X: 'vault:secret/data/p': "
         "a Vault reference is vault:mount/path#key"),
        ('[secrets.refs]\nX = "vault:pipeline#k"', "a Vault reference is vault:mount/path#key"),
        ('[secrets.refs]\nX = "aws:prod/ebay#"', "secrets.refs.X: 'aws:prod/ebay#': expected"),
        ('[secrets.refs]\nlower = "aws:prod/ebay"', "secrets.refs.lower: not an environment"),
        ("[secrets.refs]\nX = 3", "secrets.refs.X: expected a reference such as"),
        ('[secrets]\nrefs = "aws:x"', "secrets.refs: expected a table"),
    ],
)  # fmt: skip
def test_bad_secrets_sections_name_the_key(tmp_path: Path, toml: str, message: str) -> None:
    (tmp_path / "pipeline.toml").write_text(toml)
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "pipeline.toml", load_providers())
    assert message in str(caught.value)


def test_references_take_the_default_store_from_source(tmp_path: Path) -> None:
    (tmp_path / "pipeline.toml").write_text(
        '[secrets]\nsource = "vault"\n[secrets.refs]\n'
        'EBAY_CLIENT_ID = "secret/data/pipeline#ebay_id"\n'
        'EBAY_CLIENT_SECRET = "aws:arn:aws:secretsmanager:us-east-1:1:secret:ebay-Ab1#secret"\n'
    )
    config = load_config(tmp_path / "pipeline.toml", load_providers())
    id_ref, secret_ref = (
        config.secret_refs["EBAY_CLIENT_ID"],
        config.secret_refs["EBAY_CLIENT_SECRET"],
    )
    assert (id_ref.store, id_ref.path, id_ref.key) == ("vault", "secret/pipeline", "ebay_id")
    assert (secret_ref.store, secret_ref.key) == ("aws", "secret")
    assert secret_ref.path == "arn:aws:secretsmanager:us-east-1:1:secret:ebay-Ab1"


# --- Vault KV v2 ------------------------------------------------------------------------------


def test_vault_values_are_read_once_per_secret_and_registered(vault: FakeVault) -> None:
    vault.put("secret", "pipeline", {"ebay_id": "vault-id-4b1c", "ebay_secret": "vault-sec-88d0"})
    values = read_references(
        refs(A="vault:secret/data/pipeline#ebay_id", B="vault:secret/pipeline#ebay_secret"),
        vault.env(),
    )
    assert values == {"A": "vault-id-4b1c", "B": "vault-sec-88d0"}
    assert [(r["path"], r["token"]) for r in vault.requests] == [
        ("/v1/secret/data/pipeline", vault.env()["VAULT_TOKEN"])
    ]
    assert mask("id vault-id-4b1c, secret vault-sec-88d0") == "id ***, secret ***"


VAULT_FAILURES = {
    "missing": ("secret/data/missing#ebay_id", None, "no such secret (or its newest version"),
    "deleted": ("secret/data/pipeline#ebay_id", "delete", "no such secret (or its newest"),
    "no field": ("secret/pipeline#absent", None, "no field 'absent' holding a non-empty string"),
    "forbidden": ("secret/pipeline#ebay_id", "narrow", "permission denied (check the token's"),
    "unknown token": ("secret/pipeline#ebay_id", "unknown", "permission denied"),
    "sealed": ("secret/pipeline#ebay_id", "seal", "Vault is sealed or down"),
}


@pytest.mark.parametrize("case", VAULT_FAILURES)
def test_vault_failures_name_the_reference_not_the_value(vault: FakeVault, case: str) -> None:
    path, action, reason = VAULT_FAILURES[case]
    vault.put("secret", "pipeline", {"ebay_id": "never-shown-4b1c"})
    env = vault.env()
    if action == "delete":
        vault.delete_latest("secret", "pipeline")
    elif action == "narrow":
        vault.add_token("hvs.narrow-token-5e2f", "secret/other")
        env["VAULT_TOKEN"] = "hvs.narrow-token-5e2f"
    elif action == "unknown":
        env["VAULT_TOKEN"] = "hvs.unknown-token-0000"
    elif action == "seal":
        vault.sealed = True
    with pytest.raises(ConfigError) as caught:
        read_references(refs(EBAY_CLIENT_ID=f"vault:{path}"), env)
    message = str(caught.value)
    assert message.startswith(f"secrets.refs.EBAY_CLIENT_ID = 'vault:{path}': Vault: {reason}")
    assert "\n" not in message
    assert "never-shown" not in message
    assert env["VAULT_TOKEN"] not in message


def test_a_vault_redirect_is_refused_and_the_token_stays_home(vault: FakeVault) -> None:
    other = FakeVault()
    other.server = type(other.server)(host="127.0.0.2", port=0)
    other.start()
    try:
        vault.put("secret", "pipeline", {"ebay_id": "never-shown-4b1c"})
        vault.redirect_to = other.url
        with pytest.raises(ConfigError) as caught:
            read_references(refs(X="vault:secret/pipeline#ebay_id"), vault.env())
    finally:
        other.stop()
    here, there = vault.url.removeprefix("http://"), other.url.removeprefix("http://")
    assert f"Vault: {here} answered with a redirect to {there}; it is not followed" in str(
        caught.value
    )
    assert other.requests == []


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"VAULT_ADDR": "http://127.0.0.1:1"}, "Vault: VAULT_TOKEN not set"),
        ({}, "Vault: VAULT_ADDR and VAULT_TOKEN not set"),
        ({"VAULT_ADDR": "http://vault.example.com", "VAULT_TOKEN": TOKEN},
         "VAULT_ADDR: plain http is only allowed for loopback hosts"),
        ({"VAULT_ADDR": "http://127.0.0.1:1", "VAULT_TOKEN": TOKEN},
         "Vault: cannot reach http://127.0.0.1:1 (ConnectionError)"),
    ],
)  # fmt: skip
def test_vault_settings_problems_are_one_line(env: dict, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        read_references(refs(X="vault:secret/pipeline#k"), env)
    assert message in str(caught.value)
    assert TOKEN not in str(caught.value)


# --- AWS Secrets Manager (moto) ---------------------------------------------------------------


@pytest.fixture
def aws(s3_server: fake_aws.FakeS3) -> tuple[dict[str, str], object]:
    env = s3_server.env()
    client = boto3.client(
        "secretsmanager", endpoint_url=env["AWS_ENDPOINT_URL"], region_name=env["AWS_REGION"],
        aws_access_key_id=fake_aws.KEYS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=fake_aws.KEYS["AWS_SECRET_ACCESS_KEY"],
    )  # fmt: skip
    for page in client.get_paginator("list_secrets").paginate():
        for secret in page["SecretList"]:
            client.delete_secret(SecretId=secret["ARN"], ForceDeleteWithoutRecovery=True)
    return env, client


def test_aws_values_come_from_json_fields_or_the_whole_string(aws) -> None:
    env, client = aws
    client.create_secret(
        Name="prod/ebay",
        SecretString='{"id": "aws-id-31f0", "secret": "aws-s-77a2"}',  # pragma: allowlist secret
    )
    client.create_secret(
        Name="prod/github", SecretString="aws-plain-token-5c3d"
    )  # pragma: allowlist secret
    values = read_references(
        refs(A="aws:prod/ebay#id", B="aws:prod/ebay#secret", C="aws:prod/github"), env
    )
    assert values == {"A": "aws-id-31f0", "B": "aws-s-77a2", "C": "aws-plain-token-5c3d"}
    assert mask("aws-s-77a2 aws-plain-token-5c3d") == "*** ***"


@pytest.mark.parametrize(
    ("ref", "reason"),
    [
        ("aws:prod/missing#id", "no such secret"),
        ("aws:prod/ebay#absent", "no field 'absent' holding a non-empty string"),
        ("aws:prod/plain#id", "#id: the secret is not a JSON object"),
        ("aws:prod/binary#id", "the secret is binary; store it as a string"),
        ("aws:prod/ebay", "the secret has fields; name one: path#key"),
    ],
)
def test_aws_failures_name_the_reference_not_the_value(aws, ref: str, reason: str) -> None:
    env, client = aws
    client.create_secret(Name="prod/ebay", SecretString='{"id": "never-shown-31f0"}')
    client.create_secret(
        Name="prod/plain", SecretString="never-shown-plain"
    )  # pragma: allowlist secret
    client.create_secret(Name="prod/binary", SecretBinary=b"never-shown-bytes")
    with pytest.raises(ConfigError) as caught:
        read_references(refs(EBAY_CLIENT_ID=ref), env)
    assert str(caught.value) == (
        f"secrets.refs.EBAY_CLIENT_ID = {ref!r}: AWS Secrets Manager: {reason}"
    )
    assert "never-shown" not in str(caught.value)


# --- end to end: the providers see the store's values -----------------------------------------

VAULT_TOML = """
[secrets]
source = "vault"
[secrets.refs]
EBAY_CLIENT_ID = "secret/data/pipeline#ebay_client_id"
EBAY_CLIENT_SECRET = "secret/data/pipeline#ebay_client_secret"
"""
AWS_TOML = """
[secrets.refs]
EBAY_CLIENT_ID = "aws:prod/pipeline/ebay#client_id"
EBAY_CLIENT_SECRET = "aws:prod/pipeline/ebay#client_secret"
"""


def test_doctor_authenticates_with_secrets_from_vault(
    workdir: Path, vault: FakeVault, ebay_server: FakeEbay, monkeypatch, capsys
) -> None:
    vault.put(
        "secret", "pipeline", {"ebay_client_id": CLIENT_ID, "ebay_client_secret": CLIENT_SECRET}
    )
    for name, value in vault.env().items():
        monkeypatch.setenv(name, value)
    write_config(workdir, VAULT_TOML)

    assert main(["doctor", "--log-format", "json", "--verbose"]) == 0

    captured = capsys.readouterr()
    assert "ebay      ok      search 'film camera' on EBAY_US: 7 results" in captured.out
    assert len(ebay_server.token_requests) == 1  # minted with the store's id and secret
    assert len(vault.requests) == 1
    for value in (CLIENT_ID, CLIENT_SECRET, vault.env()["VAULT_TOKEN"]):
        assert value not in captured.out + captured.err
        assert mask(value) == "***"


def test_doctor_authenticates_with_secrets_from_aws(
    workdir: Path, aws, ebay_server: FakeEbay, monkeypatch, capsys
) -> None:
    env, client = aws
    client.create_secret(
        Name="prod/pipeline/ebay",
        SecretString=f'{{"client_id": "{CLIENT_ID}", "client_secret": "{CLIENT_SECRET}"}}',
    )
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    write_config(workdir, AWS_TOML)

    assert main(["doctor"]) == 0

    captured = capsys.readouterr()
    assert "ebay      ok      search 'film camera' on EBAY_US: 7 results" in captured.out
    assert CLIENT_SECRET not in captured.out + captured.err


def test_an_unreadable_secret_is_exit_2_and_one_line_naming_the_reference(
    workdir: Path, vault: FakeVault, ebay_server: FakeEbay, monkeypatch, capsys
) -> None:
    vault.put("secret", "pipeline", {"ebay_client_id": CLIENT_ID})
    for name, value in vault.env().items():
        monkeypatch.setenv(name, value)
    write_config(workdir, VAULT_TOML)

    assert main(["--providers", "ebay", "--limit", "1"]) == 2

    captured = capsys.readouterr()
    assert captured.err == (
        "run_pipeline.py: error: secrets.refs.EBAY_CLIENT_SECRET = "
        "'secret/data/pipeline#ebay_client_secret': Vault: no field 'ebay_client_secret' "
        "holding a non-empty string\n"
    )
    assert ebay_server.token_requests == []  # nothing ran
    assert sorted(p.name for p in workdir.iterdir()) == ["pipeline.toml"]


def test_only_commands_that_call_providers_read_the_store(workdir: Path, capsys) -> None:
    """State, artifact, issue and report steps run where no store credentials are."""
    write_config(workdir, VAULT_TOML)  # and no VAULT_ADDR or VAULT_TOKEN at all

    assert main(["--status"]) == 0
    assert main(["--list-providers"]) == 0
    assert main(["doctor"]) == 2

    err = capsys.readouterr().err
    assert err.splitlines() == [
        "run_pipeline.py: error: secrets.refs.EBAY_CLIENT_ID = "
        "'secret/data/pipeline#ebay_client_id': Vault: VAULT_ADDR and VAULT_TOKEN not set"
    ]
