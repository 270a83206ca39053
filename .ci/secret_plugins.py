"""detect-secrets plugins for the credential shapes this project handles.

detect-secrets ships detectors for AWS access keys and classic GitHub tokens; these add the
shapes it does not know: Shopify tokens and secrets, eBay client secrets, client ids and OAuth
tokens, Amazon Login-with-Amazon credentials, fine-grained GitHub tokens, and any value
assigned to one of the pipeline's secret variables (which catches Cognito-style Amazon
Creators credentials, whose bare shape is too plain to match on its own), and Vault tokens.
``is_secret_store_reference`` is a filter: a ``[secrets.refs]`` reference such as
``"aws:prod/shopify#access_token"`` names where a secret lives and is not one. The baseline
(``.secrets.baseline``) names this file, so ``.ci/scan_secrets.py``, ``make lint`` and the
pre-commit hook all load it.
"""

from __future__ import annotations

import re

from detect_secrets.plugins.base import RegexBasedDetector

# The environment variables whose values are credentials (the providers' secret settings, the
# object-store lake's keys, and the tokens of GitHub and Vault).
SECRET_VARIABLES = (
    "SHOPIFY_ACCESS_TOKEN",
    "SHOPIFY_CLIENT_SECRET",
    "AMAZON_CREATORS_CREDENTIAL_ID",
    "AMAZON_CREATORS_CREDENTIAL_SECRET",
    "EBAY_CLIENT_ID",
    "EBAY_CLIENT_SECRET",
    "EBAY_OAUTH_TOKEN",
    "LAKE_ACCESS_KEY_ID",
    "LAKE_SECRET_ACCESS_KEY",
    "AWS_SECRET_ACCESS_KEY",
    "GITHUB_TOKEN",
    "VAULT_TOKEN",
)
_NAMES = "|".join(SECRET_VARIABLES)
_REFERENCE = re.compile(r"(?:aws|vault):\S+|[\w.-]+(?:/[\w.-]+)+#[\w.-]+")
_VALUE = r"([A-Za-z0-9][A-Za-z0-9._~+/=^#%-]{11,})"  # a literal, not ${{ … }} or $NAME


class ShopifyTokenDetector(RegexBasedDetector):
    """Shopify Admin API tokens (shpat_), app secrets (shpss_), custom and private app tokens."""

    secret_type = "Shopify Token"
    denylist = (re.compile(r"\bshp(?:at|ss|ca|pa)_[A-Za-z0-9]{20,}"),)


class EbayCredentialDetector(RegexBasedDetector):
    """eBay client secrets (PRD-/SBX-), client ids (…-PRD-…) and OAuth tokens (v^1.1#…)."""

    secret_type = "eBay Credential"
    denylist = (
        re.compile(r"\b(?:PRD|SBX)-[0-9a-fA-F]{8,}(?:-[0-9a-fA-F]{4,}){3,}"),
        re.compile(r"\b[A-Za-z0-9]+-[A-Za-z0-9]+-(?:PRD|SBX)-[0-9a-fA-F]{8,}-[0-9a-fA-F]{8,}"),
        re.compile(r"v\^1\.1#[A-Za-z0-9^#=_+/|%*.-]{40,}"),
    )


class AmazonCredentialDetector(RegexBasedDetector):
    """Login-with-Amazon client ids and secrets, as issued for Creators API 3.x credentials."""

    secret_type = "Amazon Credential"
    denylist = (
        re.compile(r"\bamzn1\.application-oa2-client\.[0-9a-fA-F]{32}"),
        re.compile(r"\bamzn1\.oa2-cs\.v1\.[0-9a-fA-F]{64}"),
    )


class GitHubFineGrainedTokenDetector(RegexBasedDetector):
    """Fine-grained personal access tokens (github_pat_); classic ones are built in."""

    secret_type = "GitHub Fine-grained Token"
    denylist = (re.compile(r"\bgithub_pat_[A-Za-z0-9_]{40,}"),)


class VaultTokenDetector(RegexBasedDetector):
    """HashiCorp Vault service and batch tokens (hvs., hvb.)."""

    secret_type = "Vault Token"
    denylist = (re.compile(r"\bhv[sb]\.[A-Za-z0-9_-]{24,}"),)


class SecretVariableDetector(RegexBasedDetector):
    """A literal value assigned to one of ``SECRET_VARIABLES`` (.env, YAML, TOML, dicts).

    References such as ``${{ secrets.X }}`` or ``$X`` do not start with a letter or digit and
    are left alone; values shorter than 12 characters are too short to be a real credential.
    """

    secret_type = "Pipeline Secret Variable"
    denylist = (
        # "NAME": "value" (JSON, dicts): a quoted name takes only a quoted value.
        re.compile(rf"[\"'](?:{_NAMES})[\"']\s*[:=]\s*[\"']{_VALUE}"),
        # NAME=value, NAME: value, NAME = "value" (.env, YAML, TOML, keyword arguments).
        re.compile(rf"(?<![\"'\w])(?:{_NAMES})\s*[:=]\s*[\"']?{_VALUE}"),
    )


def is_secret_store_reference(secret: str) -> bool:
    """A detect-secrets filter: ``store:path#key`` or ``mount/path#key`` is a reference."""
    return bool(_REFERENCE.fullmatch(secret))
