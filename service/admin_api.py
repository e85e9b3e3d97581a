"""The admin HTTP API (Starlette), mounted by the service at ``/admin``; admin keys only.

Keys are checked by `service.auth.KeyStore` (``Authorization: Bearer <key>`` or
``X-API-Key``); a key without the admin role gets 403. Bodies are JSON, bad input is a 4xx with
``{"error": ...}``, and the blocking work (embedding, the store's fsyncs) runs in a worker
thread so screening requests are never held up by the event loop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from model.entry_rows import check_row
from model.runtime.blocklist_store import UnknownEntryError
from model.runtime.catalog import CatalogError
from model.schema import Listing
from model.validation import MAX_INT64
from service.auth import KeyStore
from service.live_screening import MAX_LISTINGS_PER_BATCH, LiveScreening
from service.review.web import SecurityHeaders, check_fields, query_int, read_json, require

MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_ENTRIES_PER_CHANGE = 1000
Handler = Callable[[Request], Awaitable[Response]]


async def _json(request: Request) -> dict[str, Any]:
    return await read_json(request, optional=True, limit=MAX_BODY_BYTES)


def _reason(data: dict[str, Any], request: Request, required: bool) -> str:
    reason = data.get("reason", request.query_params.get("reason", ""))
    if not isinstance(reason, str):
        raise HTTPException(400, "reason must be a string")
    if required and not reason.strip():
        raise HTTPException(400, "a reason is required (JSON field or ?reason=)")
    return reason.strip()


def create_admin_app(
    get_admin: Callable[[], LiveScreening | None], get_keys: Callable[[], KeyStore]
) -> Starlette:
    def admin() -> LiveScreening:
        found = get_admin()
        if found is None:
            raise HTTPException(503, "the model bundle is still loading", {"Retry-After": "2"})
        return found

    async def put_entries(request: Request) -> Response:
        who = require(request, get_keys, "admin")
        data = await _json(request)
        check_fields(data, {"entries", "reason"}, {"entries"})
        raw = data["entries"]
        if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_ENTRIES_PER_CHANGE:
            raise HTTPException(400, f"entries must be a list of 1 to {MAX_ENTRIES_PER_CHANGE}")
        entries, problems = [], []
        for i, row in enumerate(raw):
            if not isinstance(row, dict):
                problems.append(f"entries[{i}]: not an object")
                continue
            errors, entry = check_row(row)
            problems += [f"entries[{i}]: {e}" for e in errors]
            if entry is not None:
                entries.append(entry)
        if problems:
            raise HTTPException(400, "; ".join(problems[:20]))
        reason = _reason(data, request, required=False)
        try:
            out = await run_in_threadpool(admin().upsert, entries, who.name, reason)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        return JSONResponse(out.to_dict())

    async def delete_entry(request: Request) -> Response:
        who = require(request, get_keys, "admin")
        data = await _json(request)
        check_fields(data, {"reason"})
        reason = _reason(data, request, required=True)
        entry_id = request.path_params["entry_id"]
        try:
            out = await run_in_threadpool(admin().remove, [entry_id], who.name, reason)
        except UnknownEntryError as exc:
            raise HTTPException(404, str(exc)) from None
        return JSONResponse(out.to_dict())

    async def get_entry(request: Request) -> Response:
        require(request, get_keys, "admin")
        found = await run_in_threadpool(admin().entry, request.path_params["entry_id"])
        if found is None:
            raise HTTPException(404, f"no blocklist entry {request.path_params['entry_id']!r}")
        return JSONResponse(found)

    async def list_entries(request: Request) -> Response:
        require(request, get_keys, "admin")
        status = request.query_params.get("status") or None
        if status not in (None, "active", "removed"):
            raise HTTPException(400, "status must be active or removed")
        return JSONResponse({"records": await run_in_threadpool(admin().records, status)})

    async def post_listings(request: Request) -> Response:
        require(request, get_keys, "admin")
        data = await _json(request)
        check_fields(data, {"listings"}, {"listings"})
        raw = data["listings"]
        if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_LISTINGS_PER_BATCH:
            raise HTTPException(400, f"listings must be a list of 1 to {MAX_LISTINGS_PER_BATCH}")
        listings = []
        for i, row in enumerate(raw):
            try:
                listing = Listing.from_dict(row)
            except (ValueError, TypeError) as exc:
                raise HTTPException(400, f"listings[{i}]: {exc}") from None
            if not listing.listing_id:
                raise HTTPException(400, f"listings[{i}]: listing_id is required in the catalogue")
            listings.append(listing)
        try:
            result = await run_in_threadpool(admin().add_listings, listings)
        except CatalogError as exc:
            raise HTTPException(409, str(exc)) from None
        return JSONResponse(vars(result))

    async def delete_listing(request: Request) -> Response:
        require(request, get_keys, "admin")
        n = await run_in_threadpool(admin().remove_listings, [request.path_params["listing_id"]])
        if not n:
            raise HTTPException(404, "no live catalogue listing with that listing_id")
        return JSONResponse({"removed": n})

    async def catalog_info(request: Request) -> Response:
        require(request, get_keys, "admin")
        return JSONResponse(await run_in_threadpool(admin().catalog_info))

    async def post_sweep(request: Request) -> Response:
        require(request, get_keys, "admin")
        entry_id = request.path_params["entry_id"]
        try:
            sweep_id = await run_in_threadpool(admin().request_sweep, entry_id, True)
        except LookupError as exc:
            raise HTTPException(404, str(exc)) from None
        if sweep_id is None:
            raise HTTPException(409, "no catalogue is registered; POST /admin/catalog/listings")
        return JSONResponse({"sweep_id": sweep_id, "entry_id": entry_id}, status_code=202)

    async def get_sweep(request: Request) -> Response:
        require(request, get_keys, "admin")
        entry_id = request.path_params["entry_id"]
        found = await run_in_threadpool(admin().sweep_status, entry_id)
        if found is None:
            raise HTTPException(404, f"no sweep for {entry_id!r}")
        return JSONResponse(found)

    async def list_hits(request: Request) -> Response:
        require(request, get_keys, "admin")
        q = request.query_params
        decision = q.get("decision") or None
        if decision not in (None, "block", "review"):
            raise HTTPException(400, "decision must be block or review")
        after = query_int(request, "after", 0, 0, MAX_INT64)
        limit = query_int(request, "limit", 100, 1, 1000)
        hits = await run_in_threadpool(admin().sweeps.hits, decision, after, limit)
        return JSONResponse({"hits": [h.to_dict() for h in hits]})

    routes = [
        Route("/entries", list_entries, methods=["GET"]),
        Route("/entries", put_entries, methods=["POST"]),
        Route("/entries/{entry_id:path}", get_entry, methods=["GET"]),
        Route("/entries/{entry_id:path}", delete_entry, methods=["DELETE"]),
        Route("/catalog", catalog_info, methods=["GET"]),
        Route("/catalog/listings", post_listings, methods=["POST"]),
        Route("/catalog/listings/{listing_id:path}", delete_listing, methods=["DELETE"]),
        Route("/sweeps", list_hits, methods=["GET"]),
        Route("/sweeps/{entry_id:path}", get_sweep, methods=["GET"]),
        Route("/sweeps/{entry_id:path}", post_sweep, methods=["POST"]),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={HTTPException: _http_error, CatalogError: _catalog_error},
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return JSONResponse(
        {"error": str(exc.detail)}, status_code=exc.status_code, headers=dict(exc.headers or {})
    )


async def _catalog_error(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": str(exc)}, status_code=409)
