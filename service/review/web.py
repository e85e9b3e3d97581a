"""HTTP plumbing of the review and admin apps: security headers, authentication (rate limited),
bounded and strictly parsed JSON bodies, path ids that fit the database."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from model.validation import MAX_INT64, ValidationError, clean_text, loads, parse_int64
from service.auth import KeyStore, Principal, Role, TooManyFailedKeys

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
COOKIE_NAME = "recallguard_review_key"
CSRF_HEADER = "x-requested-with"
CSRF_VALUE = "recallguard"
MAX_BODY_BYTES = 256 * 1024


class SecurityHeaders:
    """Adds CSP and friends to every response; API and page responses are never cached."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() not in {name for name, _ in SECURITY_HEADERS}
                ]
                headers.extend(SECURITY_HEADERS)
                if "/static/" not in scope.get("path", ""):
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def base_path(request: Request) -> str:
    """Where the app is mounted (e.g. "/review"), from the ASGI root_path."""
    return str(request.scope.get("root_path", "")).rstrip("/")


class IdConvertor(Convertor[int]):
    """``{name:id}``: a whole number that fits a 64-bit id column; anything longer is a 404."""

    regex = "[0-9]{1,19}"

    def convert(self, value: str) -> int:
        number = int(value)
        if number > MAX_INT64:
            raise HTTPException(404, f"no such id {value}")
        return number

    def to_string(self, value: int) -> str:
        return str(value)


register_url_convertor("id", IdConvertor())


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def authenticate(request: Request, keys: KeyStore) -> tuple[Principal | None, bool]:
    """-> (principal or None, came from the cookie). A header, when present, wins.

    429 with ``Retry-After`` while this client is over the failed-key limit.
    """
    header = request.headers.get("authorization") or request.headers.get("x-api-key")
    cookie = request.cookies.get(COOKIE_NAME)
    try:
        if header:
            return keys.check(header, client_address(request)), False
        if cookie:
            return keys.check(cookie, client_address(request)), True
    except TooManyFailedKeys as exc:
        raise HTTPException(429, str(exc), {"Retry-After": str(exc.retry_after)}) from None
    return None, False


def require(request: Request, get_auth: Callable[[], KeyStore], role: Role) -> Principal:
    """401 without a valid key, 403 with a key of the wrong role (or a cookie-authenticated
    unsafe request without the X-Requested-With header, which cross-site forms cannot send)."""
    principal, via_cookie = authenticate(request, get_auth())
    if principal is None:
        raise HTTPException(
            401, "a valid API key is required", headers={"WWW-Authenticate": "Bearer"}
        )
    if not principal.has(role):
        raise HTTPException(403, f"this key has role {principal.role!r}; {role!r} is needed")
    unsafe = request.method not in ("GET", "HEAD", "OPTIONS")
    if via_cookie and unsafe and request.headers.get(CSRF_HEADER) != CSRF_VALUE:
        raise HTTPException(403, f"missing {CSRF_HEADER} header")
    return principal


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(
    request: Request, *, optional: bool = False, limit: int = MAX_BODY_BYTES
) -> dict[str, Any]:
    """The JSON object in the body; 415 if not JSON, 400 if malformed or not an object."""
    body = await read_body(request, limit)
    if optional and not body.strip():
        return {}
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise HTTPException(415, "send the body as application/json")
    try:
        data = loads(body)
    except ValidationError as exc:
        raise HTTPException(400, str(exc)) from None
    if not isinstance(data, dict):
        raise HTTPException(400, "body must be a JSON object")
    return data


def check_fields(
    data: dict[str, Any], allowed: Iterable[str], required: Iterable[str] = ()
) -> None:
    allowed = set(allowed)
    unknown = set(data) - allowed
    if unknown:
        raise HTTPException(400, f"unknown fields {sorted(unknown)}; expected {sorted(allowed)}")
    missing = set(required) - set(data)
    if missing:
        raise HTTPException(400, f"missing fields {sorted(missing)}")


def optional_str(
    data: dict[str, Any], name: str, default: str | None = None, *, max_chars: int = 5000
) -> str | None:
    """The text field `name` checked by the shared rules (`model.validation.clean_text`)."""
    value = data.get(name, default)
    if value is None:
        return None
    try:
        return clean_text(value, name, max_chars=max_chars)
    except ValidationError as exc:
        raise HTTPException(400, str(exc)) from None


def query_int(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    """A whole-number query parameter in [lo, hi]; 400 otherwise."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = parse_int64(raw, name, minimum=lo)
    except ValidationError:
        value = None
    if value is None or value > hi:
        raise HTTPException(400, f"{name} must be a whole number from {lo} to {hi}")
    return value
