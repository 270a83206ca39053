"""The read-only HTTP API over the lake (FastAPI): products, their history, orders, runs,
anomalies.

``create_app(reader, api_key)`` builds the app; ``run_pipeline.py serve`` runs it with uvicorn.
Every route reads through ``LakeReader`` (fixed SQL, bound parameters, a timeout per query) and
pages are capped at ``MAX_PAGE`` rows. When an API key is set (``PIPELINE_API_KEY``), every
route but ``/health`` (and the OpenAPI description) needs it in the ``X-API-Key`` header,
compared in constant time. Responses are JSON: money as exact decimal strings, times in ISO 8601
UTC, provider text as data (clients escape it where they render it).
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request, Security
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from pydantic import BaseModel

from pipelines.errors import PipelineError
from pipelines.net.secrets import mask, register_secret
from pipelines.ops.lake_reads import (
    BadCursorError,
    LakeReader,
    OrderFilter,
    ProductFilter,
    QueryTimeoutError,
)

API_KEY_ENV = "PIPELINE_API_KEY"
API_KEY_HEADER = "X-API-Key"
DEFAULT_PAGE, MAX_PAGE = 100, 500

key_header = APIKeyHeader(
    name=API_KEY_HEADER, auto_error=False, description=f"the key the server has in {API_KEY_ENV}"
)


class Page(BaseModel):
    """Rows and the cursor of the next page (null on the last page)."""

    items: list[dict[str, Any]]
    next_cursor: str | None = None


class Rows(BaseModel):
    items: list[dict[str, Any]]


def reader(request: Request) -> LakeReader:
    return request.app.state.reader


def require_key(request: Request, given: str | None = Security(key_header)) -> None:
    """401 unless the API has no key or ``X-API-Key`` matches it (constant-time compare)."""
    expected = request.app.state.api_key
    if expected is None:
        return
    if given is None or not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(401, f"missing or wrong {API_KEY_HEADER} header",
                            headers={"WWW-Authenticate": "ApiKey"})  # fmt: skip


api = APIRouter(dependencies=[Depends(require_key)])
Lake = Annotated[LakeReader, Depends(reader)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"rows per page, at most {MAX_PAGE}")]
Cursor = Annotated[
    str | None, Query(max_length=1000, description="the previous page's next_cursor")
]
Text = Annotated[str | None, Query(max_length=200)]
Price = Annotated[Decimal | None, Query(allow_inf_nan=False)]
Key = Annotated[str, Path(max_length=1000)]
Moment = Annotated[datetime | None, Query(description="ISO 8601; UTC when no offset is given")]


@api.get("/products", response_model=Page, summary="The current catalog, one page")
def products(lake: Lake, source: Text = None, availability: Text = None, min_price: Price = None,
             max_price: Price = None, q: Text = None, limit: Limit = DEFAULT_PAGE,
             cursor: Cursor = None) -> Page:  # fmt: skip
    """Filters: provider (``source``), ``availability``, a price range, text in the title, brand
    or sku (``q``). Ordered by (source, source_id); ``cursor`` continues where a page ended."""
    filters = ProductFilter(source, availability, min_price, max_price, q or None)
    items, next_cursor = lake.products(filters, limit, cursor)
    return Page(items=items, next_cursor=next_cursor)


# The id may hold slashes (Shopify's gid://shopify/ProductVariant/…): send it URL-encoded.
@api.get("/products/{source}/{source_id:path}/history", response_model=Rows,
         summary="Every committed row of one product, oldest first")  # fmt: skip
def history(lake: Lake, source: Key, source_id: Key, limit: Limit = DEFAULT_PAGE) -> Rows:
    return Rows(items=lake.history(source, source_id, limit))


@api.get("/products/{source}/{source_id:path}", summary="One product as it is now")
def product(lake: Lake, source: Key, source_id: Key) -> dict[str, Any]:
    found = lake.product(source, source_id)
    if found is None:
        raise HTTPException(404, "no such product in the current catalog")
    return found


@api.get("/orders", response_model=Page, summary="The current orders, one page")
def orders(lake: Lake, source: Text = None, financial_status: Text = None,
           fulfillment_status: Text = None, currency: Text = None, created_from: Moment = None,
           created_to: Moment = None, limit: Limit = DEFAULT_PAGE, cursor: Cursor = None,
           ) -> Page:  # fmt: skip
    """Filters: provider (``source``), the statuses, ``currency``, placed at or after
    ``created_from`` and before ``created_to``. Ordered by (source, source_id); ``cursor``
    continues where a page ended. Orders hold no buyer data (docs/orders.md)."""
    filters = OrderFilter(source, financial_status, fulfillment_status, currency,
                          _utc(created_from), _utc(created_to))  # fmt: skip
    items, next_cursor = lake.orders(filters, limit, cursor)
    return Page(items=items, next_cursor=next_cursor)


def _utc(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment and moment.tzinfo is None else moment


@api.get("/orders/{source}/{source_id:path}", summary="One order as it is now, with its lines")
def order(lake: Lake, source: Key, source_id: Key) -> dict[str, Any]:
    found = lake.order(source, source_id)
    if found is None:
        raise HTTPException(404, "no such order in the lake")
    return found


@api.get("/runs", response_model=Page, summary="Recorded runs, newest first")
def runs(lake: Lake, limit: Limit = DEFAULT_PAGE, cursor: Cursor = None) -> Page:
    items, next_cursor = lake.runs(limit, cursor)
    return Page(items=items, next_cursor=next_cursor)


@api.get("/runs/{run_id}", summary="One run's whole record")
def run(lake: Lake, run_id: Key) -> dict[str, Any]:
    found = lake.run(run_id)
    if found is None:
        raise HTTPException(404, "no such run in the run log")
    return found


@api.get("/anomalies", response_model=Rows, summary="Warn and alert verdicts, newest run first")
def anomalies(lake: Lake, provider: Text = None, limit: Limit = DEFAULT_PAGE) -> Rows:
    return Rows(items=lake.anomalies(limit, provider))


def health(request: Request) -> JSONResponse:
    """Open to all: whether the lake's manifests and run log read (no detail given)."""
    try:
        request.app.state.reader.current()
    except Exception:  # whatever the storage raises, health only says unavailable
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ok"})


def create_app(lake: LakeReader, api_key: str | None) -> FastAPI:
    """The app over ``lake``; with ``api_key``, every route but /health needs it."""
    register_secret(api_key)
    app = FastAPI(
        title="Product lake (read-only)",
        description="The committed lake: current catalog, product history, runs, anomalies.",
    )
    app.state.reader, app.state.api_key = lake, api_key or None
    app.include_router(api)
    app.add_api_route("/health", health, methods=["GET"], summary="Liveness (no key needed)")
    app.add_exception_handler(QueryTimeoutError, _error(503))
    app.add_exception_handler(BadCursorError, _error(400))
    app.add_exception_handler(PipelineError, _error(503))
    return app


def _error(status: int) -> Any:
    def handle(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": mask(str(exc))}, status_code=status)

    return handle
