"""The reviewer web app (Starlette): a server-rendered page plus a small JSON API.

Mount it in the BentoML service with ``@bentoml.asgi_app(app, path="/review")``. The page logs
in with a form that puts the key in an HttpOnly, SameSite=Strict cookie scoped to the mount
path: page scripts never see the key, so even an escaping bug could not steal it, and
cookie-authenticated POSTs must also carry ``X-Requested-With: recallguard`` (which cross-site
forms cannot send) on top of SameSite. API clients send ``Authorization: Bearer <key>`` or
``X-API-Key: <key>`` instead.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy.exc import OperationalError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from model.schema import Listing
from service.auth import KeyStore, TooManyFailedKeys

from .errors import ReviewError
from .notifier import list_takedowns, retry_takedown
from .queue import ReviewQueue
from .records import candidate_from_dict
from .view import item_view
from .web import (
    COOKIE_NAME,
    SecurityHeaders,
    authenticate,
    base_path,
    check_fields,
    client_address,
    optional_str,
    query_int,
    read_body,
    read_json,
    require,
)

HERE = Path(__file__).parent
MAX_CANDIDATES = 50
_env = Environment(
    loader=FileSystemLoader(HERE / "templates"), autoescape=True, undefined=StrictUndefined
)


def render(
    request: Request,
    name: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    context.setdefault("base", base_path(request))
    html = _env.get_template(name).render(**context)
    return HTMLResponse(html, status_code=status, headers=headers)


def create_review_app(
    get_queue: Callable[[], ReviewQueue], get_auth: Callable[[], KeyStore]
) -> Starlette:
    async def page(request: Request) -> Response:
        principal, _ = authenticate(request, get_auth())
        if principal is None:
            return render(request, "login.html", error=None)
        if not principal.has("reviewer"):
            return render(request, "login.html", 403, error="This key cannot review items.")
        queue = get_queue()
        item = queue.current_claim(principal.name)  # a page view never claims: POST api/claim
        return render(
            request,
            "review.html",
            principal=principal,
            counts=queue.counts(),
            item=None if item is None else item_view(item),
        )

    async def login(request: Request) -> Response:
        form = parse_qs((await read_body(request, 8192)).decode("utf-8", "replace"))
        key = (form.get("key") or [""])[0].strip()
        try:
            principal = get_auth().check(key, client_address(request)) if key else None
        except TooManyFailedKeys as exc:
            headers = {"Retry-After": str(exc.retry_after)}
            return render(request, "login.html", 429, error=str(exc), headers=headers)
        if principal is None:
            return render(request, "login.html", 401, error="That key is not valid.")
        if not principal.has("reviewer"):
            return render(request, "login.html", 403, error="This key cannot review items.")
        response = RedirectResponse(f"{base_path(request)}/", status_code=303)
        secure = request.url.scheme == "https" or (
            request.headers.get("x-forwarded-proto", "").lower() == "https"
        )
        response.set_cookie(
            COOKIE_NAME, key, httponly=True, samesite="strict", secure=secure,
            path=f"{base_path(request)}/",
        )  # fmt: skip
        return response

    async def logout(request: Request) -> Response:
        response = RedirectResponse(f"{base_path(request)}/", status_code=303)
        response.delete_cookie(COOKIE_NAME, path=f"{base_path(request)}/")
        return response

    async def api_claim(request: Request) -> Response:
        principal = require(request, get_auth, "reviewer")
        check_fields(await read_json(request, optional=True), set())
        queue = get_queue()
        item = queue.claim_next(principal.name)
        return JSONResponse(
            {"item": None if item is None else item.to_dict(), "counts": queue.counts()}
        )

    async def api_get(request: Request) -> Response:
        require(request, get_auth, "reviewer")
        queue = get_queue()
        item_id = request.path_params["item_id"]
        data = queue.get(item_id).to_dict()
        data["audit"] = [entry.to_dict() for entry in queue.audit_log(item_id)]
        return JSONResponse(data)

    async def api_decide(request: Request) -> Response:
        principal = require(request, get_auth, "reviewer")
        data = await read_json(request)
        check_fields(data, {"decision", "entry_id", "note"}, {"decision"})
        decision = optional_str(data, "decision")
        record = get_queue().decide(
            request.path_params["item_id"],
            principal.name,
            decision or "",
            entry_id=optional_str(data, "entry_id"),
            note=optional_str(data, "note", "") or "",
        )
        return JSONResponse(record.to_dict())

    async def api_create(request: Request) -> Response:
        principal = require(request, get_auth, "reviewer")
        data = await read_json(request)
        check_fields(data, {"listing", "candidates", "note"}, {"listing"})
        raw_cands = data.get("candidates") or []
        if not isinstance(raw_cands, list) or len(raw_cands) > MAX_CANDIDATES:
            raise HTTPException(400, f"candidates must be a list of at most {MAX_CANDIDATES}")
        try:
            listing = Listing.from_dict(data["listing"])
            cands = [candidate_from_dict(c, strict=True) for c in raw_cands]
        except (ValueError, TypeError) as exc:
            raise HTTPException(400, f"invalid item: {exc}") from None
        note = optional_str(data, "note", "") or ""
        item_id, created = get_queue().enqueue_manual(listing, principal.name, cands, note)
        return JSONResponse({"item_id": item_id, "created": created}, status_code=201)

    async def api_counts(request: Request) -> Response:
        require(request, get_auth, "reviewer")
        return JSONResponse(get_queue().counts())

    async def api_takedowns(request: Request) -> Response:
        require(request, get_auth, "reviewer")
        status = request.query_params.get("status") or None
        limit = query_int(request, "limit", 100, 1, 1000)
        try:
            rows = list_takedowns(get_queue(), status, limit)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        return JSONResponse({"takedowns": [r.to_dict() for r in rows]})

    async def api_retry(request: Request) -> Response:
        require(request, get_auth, "admin")
        record = retry_takedown(get_queue(), request.path_params["takedown_id"])
        return JSONResponse(record.to_dict())

    routes = [
        Route("/", page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/api/claim", api_claim, methods=["POST"]),
        Route("/api/counts", api_counts, methods=["GET"]),
        Route("/api/items", api_create, methods=["POST"]),
        Route("/api/items/{item_id:id}", api_get, methods=["GET"]),
        Route("/api/items/{item_id:id}/decision", api_decide, methods=["POST"]),
        Route("/api/takedowns", api_takedowns, methods=["GET"]),
        Route("/api/takedowns/{takedown_id:id}/retry", api_retry, methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    handlers: dict[Any, Callable[..., Any]] = {
        HTTPException: _http_error,
        ReviewError: _review_error,
        OperationalError: _db_unavailable,
    }
    return Starlette(
        routes=routes, middleware=[Middleware(SecurityHeaders)], exception_handlers=handlers
    )


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return _error(exc.status_code, str(exc.detail), dict(exc.headers or {}))


async def _review_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ReviewError)
    return _error(exc.status_code, str(exc))


async def _db_unavailable(request: Request, exc: Exception) -> Response:
    return _error(503, "the review database is busy or unavailable; retry", {"Retry-After": "2"})


__all__ = ["create_review_app"]
