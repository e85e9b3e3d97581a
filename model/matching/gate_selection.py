"""Selecting the cascade gate (`model.matching.cascade`) on held-out data.

Its threshold and, for a stoplisted version, its brand-word stoplist.

The threshold is never a constant in code: `select_threshold` takes it from validation listings
as `margin` times the lowest gate score of any listing the full pipeline sent to review or block
(so the gate would have lost none of them), and `measure` checks it on a further split, where
misses must be zero. Used by the build and by `recallguard gate`; screening only reads the result
(`BundleConfig.cascade`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from model.matching.cascade import (
    DEFAULT_MARGIN,
    GATE_NAME,
    STOPLISTED,
    LexicalGate,
    passes,
)
from model.matching.views import ListingView

# Candidate stoplists: the brand words in at least this share of the build's training benign
# listings; `select_stoplist` picks the one that clears most benign validation listings.
COMMON_SHARES = (0.02, 0.01, 0.005, 0.003, 0.002, 0.001)


@dataclass(frozen=True)
class GateThreshold:
    """The threshold and what it was derived from (stored in the bundle's config)."""

    gate: str
    threshold: float
    margin: float
    lowest_reviewed_score: float
    reviewed: int


@dataclass(frozen=True)
class GateReport:
    """The gate on one split: misses must be zero; `cleared` is what the gate saves."""

    reviewed: int
    missed: int
    benign: int
    benign_cleared: int

    @property
    def miss_rate(self) -> float:
        """Share of the listings the full pipeline sends to review that the gate would clear."""
        return self.missed / self.reviewed if self.reviewed else 0.0

    @property
    def cleared_fraction(self) -> float:
        """Share of benign listings the gate clears (the work it saves)."""
        return self.benign_cleared / self.benign if self.benign else 0.0


def select_threshold(
    scores: np.ndarray,
    identifier_hits: np.ndarray,
    reaches_review: np.ndarray,
    margin: float = DEFAULT_MARGIN,
    gate: str = GATE_NAME,
) -> GateThreshold:
    """Threshold = margin x the lowest gate score among listings the full pipeline escalated.

    Listings with a blocklist identifier always pass the gate, so they do not constrain it.
    With no escalated listing to learn from the threshold is 0: every listing passes. `gate`:
    the version the scores come from, stored with the threshold.
    """
    if not 0.0 < margin <= 1.0:
        raise ValueError(f"margin must be in (0, 1], got {margin}")
    relevant = np.asarray(reaches_review, bool) & ~np.asarray(identifier_hits, bool)
    if not relevant.any():
        return GateThreshold(gate, 0.0, margin, 0.0, 0)
    lowest = float(np.min(np.asarray(scores)[relevant]))
    return GateThreshold(gate, margin * lowest, margin, lowest, int(relevant.sum()))


def measure(
    scores: np.ndarray,
    identifier_hits: np.ndarray,
    reaches_review: np.ndarray,
    benign: np.ndarray,
    threshold: float,
) -> GateReport:
    """Escalated listings the gate would have let through (misses) and benign ones it clears."""
    through = passes(scores, identifier_hits, threshold)
    reach = np.asarray(reaches_review, bool)
    benign = np.asarray(benign, bool)
    return GateReport(
        reviewed=int(reach.sum()),
        missed=int((reach & ~through).sum()),
        benign=int(benign.sum()),
        benign_cleared=int((benign & ~through).sum()),
    )


@dataclass(frozen=True)
class GateFit:
    """Threshold selected on valid, report on test: what `BundleConfig.cascade` should hold.

    `common`: the stoplist selected with the threshold (`select_stoplist`; empty for a version
    without one), and `common_share`, the share of training benign listings that made a brand
    word common (None: no stoplist).
    """

    selection: GateThreshold
    test: GateReport
    common: tuple[str, ...] = ()
    common_share: float | None = None

    def to_config(self) -> dict[str, Any]:
        """The selection and its test-split measurements, as stored in the bundle's config."""
        out = {
            **asdict(self.selection),
            "test_reviewed": self.test.reviewed,
            "test_missed": self.test.missed,
            "test_benign_cleared_fraction": round(self.test.cleared_fraction, 4),
        }
        if self.selection.gate in STOPLISTED:
            out["common_brand_words"] = list(self.common)
            out["common_share"] = self.common_share
        return out


def common_brand_words(
    gate: LexicalGate, listings: Sequence[ListingView], share: float
) -> frozenset[str]:
    """The gate's rare-brand words shown by at least `share` of `listings` (0 < share <= 1)."""
    counts = Counter(w for v in listings for w in set(v.listed) if w in gate.brands)
    return frozenset(w for w, n in counts.items() if n >= share * len(listings))


def select_stoplist(
    gate: LexicalGate,
    train_benign: Sequence[ListingView],
    valid_views: Sequence[ListingView],
    valid_reach: np.ndarray,
    valid_benign: np.ndarray,
    margin: float = DEFAULT_MARGIN,
    scores: np.ndarray | None = None,
) -> tuple[frozenset[str], float | None]:
    """(stoplist, its share) that clears the most benign validation listings.

    Of no stoplist and the `COMMON_SHARES` ones, each at its own zero-miss threshold
    (`select_threshold`). A longer stoplist clears more listings only while no escalated
    listing it subjects to the threshold scores low: on the default bundle, 23 words (share
    0.5%) cleared 41.7% of the benign validation listings; with 48 (0.3%) an escalated listing
    scoring 0.228 lowered the threshold to 0.205, and 17.5% were cleared. Ties keep the shorter
    list. `train_benign`: the build's training benign listings (never valid or test); `scores`:
    the gate scores of `valid_views`, when the caller has them (a stoplist does not change them).
    """
    if scores is None:
        scores = gate.scores(gate.texts(valid_views))
    benign = np.asarray(valid_benign, bool)
    best: tuple[float, frozenset[str], float | None] = (-1.0, frozenset(), None)
    for share in (None, *COMMON_SHARES):
        common = frozenset() if share is None else common_brand_words(gate, train_benign, share)
        hits = gate.stoplisted(common).specific_hits(valid_views)
        threshold = select_threshold(scores, hits, valid_reach, margin, gate.name).threshold
        cleared = float((benign & ~passes(scores, hits, threshold)).sum())
        if cleared > best[0]:
            best = (cleared, common, share)
    return best[1], best[2]


def fit_gate(
    gate: LexicalGate,
    valid_views: Sequence[ListingView],
    valid_reach: np.ndarray,
    test_views: Sequence[ListingView],
    test_reach: np.ndarray,
    test_benign: np.ndarray,
    margin: float = DEFAULT_MARGIN,
    valid_benign: np.ndarray | None = None,
    train_benign: Sequence[ListingView] = (),
) -> GateFit:
    """Threshold (and stoplist) from the validation listings, misses and savings on the test ones.

    A `STOPLISTED` version's stoplist is selected with the threshold (`select_stoplist`).
    `*_reach`: whether the full pipeline sent each listing to review or block. The stoplist is
    selected only given `valid_benign` (which validation listings are benign) and `train_benign`
    (the build's training benign listings); without them, or for another version, none.
    """
    valid_scores = gate.scores(gate.texts(valid_views))
    common: frozenset[str] = frozenset()
    share = None
    if gate.name in STOPLISTED and valid_benign is not None and len(train_benign):
        common, share = select_stoplist(
            gate, train_benign, valid_views, valid_reach, valid_benign, margin, valid_scores
        )
        gate = gate.stoplisted(common)
    selected = select_threshold(
        valid_scores,
        gate.specific_hits(valid_views),
        valid_reach,
        margin,
        gate.name,
    )
    report = measure(
        gate.scores(gate.texts(test_views)),
        gate.specific_hits(test_views),
        test_reach,
        test_benign,
        selected.threshold,
    )
    return GateFit(selected, report, tuple(sorted(common)), share)
