"""The live catalogue and the retroactive sweep, on real Amazon listings and real recalls."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from model.matching.encoder import SentenceTransformerEncoder
from model.matching.normalise import normalise
from model.matching.screener import Screener
from model.matching.vector_index import IndexSpec
from model.runtime.catalog import Catalog, CatalogError, listing_identifiers
from model.runtime.sweep import screen_with_vectors, sweep_entry
from model.runtime.sweep_log import SweepLog
from model.schema import Listing
from service.review import ReviewQueue
from tests.threads import errors_when_run_together
from training.cli import main

# Listings a seller could post for two real recalls in the tiny bundle.
PLANTED = [
    Listing(title="TooyBing Montessori Wooden Bead Stacking Toy TB-MZWJ", listing_id="L-tooy"),
    Listing(title="prank noise maker aj0192 y3 yellow push button", listing_id="L-prank"),
]


@pytest.fixture(scope="module")
def listings(amazon: list[Listing]) -> list[Listing]:
    return [x for x in amazon[:300] if x.listing_id] + PLANTED


@pytest.fixture(scope="module")
def vectors(listings: list[Listing], encoder: SentenceTransformerEncoder) -> np.ndarray:
    return encoder.encode([normalise(x.text()) for x in listings])


@pytest.fixture()
def catalog(tmp_path: Path, listings: list[Listing], vectors: np.ndarray) -> Catalog:
    cat = Catalog(tmp_path / "catalog", vectors.shape[1], "enc-test")
    result = cat.add(listings, vectors)
    assert result.added == len(listings)
    return cat


def test_add_search_lookup_remove_and_reopen(
    catalog: Catalog, listings: list[Listing], vectors: np.ndarray
) -> None:
    root = catalog.root
    (hit, sim), *_ = catalog.search(vectors[5:6], 3)[0]
    _ids, found, _ = catalog.fetch([hit])
    assert found[0].listing_id == listings[5].listing_id and sim > 0.99
    assert "AJ0192Y3" in listing_identifiers(PLANTED[1])  # the seller split the SKU
    (prank,) = catalog.lookup(frozenset({"AJ0192Y3"}))
    assert catalog.fetch([prank])[1][0].listing_id == "L-prank"
    assert catalog.add(listings[:10], vectors[:10]).unchanged == 10  # idempotent
    assert catalog.remove(["L-prank"]) == 1
    assert catalog.lookup(frozenset({"AJ0192Y3"})) == set()
    assert all(i != prank for i, _ in catalog.search(vectors[-1:], 20)[0])
    # Reopen without a checkpoint: every row is replayed from SQLite.
    again = Catalog(root, vectors.shape[1], "enc-test")
    assert len(again) == len(listings) - 1 and again.index.ntotal == len(listings) - 1
    again.checkpoint()
    edited = Listing(title="TooyBing wooden stacking toy, edited", listing_id="L-tooy")
    again.add([edited], vectors[-2:-1])  # written after the checkpoint
    third = Catalog(root, vectors.shape[1], "enc-test")
    assert third.index.ntotal == len(listings) - 1
    (tooy,) = [i for i, _ in third.search(vectors[-2:-1], 1)[0]]
    assert third.fetch([tooy])[1][0].title == edited.title
    with pytest.raises(CatalogError, match="re-index"):
        Catalog(root, vectors.shape[1], "another-encoder")


def test_ivf_index_matches_exact_search_when_probing_every_list(
    catalog: Catalog, vectors: np.ndarray
) -> None:
    exact = [[i for i, _ in row] for row in catalog.search(vectors[:40], 10)]
    spec = catalog.checkpoint(IndexSpec("ivf", nlist=4, nprobe=4))
    assert spec.kind == "ivf" and spec.nlist == 4
    assert [[i for i, _ in row] for row in catalog.search(vectors[:40], 10)] == exact
    catalog.remove(["L-tooy"])  # IVF removes and adds in place
    reopened = Catalog(catalog.root, vectors.shape[1], "enc-test")
    assert reopened.spec == spec and reopened.index.ntotal == len(vectors) - 1


def test_sweep_scores_like_screening_and_finds_the_planted_listings(
    catalog: Catalog, screener: Screener, listings: list[Listing], vectors: np.ndarray
) -> None:
    sample = listings[:20] + PLANTED
    direct = screener.screen(sample)
    reused = screen_with_vectors(screener, sample, np.vstack([vectors[:20], vectors[-2:]]))
    assert [v.decision for v in reused] == [v.decision for v in direct]
    assert np.allclose([v.probability for v in reused], [v.probability for v in direct], atol=2e-3)

    def screened_as(listing: Listing, entry_id: str) -> str:
        """What /screen decides about this listing and this entry."""
        verdict = screener.screen_one(listing)
        mine = [c for c in verdict.candidates if c.entry_id == entry_id]
        return screener.config.thresholds.decide(mine[0].probability) if mine else "allow"

    report = sweep_entry(screener, catalog, "cpsc-10917")
    by_listing = {h.listing.listing_id: h for h in report.hits}
    assert by_listing["L-tooy"].decision in ("block", "review")
    assert by_listing["L-tooy"].decision == screened_as(PLANTED[0], "cpsc-10917")
    assert report.candidates >= 100 and report.catalogue_size == len(listings)
    # The seller split the SKU (AJ0192-Y-3): the identifier lookup still brings the listing in,
    # and the sweep routes it exactly as screening it would.
    prank = sweep_entry(screener, catalog, "cpsc-10925", k=5)
    assert "L-prank" in prank.by_identifier
    hit = next((h.decision for h in prank.hits if h.listing.listing_id == "L-prank"), "allow")
    assert hit == screened_as(PLANTED[1], "cpsc-10925")


def test_sweep_log_claims_once_records_and_routes_reviews(
    catalog: Catalog, screener: Screener, tmp_path: Path, sqlite_review_queue: ReviewQueue
) -> None:
    log = SweepLog(tmp_path / "sweeps.sqlite3")
    entry = next(e for e in screener.bundle.index.entries if e.entry_id == "cpsc-10917")
    sweep_id = log.claim(entry)
    assert sweep_id is not None and log.claim(entry) is None  # one sweep per entry version
    queue = sqlite_review_queue
    record = log.run(sweep_id, screener, catalog, entry.entry_id,
                     lambda h: queue.enqueue(h.listing, h.verdict)[0])  # fmt: skip
    assert record.status == "done" and record.blocks + record.reviews == len(record.hits) > 0
    for hit in record.hits:
        if hit.decision == "review":
            item = queue.get(int(hit.review_item_id or 0))
            assert item.candidates[0].entry_id == "cpsc-10917"
        else:
            assert hit.review_item_id is None
    assert log.latest("cpsc-10917") == record
    feed = log.hits(decision=record.hits[0].decision)
    assert record.hits[0].listing_id in {h.listing_id for h in feed}


@pytest.fixture()
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    monkeypatch.setenv("RECALLGUARD_DATA_HOME", str(home))
    yield home


def test_cli_catalog_index_and_sweep(
    data_home: Path,
    tiny_bundle_path: Path,
    listings: list[Listing],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "listings.jsonl"
    path.write_text("".join(json.dumps(x.to_dict()) + "\n" for x in listings[-60:]))
    bundle = ["--bundle", str(tiny_bundle_path)]
    assert main(["catalog", "index", str(path), *bundle]) == 0
    assert "60 added" in capsys.readouterr().out
    assert main(["catalog", "sweep", "cpsc-10917", *bundle]) == 0
    out = capsys.readouterr().out
    assert "L-tooy" in out and "sweep 1 for cpsc-10917" in out
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"title": "no id"}\n')
    assert main(["catalog", "index", str(bad), *bundle]) == 2
    assert "line 1: listing_id is required" in capsys.readouterr().err


def test_sweep_logs_opened_together_on_fresh_files_all_come_up(tmp_path: Path) -> None:
    """Eight threads each open a new sweep log and read it, on 120 fresh files. Without the
    retried switch to WAL (`model.runtime.sqlite_wal`) this test failed 4 runs in 4 ('database
    is locked'); with it, 0 of 120 rounds of the same race failed in a script."""

    def open_and_read(path: Path) -> None:
        log = SweepLog(path)
        for _ in range(5):
            log.unfinished()

    errors: list[BaseException] = []
    for n in range(120):
        errors += errors_when_run_together(8, partial(open_and_read, tmp_path / f"{n}.sqlite3"))
    assert errors == []
