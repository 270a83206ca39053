"""What doctor says about the credentials: their kind, the token's life, the scopes granted."""

from __future__ import annotations

from collections.abc import Iterable

from pipelines.net.oauth import ClientCredentialsToken, TokenSource
from providers.shopify.settings import (
    ACCESS_TOKEN_ENV,
    ALL_ORDERS_SCOPE,
    CLIENT_ID_ENV,
    CLIENT_SECRET_ENV,
    DATASET_SCOPES,
    DATASETS,
)


def needed_scopes(datasets: Iterable[str] = DATASETS) -> list[str]:
    """The access scopes the datasets need, in declaration order, each once."""
    return list(dict.fromkeys(scope for name in datasets for scope in DATASET_SCOPES[name]))


def missing_scopes(granted: Iterable[str | None], datasets: Iterable[str] = DATASETS) -> list[str]:
    """The needed scopes not granted; ``write_x`` grants ``read_x`` too."""
    have = {scope for scope in granted if scope}
    have |= {"read_" + scope.removeprefix("write_") for scope in have if scope.startswith("write_")}
    return [scope for scope in needed_scopes(datasets) if scope not in have]


def scopes_fact(granted: Iterable[str | None], datasets: Iterable[str] = DATASETS) -> str:
    """``scopes: granted read_products; needed read_products (products): all granted``."""
    granted = [scope for scope in granted if scope]
    needed = ", ".join(needed_scopes(datasets))
    missing = missing_scopes(granted, datasets)
    verdict = "all granted" if not missing else f"missing {', '.join(missing)}"
    return (
        f"scopes: granted {', '.join(granted) or 'none'}; needed {needed} "
        f"({', '.join(datasets)}): {verdict}"
    )


def orders_window_fact(granted: Iterable[str | None], datasets: Iterable[str]) -> str | None:
    """What the orders pull can reach: all orders, or only the last 60 days without
    ``read_all_orders``; None when orders are not pulled."""
    if "orders" not in datasets:
        return None
    if ALL_ORDERS_SCOPE in set(granted):
        return f"orders: {ALL_ORDERS_SCOPE} granted, every order is readable"
    return (
        f"orders: only the last 60 days are readable ({ALL_ORDERS_SCOPE} not granted; "
        "Shopify grants it on request, docs/orders.md)"
    )


def credentials_fact(tokens: TokenSource, now: float) -> str:
    """Which kind of credentials is in use and, for a minted token, how long it still lives."""
    if not isinstance(tokens, ClientCredentialsToken) or tokens.current is None:
        return f"credentials: a legacy app's access token ({ACCESS_TOKEN_ENV}; it does not expire)"
    left = int(tokens.current.remaining(now))
    return (
        f"credentials: client credentials ({CLIENT_ID_ENV} + {CLIENT_SECRET_ENV}); "
        f"token expires in {left // 3600} h {left % 3600 // 60:02d} min"
    )
