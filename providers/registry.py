"""Finding providers: the built-in ones, then plug-ins from the ``pipeline.providers`` group.

Kept apart from the contract (``providers.base``) so that a provider module can
import the contract without importing every other provider.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from pipelines.errors import ConfigError
from providers.base import Provider

ENTRY_POINT_GROUP = "pipeline.providers"


def builtin_providers() -> list[type[Provider]]:
    """The providers shipped with the pipeline, in run order."""
    from providers.amazon import AmazonProvider
    from providers.amazon_sp import AmazonSpProvider
    from providers.ebay import EbayProvider
    from providers.shopify import ShopifyProvider

    return [ShopifyProvider, AmazonProvider, EbayProvider, AmazonSpProvider]


def load_providers() -> dict[str, Provider]:
    """Built-in providers, then those registered in the ``pipeline.providers`` entry-point group."""
    found: dict[str, Provider] = {}
    for cls in builtin_providers():
        found[cls.name] = cls()
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            cls = ep.load()
        except Exception as exc:  # a broken plug-in must not take the pipeline down
            raise ConfigError(
                f"provider plug-in {ep.name!r} ({ep.value}) failed to import: {exc}"
            ) from exc
        if not (isinstance(cls, type) and issubclass(cls, Provider)):
            raise ConfigError(f"provider plug-in {ep.name!r} ({ep.value}) is not a Provider class")
        if cls.name in found:
            raise ConfigError(f"provider plug-in {ep.name!r} reuses the name {cls.name!r}")
        found[cls.name] = cls()
    return found
