"""Sharding: ``--shard K/N`` gives one of N processes (or machines) its share of the work.

Work is cut into units, and unit ``u`` belongs to shard ``sha256(u) mod N + 1``: a stable
hash, so every process computes the same split from the same configuration, with nothing to
coordinate. A unit is a whole provider (key: its name) unless the provider's work is a list
of independent items, in which case each item (or each chunk that one API call takes) is a
unit of its own (key: ``provider/option/<item as JSON>``):

* ``amazon``: ``asins`` in chunks of 10 (one GetItems call each) and each of ``searches``;
* ``ebay``: each of ``queries``.

A provider, built in or plug-in, takes over this decision by defining the hook
``shard_options(options, k, n) -> dict | None``: the options this shard should run it with,
or None when none of its work falls in shard ``k`` of ``n`` (``split_lists`` does the
hashing for it). Providers whose lists are split run in several shards at once; each shard
commits its own manifest, serialized by the lake's commit lock, so the dedup state sees every
shard's rows. An item found by two units that landed in different shards (an ASIN that is
also a search hit) is written once, by the first shard to commit; the other sees it
unchanged. A split provider's pull is never complete, so no shard writes its deletions: each
keeps the keys it saw, and the run's final step decides them (``shard_deletions.py``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pipelines.errors import ConfigError
from providers.base import Provider

# (option, items per unit) of the built-in providers whose work is a list; see the docstring.
BUILTIN_SPLITS: dict[str, tuple[tuple[str, int], ...]] = {
    "amazon": (("asins", 10), ("searches", 1)),
    "ebay": (("queries", 1),),
}
_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (1-based) of ``count``."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"2/3"`` -> Shard(2, 3); anything else is a ConfigError naming ``--shard``."""
        match = _SPEC.match(text or "")
        if not match:
            raise ConfigError(f"--shard: expected K/N such as 2/3, got {text!r}")
        index, count = int(match[1]), int(match[2])
        if not 1 <= index <= count:
            raise ConfigError(f"--shard: K must be between 1 and N, got {text!r}")
        return cls(index, count)

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def owns(self, key: str) -> bool:
        """Whether the unit ``key`` is this shard's work."""
        digest = hashlib.sha256(key.encode()).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index - 1


def shard_options(
    provider: Provider, options: Mapping[str, Any], shard: Shard
) -> dict[str, Any] | None:
    """``provider``'s options for this shard, or None when none of its work is this shard's."""
    hook = getattr(provider, "shard_options", None)
    if callable(hook):
        return hook(dict(options), shard.index, shard.count)
    return split_lists(provider.name, options, BUILTIN_SPLITS.get(provider.name, ()), shard)


def split_lists(
    name: str,
    options: Mapping[str, Any],
    lists: Sequence[tuple[str, int]],
    shard: Shard,
) -> dict[str, Any] | None:
    """Keep, of each list option in ``lists``, the chunks this shard owns.

    A provider with nothing in those lists is one unit (keyed by its name), so its own
    error ("nothing to fetch") still shows up, in exactly one shard.
    """
    chunks = {option: _chunks(options.get(option) or [], size) for option, size in lists}
    if not any(chunks.values()):
        return dict(options) if shard.owns(name) else None
    kept = {
        option: [
            item
            for chunk in option_chunks
            if shard.owns(f"{name}/{option}/{json.dumps(chunk, sort_keys=True, default=str)}")
            for item in chunk
        ]
        for option, option_chunks in chunks.items()
    }
    if not any(kept.values()):
        return None
    return {**options, **kept}


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    if not isinstance(items, list):
        return []  # the provider's own validation reports a wrong type
    return [items[start : start + size] for start in range(0, len(items), max(size, 1))]
