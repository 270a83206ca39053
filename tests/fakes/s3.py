"""A real S3-compatible server on 127.0.0.1 for the object-store lake tests: moto's server mode.

``s3_server`` starts one ``ThreadedMotoServer`` per test module (it speaks the S3 REST API
over HTTP, so the pipeline's boto3 and pyarrow clients talk to it as to AWS or MinIO);
every test takes a fresh bucket from it with ``new_bucket``.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

KEYS = {"AWS_ACCESS_KEY_ID": "test-access-key", "AWS_SECRET_ACCESS_KEY": "test-secret-key"}
_buckets = itertools.count(1)


class FakeS3:
    """The running server: its URL, the environment that points a client at it, buckets."""

    def __init__(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.url = f"http://{host}:{port}"

    def env(self) -> dict[str, str]:
        """Variables a pipeline process needs to use this server (and nothing real)."""
        return {
            **KEYS,
            "AWS_ENDPOINT_URL": self.url,
            "AWS_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }

    def client(self) -> Any:
        return boto3.client("s3", endpoint_url=self.url, region_name="us-east-1",
                            aws_access_key_id=KEYS["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=KEYS["AWS_SECRET_ACCESS_KEY"])  # fmt: skip

    def new_bucket(self) -> str:
        name = f"lake-{next(_buckets)}"
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every object key under ``prefix``, as the server holds them."""
        pages = self.client().get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix
        )  # fmt: skip
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture(scope="module")
def s3_server() -> Iterator[FakeS3]:
    server = FakeS3()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_env(s3_server: FakeS3, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """This process pointed at the fake server (for in-process runners and readers)."""
    env = s3_server.env()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env
