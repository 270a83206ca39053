"""A Shopify provider whose worker process dies on a marked record (for the worker tests).

It lives in its own module so that a worker process, started with ``spawn``, can import it.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from dataclasses import replace

import pyarrow as pa

from providers.batch import NormalizedBlock, RawTable
from providers.shopify import ShopifyProvider

MARK = "crash the worker"


class CrashingShopify(ShopifyProvider):
    """Normalizes as Shopify does; a worker process that meets ``MARK`` is killed (SIGKILL,
    as the kernel's out-of-memory killer would). In the main process it normalizes as usual."""

    def raw_table(self) -> RawTable:
        spec = super().raw_table()

        def normalize(table: pa.Table) -> NormalizedBlock:
            in_worker = multiprocessing.parent_process() is not None
            if in_worker and MARK in table.column("title").to_pylist():
                os.kill(os.getpid(), signal.SIGKILL)
            return spec.normalize(table)

        return replace(spec, normalize=normalize)
