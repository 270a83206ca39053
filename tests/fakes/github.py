"""A fake GitHub REST API for one repository, served over HTTP on 127.0.0.1.

It speaks GitHub's wire format for what the project uses: issues (pull requests
appear in the issue list, as on GitHub), comments, labels, workflow runs,
artifacts and workflow enabling; ``per_page``/``page`` paging with ``Link``
headers; bearer tokens that carry a set of permissions (``issues:write``,
``actions:read``, …) as a workflow's ``permissions:`` block grants them, with
``403 Resource not accessible by integration`` when one is missing; rate-limit
403s with ``x-ratelimit-*`` headers; and artifact ``/zip`` downloads that
answer ``302`` to a single-use URL on a second server (a different origin, as
GitHub's blob storage is), or ``410`` once the artifact expired.
"""

from __future__ import annotations

import io
import itertools
import re
import secrets
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

ALL_PERMISSIONS = frozenset(
    {"contents:read", "issues:read", "issues:write", "actions:read", "actions:write"}
)
NOT_ACCESSIBLE = {"message": "Resource not accessible by integration", "status": "403"}


@dataclass
class SeenRequest:
    method: str
    path: str
    args: dict[str, str]
    headers: dict[str, str]
    body: Any = None


@dataclass
class FakeArtifact:
    id: int
    name: str
    run_id: int
    branch: str
    data: bytes
    created_at: str
    expired: bool = False

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "size_in_bytes": len(self.data),
            "expired": self.expired,
            "created_at": self.created_at,
            "workflow_run": {"id": self.run_id, "head_branch": self.branch},
        }


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    permission: str | None
    handler: Callable[..., Response]


@dataclass
class FakeState:
    labels: set[str] = field(default_factory=set)
    issues: list[dict[str, Any]] = field(default_factory=list)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)
    artifacts: list[FakeArtifact] = field(default_factory=list)
    enabled: list[str] = field(default_factory=list)


def zip_folder(folder: Path) -> bytes:
    """A folder's files as a zip, paths relative to it (what upload-artifact produces)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            zf.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


class FakeGitHub:
    """The fake; ``with FakeGitHub() as gh:`` starts both servers."""

    def __init__(
        self, repo: str = "octo/products", page_cap: int = 100, default_branch: str = "main"
    ) -> None:
        self.repo, self.page_cap, self.default_branch = repo, page_cap, default_branch
        self.bot = "github-actions[bot]"
        self.api = HTTPServer(host="127.0.0.1", port=0)
        self.blobs = HTTPServer(host="127.0.0.1", port=0)
        self._routes = self._build_routes()
        self.reset()

    def reset(self) -> None:
        """Forget every issue, run, artifact, token, request and fault (servers keep running)."""
        self.state = FakeState()
        self.tokens: dict[str, frozenset[str]] = {}
        self.token = self.issue_token(ALL_PERMISSIONS)
        self.requests: list[SeenRequest] = []
        self.faults: list[tuple[int, dict[str, str], Any]] = []
        self.blob_requests: list[SeenRequest] = []
        self._blob_keys: dict[str, bytes] = {}
        self._ids = itertools.count(1001)
        self._clock = itertools.count()
        self.clock: str | None = None  # ISO time that now() answers, when a test sets it

    # --- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> FakeGitHub:
        self.api.expect_request(re.compile(".*")).respond_with_handler(self._dispatch)
        self.blobs.expect_request(re.compile("/blob/.*")).respond_with_handler(self._blob)
        self.api.start()
        self.blobs.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for server in (self.api, self.blobs):
            server.clear()
            if server.is_running():
                server.stop()

    @property
    def url(self) -> str:
        return self.api.url_for("").rstrip("/")

    def env(self, token: str | None = None) -> dict[str, str]:
        return {
            "GITHUB_API_URL": self.url,
            "GITHUB_REPOSITORY": self.repo,
            "GITHUB_TOKEN": token or self.token,
        }

    # --- set-up -------------------------------------------------------------------------------

    def issue_token(self, permissions: frozenset[str] | set[str]) -> str:
        """A token granting ``permissions`` (write implies read)."""
        token = f"ghs_{secrets.token_hex(12)}"
        granted = set(permissions) | {p.replace(":write", ":read") for p in permissions}
        self.tokens[token] = frozenset(granted)
        return token

    def add_issue(
        self, title: str, body: str = "", labels: tuple[str, ...] = (), *, state: str = "open",
        pull_request: bool = False, author: str | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        self.state.labels.update(labels)
        issue = {
            "number": len(self.state.issues) + 1,
            "title": title,
            "body": body,
            "state": state,
            "labels": [{"name": name} for name in labels],
            "user": {"login": author or self.bot},
            "closed_at": self.now() if state == "closed" else None,
        }
        if pull_request:
            issue["pull_request"] = {"url": f"{self.url}/repos/{self.repo}/pulls/{issue['number']}"}
        self.state.issues.append(issue)
        return issue

    def add_comment(self, number: int, body: str, author: str | None = None) -> None:
        comment = {"id": next(self._ids), "body": body, "user": {"login": author or self.bot}}
        self.state.comments.setdefault(number, []).append(comment)

    def add_run(
        self, run_id: int, *, attempt: int = 1, branch: str = "main", conclusion: str = "success",
        event: str = "schedule", workflow: str = "pipeline.yml", head_repo: str | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        run = {
            "id": run_id, "run_attempt": attempt, "head_branch": branch, "status": "completed",
            "conclusion": conclusion, "event": event, "path": f".github/workflows/{workflow}",
            "workflow_id": sum(map(ord, workflow)), "repository": {"full_name": self.repo},
            "head_repository": {"full_name": head_repo or self.repo},
            "created_at": f"2026-11-{10 + len(self.state.runs):02d}T06:17:00Z",
        }  # fmt: skip
        self.state.runs.append(run)
        return run

    def add_artifact(
        self, name: str, run_id: int, data: bytes | Path, *, branch: str | None = None,
        expired: bool = False,
    ) -> FakeArtifact:  # fmt: skip
        """Attach an artifact (zip bytes, or a folder zipped as upload-artifact would); its
        branch is its run's, else ``main``."""
        run = next((r for r in self.state.runs if r["id"] == run_id), {"head_branch": "main"})
        branch = branch or run["head_branch"]
        payload = zip_folder(data) if isinstance(data, Path) else data
        created = time.gmtime(time.time() + next(self._clock))  # later artifacts are newer
        artifact = FakeArtifact(next(self._ids), name, run_id, branch, payload,
                                time.strftime("%Y-%m-%dT%H:%M:%SZ", created), expired)  # fmt: skip
        self.state.artifacts = [a for a in self.state.artifacts if
                                (a.name, a.run_id) != (name, run_id)] + [artifact]  # fmt: skip
        return artifact

    def now(self) -> str:
        """The fake's clock (``closed_at``): the real time unless a test set ``self.clock``."""
        return self.clock or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

    def secondary_rate_limit(self, times: int = 1, retry_after: int = 1) -> None:
        """Answer the next ``times`` requests with a 429 carrying ``retry-after`` (seconds)."""
        body = {"message": "You have exceeded a secondary rate limit."}
        self.faults += [(429, {"retry-after": str(retry_after)}, body)] * times

    def rate_limit(self, times: int = 1, reset_in: float = 2.0) -> None:
        """Answer the next ``times`` requests with a primary rate-limit 403."""
        headers = {
            "x-ratelimit-limit": "1000",
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": str(int(time.time() + reset_in)),
        }
        body = {"message": "API rate limit exceeded for installation ID 1."}
        self.faults += [(403, headers, body)] * times

    # --- dispatch -----------------------------------------------------------------------------

    def _build_routes(self) -> list[Route]:
        repo = re.escape(f"/repos/{self.repo}")
        table = [
            ("GET", "", None, self._repo_info),
            ("GET", "/issues", "issues:read", self._list_issues),
            ("POST", "/issues", "issues:write", self._create_issue),
            ("GET", r"/issues/(?P<number>\d+)/comments", "issues:read", self._list_comments),
            ("POST", r"/issues/(?P<number>\d+)/comments", "issues:write", self._create_comment),
            ("PATCH", r"/issues/(?P<number>\d+)", "issues:write", self._update_issue),
            ("GET", r"/labels/(?P<name>[^/]+)", "issues:read", self._get_label),
            ("POST", "/labels", "issues:write", self._create_label),
            ("GET", "/actions/artifacts", "actions:read", self._list_artifacts),
            ("GET", r"/actions/artifacts/(?P<id>\d+)/zip", "actions:read", self._zip),
            ("GET", r"/actions/runs/(?P<id>\d+)", "actions:read", self._get_run),
            ("GET", r"/actions/runs/(?P<id>\d+)/artifacts", "actions:read", self._run_artifacts),
            ("GET", r"/actions/workflows/(?P<wf>[^/]+)/runs", "actions:read", self._list_runs),
            ("PUT", r"/actions/workflows/(?P<wf>[^/]+)/enable", "actions:write", self._enable),
        ]
        return [Route(m, re.compile(f"^{repo}{p}$"), perm, h) for m, p, perm, h in table]

    def _dispatch(self, request: Request) -> Response:
        body = orjson.loads(request.data) if request.data else None
        seen = SeenRequest(request.method, request.path, dict(request.args.items()),
                           dict(request.headers.items()), body)  # fmt: skip
        self.requests.append(seen)
        if self.faults:
            status, headers, fault = self.faults.pop(0)
            return _json(status, fault, headers)
        auth = request.headers.get("Authorization", "")
        granted = self.tokens.get(auth.removeprefix("Bearer "))
        if granted is None:
            return _json(401, {"message": "Bad credentials", "status": "401"})
        for route in self._routes:
            match = route.pattern.match(request.path)
            if match and route.method == request.method:
                if route.permission and route.permission not in granted:
                    return _json(403, NOT_ACCESSIBLE)
                return route.handler(request, body, **match.groupdict())
        return _json(404, {"message": "Not Found", "status": "404"})

    def _page(self, request: Request, items: list[Any], key: str = "") -> Response:
        per_page = min(int(request.args.get("per_page", 30)), self.page_cap)
        page = int(request.args.get("page", 1))
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {}
        last = max(1, -(-len(items) // per_page))
        if page < last:
            query = {**request.args, "per_page": str(per_page)}
            link = f"{self.url}{request.path}?"
            next_url, last_url = (link + urlencode({**query, "page": n}) for n in (page + 1, last))
            headers["Link"] = f'<{next_url}>; rel="next", <{last_url}>; rel="last"'
        body = {"total_count": len(items), key: chunk} if key else chunk
        return _json(200, body, headers)

    # --- handlers -----------------------------------------------------------------------------

    def _repo_info(self, request: Request, body: Any) -> Response:
        return _json(200, {"full_name": self.repo, "default_branch": self.default_branch})

    def _list_issues(self, request: Request, body: Any) -> Response:
        state = request.args.get("state", "open")
        wanted = {n for n in request.args.get("labels", "").split(",") if n}
        items = [
            issue
            for issue in self.state.issues
            if state in ("all", issue["state"]) and wanted <= {lb["name"] for lb in issue["labels"]}
        ]
        return self._page(request, items[::-1])  # newest first, as GitHub sorts by default

    def _create_issue(self, request: Request, body: Any) -> Response:
        unknown = [name for name in body.get("labels", []) if name not in self.state.labels]
        if unknown:
            error = {"resource": "Label", "code": "invalid", "field": "labels", "value": unknown}
            return _json(422, {"message": "Validation Failed", "errors": [error]})
        issue = self.add_issue(body["title"], body.get("body", ""), tuple(body.get("labels", [])))
        return _json(201, issue)

    def _update_issue(self, request: Request, body: Any, number: str) -> Response:
        issue = next((i for i in self.state.issues if i["number"] == int(number)), None)
        if issue is None:
            return _json(404, {"message": "Not Found", "status": "404"})
        if body.get("state") not in (None, "open", "closed"):
            error = {"resource": "Issue", "code": "invalid", "field": "state"}
            return _json(422, {"message": "Validation Failed", "errors": [error]})
        if body.get("state") == "closed" and issue["state"] == "open":
            issue["closed_at"] = self.now()
        issue.update({k: body[k] for k in ("title", "body", "state", "state_reason") if k in body})
        return _json(200, issue)

    def _list_comments(self, request: Request, body: Any, number: str) -> Response:
        return self._page(request, self.state.comments.get(int(number), []))

    def _create_comment(self, request: Request, body: Any, number: str) -> Response:
        if not any(issue["number"] == int(number) for issue in self.state.issues):
            return _json(404, {"message": "Not Found"})
        self.add_comment(int(number), body["body"])
        return _json(201, self.state.comments[int(number)][-1])

    def _get_label(self, request: Request, body: Any, name: str) -> Response:
        if name in self.state.labels:
            return _json(200, {"name": name})
        return _json(404, {"message": "Not Found"})

    def _create_label(self, request: Request, body: Any) -> Response:
        if body["name"] in self.state.labels:
            error = {"resource": "Label", "code": "already_exists"}
            return _json(422, {"message": "Validation Failed", "errors": [error]})
        self.state.labels.add(body["name"])
        return _json(201, {"name": body["name"], "color": body.get("color")})

    def _list_artifacts(self, request: Request, body: Any) -> Response:
        name = request.args.get("name")
        items = [a.to_api() for a in self.state.artifacts if name in (None, a.name)]
        return self._page(request, items, key="artifacts")

    def _run_artifacts(self, request: Request, body: Any, id: str) -> Response:  # noqa: A002
        items = [a.to_api() for a in self.state.artifacts if a.run_id == int(id)]
        return self._page(request, items, key="artifacts")

    def _zip(self, request: Request, body: Any, id: str) -> Response:  # noqa: A002
        artifact = next((a for a in self.state.artifacts if a.id == int(id)), None)
        if artifact is None:
            return _json(404, {"message": "Not Found"})
        if artifact.expired:
            return _json(410, {"message": "Artifact has expired", "status": "410"})
        key = secrets.token_urlsafe(12)
        self._blob_keys[key] = artifact.data
        location = self.blobs.url_for(f"/blob/{key}") + "?sig=short-lived"
        return Response(status=302, headers={"Location": location})

    def _blob(self, request: Request) -> Response:
        self.blob_requests.append(SeenRequest(request.method, request.path, dict(request.args),
                                              dict(request.headers.items())))  # fmt: skip
        data = self._blob_keys.pop(request.path.removeprefix("/blob/"), None)
        if data is None:  # single use: a second GET of the same URL has expired
            return Response(b"<Error>AuthenticationFailed</Error>", status=403)
        return Response(data, status=200, content_type="application/zip")

    def _get_run(self, request: Request, body: Any, id: str) -> Response:  # noqa: A002
        run = next((r for r in self.state.runs if r["id"] == int(id)), None)
        return _json(200, run) if run else _json(404, {"message": "Not Found"})

    def _list_runs(self, request: Request, body: Any, wf: str) -> Response:
        args = request.args
        items = [
            run
            for run in self.state.runs[::-1]
            if run["path"].endswith(f"/{wf}")
            and args.get("branch") in (None, run["head_branch"])
            and args.get("status") in (None, run["status"], run["conclusion"])
        ]
        return self._page(request, items, key="workflow_runs")

    def _enable(self, request: Request, body: Any, wf: str) -> Response:
        self.state.enabled.append(wf)
        return Response(status=204)

    # --- assertions helpers -------------------------------------------------------------------

    def issues(self, label: str) -> list[dict[str, Any]]:
        return [i for i in self.state.issues if label in {lb["name"] for lb in i["labels"]}]


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body),
        status=f"{status} {HTTPStatus(status).phrase}",
        content_type="application/json",
        headers=headers or {},
    )
