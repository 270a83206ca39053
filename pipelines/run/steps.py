"""The step graph of a run, defined once for every scheduler.

::

    extract.<provider> ──▶ normalize.<provider> ──┐
    extract.<other>    ──▶ normalize.<other>    ──┴─▶ quality ─▶ write ─▶ detect ─┐
                                                                     └──▶ sink.<name>    │
    dataset.<dataset>.<provider> (every dataset beyond products) ──────────────────┴─▶ report

* ``extract.<p>`` calls the provider's API and lands raw records (network: retried).
* ``normalize.<p>`` maps raw records to canonical rows and checks them (quarantine).
* ``quality`` applies the reject threshold and the count reconciliation per provider.
* ``write`` deduplicates against the state and commits: parts, manifest, then state.
* ``detect`` judges the run's volumes against the run history.
* ``report`` appends the run log and writes the Markdown and HTML report.
* ``sink.<name>`` (only for the sinks ``pipeline.toml`` configures, e.g. ``sink.postgres``)
  loads the committed rows into a database; it talks to a server, so it is retried, and it
  resumes and retries alone, without holding up ``detect`` and ``report``.
* ``dataset.<d>.<p>`` pulls dataset ``d`` (orders, say) from ``p`` and commits it to that
  dataset's tables (``pipelines/run/dataset_step.py``); products are the steps above.

Providers are independent until ``quality``, so schedulers may run them in parallel.
Every step is idempotent: running a finished step again is a no-op unless forced.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

NETWORK_RETRIES = 3
NETWORK_RETRY_DELAY_SECONDS = 60
NETWORK_TIMEOUT_SECONDS = 3600
LOCAL_TIMEOUT_SECONDS = 1800
SHARED_STEPS = ("quality", "write", "detect", "report")


@dataclass(frozen=True)
class Step:
    """One node of the graph, with the hints a scheduler needs."""

    name: str
    depends_on: tuple[str, ...]
    network: bool = False

    @property
    def retries(self) -> int:
        """Scheduler-level retries: only steps that talk to an API are worth retrying."""
        return NETWORK_RETRIES if self.network else 0

    @property
    def retry_delay_seconds(self) -> int:
        return NETWORK_RETRY_DELAY_SECONDS if self.network else 0

    @property
    def timeout_seconds(self) -> int:
        return NETWORK_TIMEOUT_SECONDS if self.network else LOCAL_TIMEOUT_SECONDS

    @property
    def provider(self) -> str | None:
        """The provider of a per-provider step (``extract.shopify`` → ``shopify``)."""
        kind, _, provider = self.name.partition(".")
        if kind in ("extract", "normalize") and provider:
            return provider
        return None

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "depends_on": list(self.depends_on),
            "network": self.network,
            "retries": self.retries,
            "retry_delay_seconds": self.retry_delay_seconds,
            "timeout_seconds": self.timeout_seconds,
        }


def step_graph(
    providers: Sequence[str], *, sinks: Sequence[str] = (), datasets: Sequence[str] = ()
) -> list[Step]:
    """The steps of a run over ``providers`` (products), ``sinks`` and ``datasets``
    (``orders.shopify``: a dataset beyond products and a provider offering it), in an order
    that respects every dependency. A plain run takes them in this order: the sinks right
    after ``write``, the datasets' pulls before ``detect``."""
    steps: list[Step] = []
    for name in providers:
        steps.append(Step(f"extract.{name}", (), network=True))
        steps.append(Step(f"normalize.{name}", (f"extract.{name}",)))
    normalized = tuple(f"normalize.{name}" for name in providers)
    steps.append(Step("quality", normalized))
    steps.append(Step("write", ("quality",)))
    steps += [Step(f"sink.{name}", ("write",), network=True) for name in sinks]
    pulls = tuple(f"dataset.{unit}" for unit in datasets)
    steps += [Step(name, (), network=True) for name in pulls]
    steps.append(Step("detect", ("write", *pulls)))  # the datasets' volumes too
    steps.append(Step("report", ("detect", *pulls)))
    return steps
