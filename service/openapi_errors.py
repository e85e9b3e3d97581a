"""The API's own error answers, added to the OpenAPI spec BentoML generates (``/docs.json``).

BentoML documents 400, 404 and 500 for every API. The service also answers:

- on every API route, in the ``{"error", "detail"}`` shape (`service.edge`): 413 on a body over
  ``RECALLGUARD_MAX_BODY_BYTES``, 415 on a POST that is not JSON, and 503 while the bundle loads
  or when ``/screen_batch``'s queue could not finish a call in time (with ``Retry-After``);
- on the screening routes when screen keys are required (``RECALLGUARD_REQUIRE_SCREEN_KEY``,
  `service.auth`), in that shape: 401, 403, and 429 with ``Retry-After``;
- on every API route, from BentoML's own traffic control in front of the edge, with ``error``
  only: 429 over ``max_concurrency`` (128 calls in flight) and 504 past the request timeout.

So the documented schema requires ``error`` and describes ``detail`` as usually present. A
client generated from the spec then knows every status it can meet, and which may carry
``Retry-After``.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.edge import API_ROUTES, SCREEN_ROUTES

SPEC_PATH = "/docs.json"
SCHEMA = "ErrorAnswer"
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before sending the call again.",
        "schema": {"type": "integer"},
    }
}
# status -> (description, headers, the routes that answer it)
ERRORS: dict[int, tuple[str, dict[str, Any], frozenset[str]]] = {
    401: (
        "A screen key is required and none valid was sent (Authorization: Bearer or X-API-Key).",
        {"WWW-Authenticate": {"schema": {"type": "string"}}},
        SCREEN_ROUTES,
    ),
    403: ("The key sent lacks the screen role.", {}, SCREEN_ROUTES),
    413: (
        "The request body is over the body limit (RECALLGUARD_MAX_BODY_BYTES, 4 MiB by default).",
        {},
        API_ROUTES,
    ),
    415: ("The body is not application/json.", {}, API_ROUTES),
    429: (
        "Too many calls in flight (BentoML's max_concurrency, on every API route), or, with screen "
        "keys required, too many failed keys from this client (then with Retry-After).",
        _RETRY_AFTER,
        API_ROUTES,
    ),
    503: (
        "The bundle is still loading, or the batch queue could not finish the call in time.",
        _RETRY_AFTER,
        API_ROUTES,
    ),
    504: ("The call did not finish within the request timeout (60 s).", {}, API_ROUTES),
}


def document_errors(spec: dict[str, Any]) -> dict[str, Any]:
    """`spec` with `ERRORS` added to the responses of the routes that answer them (in place).

    Statuses a route already documents are left as they are; routes not in the spec are skipped.
    """
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas[SCHEMA] = {
        "title": SCHEMA,
        "type": "object",
        "description": "An error answer of the API: a message and, except for BentoML's own "
        "429 and 504, its detail.",
        "properties": {
            "error": {"title": "Message", "type": "string"},
            "detail": {"title": "Error Detail", "type": "string"},
        },
        "required": ["error"],
    }
    ref = {"$ref": f"#/components/schemas/{SCHEMA}"}
    for path, item in spec.get("paths", {}).items():
        for operation in item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            documented = {str(k) for k in responses}  # int keys before a JSON round trip
            for status, (description, headers, routes) in ERRORS.items():
                if path not in routes or str(status) in documented:
                    continue
                answer: dict[str, Any] = {
                    "description": description,
                    "content": {"application/json": {"schema": ref}},
                }
                if headers:
                    answer["headers"] = headers
                responses[str(status)] = answer
    return spec


class DocumentedErrors:
    """ASGI middleware: the answer to ``/docs.json`` (that path exactly) with `document_errors`
    applied.

    The spec's whole body is buffered (tens of KB) and sent again with its new length; a non-200
    answer passes through unchanged, and every other path is not touched.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") != SPEC_PATH:
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        if start is None:
            return
        body = b"".join(chunks)
        if start["status"] == 200:
            body = json.dumps(document_errors(json.loads(body))).encode()
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})
