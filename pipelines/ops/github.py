"""A small GitHub REST client: issues, labels, workflow runs and artifacts.

It goes through the shared HTTP layer (timeouts, retries on 429/5xx with
``Retry-After``) and adds what is particular to GitHub:

- the base URL comes from ``GITHUB_API_URL`` (GitHub sets it; GHES and the
  tests' fake use it too), the token from ``GITHUB_TOKEN``/``GH_TOKEN`` or
  ``gh auth token``, and is registered as a secret at once;
- list endpoints are paged by their ``Link: <…>; rel="next"`` header;
- a 403 or 429 that is a rate limit (``x-ratelimit-remaining: 0`` or
  ``retry-after``) waits for the reset when that is near, and otherwise fails
  with a message that says when to try again
  (https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api);
- API calls follow redirects only within the API's origin (``pipelines.net.redirects``);
- an artifact's ``/zip`` answers with a redirect to a short-lived storage URL:
  the download streams to a file, and the storage URL is fetched with no
  ``Authorization`` header at all, over https (plain http only on loopback).
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from pipelines.errors import ConfigError, FatalProviderError
from pipelines.net.endpoints import check_endpoint
from pipelines.net.http import HttpClient, HttpResponse
from pipelines.net.redirects import storage_url
from pipelines.net.secrets import register_secret
from pipelines.net.stats import ProviderStats

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
PER_PAGE = 100
MAX_PAGES = 1000
DEFAULT_MAX_WAIT = 60.0  # seconds a command waits for a rate limit to reset
SECONDARY_LIMIT_WAIT = 60.0  # GitHub: "wait for at least one minute" when it gives no time
RATE_LIMIT_ATTEMPTS = 3
DOWNLOAD_TIMEOUT = (10.0, 120.0)
_REMOTE = re.compile(r"github\.com[:/](?P<repo>[^/\s]+/[^/\s]+?)(?:\.git)?/?$")

log = logging.getLogger("pipeline.github")


class ArtifactExpiredError(FatalProviderError):
    """The artifact is past its retention period: GitHub deleted its files (HTTP 410)."""


@dataclass(frozen=True)
class Artifact:
    """The fields of an artifact that this project uses."""

    id: int
    name: str
    expired: bool
    size: int
    created_at: str
    run_id: int | None
    head_branch: str | None

    @classmethod
    def from_api(cls, item: Mapping[str, Any]) -> Artifact:
        run = item.get("workflow_run") or {}
        return cls(
            id=int(item["id"]),
            name=str(item["name"]),
            expired=bool(item.get("expired")),
            size=int(item.get("size_in_bytes") or 0),
            created_at=str(item.get("created_at") or ""),
            run_id=run.get("id"),
            head_branch=run.get("head_branch"),
        )


def resolve_token(env: Mapping[str, str]) -> str:
    """``GITHUB_TOKEN`` (or ``GH_TOKEN``), else ``gh auth token`` when the gh CLI is logged in."""
    token = env.get("GITHUB_TOKEN") or env.get("GH_TOKEN") or _gh_token()
    if not token:
        raise ConfigError(
            "GITHUB_TOKEN is not set and `gh auth token` gave none: export a token with "
            "actions:read (artifacts) or issues:write (issues), or run `gh auth login`"
        )
    register_secret(token)
    return token


def _gh_token() -> str | None:
    gh = shutil.which("gh")
    if gh is None:
        return None
    try:
        done = subprocess.run(
            [gh, "auth", "token"], capture_output=True, text=True, timeout=15, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def resolve_repo(env: Mapping[str, str], repo: str | None = None) -> str:
    """``--repo``, else ``GITHUB_REPOSITORY``, else the ``origin`` remote of the checkout."""
    repo = repo or env.get("GITHUB_REPOSITORY") or _origin_repo()
    if not repo or not re.fullmatch(r"[\w.-]+/[\w.-]+", repo):
        raise ConfigError(
            f"--repo: expected OWNER/NAME, got {repo!r} (set GITHUB_REPOSITORY or pass --repo)"
            if repo
            else "--repo: no repository: pass --repo OWNER/NAME or set GITHUB_REPOSITORY"
        )
    return repo


def _origin_repo() -> str | None:
    try:
        done = subprocess.run(
            ["git", "remote", "get-url", "origin"],
            capture_output=True, text=True, timeout=10, check=False,
        )  # fmt: skip
    except OSError:
        return None
    match = _REMOTE.search(done.stdout.strip()) if done.returncode == 0 else None
    return match["repo"] if match else None


def rate_limit_wait(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds to wait before retrying a 403/429, or None when it is not a rate limit."""
    lower = {k.lower(): v for k, v in headers.items()}
    if lower.get("retry-after", "").strip().isdigit():
        return float(lower["retry-after"])
    if lower.get("x-ratelimit-remaining") == "0":
        reset = lower.get("x-ratelimit-reset", "")
        return max(0.0, float(reset) - now) + 1 if reset.isdigit() else SECONDARY_LIMIT_WAIT
    return None


def next_link(headers: Mapping[str, str]) -> str | None:
    """The ``rel="next"`` URL of a ``Link`` header, if any."""
    link = {k.lower(): v for k, v in headers.items()}.get("link", "")
    for part in requests.utils.parse_header_links(link):
        if part.get("rel") == "next":
            return part.get("url")
    return None


def extract_zip(archive: Path, dest: Path) -> list[Path]:
    """Unpack ``archive`` under ``dest``, refusing members that would land outside it."""
    root = dest.resolve()
    written = []
    if not zipfile.is_zipfile(archive):
        raise FatalProviderError(f"{archive.name}: not a zip archive")
    with zipfile.ZipFile(archive) as zf:
        for member in zf.infolist():
            target = (root / member.filename).resolve()
            if not target.is_relative_to(root) or _is_symlink(member):
                raise FatalProviderError(f"{archive.name}: unsafe member {member.filename!r}")
            if member.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(member) as source, target.open("wb") as sink:
                shutil.copyfileobj(source, sink)
            written.append(target)
    return written


def _is_symlink(member: zipfile.ZipInfo) -> bool:
    return (member.external_attr >> 16) & 0o170000 == 0o120000  # S_IFLNK in the Unix mode bits


class GitHubClient:
    """One repository's REST API, authenticated with one token."""

    def __init__(
        self,
        repo: str,
        token: str,
        api_url: str = DEFAULT_API_URL,
        *,
        max_wait: float = DEFAULT_MAX_WAIT,
        sleep: Callable[[float], None] = time.sleep,
        max_retries: int = 3,
        backoff_factor: float = 0.5,
    ) -> None:
        self.repo, self.api_url = repo, check_endpoint("GITHUB_API_URL", api_url)
        self.max_wait, self.sleep = max_wait, sleep
        self.http = HttpClient(
            "github", ProviderStats(), max_retries=max_retries, backoff_factor=backoff_factor,
            log=log,
        )  # fmt: skip
        self.headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
        }

    @classmethod
    def from_env(cls, env: Mapping[str, str], repo: str | None = None, **kw: Any) -> GitHubClient:
        """The client for ``GITHUB_API_URL`` and the repository and token the environment names."""
        api_url = env.get("GITHUB_API_URL") or DEFAULT_API_URL
        return cls(resolve_repo(env, repo), resolve_token(env), api_url, **kw)

    # ------------------------------------------------------------------ transport

    def request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        expected: tuple[int, ...] = (200,),
    ) -> HttpResponse:
        """One API call; waits out a short rate limit, fails clearly on a long one."""
        url = path if path.startswith(("http://", "https://")) else self.api_url + path
        for _ in range(RATE_LIMIT_ATTEMPTS):
            response = self.http.request(
                method, url, what=what, params=params, json_body=json_body,
                headers=self.headers, expected=(*expected, 403, 429),
            )  # fmt: skip
            if response.status in expected:
                return response
            wait = rate_limit_wait(response.headers, time.time())
            if wait is None:
                raise self._forbidden(response, what)
            if wait > self.max_wait:
                resets = datetime.fromtimestamp(time.time() + wait, UTC).strftime("%H:%M:%S")
                raise FatalProviderError(
                    f"GitHub API rate limit reached during {what}: it resets at {resets} UTC, "
                    f"in {wait:.0f} s (more than the {self.max_wait:.0f} s this command waits); "
                    "try again after that"
                )
            log.warning("GitHub rate limit during %s: waiting %.0f s", what, wait)
            self.sleep(wait)
        raise FatalProviderError(f"GitHub API rate limit during {what} did not lift after waiting")

    def _forbidden(self, response: HttpResponse, what: str) -> FatalProviderError:
        error = self.http.status_error(response, what, HTTPStatus(response.status).phrase)
        return FatalProviderError(
            f"{error} (is the workflow token missing a permission? see docs/github-actions.md)"
        )

    def paginate(
        self, path: str, *, what: str, params: Mapping[str, Any] | None = None, key: str = ""
    ) -> Iterator[dict[str, Any]]:
        """Every item of a list endpoint, following ``Link: rel="next"`` page by page.

        ``key`` names the list inside a wrapped answer (``{"artifacts": [...]}``).
        """
        url: str | None = self.api_url + path
        query: Mapping[str, Any] | None = {"per_page": PER_PAGE, **(params or {})}
        seen: set[str] = set()
        for page in range(1, MAX_PAGES + 1):
            response = self.request("GET", url, what=f"{what} page {page}", params=query)
            body = response.json(f"GitHub {what} page {page}")
            yield from body[key] if key else body
            url, query = next_link(response.headers), None
            if url is None:
                return
            if url in seen or not url.startswith(self.api_url):
                raise FatalProviderError(f"GitHub {what}: bad next page link {url!r}")
            seen.add(url)

    def _repo_path(self, suffix: str) -> str:
        return f"/repos/{self.repo}{suffix}"

    # ------------------------------------------------------------------ issues and labels

    def list_issues(self, labels: str, state: str = "open") -> Iterator[dict[str, Any]]:
        """Issues carrying every label in ``labels`` (comma-separated); pull requests skipped."""
        params = {"state": state, "labels": labels}
        for item in self.paginate(self._repo_path("/issues"), what="list issues", params=params):
            if "pull_request" not in item:
                yield item

    def issue_comments(self, number: int) -> Iterator[dict[str, Any]]:
        return self.paginate(self._repo_path(f"/issues/{number}/comments"),
                             what=f"comments of issue #{number}")  # fmt: skip

    def create_issue(self, title: str, body: str, labels: list[str]) -> dict[str, Any]:
        response = self.request(
            "POST", self._repo_path("/issues"), what="create issue",
            json_body={"title": title, "body": body, "labels": labels}, expected=(201,),
        )  # fmt: skip
        return response.json("GitHub create issue")

    def add_comment(self, number: int, body: str) -> dict[str, Any]:
        response = self.request(
            "POST", self._repo_path(f"/issues/{number}/comments"),
            what=f"comment on issue #{number}", json_body={"body": body}, expected=(201,),
        )  # fmt: skip
        return response.json("GitHub add comment")

    def update_issue(self, number: int, **fields: Any) -> dict[str, Any]:
        """Change an issue's ``body``, ``state`` (``open``/``closed``), ``state_reason``…"""
        response = self.request(
            "PATCH", self._repo_path(f"/issues/{number}"), what=f"update issue #{number}",
            json_body=fields,
        )  # fmt: skip
        return response.json("GitHub update issue")

    def ensure_label(self, name: str, color: str, description: str) -> bool:
        """Create label ``name`` unless it exists; True when it was created."""
        path = self._repo_path(f"/labels/{requests.utils.quote(name, safe='')}")
        if self.request("GET", path, what=f"label {name}", expected=(200, 404)).status == 200:
            return False
        body = {"name": name, "color": color, "description": description}
        response = self.request("POST", self._repo_path("/labels"), what=f"create label {name}",
                                json_body=body, expected=(201, 422))  # fmt: skip
        return response.status == 201  # 422: another run created it in the meantime

    # ------------------------------------------------------------------ actions

    def default_branch(self) -> str:
        body = self.request("GET", self._repo_path(""), what="repository").json("GitHub repo")
        return str(body["default_branch"])

    def workflow_runs(
        self, workflow: str, *, status: str = "completed", branch: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Runs of ``workflow`` (file name or id), newest first."""
        params = {"status": status, **({"branch": branch} if branch else {})}
        path = self._repo_path(f"/actions/workflows/{workflow}/runs")
        return self.paginate(path, what=f"runs of {workflow}", params=params, key="workflow_runs")

    def workflow_run(self, run_id: int) -> dict[str, Any]:
        path = self._repo_path(f"/actions/runs/{run_id}")
        return self.request("GET", path, what=f"run {run_id}").json(f"GitHub run {run_id}")

    def run_artifacts(self, run_id: int) -> list[Artifact]:
        path = self._repo_path(f"/actions/runs/{run_id}/artifacts")
        items = self.paginate(path, what=f"artifacts of run {run_id}", key="artifacts")
        return [Artifact.from_api(item) for item in items]

    def artifacts(self, name: str) -> list[Artifact]:
        """Every artifact of the repository called ``name``, newest first."""
        items = self.paginate(self._repo_path("/actions/artifacts"), what=f"artifacts {name}",
                              params={"name": name}, key="artifacts")  # fmt: skip
        return sorted((Artifact.from_api(i) for i in items), key=lambda a: a.created_at,
                      reverse=True)  # fmt: skip

    def download_artifact(self, artifact: Artifact, dest: Path) -> Path:
        """Stream the artifact's zip to ``dest``; ``ArtifactExpiredError`` when it is gone."""
        what = f"artifact {artifact.name} ({artifact.id})"
        if artifact.expired:
            raise ArtifactExpiredError(f"{what} has expired (past its retention days)")
        url = self.api_url + self._repo_path(f"/actions/artifacts/{artifact.id}/zip")
        with self._open_zip(url) as raw:
            if raw.status_code == 410:
                raise ArtifactExpiredError(f"{what} has expired (410 Gone)")
            if raw.status_code != 200:
                error = self.http.status_error(
                    HttpResponse(raw.status_code, dict(raw.headers), raw.content), what, raw.reason
                )
                raise error
            dest.parent.mkdir(parents=True, exist_ok=True)
            with dest.open("wb") as sink:
                for chunk in raw.iter_content(1 << 20):
                    sink.write(chunk)
        log.info("downloaded %s from %s", what, urlsplit(raw.url).hostname)
        return dest

    def _open_zip(self, url: str) -> requests.Response:
        """The artifact's zip, streamed: the API answers with a redirect to a short-lived
        storage URL, which is fetched with no credential at all (https, or http on loopback)."""
        get = partial(self.http.session.get, stream=True, timeout=DOWNLOAD_TIMEOUT,
                      allow_redirects=False)  # fmt: skip
        raw = get(url, headers=self.headers)
        if not raw.is_redirect:
            return raw
        raw.close()
        return get(storage_url("github artifact download", url, raw.headers["Location"]))
