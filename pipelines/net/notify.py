"""Notifications out through apprise: Slack, Teams, Discord, e-mail and webhooks, one URL syntax.

The targets are secret (a webhook URL is its own credential), so they come from the environment,
never from ``pipeline.toml``: ``PIPELINE_NOTIFY_URLS`` holds apprise URLs separated by
whitespace, each optionally preceded by tags (``oncall,data=slack://…``). Every URL and its
parts are registered for masking as they are read. ``[notify]`` in ``pipeline.toml`` holds what
is not secret: which events are sent, which tags each event goes to, the rate limit.

Each target gets the message in its own markup, escaped by ``pipelines.net.markup``: Markdown
for Slack, Discord and Teams, HTML for HTML targets, plain text for e-mail and webhooks. A
target that fails is logged (masked) and counted; nothing here raises on a delivery problem.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from pipelines.net.extras import require
from pipelines.net.markup import html_text, markdown_cell, markdown_text, plain_text
from pipelines.net.secrets import mask, register_secret

log = logging.getLogger("pipeline.notify")

URLS_ENV = "PIPELINE_NOTIFY_URLS"
EVENTS = (
    "failure",
    "quality_gate_failed",
    "anomaly_opened",
    "anomaly_recovered",
    "deletion_guard_tripped",
    "quota_reached",
    "recovered",
)
DEFAULT_RATE_LIMIT_PER_HOUR = 20
LINE_LIMIT = 500  # characters of one line of a message (an upstream error, say)
_TAGGED = re.compile(r"^([\w-]+(?:,[\w-]+)*)=(?=[A-Za-z][\w+.-]*://)")
_SECRET_KEY = re.compile(r"(?i)pass|token|key|secret|auth")
_TOKEN = re.compile(r"^(?=.*\d)[^.]{8,}$")  # a URL part that looks like a token or an id
MARKDOWN, HTML, TEXT = "markdown", "html", "text"  # apprise's NotifyFormat values


@dataclass(frozen=True)
class NotifySettings:
    """``[notify]``: the events sent, the tags each event goes to, the hourly message cap."""

    events: tuple[str, ...] = EVENTS
    routes: Mapping[str, tuple[str, ...]] | None = None
    rate_limit_per_hour: int = DEFAULT_RATE_LIMIT_PER_HOUR

    def tags_for(self, event: str) -> tuple[str, ...] | None:
        """The tags ``event`` goes to; ``None``: every target."""
        return (self.routes or {}).get(event)


def _names(key: str, value: Any, errors: list[str]) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        errors.append(f"{key}: expected a list of names, got {value!r}")
        return ()
    return tuple(value)


def _events(key: str, value: Any, errors: list[str]) -> tuple[str, ...]:
    names = _names(key, value, errors)
    for name in names:
        if name not in EVENTS:
            errors.append(f"{key}: unknown event {name!r} (known: {', '.join(EVENTS)})")
    return names


def notify_settings(table: Any, errors: list[str]) -> NotifySettings:
    """``[notify]`` validated; each problem appended to ``errors`` naming its key."""
    if not isinstance(table, dict):
        errors.append("notify: expected a table")
        return NotifySettings()
    for key in table.keys() - {"events", "routes", "rate_limit_per_hour"}:
        errors.append(f"notify.{key}: unknown setting (known: events, rate_limit_per_hour, routes)")
    events = _events("notify.events", table.get("events", list(EVENTS)), errors)
    limit = table.get("rate_limit_per_hour", DEFAULT_RATE_LIMIT_PER_HOUR)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        errors.append(f"notify.rate_limit_per_hour: expected a whole number of 1 or more, got "
                      f"{limit!r}")  # fmt: skip
        limit = DEFAULT_RATE_LIMIT_PER_HOUR
    routes = table.get("routes", {})
    if not isinstance(routes, dict):
        errors.append('notify.routes: expected a table of event = ["tag", ...]')
        routes = {}
    _events("notify.routes", list(routes), errors)
    parsed = {
        event: _names(f"notify.routes.{event}", tags, errors) for event, tags in routes.items()
    }
    return NotifySettings(events, parsed, limit)


@dataclass(frozen=True)
class Message:
    """One notification: a title and lines of untrusted text, escaped per target when sent."""

    event: str
    title: str
    lines: tuple[str, ...]
    level: str = "failure"  # failure, warning or success


def render(message: Message, markup: str) -> tuple[str, str]:
    """``(title, body)`` of ``message`` escaped for ``markup`` (markdown, html or text)."""
    if markup == MARKDOWN:
        title, escape = markdown_cell(message.title), markdown_text
    elif markup == HTML:
        title, escape = html_text(message.title), html_text
    else:
        title, escape = plain_text(message.title), plain_text
    lines = [escape(line, LINE_LIMIT) for line in message.lines]
    return title, ("<br>\n" if markup == HTML else "\n").join(lines)


def register_urls(text: str | None) -> None:
    """Hide ``PIPELINE_NOTIFY_URLS``, each URL, its password and every part of one that looks
    like a token (Slack and Discord keep theirs in the host and path, webhooks in the user info
    or the query): eight characters or more, a digit among them, no dot (not a host name); and
    the value of every query parameter named like a secret."""
    register_secret((text or "").strip())
    for _, url in split_urls(text or ""):
        register_secret(url)
        parts = urlsplit(url)
        register_secret(unquote(parts.password or ""))
        host = re.sub(r":\d*$", "", parts.netloc.rpartition("@")[2])  # as written, not lowered
        candidates = [parts.username, host, *parts.path.split("/")]
        for key, value in parse_qsl(parts.query):
            if _SECRET_KEY.search(key):  # ?pass=…, ?token=…, ?apikey=…: a secret whatever it is
                register_secret(value)
            candidates.append(value)
        for part in candidates:
            if part and _TOKEN.match(unquote(part)):
                register_secret(unquote(part))


def split_urls(text: str) -> list[tuple[tuple[str, ...], str]]:
    """``PIPELINE_NOTIFY_URLS`` as ``(tags, url)`` pairs (whitespace separates the entries)."""
    pairs = []
    for entry in text.split():
        match = _TAGGED.match(entry)
        tags = tuple(match[1].split(",")) if match else ()
        pairs.append((tags, entry[match.end() :] if match else entry))
    return pairs


class Targets:
    """The configured apprise targets; ``send`` delivers one message to those of its tags.

    apprise is imported only when there are targets: a run without them does not pay for it."""

    def __init__(self, env: Mapping[str, str]) -> None:
        text = env.get(URLS_ENV, "")
        register_urls(text)
        self.apprise: list[Any] | Any = []
        self.invalid = 0
        if not text.strip():
            return
        require("notify", URLS_ENV)
        from apprise import Apprise, AppriseAsset

        self.apprise = Apprise(asset=AppriseAsset(async_mode=False))
        for number, (tags, url) in enumerate(split_urls(text), start=1):
            if not self.apprise.add(url, tag=list(tags) or None):
                self.invalid += 1
                log.warning("%s: entry %d is not a URL apprise knows; it is skipped", URLS_ENV,
                            number)  # fmt: skip

    def __bool__(self) -> bool:
        return len(self.apprise) > 0 or self.invalid > 0

    def send(self, message: Message, tags: Sequence[str] | None) -> tuple[int, int]:
        """Deliver ``message`` to every target (or those with one of ``tags``): (sent, failed)."""
        from apprise import NotifyFormat, NotifyType
        from apprise.plugins.email import NotifyEmail

        sent = failed = 0
        servers = self.apprise.find(tag=list(tags)) if tags else list(self.apprise)
        for server in servers:
            preferred = NotifyFormat.TEXT if isinstance(server, NotifyEmail) else None
            markup = server.resolve_format(preferred)
            title, body = render(message, markup.value)
            try:
                ok = server.notify(body=body, title=title, notify_type=NotifyType(message.level),
                                   body_format=markup)  # fmt: skip
            except Exception as exc:  # a plug-in's bug must not fail the run either
                log.warning("notification to %s raised %s", server.service_name, mask(str(exc)))
                ok = False
            if ok:
                sent += 1
            else:
                failed += 1
                log.warning("%s notification to %s was not delivered", message.event,
                            server.service_name)  # fmt: skip
        return sent, failed
