"""The review app over HTTP (Starlette TestClient), mounted at /review like in the service."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from service.auth import KeyStore
from service.review import ReviewQueue, create_review_app
from service.review.web import CSP
from tests.fakes import make_listing, make_verdict, other, tooybing

HOSTILE = "<img src=x onerror=alert(1)>"
CSRF = {"X-Requested-With": "recallguard"}


@dataclass
class Env:
    client: TestClient
    queue: ReviewQueue
    keys: dict[str, str]
    item_id: int

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


@pytest.fixture
def env(tmp_path: Path, review_queue: ReviewQueue) -> Iterator[Env]:
    queue = review_queue
    store = KeyStore(tmp_path / "keys.json")
    keys = {role: store.create_key(role, f"{role}-1") for role in ("screen", "reviewer", "admin")}
    item_id, _ = queue.enqueue(make_listing(f"{HOSTILE} Wooden Bead Stacking Toy"), make_verdict())
    outer = Starlette(routes=[Mount("/review", create_review_app(lambda: queue, lambda: store))])
    with TestClient(outer, base_url="http://testserver") as client:
        yield Env(client, queue, keys, item_id)
    queue.close()


def test_security_headers_on_every_response(env: Env) -> None:
    for response in (
        env.client.get("/review/"),
        env.client.get("/review/api/counts"),
        env.client.get("/review/static/review.js"),
    ):
        assert response.headers["content-security-policy"] == CSP
        assert response.headers["x-content-type-options"] == "nosniff"
    assert "script-src 'self';" in CSP and "frame-ancestors 'none'" in CSP


def test_api_requires_a_key(env: Env) -> None:
    assert env.client.get("/review/api/counts").status_code == 401
    bad = env.client.post("/review/api/claim", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401 and bad.headers["www-authenticate"] == "Bearer"
    counts = env.client.get("/review/api/counts", headers={"X-API-Key": env.keys["reviewer"]})
    assert counts.json() == {"pending": 1, "claimed": 0, "decided_today": 0}


def test_screen_key_cannot_review(env: Env) -> None:
    url = f"/review/api/items/{env.item_id}/decision"
    refused = env.client.post(url, json={"decision": "confirm"}, headers=env.auth("screen"))
    assert refused.status_code == 403
    assert env.client.post("/review/api/claim", headers=env.auth("screen")).status_code == 403
    assert env.client.get("/review/api/counts", headers=env.auth("screen")).status_code == 403
    page = env.client.post("/review/login", data={"key": env.keys["screen"]})
    assert page.status_code == 403 and "cannot review" in page.text


def test_claim_decide_and_conflict(env: Env) -> None:
    claimed = env.client.post("/review/api/claim", headers=env.auth("reviewer")).json()
    assert claimed["item"]["id"] == env.item_id
    assert claimed["item"]["listing"]["title"].startswith(HOSTILE)
    url = f"/review/api/items/{env.item_id}/decision"
    other_reviewer = env.client.post(url, json={"decision": "reject"}, headers=env.auth("admin"))
    assert other_reviewer.status_code == 409  # alice holds a live lease
    done = env.client.post(
        url, json={"decision": "confirm", "entry_id": "cpsc-10917"}, headers=env.auth("reviewer")
    )
    assert done.status_code == 200 and done.json()["reviewer"] == "reviewer-1"
    again = env.client.post(url, json={"decision": "reject"}, headers=env.auth("reviewer"))
    assert again.status_code == 409 and "already decided" in again.json()["error"]
    item = env.client.get(f"/review/api/items/{env.item_id}", headers=env.auth("reviewer")).json()
    assert item["decision"]["decision"] == "confirm"
    assert [a["to_state"] for a in item["audit"]] == ["pending", "claimed", "decided"]
    takedowns = env.client.get("/review/api/takedowns", headers=env.auth("reviewer")).json()
    assert takedowns["takedowns"][0]["status"] == "pending"


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        (b"{not json", {"Content-Type": "application/json"}, 400),
        (b"[1, 2]", {"Content-Type": "application/json"}, 400),
        (b'{"decision": "confirm"}', {"Content-Type": "text/plain"}, 415),
        (b'{"decision": "perhaps"}', {"Content-Type": "application/json"}, 400),
        (b'{"decision": 1}', {"Content-Type": "application/json"}, 400),
        (b'{"decision": "confirm", "entry_id": 7}', {"Content-Type": "application/json"}, 400),
        (b'{"decision": "confirm", "entry_id": "x"}', {"Content-Type": "application/json"}, 400),
        (b'{"decision": "confirm", "extra": 1}', {"Content-Type": "application/json"}, 400),
        (b"{}", {"Content-Type": "application/json"}, 400),
        (b"x" * 300_000, {"Content-Type": "application/json"}, 413),
    ],
)
def test_bad_decision_bodies_are_4xx(
    env: Env, body: bytes, headers: dict[str, str], status: int
) -> None:
    url = f"/review/api/items/{env.item_id}/decision"
    response = env.client.post(url, content=body, headers={**headers, **env.auth("reviewer")})
    assert response.status_code == status, response.text
    assert "error" in response.json()


def test_unknown_item_is_404(env: Env) -> None:
    url = "/review/api/items/999/decision"
    assert (
        env.client.post(url, json={"decision": "reject"}, headers=env.auth("admin")).status_code
        == 404
    )
    assert env.client.get("/review/api/items/999", headers=env.auth("admin")).status_code == 404
    assert env.client.get("/review/api/items/abc", headers=env.auth("admin")).status_code == 404


def test_manual_enqueue(env: Env) -> None:
    listing = make_listing("Hand-picked suspicious beads").to_dict()
    cand = env.client.get(f"/review/api/items/{env.item_id}", headers=env.auth("admin")).json()
    made = env.client.post(
        "/review/api/items",
        json={"listing": listing, "candidates": cand["candidates"][:1], "note": "tip"},
        headers=env.auth("admin"),
    )
    assert made.status_code == 201 and made.json()["created"] is True
    stored = env.queue.get(made.json()["item_id"])
    assert stored.source == "manual" and stored.candidates == (tooybing(),)
    assert (
        env.client.post(
            "/review/api/items", json={"listing": listing}, headers=env.auth("screen")
        ).status_code
        == 403
    )
    for bad in (
        {"listing": {"title": ""}},
        {"listing": {"title": "x", "identifiers": 5}},
        {"listing": {"title": "x", "colour": "red"}},
        {"listing": "x"},
        {"listing": listing, "candidates": [{"entry_id": "e"}]},
        {"listing": listing, "candidates": "all"},
        {},
    ):
        response = env.client.post("/review/api/items", json=bad, headers=env.auth("reviewer"))
        assert response.status_code == 400, (bad, response.text)


def test_page_login_and_escaping(env: Env) -> None:
    first = env.client.get("/review/")
    assert first.status_code == 200 and 'name="key"' in first.text
    wrong = env.client.post("/review/login", data={"key": "guess"})
    assert wrong.status_code == 401
    login = env.client.post(
        "/review/login", data={"key": env.keys["reviewer"]}, follow_redirects=False
    )
    assert login.status_code == 303 and login.headers["location"] == "/review/"
    cookie = login.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/review/" in cookie
    waiting = env.client.get("/review/")  # viewing the page claims nothing
    assert 'id="claim"' in waiting.text and "1 item waiting" in waiting.text
    assert env.queue.counts() == {"pending": 1, "claimed": 0, "decided_today": 0}
    assert env.client.post("/review/api/claim").status_code == 403  # cookie needs the header
    assert env.client.post("/review/api/claim", headers=CSRF).json()["item"]["id"] == env.item_id
    page = env.client.get("/review/")
    html = page.text
    assert HOSTILE not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert '<script src="/review/static/review.js" defer></script>' in html
    assert "<script>" not in html and "style=" not in html and "onclick" not in html
    assert "<mark>Wooden</mark> <mark>Bead</mark> <mark>Stacking</mark> Toy" in html
    assert '<span class="chip hit">TB-MZWJ</span>' in html and "choking" in html
    assert other().product_name in html
    assert env.keys["reviewer"] not in html
    url = f"/review/api/items/{env.item_id}/decision"
    no_csrf = env.client.post(url, json={"decision": "confirm"})
    assert no_csrf.status_code == 403  # a cookie alone cannot decide (cross-site forms)
    ok = env.client.post(url, json={"decision": "confirm"}, headers=CSRF)
    assert ok.status_code == 200, ok.text
    assert "The queue is empty" in env.client.get("/review/").text
    env.client.post("/review/logout")
    assert 'name="key"' in env.client.get("/review/").text
