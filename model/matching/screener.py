"""The thin orchestrator of the screening pipeline.

listing → prepare (normalise once) → gate → encode → search → features → classify → decision.

Every entry point (CLI, `/screen`, `/screen_batch`, catalogue sweeps, evaluation) gets its
screener from `model.matching.cascade.make_screener`, so all of them run the same stages.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from model.matching.bundle import Bundle
from model.matching.candidates import CandidateSearch, CandidateSet, candidate_probabilities
from model.matching.features import FEATURE_NAMES, matched_terms
from model.matching.verdict import Candidate, Evidence, Verdict
from model.matching.views import ListingView
from model.schema import Listing

_BRAND = FEATURE_NAMES.index("brand_in_listing")
_NAME = FEATURE_NAMES.index("token_set_ratio")


class Gate(Protocol):
    """A cheap first stage: which prepared listings go on to the full pipeline."""

    name: str

    def passes(self, views: Sequence[ListingView]) -> np.ndarray:
        """Boolean mask, one per view: True = encode, search and classify it."""
        ...


class Screener:
    """Screens listings with one bundle. Read-only after construction, so safe across threads.

    With a `gate`, listings it does not pass are `allow` with probability 0 and an empty
    candidate set: no transformer pass, no search, no classifier. Each listing is prepared
    (`ListingView`) exactly once, and the gate's views are the ones the search reads.
    """

    def __init__(self, bundle: Bundle, gate: Gate | None = None) -> None:
        self.bundle = bundle
        self.config = bundle.config
        self.search = CandidateSearch(bundle.encoder, bundle.index, bundle.config.search_k)
        self.gate = gate
        self.cleared = 0
        self.escalated = 0
        self._lock = threading.Lock()

    @property
    def version(self) -> str:
        """The bundle's version string (``<UTC stamp>-<data hash>``), stamped on every verdict."""
        return self.config.version

    def probabilities(self, found: Sequence[CandidateSet]) -> list[np.ndarray]:
        """Calibrated P(match) for every candidate of every listing, in one classifier call."""
        return candidate_probabilities(self.bundle.classifier, found)

    def candidate_sets(self, listings: Sequence[Listing]) -> list[CandidateSet]:
        """Prepare, gate, then search and featurise what passed; one `CandidateSet` per listing."""
        views = self.search.prepare(listings)
        if self.gate is None or not views:
            return self.search.find_views(views)
        through = self.gate.passes(views)
        todo = [v for v, ok in zip(views, through, strict=True) if ok]
        full = iter(self.search.find_views(todo))
        with self._lock:
            self.escalated += len(todo)
            self.cleared += len(views) - len(todo)
        return [
            next(full) if ok else CandidateSet.empty(v)
            for v, ok in zip(views, through, strict=True)
        ]

    def screen(self, listings: Sequence[Listing]) -> list[Verdict]:
        """One verdict per listing, in order; one encoder and one classifier call for all."""
        found = self.candidate_sets(listings)
        return [
            self._verdict(listing, f, p)
            for listing, f, p in zip(listings, found, self.probabilities(found), strict=True)
        ]

    def screen_one(self, listing: Listing) -> Verdict:
        """The verdict of a single listing (`screen` of a batch of one)."""
        return self.screen([listing])[0]

    def _candidate(self, found: CandidateSet, proba: np.ndarray, i: int) -> Candidate:
        e = found.entries[i]
        entry = self.bundle.index.entries[e]
        view = self.search.entry_views[e]
        return Candidate(
            entry_id=entry.entry_id,
            source=entry.source,
            product_name=entry.product_name,
            brand=entry.brand,
            hazard=entry.hazard,
            url=entry.url,
            recall_date=entry.recall_date,
            identifiers=tuple(entry.model_numbers) + tuple(entry.gtins),
            similarity=round(float(found.cosines[i]), 4),
            probability=round(float(proba[i]), 4),
            evidence=Evidence(
                matched_identifiers=tuple(sorted(found.view.identifiers & view.identifiers)),
                brand_match=bool(found.features[i][_BRAND] >= 0.9),
                matched_terms=matched_terms(found.view, view),
                name_similarity=round(float(found.features[i][_NAME]), 4),
            ),
        )

    def _verdict(self, listing: Listing, found: CandidateSet, proba: np.ndarray) -> Verdict:
        thresholds = self.config.thresholds
        order = np.argsort(-proba, kind="stable")[: self.config.max_candidates]
        candidates = tuple(self._candidate(found, proba, int(i)) for i in order)
        probability = float(proba[order[0]]) if len(order) else 0.0
        # No candidate (cleared by the gate, or an empty blocklist): nothing to match.
        decision = thresholds.decide(probability) if len(order) else "allow"
        return Verdict(
            listing_id=listing.listing_id,
            decision=decision,
            probability=round(probability, 4),
            match=candidates[0] if candidates and decision != "allow" else None,
            candidates=candidates,
            model_version=self.version,
            thresholds=thresholds,
        )
