"""The HTTP API through the service's own ASGI app: answers, readiness, and every bad input."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

import model.matching.features as features
import model.matching.normalise as normalise_module
from model.matching.cascade import GateStage, bundle_gate_threshold
from model.matching.screener import Screener
from model.runtime.batch_queue import BatchQueue, Overloaded
from model.schema import MAX_TITLE_CHARS
from service.schemas import MAX_BATCH


@pytest.fixture(scope="module")
def client(tiny_bundle_path: Path) -> Iterator[TestClient]:
    mp = pytest.MonkeyPatch()
    mp.setenv("RECALLGUARD_BUNDLE", str(tiny_bundle_path))
    from service.service import RecallGuard

    with TestClient(RecallGuard.to_asgi()) as c:
        yield c
    mp.undo()


def screen(client: TestClient, listing: object) -> tuple[int, dict]:
    r = client.post("/screen", json={"listing": listing})
    return r.status_code, r.json()


def test_ready_and_docs(client: TestClient) -> None:
    assert client.get("/readyz").status_code == 200
    spec = client.get("/docs.json").json()
    assert "/screen" in spec["paths"] and "/screen_batch" in spec["paths"]
    page = client.get("/")
    assert page.status_code == 200 and "swagger" in page.text.lower()


def test_real_recall_is_blocked_or_reviewed(client: TestClient) -> None:
    status, body = screen(
        client, {"title": "TooyBing Wooden Bead Stacking Toys", "listing_id": "x1"}
    )
    assert status == 200
    assert body["decision"] in ("block", "review")
    assert body["match"]["entry_id"] == "cpsc-10917"
    assert body["match"]["url"].startswith("https://www.cpsc.gov/")
    assert body["listing_id"] == "x1"
    assert set(body["thresholds"]) == {"block", "review"}


def test_unrelated_listing_is_allowed(client: TestClient) -> None:
    status, body = screen(
        client,
        {
            "title": "Schleich Tinker Mare",
            "brand": "Schleich",
            "category": "Figures & Playsets > Farm & Animals",
            "price": 5.99,
        },
    )
    assert status == 200
    assert body["decision"] == "allow" and body["match"] is None


def test_batch_keeps_order(client: TestClient) -> None:
    listings = [
        {"title": "Hornby 2014 Catalogue", "listing_id": "a"},
        {"title": "TooyBing Wooden Bead Stacking Toys", "listing_id": "b"},
    ]
    r = client.post("/screen_batch", json={"listings": listings})
    assert r.status_code == 200
    assert [v["listing_id"] for v in r.json()] == ["a", "b"]


@pytest.mark.parametrize(
    "listing",
    [
        {},  # missing title
        {"title": ""},  # empty
        {"title": "   "},  # blank
        {"title": 42},  # wrong type
        {"title": "ok", "price": "cheap"},
        {"title": "ok", "price": -1},
        {"title": "ok", "identifiers": "B0CB9WV7XN"},
        {"title": "x" * (MAX_TITLE_CHARS + 1)},  # over the limit
        {"title": "ok", "seller_password": "hunter2"},  # unknown field
        "just a string",
        None,
    ],
)
def test_bad_listing_is_a_4xx_with_a_message(client: TestClient, listing: object) -> None:
    r = client.post("/screen", json={"listing": listing})
    assert 400 <= r.status_code < 500, r.text
    assert "error" in r.json()
    assert "hunter2" not in r.text


def test_bad_bodies_are_4xx(client: TestClient) -> None:
    assert 400 <= client.post("/screen", json={}).status_code < 500
    r = client.post(
        "/screen",
        content=b'{"listing": {"title": "\xff\xfe bad"}}',
        headers={"content-type": "application/json"},
    )
    assert 400 <= r.status_code < 500, r.text
    r = client.post("/screen", content=b"{not json", headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500, r.text


def test_batch_limits(client: TestClient) -> None:
    too_many = [{"title": f"toy {i}"} for i in range(MAX_BATCH + 1)]
    assert 400 <= client.post("/screen_batch", json={"listings": too_many}).status_code < 500
    assert 400 <= client.post("/screen_batch", json={"listings": []}).status_code < 500
    bad_item = [{"title": "fine"}, {"title": ""}]
    assert 400 <= client.post("/screen_batch", json={"listings": bad_item}).status_code < 500


def test_screen_and_screen_batch_run_the_factory_screener(
    client: TestClient, tiny_bundle_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 12: /screen and /screen_batch screen with make_screener's gated pipeline (the other
    # entry points are checked in tests/test_entry_points.py).
    from model.matching.bundle import Bundle

    threshold = bundle_gate_threshold(Bundle.load(tiny_bundle_path))
    assert threshold is not None
    seen: list[Screener] = []
    original = Screener.candidate_sets

    def spy(self: Screener, listings: Any) -> Any:
        seen.append(self)
        return original(self, listings)

    monkeypatch.setattr(Screener, "candidate_sets", spy)
    listing = {"title": "TooyBing Wooden Bead Stacking Toys"}
    assert client.post("/screen", json={"listing": listing}).status_code == 200
    r = client.post("/screen_batch", json={"listings": [listing, {"title": "Lego Duplo Zoo"}]})
    assert r.status_code == 200 and len(r.json()) == 2
    assert len(seen) >= 2
    assert all(isinstance(s.gate, GateStage) and s.gate.threshold == threshold for s in seen)


def test_screen_batch_overload_is_a_clear_503_with_retry_after(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(self: Any, items: Any) -> Any:
        raise Overloaded(queued=2816, retry_after=7)

    monkeypatch.setattr(BatchQueue, "submit", full)
    r = client.post("/screen_batch", json={"listings": [{"title": "wooden train set"}]})
    assert r.status_code == 503
    assert r.headers["retry-after"] == "7"
    assert "2816 listings queued" in r.json()["error"] and "retry in 7 s" in r.json()["error"]
    assert "unexpected" not in r.text


ONCE = {
    "title": "TooyBing Wooden Bead Stacking Toys for babies",
    "brand": "TooyBing",
    "description": "Colourful beads on a wire frame. Model TB-MZWJ.",
    "category": "Baby & Toddler Toys > Activity Centres",
    "listing_id": "once",
}


def test_screen_prepares_each_listing_once_and_each_field_once(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert client.post("/screen", json={"listing": ONCE}).status_code == 200  # warm
    folded: Counter[str] = Counter()
    views: list[Any] = []
    gate_views: list[Any] = []

    def count_fold(text: str) -> str:
        folded[text] += 1
        return original_fold(text)

    original_fold = normalise_module.fold
    # Every fold: features' own calls and those inside normalise()/tokens().
    monkeypatch.setattr(normalise_module, "fold", count_fold)
    monkeypatch.setattr(features, "fold", count_fold)
    original_of = features.ListingView.of.__func__  # type: ignore[attr-defined]

    def count_of(cls: Any, listing: Any, known_ids: Any = frozenset()) -> Any:
        view = original_of(cls, listing, known_ids)
        views.append(view)
        return view

    monkeypatch.setattr(features.ListingView, "of", classmethod(count_of))
    original_passes = GateStage.passes

    def count_passes(self: GateStage, prepared: Any) -> Any:
        gate_views.extend(prepared)
        return original_passes(self, prepared)

    monkeypatch.setattr(GateStage, "passes", count_passes)

    r = client.post("/screen", json={"listing": ONCE})
    assert r.status_code == 200, r.text
    assert r.json()["listing_id"] == "once"
    assert len(views) == 1, "the listing was prepared more than once"
    assert gate_views == views, "the gate did not read the one prepared view"
    # Each field folded exactly once (the title with its brand, as it is embedded).
    assert folded == Counter(
        {ONCE["title"]: 1, ONCE["description"]: 1, ONCE["brand"]: 1,
         ONCE["category"]: 1}
    )  # fmt: skip


def test_decisions_and_stage_latency_are_counted(client: TestClient) -> None:
    from prometheus_client import REGISTRY

    def value(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    before = value("recallguard_decisions_total", decision="allow")
    model = value("recallguard_screen_stage_seconds_count", stage="model")
    batch = value("recallguard_screen_stage_seconds_count", stage="screen_batch")
    status, body = screen(client, {"title": "Schleich Tinker Mare", "brand": "Schleich"})
    assert status == 200 and body["decision"] == "allow"
    listings = [{"title": "Schleich Tinker Mare"}, {"title": "Schleich Horse Club Sarah"}]
    assert client.post("/screen_batch", json={"listings": listings}).status_code == 200
    assert value("recallguard_decisions_total", decision="allow") >= before + 2
    assert value("recallguard_screen_stage_seconds_count", stage="model") >= model + 2
    assert value("recallguard_screen_stage_seconds_count", stage="screen_batch") >= batch + 1
