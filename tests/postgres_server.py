"""A real PostgreSQL server for the tests: one per test session, on 127.0.0.1, in a temp folder.

Reuse it from any test module: ``tests/conftest.py`` loads this module as a plugin, so

* ``postgres_server`` (session) is the running server (``.dsn(database)``, ``.admin(sql)``,
  ``.database()``: a context manager giving the DSN of a new database);
* ``postgres_dsn`` (function) is the DSN of a fresh, empty database, dropped after the test.

The server comes from Debian's ``postgresql`` package (``.ci/run`` installs it): the binaries
are found through ``pg_config --bindir``, else under ``/usr/lib/postgresql/<version>/bin``.
``initdb`` writes a cluster into a new folder under the system's temp folder, with
password (scram) logins over TCP and no other address than 127.0.0.1; the server runs with
``fsync=off`` (a test cluster need not survive a power cut) and its unix socket in that
folder. PostgreSQL refuses to run as root: as root, the folder is handed to the ``postgres``
user the package creates and the commands run through ``runuser``. The server is stopped by
``pg_ctl`` (its own pid file) and the folder removed when the session ends.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

SUPERUSER = "postgres"
PASSWORD = "pg-test-" + uuid.uuid4().hex[:12]  # pragma: allowlist secret
FAST_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")


def find_bindir() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``, or None when PostgreSQL is not installed."""
    candidates: list[Path] = []
    if shutil.which("pg_config"):
        found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        candidates.append(Path(found.stdout.strip()))
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: p.parent.name)
    candidates += reversed(versions)
    return next((c for c in candidates if (c / "initdb").exists()), None)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresServer:
    """One PostgreSQL cluster under ``folder``, listening on 127.0.0.1:``port``."""

    def __init__(self, bindir: Path, folder: Path) -> None:
        self.bindir, self.folder = bindir, folder
        self.data, self.port = folder / "data", _free_port()
        self.as_root = os.geteuid() == 0

    def _run(self, *argv: str) -> None:
        command = [str(self.bindir / argv[0]), *argv[1:]]
        if self.as_root:  # initdb and postgres refuse root
            command = ["runuser", "-u", SUPERUSER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = self.folder / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{argv[0]} failed: {done.stderr or done.stdout}\n{tail}")

    def start(self) -> None:
        password_file = self.folder / "password"
        password_file.write_text(PASSWORD)
        if self.as_root:
            shutil.chown(self.folder, SUPERUSER)
            shutil.chown(password_file, SUPERUSER)
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, f"--pwfile={password_file}",
                  "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8",
                  "--no-locale", "--no-sync")  # fmt: skip
        options = [f"-c {s}" for s in FAST_SETTINGS] + [
            "-c listen_addresses=127.0.0.1", f"-c port={self.port}",
            f"-c unix_socket_directories={self.folder}",
        ]  # fmt: skip
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"),
                  "-o", " ".join(options), "-w", "-t", "60", "start")  # fmt: skip

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def dsn(self, database: str = "postgres", password: str = PASSWORD) -> str:
        """A libpq URL for ``database`` as the superuser, over TCP with the password."""
        return f"postgresql://{SUPERUSER}:{password}@127.0.0.1:{self.port}/{database}"

    @contextmanager
    def database(self) -> Iterator[str]:
        """A new empty database's DSN; the database is dropped afterwards, even if in use."""
        name = f"test_{uuid.uuid4().hex[:10]}"
        self.admin(f'CREATE DATABASE "{name}"')
        try:
            yield self.dsn(name)
        finally:
            self.admin(f'DROP DATABASE "{name}" WITH (FORCE)')

    def admin(self, sql: str) -> None:
        """Run one statement on the ``postgres`` database, outside a transaction."""
        import psycopg

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(sql)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bindir = find_bindir()
    if bindir is None:
        pytest.fail("PostgreSQL server binaries not found: apt-get install postgresql")
    folder = Path(tempfile.mkdtemp(prefix="pytest-postgres-"))
    server = PostgresServer(bindir, folder)
    try:
        server.start()
        yield server
    finally:
        if (server.data / "postmaster.pid").exists():
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def postgres_dsn(postgres_server: PostgresServer) -> Iterator[str]:
    """The DSN of a new empty database for one test (dropped afterwards, even if in use)."""
    with postgres_server.database() as dsn:
        yield dsn
