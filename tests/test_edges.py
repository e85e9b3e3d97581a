"""Every edge of the review and admin APIs holds: the bad-input list over every route, poisoned
stored rows that no longer block anyone, and a hypothesis fuzz run with no 5xx (issue 11)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from model.runtime.blocklist_store import UnknownEntryError
from service.admin_api import create_admin_app
from service.auth import KeyStore
from service.review import ReviewQueue, create_review_app
from service.review.models import items, takedown_outbox
from tests.test_review_queue import make_listing, make_verdict

CSRF = {"X-Requested-With": "recallguard"}
DEEP = "[" * 1000 + "]" * 1000
HUGE_ID = "9223372036854775808"


class FakeAdmin:
    """What the admin routes call once a body has passed the checks."""

    def __init__(self) -> None:
        self.added: list[Any] = []
        self.sweeps = SimpleNamespace(hits=lambda decision, after, limit: [])

    def add_listings(self, listings: list[Any]) -> SimpleNamespace:
        self.added.extend(listings)
        return SimpleNamespace(added=len(listings), updated=0, unchanged=0)

    def upsert(self, entries: list[Any], who: str, reason: str) -> Any:
        return SimpleNamespace(to_dict=lambda: {"added": [e.entry_id for e in entries]})

    def remove(self, ids: list[str], who: str, reason: str) -> Any:
        raise UnknownEntryError(f"no entry {ids[0]!r}")

    def records(self, status: str | None) -> list[Any]:
        return []

    def entry(self, entry_id: str) -> None:
        return None

    def catalog_info(self) -> dict[str, Any]:
        return {}

    def remove_listings(self, ids: list[str]) -> int:
        return 0

    def sweep_status(self, entry_id: str) -> None:
        return None

    def request_sweep(self, entry_id: str, force: bool) -> None:
        raise LookupError(entry_id)


@dataclass
class Env:
    client: TestClient
    queue: ReviewQueue
    admin: FakeAdmin
    key: str
    item_id: int

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    made = _make_env(tmp_path, failed_key_limit="1000/minute", key_name="ops")
    with made.client:
        yield made
    made.queue.close()


# Every JSON-body route, with a body that is valid apart from the field under test.
def listing(**extra: Any) -> dict[str, Any]:
    return {"title": "Plush bear", "listing_id": "L1", **extra}


BODY_ROUTES: list[tuple[str, str, Any]] = [
    ("/review/api/items", "listing", lambda v: {"listing": v}),
    ("/admin/catalog/listings", "listing", lambda v: {"listings": [v]}),
    ("/review/api/items/{id}/decision", "note", lambda v: {"decision": "reject", "note": v}),
    ("/admin/entries", "entry", lambda v: {"entries": [v]}),
]
BAD_LISTINGS = {
    "nan price": listing(price=float("nan")),
    "infinite price": listing(price=float("inf")),
    "control-only title": listing(title="\u001f\u001c"),
    "lone surrogate": listing(title="Plush bear \ud83d"),
    "unknown field": listing(colour="red"),
    "identifiers not a list": listing(identifiers="B0CB9WV7XN"),
    "huge int price": listing(price=10**400),
}


def post_raw(env: Env, url: str, raw: str | bytes, ctype: str = "application/json") -> Any:
    body = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    return env.client.post(url, content=body, headers={**env.auth, "Content-Type": ctype, **CSRF})


def to_json(value: Any) -> str:
    # Python's json writes NaN/Infinity and lone surrogates as a hostile client would send them.
    return json.dumps(value)


@pytest.mark.parametrize("route", ["/review/api/items", "/admin/catalog/listings"])
@pytest.mark.parametrize("case", sorted(BAD_LISTINGS))
def test_bad_listing_is_400_on_every_listing_route(env: Env, route: str, case: str) -> None:
    wrap = next(w for r, _, w in BODY_ROUTES if r == route)
    response = post_raw(env, route, to_json(wrap(BAD_LISTINGS[case])))
    assert response.status_code == 400, response.text
    assert isinstance(response.json()["error"], str)
    assert env.admin.added == []


@pytest.mark.parametrize("route", [r for r, _, _ in BODY_ROUTES] + ["/review/api/claim"])
@pytest.mark.parametrize(
    ("raw", "ctype", "status"),
    [
        (DEEP, "application/json", 400),
        ('{"a":' * 500 + "1" + "}" * 500, "application/json", 400),
        ('{"x": NaN}', "application/json", 400),
        ('{"x": 1e999}', "application/json", 400),
        ("1" * 5000, "application/json", 400),
        (b'{"x": "\xff"}', "application/json", 400),
        ('{"x": 1}', "multipart/form-data; boundary=x", 415),
        ('{"x": 1}', "multipart/form-data", 415),
        ('{"x": 1}', "text/plain", 415),
    ],
)
def test_bad_bodies_are_4xx_on_every_route(
    env: Env, route: str, raw: str | bytes, ctype: str, status: int
) -> None:
    url = route.format(id=env.item_id)
    response = post_raw(env, url, raw, ctype)
    assert response.status_code == status, response.text
    assert isinstance(response.json()["error"], str)


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("GET", f"/review/api/items/{HUGE_ID}"),
        ("POST", f"/review/api/items/{HUGE_ID}/decision"),
        ("POST", f"/review/api/takedowns/{HUGE_ID}/retry"),
        ("GET", f"/review/api/items/{'9' * 40}"),
    ],
)
def test_huge_path_ids_are_404(env: Env, method: str, url: str) -> None:
    body = {"decision": "reject"} if method == "POST" else None
    response = env.client.request(method, url, json=body, headers=env.auth)
    assert response.status_code == 404, response.text


@pytest.mark.parametrize(
    "query",
    [f"after={HUGE_ID}", "after=-1", "limit=0", "limit=1001", f"limit={HUGE_ID}", "after=1e3"],
)
def test_query_integers_in_range(env: Env, query: str) -> None:
    response = env.client.get(f"/admin/sweeps?{query}", headers=env.auth)
    assert response.status_code == 400, response.text
    response = env.client.get(f"/review/api/takedowns?{query}", headers=env.auth)
    assert response.status_code in (200, 400), response.text  # takedowns take limit only


def test_malformed_candidate_is_refused(env: Env) -> None:
    good = {"entry_id": "cpsc-1", "product_name": "Beads", "evidence": {"name_similarity": 0.5}}
    for bad in (
        {**good, "evidence": {"name_similarity": "abc"}},
        {**good, "evidence": {"brand_match": "yes"}},
        {**good, "evidence": {"matched_terms": "beads"}},
        {**good, "evidence": {"name_similarity": 0.5, "extra": 1}},
        {**good, "probability": float("inf")},
        {**good, "similarity": None},
        {**good, "identifiers": [1, 2]},
        {**good, "product_name": "\u0007"},
        {**good, "surprise": True},
    ):
        response = post_raw(
            env, "/review/api/items", to_json({"listing": listing(), "candidates": [bad]})
        )
        assert response.status_code == 400, (bad, response.text)
    made = post_raw(env, "/review/api/items", to_json({"listing": listing(), "candidates": [good]}))
    assert made.status_code == 201, made.text


def poison(env: Env, item_id: int, **values: Any) -> None:
    """Write a bad row straight into the table, as an older version could have done."""
    with env.queue.writer.begin() as conn:
        conn.execute(update(items).where(items.c.id == item_id).values(**values))


@pytest.mark.parametrize(
    "values",
    [
        {"listing_json": '{"title": "Wooden toy", "price": Infinity}'},
        {"listing_json": '{"title": "Wooden toy", "price": NaN}'},
        {"candidates_json": '[{"entry_id": "e", "product_name": "p", '
                            '"evidence": {"name_similarity": "abc"}}]'},
        {"candidates_json": "not json"},
        {"probability": float("inf")},
    ],
)  # fmt: skip
def test_a_poisoned_row_never_blocks_claims_or_pages(env: Env, values: dict[str, Any]) -> None:
    poison(env, env.item_id, **values)
    second, _ = env.queue.enqueue(make_listing("Rainbow stacking rings"), make_verdict())
    claim = env.client.post("/review/api/claim", headers=env.auth)
    assert claim.status_code == 200, claim.text
    item = claim.json()["item"]
    assert item["id"] == env.item_id and item["problem"]
    got = env.client.get(f"/review/api/items/{env.item_id}", headers=env.auth)
    assert got.status_code == 200 and got.json()["problem"]
    login = env.client.post("/review/login", data={"key": env.key})
    assert login.status_code == 200, login.text  # followed the redirect to the page
    assert "cannot be shown in full" in login.text
    decided = env.client.post(
        f"/review/api/items/{env.item_id}/decision", json={"decision": "reject"}, headers=env.auth
    )
    assert decided.status_code == 200, decided.text
    nxt = env.client.post("/review/api/claim", headers=env.auth).json()["item"]
    assert nxt["id"] == second and nxt["problem"] is None


def test_confirmed_takedown_payload_is_json_even_from_a_bad_row(env: Env) -> None:
    poison(env, env.item_id, listing_json='{"title": "Wooden toy", "price": Infinity}')
    env.client.post("/review/api/claim", headers=env.auth)
    done = env.client.post(
        f"/review/api/items/{env.item_id}/decision", json={"decision": "confirm"}, headers=env.auth
    )
    assert done.status_code == 200, done.text
    listed = env.client.get("/review/api/takedowns", headers=env.auth)
    assert listed.status_code == 200, listed.text
    [row] = listed.json()["takedowns"]
    assert row["payload"]["listing"] is None and row["payload"]["entry_id"] == "cpsc-10917"
    # an outbox row written by an older version: listed with its problem, never a 500
    with env.queue.writer.begin() as conn:
        conn.execute(update(takedown_outbox).values(payload_json='{"probability": Infinity}'))
    listed = env.client.get("/review/api/takedowns", headers=env.auth)
    assert listed.status_code == 200 and listed.json()["takedowns"][0]["problem"]


def test_nothing_non_finite_can_be_stored(env: Env) -> None:
    from service.review.store import dumps

    with pytest.raises(ValueError):
        dumps({"price": float("inf")})


# -- fuzzing: hypothesis drives every route with arbitrary JSON ---------------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
texts = st.text(max_size=30) | st.sampled_from(["\u001f", "Plush bear \ud83d", " ", "x" * 600])
numbers = st.floats() | st.integers(min_value=-(2**80), max_value=2**80) | st.none()
listings = st.fixed_dictionaries(
    {"title": texts},
    optional={"price": numbers | texts, "listing_id": texts, "brand": texts, "colour": texts,
              "identifiers": st.lists(texts, max_size=3) | texts},
)  # fmt: skip
candidates = st.fixed_dictionaries(
    {"entry_id": texts, "product_name": texts},
    optional={"probability": numbers, "similarity": numbers, "identifiers": json_values,
              "evidence": st.dictionaries(st.sampled_from(["name_similarity", "brand_match",
                                          "matched_terms", "x"]), json_values, max_size=3)},
)  # fmt: skip
entry_rows = st.dictionaries(
    st.sampled_from(["entry_id", "product_name", "brand", "gtins"]), texts | json_values
)
bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"listing": listings},
        optional={"candidates": st.lists(candidates, max_size=2), "note": texts},
    ),
    st.fixed_dictionaries({"listings": st.lists(listings, min_size=1, max_size=2)}),
    st.fixed_dictionaries(
        {"decision": st.sampled_from(["confirm", "reject", "unsure"]) | texts},
        optional={"note": texts | numbers, "entry_id": texts | numbers},
    ),
    st.fixed_dictionaries({"entries": st.lists(entry_rows, max_size=2)}),
)
ROUTES = [
    ("POST", "/review/api/items"),
    ("POST", "/review/api/claim"),
    ("POST", "/review/api/items/{id}/decision"),
    ("GET", "/review/api/items/{id}"),
    ("GET", "/review/api/counts"),
    ("GET", "/review/api/takedowns"),
    ("POST", "/review/api/takedowns/{id}/retry"),
    ("POST", "/admin/entries"),
    ("GET", "/admin/entries"),
    ("POST", "/admin/catalog/listings"),
    ("GET", "/admin/sweeps"),
    ("DELETE", "/admin/entries/{id}"),
]


ids = st.integers(min_value=0, max_value=5) | st.integers(min_value=2**63 - 2, max_value=2**70)


@pytest.mark.parametrize("route", ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_fuzz_review_and_admin_apis_never_5xx(
    tmp_path_factory: pytest.TempPathFactory, route: tuple[str, str]
) -> None:
    """Arbitrary bodies, ids and query strings on each route: never a 5xx, errors in the
    documented shape, and afterwards the queue still claims, lists and shows every item."""
    env = _fuzz_env(tmp_path_factory.mktemp("fuzz"))
    method, path = route

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck),
              database=None)  # fmt: skip
    @given(
        body=bodies,
        item=ids,
        query=st.dictionaries(st.sampled_from(["limit", "after", "status", "reason"]),
                              st.text(max_size=25), max_size=2),
    )  # fmt: skip
    def run(body: Any, item: int, query: dict[str, str]) -> None:
        url = path.format(id=item)
        raw = json.dumps(body).encode("utf-8", "surrogatepass")
        response = env.client.request(
            method, url, content=raw, params=query,
            headers={**env.auth, "Content-Type": "application/json"},
        )  # fmt: skip
        assert response.status_code < 500, (method, url, body, response.text)
        if response.status_code >= 400:
            assert isinstance(response.json()["error"], str)
        # nothing stored by that request may poison what others read
        claim = env.client.post("/review/api/claim", headers=env.auth)
        assert claim.status_code == 200, claim.text
        listed = env.client.get("/review/api/takedowns", headers=env.auth)
        assert listed.status_code == 200, listed.text
        if response.status_code == 201:
            made = response.json()["item_id"]
            got = env.client.get(f"/review/api/items/{made}", headers=env.auth)
            assert got.status_code == 200, got.text

    with env.client:  # one event-loop portal for every request, not one per request
        run()
    env.queue.close()


def _fuzz_env(tmp: Path) -> Env:
    return _make_env(tmp, failed_key_limit="100000/minute", key_name="fuzz")


def _make_env(tmp: Path, failed_key_limit: str, key_name: str) -> Env:
    """A review app and an admin app (on a fake admin) over one queue and one key store."""
    queue = ReviewQueue(f"sqlite:///{tmp / 'review.sqlite3'}")
    store = KeyStore(tmp / "keys.json", failed_key_limit=failed_key_limit)
    key = store.create_key("admin", key_name)
    admin = FakeAdmin()
    item_id, _ = queue.enqueue(make_listing("Wooden Bead Stacking Toy"), make_verdict())
    app = Starlette(
        routes=[
            Mount("/review", create_review_app(lambda: queue, lambda: store)),
            Mount("/admin", create_admin_app(lambda: admin, lambda: store)),  # type: ignore[arg-type,return-value]
        ]
    )
    return Env(TestClient(app, raise_server_exceptions=False), queue, admin, key, item_id)


# -- keys -------------------------------------------------------------------------------------
def test_failed_keys_are_rate_limited_and_logged_without_the_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    queue = ReviewQueue(f"sqlite:///{tmp_path / 'review.sqlite3'}")
    store = KeyStore(tmp_path / "keys.json", failed_key_limit="5/minute")
    good = store.create_key("reviewer", "rita")
    app = Starlette(routes=[Mount("/review", create_review_app(lambda: queue, lambda: store))])
    client = TestClient(app)
    caplog.set_level(logging.WARNING)
    statuses = []
    for i in range(8):
        bad = f"rg_wrong-guess-{i}"
        statuses.append(
            client.get("/review/api/counts", headers={"Authorization": f"Bearer {bad}"}).status_code
        )
    assert statuses[:5] == [401] * 5 and statuses[5:] == [429] * 3
    blocked = client.get("/review/api/counts", headers={"Authorization": f"Bearer {good}"})
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
    form = client.post("/review/login", data={"key": "rg_wrong-guess-9"})
    assert form.status_code == 429
    logged = caplog.text
    assert "too many failed API keys" in logged and "testclient" in logged
    assert "wrong-guess" not in logged and good not in logged
    queue.close()


def test_review_database_is_created_private(tmp_path: Path) -> None:
    import stat

    queue = ReviewQueue(f"sqlite:///{tmp_path / 'new' / 'review.sqlite3'}")
    queue.enqueue(make_listing(), make_verdict())
    for path in (tmp_path / "new").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    queue.close()


# -- CLI readers share the rules --------------------------------------------------------------
def test_cli_jsonl_with_a_byte_order_mark_keeps_its_first_row(tmp_path: Path) -> None:
    from model.schema import Listing
    from training.screen_cli import BadRow, read_jsonl

    path = tmp_path / "in.jsonl"
    lines = [
        '{"title": "Wooden Bead Stacking Toy", "listing_id": "a"}',
        '{"title": "\\u001f"}',
        '{"title": "Wooden toy", "price": 1e999}',
        '{"title": "x", "price": NaN}',
        "[" * 1000 + "]" * 1000,
        '{"title": "Plush bear \\ud83d"}',
        '{"title": "Rainbow rings", "listing_id": "b"}',
    ]
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join(lines).encode() + b"\n")
    rows = list(read_jsonl(path))
    assert isinstance(rows[0], Listing) and rows[0].listing_id == "a"
    assert isinstance(rows[-1], Listing) and rows[-1].listing_id == "b"
    bad = [r for r in rows if isinstance(r, BadRow)]
    assert [r.line for r in bad] == [2, 3, 4, 5, 6], bad


def test_catalogue_sweep_files_are_created_private(tmp_path: Path) -> None:
    import stat

    from model.runtime.sweep_log import SweepLog

    SweepLog(tmp_path / "sweeps" / "sweeps.sqlite3")
    for path in (tmp_path / "sweeps").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
