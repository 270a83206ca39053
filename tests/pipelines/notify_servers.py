"""What the notification receivers of test_notify (a webhook, an SMTP server) were sent."""

from __future__ import annotations

import email
import json
import socket
from dataclasses import dataclass, field
from email.message import Message as EmailMessage
from typing import Any

from pytest_httpserver import HTTPServer

HOOK_PATH = "/hooks/notify"


def webhook_messages(server: HTTPServer) -> list[dict[str, Any]]:
    """The JSON bodies apprise posted to ``server``, in order."""
    return [json.loads(request.get_data()) for request, _ in server.log]


@dataclass
class Mailbox:
    """What an SMTP client handed over (aiosmtpd's handler protocol)."""

    messages: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(email.message_from_bytes(envelope.original_content))
        return "250 Message accepted for delivery"

    def texts(self) -> list[str]:
        """Each message's subject and plain-text body."""
        found = []
        for message in self.messages:
            parts = [p for p in message.walk() if p.get_content_type() == "text/plain"]
            body = "".join(p.get_payload(decode=True).decode() for p in parts)
            found.append(f"{message['Subject']}\n{body}")
        return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def mail_url(port: int) -> str:
    return (f"mailto://127.0.0.1:{port}?mode=insecure&from=pipeline@example.org"
            f"&to=oncall@example.org")  # fmt: skip
