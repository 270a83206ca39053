"""The counters of one provider's calls, shared by the HTTP layer and the providers.

It lives below both so the HTTP layer can count calls without knowing what a provider is.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ProviderStats:
    """Counters a provider's run adds to the run log."""

    api_calls: int = 0
    cache_hits: int = 0
    retries: int = 0
    pages: int = 0
    throttle_waits: int = 0
    throttle_wait_seconds: float = 0.0
    breaker_trips: int = 0
    duplicates: int = 0  # records the source sent again in the same run; landed once
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # shown in the run summary and run log
