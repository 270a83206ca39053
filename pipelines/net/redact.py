"""Upstream error bodies reduced to what is safe and useful to keep: one short, masked line.

Some gateways and proxies echo the request back in their error bodies: its headers
(``Authorization``), its form or JSON body (``client_secret=…``). An error message keeps
the vendor's error code and message only; echoed headers and bodies are dropped, HTML
is stripped, whitespace collapsed to one line, secrets masked (``pipelines.net.secrets``)
and the length capped, before the text reaches an exception, a log line or a record.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pipelines.net.secrets import mask

DETAIL_LIMIT = 300
MAX_ERRORS = 3
MESSAGE_KEYS = ("longMessage", "message", "error_description", "errorMessage", "detail", "title")
CODE_KEYS = ("code", "errorId", "error", "error_code", "__type", "type", "reason")
# Keys under which an echoed request lands (dropped wherever they appear).
ECHO_KEYS = frozenset(
    {"headers", "request", "request_headers", "requestheaders", "body", "request_body",
     "form", "params", "args", "data", "json", "authorization", "cookies", "auth"}
)  # fmt: skip
_HEADER_LINE = re.compile(
    r"(?i)^\s*(?:(?:[a-z0-9]+-)+[a-z0-9]+|authorization|host|cookie|accept|connection|origin|"
    r"referer|date|server|via|expect|pragma|forwarded):\s"
)
_REQUEST_LINE = re.compile(r"^\s*(?:GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) \S+")
_FORM_LINE = re.compile(r"^\s*[\w.%-]+=[^&\s]*&[\w.%-]+=")
_JSON_LINE = re.compile(r"^\s*[\[{]\s*\"")  # a JSON request body
_TAG = re.compile(r"<[^>]*>")


def one_line(text: str, limit: int = DETAIL_LIMIT) -> str:
    """``text`` masked, on one line, at most ``limit`` characters (cut with ``…``)."""
    text = " ".join(mask(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def error_summary(body: bytes | str, limit: int = DETAIL_LIMIT) -> str:
    """The vendor's message (or code) of an error body, without any echoed request."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        payload = json.loads(text)
    except ValueError:
        return one_line(_text_summary(text), limit)
    return one_line(_json_summary(payload), limit)


def reduce_message(message: str, limit: int = DETAIL_LIMIT) -> str:
    """A vendor library's error message that embeds a whole body (``…: {"error": …}``)."""
    start = min((i for i in (message.find("{"), message.find("[")) if i >= 0), default=-1)
    if start >= 0:
        try:
            payload = json.loads(message[start:])
        except ValueError:
            pass
        else:
            summary = _json_summary(payload)
            return one_line(f"{message[:start].rstrip()} {summary}", limit)
    return one_line(_text_summary(message), limit)


def _json_summary(payload: Any) -> str:
    if isinstance(payload, dict) and "errors" in payload:
        head = payload.get("message") if isinstance(payload.get("message"), str) else ""
        tail = _json_summary(payload["errors"])
        return ": ".join(filter(None, (_text_summary(head), tail)))
    if isinstance(payload, list):
        return "; ".join(filter(None, (_one_error(e) for e in payload[:MAX_ERRORS])))
    return _one_error(payload)


def _one_error(error: Any) -> str:
    """``message (code)`` of one error entry (OAuth: ``error (error_description)``)."""
    if isinstance(error, str | int | float):
        return _text_summary(str(error))
    if not isinstance(error, dict):
        return ""
    error = {k: v for k, v in error.items() if str(k).lower() not in ECHO_KEYS}
    nested = error.get("error")
    if isinstance(nested, dict | list):
        return _json_summary(nested)
    message = next((error[k] for k in MESSAGE_KEYS if isinstance(error.get(k), str)), None)
    code = next((error[k] for k in CODE_KEYS if isinstance(error.get(k), str | int)), None)
    if message and code is not None and error.get("error") == code:
        return f"{code} ({_text_summary(message)})"  # OAuth: error + error_description
    if message and code is not None and str(code) not in message:
        return f"{_text_summary(message)} ({code})"
    if message or code is not None:
        return _text_summary(str(message or code))
    scalars = [f"{k}: {v}" for k, v in error.items() if isinstance(v, str | int)]
    return _text_summary("; ".join(scalars))


def _text_summary(text: str) -> str:
    """Plain text or HTML without tags, echoed header lines, request lines or form bodies."""
    lines = _TAG.sub(" ", text).splitlines()
    kept = [
        line
        for line in lines
        if line.strip()
        and not _HEADER_LINE.match(line)
        and not _REQUEST_LINE.match(line)
        and not _FORM_LINE.match(line)
        and not _JSON_LINE.match(line)
    ]
    return " ".join(kept)
