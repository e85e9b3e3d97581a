"""One listing through `POST /screen` is prepared once: one `ListingView`, shared by the gate
and the search, and each field folded and normalised once (counted calls)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

import model.matching.features as features
import model.matching.normalise as normalise_module
from model.matching.cascade import GateStage

LISTING = {
    "title": "TooyBing Wooden Bead Stacking Toys for babies",
    "brand": "TooyBing",
    "description": "Colourful beads on a wire frame. Model TB-MZWJ.",
    "category": "Baby & Toddler Toys > Activity Centres",
    "listing_id": "once",
}


@pytest.fixture(scope="module")
def client(tiny_bundle_path: Path) -> Iterator[TestClient]:
    mp = pytest.MonkeyPatch()
    mp.setenv("RECALLGUARD_BUNDLE", str(tiny_bundle_path))
    from service.service import RecallGuard

    with TestClient(RecallGuard.to_asgi()) as c:
        yield c
    mp.undo()


def test_screen_prepares_each_listing_once_and_each_field_once(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert client.post("/screen", json={"listing": LISTING}).status_code == 200  # warm
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

    r = client.post("/screen", json={"listing": LISTING})
    assert r.status_code == 200, r.text
    assert r.json()["listing_id"] == "once"
    assert len(views) == 1, "the listing was prepared more than once"
    assert gate_views == views, "the gate did not read the one prepared view"
    # Each field folded exactly once (the title with its brand, as it is embedded).
    assert folded == Counter(
        {LISTING["title"]: 1, LISTING["description"]: 1, LISTING["brand"]: 1,
         LISTING["category"]: 1}
    )  # fmt: skip
