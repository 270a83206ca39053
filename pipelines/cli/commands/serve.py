"""``run_pipeline.py serve``: the read-only HTTP API over the lake (FastAPI on uvicorn).

FastAPI and uvicorn are the ``serve`` extra: without them the command says so in one line and
exits 2. It binds 127.0.0.1 unless ``--host`` says otherwise, and reads the API key from
``PIPELINE_API_KEY`` (environment or ``.env``).
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import socket
from typing import TYPE_CHECKING

from pipelines.cli.parser import port
from pipelines.errors import ConfigError
from pipelines.net.extras import require

if TYPE_CHECKING:
    from pipelines.cli.main import CommandContext

HELP = "Serve a read-only HTTP API over the lake: products, their history, runs, anomalies."
DEFAULT_PORT = 8000
log = logging.getLogger("pipeline.serve")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host", default="127.0.0.1", metavar="ADDRESS",
        help="address to listen on (default 127.0.0.1: this machine only)",
    )  # fmt: skip
    parser.add_argument(
        "--port", type=port, default=DEFAULT_PORT, metavar="N",
        help=f"TCP port to listen on (default {DEFAULT_PORT})",
    )  # fmt: skip
    parser.add_argument(
        "--query-timeout", type=_seconds, default=10.0, metavar="SECONDS",
        help="stop any query running longer than this (default 10)",
    )  # fmt: skip
    parser.add_argument(
        "--offline",
        action="store_true",
        help="serve the offline demo lake (<lake>/demo) and its run log (<log_dir>/demo)",
    )


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def execute(args: argparse.Namespace, context: CommandContext) -> int:
    require("serve", "serve")
    import uvicorn

    from pipelines.ops.lake_api import API_KEY_ENV, create_app
    from pipelines.ops.lake_reads import LakeReader  # DuckDB, pyarrow: not for --help
    from pipelines.run.options import RunOptions, lake_storage

    storage = lake_storage(context.config, RunOptions(offline=args.offline))
    reader = LakeReader(storage, context.config.run_log_dir(args.offline), args.query_timeout)
    reader.current()  # a damaged lake stops here, with its one line
    api_key = context.env.get(API_KEY_ENV) or None
    if api_key is None and not _loopback(args.host):
        log.warning("serving %s on %s without %s: anyone who reaches it reads the lake",
                    storage.uri, args.host, API_KEY_ENV)  # fmt: skip
    sock = bind(args.host, args.port)
    config = uvicorn.Config(
        create_app(reader, api_key), log_level="info", timeout_graceful_shutdown=5
    )
    print(f"serving {storage.uri} on http://{args.host}:{sock.getsockname()[1]} (docs at /docs)")
    uvicorn.Server(config).run(sockets=[sock])
    return 0


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def bind(host: str, number: int) -> socket.socket:
    """A listening socket on ``host:number``; ``ConfigError`` when it cannot be had."""
    try:
        info = socket.getaddrinfo(host, number, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(info[0], socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(info[4])
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(f"--port: cannot serve on {host}:{number} ({reason})") from None
    sock.listen(128)
    return sock
