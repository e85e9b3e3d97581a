"""Candidate generation and pair features, shared by screening and training.

Sharing them means the classifier is trained on exactly the candidates it sees in production.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from model.matching.encoder import Encoder
from model.matching.features import FEATURE_NAMES, candidate_features
from model.matching.fuzzy import fuzzy_scores
from model.matching.index import BlocklistIndex
from model.matching.rules import RULE_EVIDENCE, apply_rules
from model.matching.rules import evidence as rule_evidence
from model.matching.specificity import TermWeights, brand_words
from model.matching.views import EntryView, ListingView
from model.schema import BlocklistEntry, Listing

# A brand word proposes its entries as candidates only when it is rare in the blocklist (this
# share of the maximum IDF, i.e. in at most a handful of notices) and names few entries.
BRAND_LOOKUP_MIN_WEIGHT = 0.7
BRAND_LOOKUP_MAX_ENTRIES = 5


def embedded_text(view: ListingView) -> str:
    """What the encoder embeds for a listing: its normalised text, repeated words dropped.

    Keyword padding repeats phrases to drown the name; the cascade's gate scores the same text.
    """
    return " ".join(dict.fromkeys(view.text.split()))


@dataclass(frozen=True)
class CandidateSet:
    """The candidate set of one listing, candidate generation's output.

    Entry positions, their cosines, one pair-feature row per candidate (k, len(FEATURE_NAMES))
    and one row of rule evidence per candidate (k, len(RULE_EVIDENCE)).
    """

    view: ListingView
    entries: list[int]
    cosines: np.ndarray
    features: np.ndarray
    rule_evidence: np.ndarray

    @classmethod
    def empty(cls, view: ListingView) -> CandidateSet:
        """No candidates (the gate cleared the listing): nothing to score."""
        return cls(
            view,
            [],
            np.zeros(0, dtype=np.float32),
            np.zeros((0, len(FEATURE_NAMES)), dtype=np.float32),
            np.zeros((0, len(RULE_EVIDENCE)), dtype=np.float32),
        )


def rare_brands(entries: Sequence[BlocklistEntry], terms: TermWeights) -> dict[str, list[int]]:
    """Brand word → positions of the entries whose brand or aliases use it.

    Only words of at least 4 letters, rare in the blocklist (`BRAND_LOOKUP_MIN_WEIGHT`) and
    naming at most `BRAND_LOOKUP_MAX_ENTRIES` entries: a listing showing one is a candidate of
    those recalls whatever the vectors say, and the cascade's gate never clears it.
    """
    by_brand: dict[str, list[int]] = {}
    for i, entry in enumerate(entries):
        for word in brand_words(entry.brand, entry.aliases or ()):
            if len(word) >= 4 and terms.weight(word) >= BRAND_LOOKUP_MIN_WEIGHT:
                by_brand.setdefault(word, []).append(i)
    return {w: e for w, e in by_brand.items() if len(e) <= BRAND_LOOKUP_MAX_ENTRIES}


class CandidateSearch:
    """Vector search plus identifier lookup over a blocklist index."""

    def __init__(
        self, encoder: Encoder, index: BlocklistIndex, k: int = 10, workers: int | None = None
    ) -> None:
        """Search `index` with `encoder`, k nearest entries per listing plus lookups.

        `workers`: threads for the fuzzy pair scores (`fuzzy.fuzzy_scores`); None: as many as
        the encoder runs torch on (its `threads`, else 1), the threads a screening call uses.

        :raises ValueError: `k` or `workers` below 1.
        """
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        workers = workers if workers is not None else int(getattr(encoder, "threads", 1) or 1)
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.workers = workers
        self.encoder = encoder
        self.index = index
        self.k = k
        self.terms = TermWeights.from_entries(index.entries)
        self.entry_views = [
            EntryView.of(e, ids, self.terms)
            for e, ids in zip(index.entries, index.identifiers, strict=True)
        ]
        self.by_brand = rare_brands(index.entries, self.terms)

    def lookup_brands(self, view: ListingView) -> set[int]:
        """Entries whose rare brand word the listing shows, in its title or brand field."""
        return {e for w in view.listed for e in self.by_brand.get(w, ())}

    def prepare(self, listings: Sequence[Listing]) -> list[ListingView]:
        """Each listing's view (normalised text, words, identifiers), prepared once."""
        return [ListingView.of(listing, self.index.by_identifier) for listing in listings]

    def find(self, listings: Sequence[Listing]) -> list[CandidateSet]:
        """The candidate set of each listing."""
        return self.find_views(self.prepare(listings))

    def find_views(self, views: Sequence[ListingView]) -> list[CandidateSet]:
        """The candidate set of each prepared listing (`prepare`): one encoder call for all."""
        if not views:
            return []
        vectors = self.encoder.encode([embedded_text(v) for v in views])
        hits = self.index.search(vectors, self.k)
        proposed = []
        for view, vector, found in zip(views, vectors, hits, strict=True):
            entries = [h.id for h in found]
            cosines = [h.similarity for h in found]
            # An exact identifier is evidence enough to score an entry the vectors missed.
            # So is a rare brand: padding or another language can push it out of the top k.
            extras = self.index.lookup_identifiers(view.identifiers) | self.lookup_brands(view)
            for extra in sorted(extras - set(entries)):
                entries.append(extra)
                cosines.append(self.index.similarity(vector, extra))
            proposed.append((view, entries, cosines, [self.entry_views[e] for e in entries]))
        # Every pair's fuzzy scores in one call per scorer, without the GIL (`matching.fuzzy`).
        fuzzy = fuzzy_scores(
            [view.text for view, _, _, cands in proposed for _ in cands],
            [c.name for *_, cands in proposed for c in cands],
            self.workers,
        )
        out, start = [], 0
        for view, entries, cosines, cands in proposed:
            scores, start = fuzzy[start : start + len(cands)], start + len(cands)
            out.append(
                CandidateSet(
                    view,
                    entries,
                    np.asarray(cosines, dtype=np.float32),
                    candidate_features(view, cands, cosines, self.terms, scores),
                    rule_evidence(view, cands),
                )
            )
        return out

    @staticmethod
    def stack(found: Sequence[CandidateSet]) -> np.ndarray:
        """All candidate rows of `found`, stacked: (sum of k, len(FEATURE_NAMES)) float32."""
        rows = [f.features for f in found if len(f.features)]
        return np.vstack(rows) if rows else np.zeros((0, len(FEATURE_NAMES)), dtype=np.float32)


def candidate_probabilities(classifier: Any, found: Sequence[CandidateSet]) -> list[np.ndarray]:
    """Calibrated P(match) for every candidate of every listing, in one classifier call.

    Shared by screening, building and pair evaluation so all three score exactly alike; the
    evidence rules (`model.matching.rules`) are applied here for the same reason.
    """
    stacked = CandidateSearch.stack(found)
    proba = classifier.predict_proba(stacked)[:, 1] if len(stacked) else np.zeros(0)
    flags = np.vstack([np.zeros((0, len(RULE_EVIDENCE))), *(f.rule_evidence for f in found)])
    proba = apply_rules(proba, stacked, flags)
    out, start = [], 0
    for f in found:
        out.append(proba[start : start + len(f.entries)])
        start += len(f.entries)
    return out
