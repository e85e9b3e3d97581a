"""The retroactive sweep: when an entry is added, find the live listings that match it.

Candidates come from the catalogue by vector search (each of the entry's embedded texts against
every listing) and by exact identifier lookup. Each candidate is then screened exactly as
`/screen` would screen it now, by the same screener and classifier, reusing the listing's stored
embedding instead of encoding it again; the listing is a hit when the new entry is among its
candidates with a probability at or above the review threshold. The sweep therefore finds what
re-screening the whole catalogue by hand would find for this entry, at the cost of screening a
few hundred listings.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np
from threadpoolctl import threadpool_limits

from model.matching.encoder import Encoder
from model.matching.index import entry_identifiers
from model.matching.normalise import normalise
from model.matching.screener import Screener
from model.matching.vector_index import Hit
from model.matching.verdict import Candidate, Decision, Verdict
from model.runtime.catalog import Catalog
from model.schema import Listing

DEFAULT_K = 100


class Searchable(Protocol):
    """What a sweep searches: a `VectorIndex`, the `Catalog`, or a sharded index on Ray."""

    def search(self, vectors: np.ndarray, k: int) -> list[list[Hit]]:
        """Up to `k` hits per query vector (n, dim), best first; ids are catalogue ids."""
        ...


class UnknownEntry(LookupError):
    """The entry to sweep for is not in the served blocklist (removed, or never added)."""


@dataclass(frozen=True)
class SweepHit:
    """One live listing that matches the swept entry, and where it should go."""

    listing: Listing
    decision: Decision  # block | review
    probability: float
    similarity: float
    via: str  # vector | identifier | both
    verdict: Verdict  # the listing's verdict, focused on the swept entry

    def to_dict(self) -> dict[str, object]:
        """The JSON shape the admin API and the sweep log use (the verdict is left out)."""
        return {
            "listing": self.listing.to_dict(),
            "decision": self.decision,
            "probability": self.probability,
            "similarity": self.similarity,
            "via": self.via,
        }


@dataclass(frozen=True)
class SweepReport:
    """What one sweep found for one entry, and what it cost.

    `catalogue_size` counts the vectors searched; `candidates` the listings screened (vector
    and identifier candidates together); `hits` the block/review ones, most probable first.
    `search_ms` covers search, identifier lookup and fetching; `score_ms` the screening.
    """

    entry_id: str
    model_version: str
    catalogue_size: int
    candidates: int
    hits: tuple[SweepHit, ...]
    search_ms: float
    score_ms: float
    by_identifier: tuple[str, ...] = ()  # listing ids the identifier lookup found


class KnownVectors:
    """An `Encoder` that answers from vectors already computed (the catalogue's).

    Anything else goes to the real encoder, so sweeping never re-encodes a stored listing.
    `known` maps a normalised listing text to its (dim,) float32 embedding.
    """

    def __init__(self, base: Encoder, known: dict[str, np.ndarray]) -> None:
        self.base = base
        self.known = known

    @property
    def dim(self) -> int:
        """The real encoder's width."""
        return self.base.dim

    def encode(self, texts: list[str]) -> np.ndarray:
        """float32 (len(texts), dim): known rows as stored, the rest from one base call."""
        missing = [t for t in texts if t not in self.known]
        fresh = dict(zip(missing, self.base.encode(missing), strict=True)) if missing else {}
        rows = [self.known[t] if t in self.known else fresh[t] for t in texts]
        return np.vstack(rows).astype(np.float32) if rows else np.zeros((0, self.dim), np.float32)


def screen_with_vectors(
    screener: Screener, listings: Sequence[Listing], vectors: np.ndarray
) -> list[Verdict]:
    """`screener.screen(listings)` with the listings' embeddings supplied, not recomputed."""
    search = getattr(screener, "search", None)
    if search is None or not hasattr(search, "encoder"):
        return screener.screen(listings)  # another screener design: correct, just slower
    known = {normalise(x.text()): v for x, v in zip(listings, vectors, strict=True)}
    fast_search = copy.copy(search)
    fast_search.encoder = KnownVectors(search.encoder, known)
    fast = copy.copy(screener)
    fast.search = fast_search
    return fast.screen(listings)


def _focus(verdict: Verdict, candidate: Candidate, decision: Decision) -> Verdict:
    """The verdict as the swept entry sees it: that entry is the match."""
    return replace(verdict, decision=decision, probability=candidate.probability, match=candidate)


def sweep_entry(
    screener: Screener,
    catalog: Catalog,
    entry_id: str,
    k: int = DEFAULT_K,
    index: Searchable | None = None,
) -> SweepReport:
    """Find and score the catalogue listings that match one served entry.

    `index` replaces the catalogue's own FAISS index for the vector search (e.g. a
    `model.runtime.shards.ShardedIndex` over Ray actors); its ids must be catalogue ids.
    Identifier lookup and the listings themselves still come from `catalog`.

    Runs with one OpenMP thread (in this thread only): FAISS and scikit-learn each bring their
    own OpenMP runtime, and on a couple of cores their spinning worker pools starve each other,
    which measured 200 ms to 7 s to score ~130 candidates instead of 70-140 ms single-threaded.

    :raises UnknownEntry: `entry_id` is not in the screener's blocklist.
    """
    with threadpool_limits(limits=1, user_api="openmp"):
        return _sweep(screener, catalog, entry_id, k, index)


def _sweep(
    screener: Screener, catalog: Catalog, entry_id: str, k: int, index: Searchable | None
) -> SweepReport:
    searcher: Searchable = catalog if index is None else index
    blocklist = screener.bundle.index
    position = blocklist.position(entry_id)
    if position is None:
        raise UnknownEntry(f"{entry_id} is not in the served blocklist")
    entry = blocklist.entries[position]
    started = time.perf_counter()
    queries = blocklist.vectors_of(position)
    catalog.refresh()
    by_vector: dict[int, float] = {}
    for found in searcher.search(queries, k):
        for rid, sim in found:
            by_vector[rid] = max(sim, by_vector.get(rid, -1.0))
    by_id = catalog.lookup(entry_identifiers(entry))
    ids, listings, vectors = catalog.fetch(sorted(set(by_vector) | by_id))
    searched = time.perf_counter()
    verdicts = screen_with_vectors(screener, listings, vectors) if listings else []
    thresholds = screener.config.thresholds
    hits = []
    for rid, listing, vector, verdict in zip(ids, listings, vectors, verdicts, strict=True):
        mine = next((c for c in verdict.candidates if c.entry_id == entry_id), None)
        if mine is None:
            continue
        decision = thresholds.decide(mine.probability)
        if decision == "allow":
            continue
        via = "both" if rid in by_vector and rid in by_id else (
            "vector" if rid in by_vector else "identifier"
        )  # fmt: skip
        sim = float(np.max(queries @ vector))
        hits.append(SweepHit(listing, decision, mine.probability, round(sim, 4), via,
                             _focus(verdict, mine, decision)))  # fmt: skip
    hits.sort(key=lambda h: -h.probability)
    done = time.perf_counter()
    return SweepReport(
        entry_id=entry_id,
        model_version=screener.version,
        catalogue_size=int(catalog.index.ntotal if index is None else getattr(index, "ntotal", 0)),
        candidates=len(listings),
        hits=tuple(hits),
        search_ms=round((searched - started) * 1000, 2),
        score_ms=round((done - searched) * 1000, 2),
        by_identifier=tuple(x.listing_id for i, x in zip(ids, listings, strict=True) if i in by_id),
    )
