"""Where the lake lives: a local folder or an S3 bucket prefix, behind one small interface.

``open_storage(uri)`` takes a local path (``data``) or ``s3://bucket/prefix`` and returns a
``LocalStorage`` or an ``S3Storage``. Both speak in lake-relative paths
(``normalized/dt=…/source=…/part-….parquet``) and offer the same few moves: read and write
small objects whole, create one only if it does not exist (the lock), list, delete, and put a
finished local file into place (the commit). Parquet is read through ``filesystem`` (a
``pyarrow.fs`` filesystem) with the paths ``location`` gives, so DuckDB, pandas and Spark see
the same files the pipeline wrote.

The local storage is plain ``pathlib`` and ``os.replace`` (atomic renames). Object stores have
no rename: a file is uploaded under its final name (names carry the run id, so a retried run
overwrites only its own files) and the run's manifest, written last in one PUT, is its commit.
Small objects (manifests, state, lock, run log) go through boto3, which can send a single
``PutObject`` with ``If-None-Match`` and delete without pyarrow's habit of leaving empty
"directory marker" objects behind; data files stream through ``pyarrow.fs.S3FileSystem``.
Credentials come from the usual AWS chain (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``,
a profile, an instance role); ``AWS_ENDPOINT_URL`` or ``s3_endpoint_url`` points both clients
at MinIO or another S3-compatible server.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Iterable, Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pipelines.errors import ConfigError
from pipelines.net.extras import require
from pipelines.net.secrets import register_secret

if TYPE_CHECKING:
    import pyarrow.fs as pafs

SECRET_ENV = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
DEFAULT_REGION = "us-east-1"
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_DELETE_BATCH = 1000  # DeleteObjects takes at most 1,000 keys


class ConditionalWriteUnsupportedError(Exception):
    """The server ignores or refuses ``If-None-Match`` (older MinIO, some S3 look-alikes)."""


class LocalStorage:
    """A lake in a local folder."""

    remote = False

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    @cached_property
    def filesystem(self) -> pafs.FileSystem:
        """pyarrow's local file system, made on first use: reading the run log, the
        leases or the budgets of a local lake does not load pyarrow."""
        import pyarrow.fs as pafs

        return pafs.LocalFileSystem()

    @property
    def uri(self) -> str:
        return str(self.root)

    def child(self, name: str) -> LocalStorage:
        return LocalStorage(self.root / name)

    def location(self, rel: str) -> Path:
        """The path ``filesystem`` (or ``open``) takes for ``rel``."""
        return self.root / rel

    def read_bytes(self, rel: str) -> bytes | None:
        try:
            return (self.root / rel).read_bytes()
        except FileNotFoundError:
            return None

    def write_bytes(self, rel: str, data: bytes) -> None:
        """Replace ``rel`` atomically (a temporary file renamed over it)."""
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _temporary(path)
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def create_exclusive(self, rel: str, data: bytes) -> bool:
        """Create ``rel`` holding ``data`` unless it exists; False when it did.

        The data is written to a temporary file first and hard-linked into place, which fails
        when ``rel`` exists: a reader never sees the file empty or half written (an empty
        lease read by a second process would look stale and be taken over)."""
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _temporary(path)
        tmp.write_bytes(data)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        finally:
            tmp.unlink(missing_ok=True)
        return True

    def exists(self, rel: str) -> bool:
        return (self.root / rel).exists()

    def list_files(self, prefix: str) -> list[str]:
        """Every file under ``prefix`` (recursive), lake-relative, sorted."""
        base = self.root / prefix
        if not base.is_dir():
            return []
        return sorted(p.relative_to(self.root).as_posix() for p in base.rglob("*") if p.is_file())

    def delete(self, rels: Iterable[str]) -> None:
        for rel in rels:
            (self.root / rel).unlink(missing_ok=True)

    def move(self, rel: str, new_rel: str) -> None:
        """Rename ``rel`` to ``new_rel`` within the lake."""
        target = self.root / new_rel
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.root / rel, target)

    def put_file(self, local: Path, rel: str) -> None:
        """Move a finished local file into place (a rename; the staged file goes)."""
        final = self.root / rel
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(local, final)

    def size(self, rel: str) -> int:
        return (self.root / rel).stat().st_size

    def storage_options(self) -> dict[str, str]:
        """Options for delta-rs (``deltalake``): none for a local folder."""
        return {}


class S3Storage:
    """A lake under ``s3://bucket/prefix`` (AWS S3, MinIO, any S3-compatible server)."""

    remote = True

    def __init__(self, bucket: str, prefix: str, client: Any, filesystem: pafs.FileSystem,
                 endpoint_url: str, region: str) -> None:  # fmt: skip
        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.client, self.filesystem = client, filesystem
        self.endpoint_url, self.region = endpoint_url, region

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    def child(self, name: str) -> S3Storage:
        prefix = f"{self.prefix}/{name}" if self.prefix else name
        return S3Storage(self.bucket, prefix, self.client, self.filesystem, self.endpoint_url,
                         self.region)  # fmt: skip

    def key(self, rel: str) -> str:
        return f"{self.prefix}/{rel}" if self.prefix else rel

    def location(self, rel: str) -> str:
        return f"{self.bucket}/{self.key(rel)}"

    def read_bytes(self, rel: str) -> bytes | None:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self.key(rel))["Body"].read()
        except self.client.exceptions.NoSuchKey:
            return None

    def write_bytes(self, rel: str, data: bytes) -> None:
        """One PUT: the object appears whole or not at all."""
        self.client.put_object(Bucket=self.bucket, Key=self.key(rel), Body=data)

    def create_exclusive(self, rel: str, data: bytes) -> bool:
        """A conditional PUT (``If-None-Match: *``); False when the object exists.

        Raises ``ConditionalWriteUnsupportedError`` when the server refuses the header.
        """
        from botocore.exceptions import ClientError

        try:
            self.client.put_object(Bucket=self.bucket, Key=self.key(rel), Body=data,
                                   IfNoneMatch="*")  # fmt: skip
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("PreconditionFailed", "ConditionalRequestConflict"):
                return False
            if code in ("NotImplemented", "501"):
                raise ConditionalWriteUnsupportedError(code) from None
            raise
        return True

    def exists(self, rel: str) -> bool:
        return self.read_head(rel) is not None

    def read_head(self, rel: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            return self.client.head_object(Bucket=self.bucket, Key=self.key(rel))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def list_files(self, prefix: str) -> list[str]:
        """Every object under ``prefix/``, lake-relative, sorted (directory markers skipped)."""
        start = len(self.key(""))
        paginator = self.client.get_paginator("list_objects_v2")
        found = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.key(prefix) + "/"):
            found += [o["Key"][start:] for o in page.get("Contents", [])]
        return sorted(k for k in found if not k.endswith("/"))

    def delete(self, rels: Iterable[str]) -> None:
        """DeleteObjects in batches; unlike pyarrow's delete, no directory marker is left."""
        keys = [{"Key": self.key(rel)} for rel in rels]
        for start in range(0, len(keys), _DELETE_BATCH):
            batch = keys[start : start + _DELETE_BATCH]
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})

    def move(self, rel: str, new_rel: str) -> None:
        """A server-side copy to ``new_rel``, then the delete of ``rel`` (no rename in S3)."""
        source = {"Bucket": self.bucket, "Key": self.key(rel)}
        self.client.copy_object(Bucket=self.bucket, Key=self.key(new_rel), CopySource=source)
        self.delete([rel])

    def put_file(self, local: Path, rel: str) -> None:
        """Upload a finished local file under its final name (the staged copy stays until
        the commit is done, so a commit killed half-way can be redone)."""
        with local.open("rb") as source, self.filesystem.open_output_stream(
            self.location(rel)
        ) as sink:  # fmt: skip
            shutil.copyfileobj(source, sink, 1 << 22)

    def size(self, rel: str) -> int:
        head = self.read_head(rel)
        if head is None:
            raise FileNotFoundError(self.location(rel))
        return int(head["ContentLength"])

    def storage_options(self) -> dict[str, str]:
        """delta-rs options: the same endpoint and region (credentials from the environment)."""
        options = {"AWS_REGION": self.region}
        if self.endpoint_url:
            options["AWS_ENDPOINT_URL"] = self.endpoint_url
            if self.endpoint_url.startswith("http://"):
                options["AWS_ALLOW_HTTP"] = "true"
        return options


Storage = LocalStorage | S3Storage


def open_storage(uri: str | Path, *, endpoint_url: str = "", region: str = "",
                 env: Mapping[str, str] | None = None) -> Storage:  # fmt: skip
    """The storage of ``uri``: a local path, or ``s3://bucket/prefix``."""
    text = str(uri)
    if isinstance(uri, Path) or "://" not in text:
        return LocalStorage(Path(text))
    scheme = text.split("://", 1)[0]
    if scheme not in ("s3", "s3a"):
        raise ConfigError(
            f"lake_uri: {scheme}:// is not supported; use a local path or s3://bucket/prefix"
        )
    return _open_s3(text, endpoint_url, region, os.environ if env is None else env)


def _open_s3(uri: str, endpoint_url: str, region: str, env: Mapping[str, str]) -> S3Storage:
    import pyarrow.fs as pafs  # an object-store lake reads its data files through it

    parts = urlsplit(uri)
    bucket, prefix = parts.netloc, parts.path.strip("/")
    if not _BUCKET.match(bucket):
        raise ConfigError(f"lake_uri: {bucket!r} in {uri} is not a valid S3 bucket name")
    require("aws", f"lake_uri = {uri}")
    import boto3
    from botocore.config import Config

    for name in SECRET_ENV:
        register_secret(env.get(name))
    endpoint = endpoint_url or env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL", "")
    region = region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
    pyarrow_endpoint = _pyarrow_endpoint(endpoint)
    config = Config(connect_timeout=5, read_timeout=60, retries={"mode": "standard"})
    client = boto3.client("s3", endpoint_url=endpoint or None, region_name=region, config=config)
    filesystem = pafs.S3FileSystem(region=region, connect_timeout=5, request_timeout=60,
                                   **pyarrow_endpoint)  # fmt: skip
    return S3Storage(bucket, prefix, client, filesystem, endpoint, region)


def _pyarrow_endpoint(endpoint: str) -> dict[str, str]:
    """``http://host:port`` as pyarrow wants it: ``endpoint_override`` plus ``scheme``."""
    if not endpoint:
        return {}
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"s3_endpoint_url: expected http(s)://host[:port], got {endpoint!r}")
    return {"endpoint_override": parts.netloc, "scheme": parts.scheme}


def _temporary(path: Path) -> Path:
    """A temporary name next to ``path``, distinct per process and thread (a lease's renewer
    thread writes while its process's main thread may)."""
    return path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
