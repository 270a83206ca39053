"""Exceptions, grouped by what the caller should do about them.

Every message names what failed and where, and never carries a secret.
"""

from __future__ import annotations


class PipelineError(Exception):
    """Base of every error the pipeline raises on purpose."""


class ConfigError(PipelineError):
    """A flag, setting or environment variable is wrong: fix the configuration (exit 2)."""


class ProviderError(PipelineError):
    """A provider could not deliver its data for this run.

    ``status`` is the HTTP status of the response that caused it, when there was one.
    """

    status: int | None = None
    stats: dict | None = None  # the provider's call counters when it failed (for the run log)


class RetriableProviderError(ProviderError):
    """A transient failure (429, 5xx, timeout) that outlived its retries."""


class FatalProviderError(ProviderError):
    """A failure that retrying will not fix: bad credentials, a 4xx, an unusable response."""


class IncompleteFetchError(RetriableProviderError):
    """A pull ran to its end but read fewer (or more) objects than the source says it holds."""


class UnsupportedApiError(FatalProviderError):
    """The configured API version is past the end of its vendor's support: upgrade it."""


class SkippableRecordError(PipelineError):
    """One record cannot be normalized; the rest of the batch goes on."""


class DataQualityError(PipelineError):
    """The data breaks a rule the run must not commit past (exit 3)."""


class SchemaDriftError(DataQualityError):
    """Rows do not match the canonical schema of this `schema_version`."""


class LakeDamagedError(ConfigError):
    """A committed file of the lake (a manifest, a part) is missing or corrupt: run ``repair``
    or restore it before anything else runs (exit 2)."""


class BudgetExhaustedError(PipelineError):
    """A provider's daily API budget is spent: the call was not sent. What the run fetched
    before it is committed as partial data; the next run (or day) goes on from there."""


class SinkError(PipelineError):
    """A destination after the lake (a database) could not take a committed run's rows. The
    lake keeps them: the sink's step is retried or resumed on its own (exit 1)."""


class RunLiveError(PipelineError):
    """Another run of this lake and shard is alive: this one did not start (exit 6).

    Raised by ``pipelines.lake.runlease``; here so the command line can catch it without
    loading the lake."""


class WorkerError(PipelineError):
    """A worker process of a split provider stopped without finishing its share: the run stops
    before committing anything of it, and ``--resume`` runs that step again."""
