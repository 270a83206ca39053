"""The secret scanner of ``make lint``: tokens in this project's shapes fail, fakes do not.

Every planted token is assembled at run time, so this file itself holds none of them.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCANNER = REPO / ".ci" / "scan_secrets.py"


def _load_scanner():
    """``.ci/scan_secrets.py`` as a module (``.ci`` is not an importable package name)."""
    spec = importlib.util.spec_from_file_location("scan_secrets", SCANNER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


new_secrets = _load_scanner().new_secrets
BASELINE = str(REPO / ".secrets.baseline")
HEX32 = "9f86d081884c7d659a2feaa0c55ad015"  # pragma: allowlist secret
SHOPIFY_TOKEN = "shpat_" + HEX32
EBAY_TOKEN = "v^1.1#i^1#p^1#r^0#I^3#f^0#t^" + "H4sIAAAAAAAAAOVYa2wUVRS" * 2

PLANTED = {
    "shopify admin token": (f'token = "{SHOPIFY_TOKEN}"', "Shopify Token"),
    "shopify app secret": ("SHOPIFY_SECRET=shpss_" + HEX32, "Shopify Token"),
    "shopify custom app": ("shpca_" + HEX32, "Shopify Token"),
    "ebay production secret": ("PRD-" + HEX32[:12] + "-a1b2-c3d4-e5f6-0718", "eBay Credential"),
    "ebay sandbox secret": ("SBX-" + HEX32[:12] + "-a1b2-c3d4-e5f6-0718", "eBay Credential"),
    "ebay client id": ("Acme-Pipeline-PRD-" + HEX32[:9] + "-" + HEX32[9:17], "eBay Credential"),
    "ebay oauth token": (EBAY_TOKEN, "eBay Credential"),
    "amazon lwa client id": ("amzn1.application-oa2-client." + HEX32, "Amazon Credential"),
    "amazon lwa secret": ("amzn1.oa2-cs.v1." + HEX32 * 2, "Amazon Credential"),
    "amazon cognito secret": (
        "AMAZON_CREATORS_CREDENTIAL_SECRET=" + "1q2w3e4r5t6y7u8i9o0p" * 2,
        "Pipeline Secret Variable",
    ),
    "amazon id in yaml": (
        "  AMAZON_CREATORS_CREDENTIAL_ID: " + "7abcdef2ghijk3lmnop4qrstu5",
        "Pipeline Secret Variable",
    ),
    "vault token": ("vault_token: hvs.CAESI" + HEX32, "Vault Token"),
    "aws access key": ("aws_key = 'AKIA" + "Q3ZJ5X2M7PLK4N8R'", "AWS Access Key"),
    "github classic token": ("ghp_" + HEX32 + "a1B2", "GitHub Token"),
    "github fine-grained": (
        "github_pat_" + "11ABCDEFG0" + "a1B2c3D4e5F6g7H8i9J0k1_" + HEX32 * 2,
        "GitHub Fine-grained Token",
    ),
}

CLEAN = "\n".join(
    [
        "SHOPIFY_ACCESS_TOKEN: ${{ secrets.SHOPIFY_ACCESS_TOKEN }}",
        'token = os.environ["SHOPIFY_ACCESS_TOKEN"]',
        'ENV = "EBAY_CLIENT_SECRET"',
        'fake = "shpat_wrong"',
        'SHOPIFY_ACCESS_TOKEN = "aws:prod/shopify#access_token"',
        'EBAY_CLIENT_SECRET = "secret/data/pipeline#ebay_client_secret"',
        "",
    ]
)


@pytest.mark.parametrize("case", PLANTED)
def test_each_token_shape_is_caught(case: str, tmp_path: Path) -> None:
    line, kind = PLANTED[case]
    planted = tmp_path / "planted.txt"
    planted.write_text(f"# config\n{line}\n")
    found = [(s.filename, s.line_number, s.type) for _, s in new_secrets(BASELINE, [str(planted)])]
    assert (str(planted), 2, kind) in found


def test_references_and_short_fakes_pass(tmp_path: Path) -> None:
    clean = tmp_path / "clean.txt"
    clean.write_text(CLEAN)
    assert not list(new_secrets(BASELINE, [str(clean)]))


def _scan(repo: Path) -> subprocess.CompletedProcess[str]:
    script = SCANNER
    return subprocess.run(
        [sys.executable, str(script), "--baseline", BASELINE],
        cwd=repo, capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_a_committed_shopify_token_fails_the_scan(tmp_path: Path) -> None:
    """The ``make lint`` path end to end: ``git ls-files`` of a repository, then the scan."""
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "settings.py").write_text('SHOP = "demo"\n')
    subprocess.run([*git, "-C", str(tmp_path), "add", "."], check=True)
    clean = _scan(tmp_path)
    assert clean.returncode == 0, clean.stderr

    (tmp_path / "settings.py").write_text(f'SHOP = "demo"\nTOKEN = "{SHOPIFY_TOKEN}"\n')
    leaked = _scan(tmp_path)
    assert leaked.returncode == 1
    assert "settings.py:2: Shopify Token" in leaked.stderr
    assert SHOPIFY_TOKEN not in leaked.stderr + leaked.stdout

    allowed = f'TOKEN = "{SHOPIFY_TOKEN}"  # pragma: allowlist secret\n'
    (tmp_path / "settings.py").write_text(allowed)
    assert _scan(tmp_path).returncode == 0


def test_an_unreadable_baseline_is_one_line_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "none.baseline"
    result = subprocess.run(
        [sys.executable, str(SCANNER), "--baseline", str(missing)],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "none.baseline" in result.stderr
