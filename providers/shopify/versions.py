"""The GraphQL Admin API version in use against Shopify's support window, and deprecations.

Shopify releases a version every quarter (YYYY-01, -04, -07, -10, on the first of the month)
and supports each for at least 12 months, so support for ``YYYY-MM`` ends on the first of the
same month a year later (2026-01 until 2027-01-01): https://shopify.dev/docs/api/usage/versioning.
Past that date Shopify silently serves the oldest supported version instead, which can change
what a query returns; so a run fails on an unsupported version and warns 90 days ahead.
``unstable`` has no support window. ``X-Shopify-API-Deprecated-Reason`` names the deprecated
fields a query used (since 2025-04; a documentation URL before).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from providers.shopify.settings import (
    API_VERSION_ENV,
    RELEASE_MONTHS,
    SUPPORT_MONTHS,
    VERSION_WARNING_DAYS,
)

OK, WARNING, FAILURE = "ok", "warning", "failure"


@dataclass(frozen=True)
class VersionCheck:
    """Where a version stands on a given day: ok, warning or failure, and why."""

    level: str
    message: str


def release_date(version: str) -> date:
    """The day Shopify released ``YYYY-MM`` (the first of that month)."""
    year, month = (int(part) for part in version.split("-"))
    return date(year, month, 1)


def support_ends(version: str) -> date:
    """The first day ``version`` is no longer supported."""
    released = release_date(version)
    months = released.month - 1 + SUPPORT_MONTHS
    return date(released.year + months // 12, months % 12 + 1, 1)


def newest_stable(today: date) -> str:
    """The latest version released on or before ``today``."""
    month = max(m for m in RELEASE_MONTHS if m <= today.month)
    return f"{today.year}-{month:02d}"


def check_version(
    version: str, today: date, warning_days: int = VERSION_WARNING_DAYS
) -> VersionCheck:
    """The verdict on ``version`` (``YYYY-MM`` or ``unstable``) on ``today``."""
    if version == "unstable":
        return VersionCheck(OK, "API unstable: no support window (it changes without notice)")
    released, ends = release_date(version), support_ends(version)
    newest = newest_stable(today)
    if today < released:
        return VersionCheck(OK, f"API {version}: a release candidate until {released}")
    left = (ends - today).days
    if left <= 0:
        return VersionCheck(
            FAILURE,
            f"shopify: API version {version} is past its end of support ({ends}; each "
            f"version is supported 12 months) and Shopify serves another in its place: set "
            f"{API_VERSION_ENV} to {newest} (the newest stable) and check the release notes",
        )
    if left <= warning_days:
        return VersionCheck(
            WARNING,
            f"shopify: API version {version} is supported until {ends} ({left} days left); "
            f"set {API_VERSION_ENV} to {newest} (the newest stable) before then",
        )
    return VersionCheck(OK, f"API {version}: supported until {ends} ({left} days left)")


def deprecation_message(reason: str, what: str) -> str:
    """The warning for one ``X-Shopify-API-Deprecated-Reason`` value."""
    return (
        f"shopify {what}: Shopify reports deprecated fields in use: {reason[:300]} "
        "(X-Shopify-API-Deprecated-Reason); they may stop working in a later API version"
    )
