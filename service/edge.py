"""The service's HTTP edge in front of BentoML's routes: one ASGI middleware, five rules.

- Bounded bodies: a body over ``RECALLGUARD_MAX_BODY_BYTES`` (default 4 MiB, `model.settings`)
  gets 413 before BentoML reads it, whether ``Content-Length`` declares it or a chunked body
  streams past the limit; the body is counted as it arrives and never held beyond the limit.
- JSON only: a POST to a screening route with any other content type (``multipart/form-data``
  included, which BentoML would try to parse as a form and fail with a 500) gets 415.
- One error shape: every 4xx/5xx answer of a screening route is ``{"error": str, "detail": str}``,
  the shape the OpenAPI spec documents (BentoML answers pydantic errors with a list in
  ``detail`` and some 4xx with a bare list); a 503 without ``Retry-After`` gets one and a
  message that says to retry.
- Screen keys, opt-in: with ``RECALLGUARD_REQUIRE_SCREEN_KEY=true`` the screening routes need
  a key with the ``screen`` role (or ``admin``), sent as ``Authorization: Bearer`` or
  ``X-API-Key``; failed keys count against the client's rate limit (429, `service.auth`).
- Relative redirects: a redirect whose absolute target names the request's own ``Host``
  (Starlette builds ``/review`` -> ``/review/`` from that header) is rewritten to a path, so
  a forged Host header cannot send a reviewer elsewhere.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from model.settings import Settings
from service.auth import KeyStore, TooManyFailedKeys
from service.schemas import MAX_BATCH

SCREEN_ROUTES = frozenset({"/screen", "/screen_batch"})
API_ROUTES = SCREEN_ROUTES | {"/model_info"}
RETRY_AFTER_503 = "2"
BUSY = f"the service is busy or still loading; retry in {RETRY_AFTER_503} s"


def require_screen_key() -> bool:
    """``RECALLGUARD_REQUIRE_SCREEN_KEY`` (`model.settings`), read per request so that it can
    be switched on without a restart; that one variable only (`Settings.screen_key_required`)."""
    return Settings.screen_key_required()


def _message(detail: Any) -> str:
    """A readable one-line message from whatever BentoML or pydantic put in `detail`."""
    if isinstance(detail, str):
        return detail
    if isinstance(detail, dict):
        return str(detail.get("error") or detail.get("msg") or json.dumps(detail))
    if isinstance(detail, list):
        parts = []
        for d in detail:
            if isinstance(d, dict) and "msg" in d:
                loc = ".".join(str(x) for x in d.get("loc", ()) if x != "root")
                # A `model.validation` refusal: its message names the field already.
                msg = str(d["msg"]).removeprefix("Value error, ")
                parts.append(f"{loc}: {msg}" if loc else msg)
            else:
                parts.append(_message(d))
        return "; ".join(parts)
    return str(detail)


def error_body(status: int, body: bytes) -> bytes:
    """`body` of an error answer in the documented ``{"error", "detail"}`` shape."""
    try:
        data: Any = json.loads(body)
    except ValueError:
        data = body.decode("utf-8", "replace")
    if isinstance(data, list) and len(data) == 1:
        data = data[0]
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        error = data["error"]
        detail = _message(data.get("detail", "")) or error
        if "validation error" in error and detail:
            error = f"invalid request: {detail}"
    else:
        error = detail = _message(data) or f"HTTP {status}"
    return json.dumps({"error": error, "detail": detail}).encode()


class Edge:
    """ASGI middleware; see the module docstring. `get_keys` is read per request.

    `max_body` is the body limit in bytes (default: ``RECALLGUARD_MAX_BODY_BYTES``, read once
    here; :raises SettingsError: when that variable is unusable).
    """

    def __init__(
        self,
        app: ASGIApp,
        get_keys: Callable[[], KeyStore] | None = None,
        screen_key: Callable[[], bool] = require_screen_key,
        max_body: int | None = None,
    ) -> None:
        self.app = app
        self.get_keys = get_keys
        self.screen_key = screen_key
        self.max_body = Settings.from_env().max_body_bytes if max_body is None else max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        path = scope.get("path", "")
        if path in API_ROUTES:
            refusal = self._refuse(scope, headers, path)
            if refusal is None:
                receive, refusal = await self._bounded(headers, receive)
            if refusal is not None:
                await _answer(send, *refusal)
                return
            send = _ErrorShape(send)
        await self.app(scope, receive, _relative_redirects(send, headers.get("host", "")))

    def _refuse(
        self, scope: Scope, headers: Headers, path: str
    ) -> tuple[int, str, dict[str, str]] | None:
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        if scope.get("method") == "POST" and ctype not in ("", "application/json"):
            return 415, f"send the body as application/json, not {ctype[:100]}", {}
        if path not in SCREEN_ROUTES or self.get_keys is None or not self.screen_key():
            return None
        header = headers.get("authorization") or headers.get("x-api-key")
        client = scope["client"][0] if scope.get("client") else "unknown"
        try:
            principal = self.get_keys().check(header, client)
        except TooManyFailedKeys as exc:
            return 429, str(exc), {"Retry-After": str(exc.retry_after)}
        if principal is None:
            return (
                401,
                "a valid API key with the screen role is required",
                {"WWW-Authenticate": "Bearer"},
            )
        if not principal.has("screen"):
            return 403, f"this key has role {principal.role!r}; 'screen' is needed", {}
        return None

    async def _bounded(
        self, headers: Headers, receive: Receive
    ) -> tuple[Receive, tuple[int, str, dict[str, str]] | None]:
        """The whole body read up front (at most `max_body` bytes) and replayed, or a 413.

        Reading it here, not in BentoML, is what bounds it: BentoML reads any length before
        pydantic sees a byte. A declared length over the limit is refused unread; otherwise
        chunks are counted as they come and reading stops at the first byte past the limit.
        """
        too_large = (
            413,
            f"the request body is over {self.max_body:,} bytes; send fewer listings per call "
            f"(at most {MAX_BATCH} per /screen_batch)",
            # The rest of the body is left unread, so the connection cannot carry another request.
            {"Connection": "close"},
        )
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            return receive, too_large
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client left: let the app see that
                return _replay(message, receive), None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return receive, too_large
            chunks.append(chunk)
            if not message.get("more_body", False):
                body = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
                return _replay(body, receive), None


def _replay(first: Message, receive: Receive) -> Receive:
    """A `receive` that answers `first` once, then whatever the server sends next."""
    pending = [first]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


async def _answer(send: Send, status: int, message: str, extra: dict[str, str]) -> None:
    body = json.dumps({"error": message, "detail": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in extra.items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class _ErrorShape:
    """Buffers an error answer and sends it again in the documented shape."""

    def __init__(self, send: Send) -> None:
        self.send = send
        self.start: Message | None = None
        self.chunks: list[bytes] = []

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start" and message["status"] >= 400:
            self.start = message
            return
        if self.start is None or message["type"] != "http.response.body":
            await self.send(message)
            return
        self.chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        status = self.start["status"]
        body = error_body(status, b"".join(self.chunks))
        headers = [
            (k, v)
            for k, v in self.start.get("headers", [])
            if k.lower() not in (b"content-length", b"content-type")
        ]
        if status == 503 and not any(k.lower() == b"retry-after" for k, _ in headers):
            # BentoML's own 503s (a worker still loading) say neither why nor when
            headers.append((b"retry-after", RETRY_AFTER_503.encode()))
            if b"unexpected error" in body:
                body = json.dumps({"error": BUSY, "detail": BUSY}).encode()
        headers += [(b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode())]  # fmt: skip
        await self.send({**self.start, "headers": headers})
        await self.send({"type": "http.response.body", "body": body})


def _relative_redirects(send: Send, host: str) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start" and 300 <= message["status"] < 400:
            headers = []
            for key, value in message.get("headers", []):
                if key.lower() == b"location":
                    value = _relative(value.decode("latin-1"), host).encode("latin-1")
                headers.append((key, value))
            message = {**message, "headers": headers}
        await send(message)

    return wrapped


def _relative(location: str, host: str) -> str:
    parts = urlsplit(location)
    if not parts.netloc or parts.netloc.lower() != host.lower():
        return location
    path = parts.path or "/"
    if path.startswith("//"):  # would read as another host
        path = "/" + path.lstrip("/")
    return path + (f"?{parts.query}" if parts.query else "")
