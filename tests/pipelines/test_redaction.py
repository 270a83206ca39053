"""The one redaction: a secret is masked in every form it takes, error bodies are reduced."""

from __future__ import annotations

import base64
import json
import logging

import pytest

from pipelines.cli.logs import setup_logging
from pipelines.net.redact import error_summary, one_line, reduce_message
from pipelines.net.secrets import mask, mask_data, register_basic_auth, register_secret
from tests.secret_forms import secret_forms

CLIENT_ID = "redact-probe-client-id"
SECRET = 'redact/probe+secret=with "odd" chars&more'
TOKEN = "v^1.1#i^1#redact-probe-minted-token"


def test_every_form_of_a_secret_is_masked() -> None:
    register_basic_auth(CLIENT_ID, SECRET)
    register_secret(TOKEN)
    probes = {
        **secret_forms(SECRET, CLIENT_ID),
        **{f"token {k}": v for k, v in secret_forms(TOKEN).items()},
    }
    for name, value in probes.items():
        text = f"before {value} after"
        assert value not in mask(text), name
        assert mask(text).startswith("before "), name


def test_base64_of_a_secret_inside_a_longer_encoded_string_is_masked() -> None:
    register_secret(SECRET)
    for prefix in ("x", "xy", "xyz", "other-user:"):  # every alignment of the secret in base64
        encoded = base64.b64encode(f"{prefix}{SECRET}!".encode()).decode()
        masked = mask(f"Basic-ish {encoded}")
        assert encoded not in masked
        assert "***" in masked
        assert len(masked.replace("***", "")) < len("Basic-ish ") + len(prefix) + 8  # a few left


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("Authorization: Basic dW5rbm93bjp1bmtub3du", "Authorization: ***"),
        ('{"Authorization": "Bearer abc.def.ghi"}', '{"Authorization": "***"}'),
        ("denied for Bearer unregistered-token-1", "denied for Bearer ***"),
        ("grant_type=client_credentials&client_secret=s%2Fx&scope=a", None),
        ('{"access_token": "Atc|xyz", "token_type": "bearer"}', None),
        ("X-Shopify-Access-Token: shpat_0123456789abcdef", "X-Shopify-Access-Token: ***"),
        ("token ghp_abcdefghijklmnopqrstuvwxyz0123", "token ghp_***"),
    ],
)
def test_credential_shapes_are_masked_even_when_never_registered(text: str, masked: str) -> None:
    result = mask(text)
    if masked is not None:
        assert result == masked
    for secret in ("dW5rbm93bjp1bmtub3du", "abc.def.ghi", "unregistered-token-1", "s%2Fx",
                   "Atc|xyz", "0123456789abcdef", "abcdefghijklmnopqrstuvwxyz0123"):  # fmt: skip
        assert secret not in result
    assert "token_type" in mask('{"token_type": "bearer"}')  # only values go, not field names


def test_masking_a_json_text_keeps_it_json() -> None:
    register_secret(SECRET)
    record = {"error": f'401: {{"echo": "{SECRET}", "h": "Bearer zzzzzzzzzz"}}', "n": 1}
    masked = json.loads(mask(json.dumps(record)))
    assert SECRET not in json.dumps(masked)
    assert mask_data(record) == {"error": '401: {"echo": "***", "h": "Bearer ***"}', "n": 1}


ECHO_HEADERS = {"Authorization": "Basic Zm9vOmJhcg==", "X-Forwarded-For": "10.0.0.1"}


@pytest.mark.parametrize(
    ("body", "summary"),
    [
        # eBay: the message (longMessage when there is one), not the echoed request
        (
            {"errors": [{"errorId": 1001, "message": "Invalid access token",
                         "request": {"headers": ECHO_HEADERS}}]},
            "Invalid access token (1001)",
        ),
        # OAuth token endpoint: error code and description
        (
            {"error": "invalid_client", "error_description": "client authentication failed",
             "headers": ECHO_HEADERS, "body": "grant_type=client_credentials&client_secret=x"},
            "invalid_client (client authentication failed)",
        ),
        # GitHub: message and the error codes
        (
            {"message": "Validation Failed", "errors": [{"resource": "Label", "code": "invalid"}]},
            "Validation Failed: invalid",
        ),
        # Amazon: reason and message
        ({"reason": "InvalidToken", "message": "The token is invalid"},
         "The token is invalid (InvalidToken)"),
        # Shopify REST
        ({"errors": "[API] Invalid API key"}, "[API] Invalid API key"),
    ],
)  # fmt: skip
def test_error_bodies_keep_the_vendor_message_and_drop_the_echo(body: dict, summary: str) -> None:
    assert error_summary(json.dumps(body).encode()) == summary


def test_a_proxy_page_that_echoes_the_request_is_reduced_to_its_message() -> None:
    page = (
        b"<html><body><h1>502 Bad Gateway</h1>\n<pre>\nPOST /identity/v1/oauth2/token HTTP/1.1\n"
        b"Host: api.ebay.com\nAuthorization: Basic Zm9vOmJhcg==\n"
        b"Content-Type: application/x-www-form-urlencoded\n\n"
        b"grant_type=client_credentials&scope=x&client_secret=leaked\n</pre></body></html>"
    )
    assert error_summary(page) == "502 Bad Gateway"


def test_summaries_are_one_capped_line() -> None:
    summary = error_summary(json.dumps({"message": "line\n" * 200}).encode())
    assert "\n" not in summary
    assert len(summary) == 300
    assert summary.endswith("…")
    assert one_line("a\n\tb", 10) == "a b"


def test_a_library_message_with_a_whole_body_in_it_is_reduced() -> None:
    message = (
        "OAuth2 token request failed with status 401: "
        '{"error": "invalid_client", "request": "client_id=a&client_secret=leaked"}'
    )
    assert reduce_message(message) == "OAuth2 token request failed with status 401: invalid_client"


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_logged_traceback_is_masked_in_both_log_formats(
    fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    register_secret(SECRET)
    root = logging.getLogger("pipeline")
    saved = root.handlers[:], root.level, root.propagate
    setup_logging("run-1", fmt=fmt)
    try:
        raise RuntimeError(f"upstream said {json.dumps(SECRET)} and Bearer abcdefghijkl")
    except RuntimeError:
        logging.getLogger("pipeline.test").exception("call failed")
    finally:
        root.handlers[:], root.level, root.propagate = saved
    err = capsys.readouterr().err
    assert "upstream said" in err  # the traceback was logged
    for value in secret_forms(SECRET).values():
        assert value not in err
    assert "abcdefghijkl" not in err
