"""The screening routes' HTTP edge (service/edge.py) on a stand-in app: bodies over the limit get
413 before the app reads a byte, whether declared or streamed; bodies up to it pass whole; a 503
says when to retry (issue 12)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from service.edge import Edge

LIMIT = 10_000
CHUNK = 1_000
JSON = {"Content-Type": "application/json"}


class Screening:
    """A stand-in for BentoML's routes: records every body it reads and answers its size."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def route(self, request: Request) -> JSONResponse:
        body = await request.body()
        self.bodies.append(body)
        return JSONResponse({"bytes": len(body), "listings": len(json.loads(body)["listings"])})

    def app(self) -> Edge:
        routes = [Route(p, self.route, methods=["POST"]) for p in ("/screen", "/screen_batch")]
        return Edge(Starlette(routes=routes), get_keys=None, max_body=LIMIT)


@pytest.fixture
def screening() -> Screening:
    return Screening()


@pytest.fixture
def client(screening: Screening) -> Iterator[TestClient]:
    with TestClient(screening.app(), raise_server_exceptions=False) as client:
        yield client


def batch_of(size: int) -> bytes:
    """A /screen_batch body of exactly `size` bytes: listings padded to fill it."""
    listings = [{"title": f"Wooden stacking toy {i}", "description": ""} for i in range(8)]
    base = len(json.dumps({"listings": listings}).encode())
    assert size >= base, f"{size} bytes cannot hold the batch ({base})"
    listings[0]["description"] = "d" * (size - base)
    body = json.dumps({"listings": listings}).encode()
    assert len(body) == size
    return body


def assert_413(response: Any) -> None:
    assert response.status_code == 413, response.text
    body = response.json()
    assert set(body) == {"error", "detail"}, body
    assert f"{LIMIT:,} bytes" in body["error"] and isinstance(body["detail"], str)
    assert response.headers["connection"] == "close"


@pytest.mark.parametrize("route", ["/screen", "/screen_batch"])
def test_a_declared_oversize_body_is_413_and_never_reaches_the_app(
    client: TestClient, screening: Screening, route: str
) -> None:
    response = client.post(route, content=batch_of(LIMIT + 1), headers=JSON)
    assert_413(response)
    assert screening.bodies == []


def test_a_declared_oversize_body_is_refused_unread(screening: Screening) -> None:
    async def receive() -> dict[str, Any]:
        raise AssertionError("the body was read although its declared length is over the limit")

    sent = run_edge(screening, receive, {"content-length": str(LIMIT + 1)})
    assert sent[0]["status"] == 413 and screening.bodies == []


def test_a_streamed_body_without_length_is_413_once_it_passes_the_limit(
    client: TestClient, screening: Screening
) -> None:
    body = batch_of(LIMIT + 1)
    chunks = (body[i : i + CHUNK] for i in range(0, len(body), CHUNK))
    response = client.post("/screen_batch", content=chunks, headers=JSON)
    assert "content-length" not in response.request.headers  # sent chunked
    assert_413(response)
    assert screening.bodies == []


def test_an_endless_stream_is_cut_off_at_the_limit(screening: Screening) -> None:
    """A client that never stops sending is read only up to the limit, never buffered whole."""
    reads = 0

    async def endless() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b" " * CHUNK, "more_body": True}

    sent = run_edge(screening, endless, {})
    assert sent[0]["status"] == 413 and screening.bodies == []
    assert reads == LIMIT // CHUNK + 1  # the first chunk that passes the limit ends the read


@pytest.mark.parametrize("size", [LIMIT - 1, LIMIT])
@pytest.mark.parametrize("chunked", [False, True], ids=["declared", "streamed"])
def test_a_body_up_to_the_limit_reaches_the_app_whole(
    client: TestClient, screening: Screening, size: int, chunked: bool
) -> None:
    body = batch_of(size)
    content: Any = (body[i : i + CHUNK] for i in range(0, size, CHUNK)) if chunked else body
    response = client.post("/screen_batch", content=content, headers=JSON)
    assert response.status_code == 200, response.text
    assert response.json() == {"bytes": size, "listings": 8}
    assert screening.bodies == [body]


def test_other_routes_are_not_limited(screening: Screening) -> None:
    app = Starlette(routes=[Route("/review/api/items", screening.route, methods=["POST"])])
    with TestClient(Edge(app, get_keys=None, max_body=LIMIT)) as client:
        response = client.post("/review/api/items", content=batch_of(LIMIT + 1), headers=JSON)
    assert response.status_code == 200  # the review and admin apps apply their own limits


def test_the_limit_comes_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECALLGUARD_MAX_BODY_BYTES", "1234")
    assert Edge(Starlette(), get_keys=None).max_body == 1234
    monkeypatch.setenv("RECALLGUARD_MAX_BODY_BYTES", "0")
    with pytest.raises(ValueError, match="RECALLGUARD_MAX_BODY_BYTES must be positive"):
        Edge(Starlette(), get_keys=None)


def run_edge(screening: Screening, receive: Any, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Drive the edge directly, as a server would, and return what it sent."""
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "path": "/screen_batch",
        "method": "POST",
        "headers": [(k.encode(), v.encode()) for k, v in {**headers, **JSON}.items()],
    }
    asyncio.run(screening.app()(scope, receive, send))  # type: ignore[arg-type]
    return sent


def test_a_503_says_when_to_retry() -> None:
    async def loading(scope: Any, receive: Any, send: Any) -> None:
        body = b'{"error": "An unexpected error has occurred, please check the server log."}'
        await send({"type": "http.response.start", "status": 503, "headers": []})
        await send({"type": "http.response.body", "body": body})

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {"type": "http", "path": "/screen", "method": "POST", "headers": []}
    asyncio.run(Edge(loading, get_keys=None)(scope, receive, send))  # type: ignore[arg-type]
    headers = dict(sent[0]["headers"])
    assert sent[0]["status"] == 503 and headers[b"retry-after"] == b"2"
    body = json.loads(sent[1]["body"])
    assert "retry" in body["error"] and isinstance(body["detail"], str)
