"""A cheap first stage that lets clearly unrelated listings through without the transformer.

Most of what a toy marketplace lists has nothing to do with any recall, yet the full pipeline
pays a transformer pass, a search and a classifier for every listing. The gate scores each
listing (the text the encoder embeds, each word once: `GATE_TEXTS`) by character-trigram TF-IDF
cosine to the nearest blocklist text (the same normalised texts the index embeds) and sends it
on to the full pipeline when that score reaches a threshold or when any of its identifiers or
rare brand words is in the blocklist; everything else is allowed at once.

The threshold is never a constant in code: `select_threshold` takes it from held-out validation
listings as `margin` times the lowest gate score of any listing the full pipeline sent to review
or block (so the gate would have lost none of them), and `measure` checks it on a further split.
Character trigrams survive typos, leetspeak, homoglyphs and spacing tricks after `normalise`,
which is why they beat word TF-IDF (a misspelt brand shares no word) and a static embedding (too
close to everything) on the evaluation data. The vectoriser is fit at load time from the
bundle's own entries, so nothing is pickled and the bundle carries only the number.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from model.matching.bundle import Bundle
from model.matching.candidates import embedded_text, rare_brands
from model.matching.index import BlocklistIndex, entry_texts
from model.matching.screener import Screener
from model.matching.specificity import TermWeights
from model.matching.views import ListingView

# What each version of the gate scores, by the name a bundle's config stores with its threshold
# (a threshold only means something for the score it was selected on). v1 scored the listing's
# normalised text as it came; v2 scores the text the encoder embeds, each word once, so keyword
# padding no longer dilutes a listing's trigrams: re-selected on the then default bundle
# (20261129163448-fcfa2f57), the lowest validation score of an escalated listing rose from 0.235
# to 0.311 (both padded listings that pinned v1 moved up), and the gate cleared 46% of the first
# 4,000 Amazon UK listings instead of 21%, with no decision changed (README, Speed).
GATE_TEXTS: dict[str, Callable[[ListingView], str]] = {
    "char3-tfidf-v1": lambda view: view.text,
    "char3-tfidf-v2": embedded_text,
}
GATE_NAME = "char3-tfidf-v2"  # what new bundles select a threshold for
DEFAULT_MARGIN = 0.9
# Largest dense block of gate similarities held at once (float32: 16 MB).
_DENSE_CELLS = 4_000_000


class LexicalGate:
    """Character-trigram TF-IDF similarity of a listing to its nearest blocklist text."""

    def __init__(
        self,
        index: BlocklistIndex,
        brands: dict[str, list[int]] | None = None,
        name: str = GATE_NAME,
    ) -> None:
        """The gate over `index`'s entry texts.

        `brands`: the rare-brand lookup (`candidates.rare_brands`), computed when not given;
        `name`: the gate version (`GATE_TEXTS`), which says what text of a listing is scored.

        :raises ValueError: an unknown gate version.
        """
        if name not in GATE_TEXTS:
            raise ValueError(f"unknown gate {name!r}; expected one of {sorted(GATE_TEXTS)}")
        self.name = name
        self._text = GATE_TEXTS[name]
        self.index = index
        self.brands = (
            brands
            if brands is not None
            else rare_brands(index.entries, TermWeights.from_entries(index.entries))
        )
        rows = [text for entry in index.entries for text in entry_texts(entry)]
        self.vectorizer = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(3, 3), sublinear_tf=True, dtype=np.float32
        )
        if rows:
            self._rows_t = self.vectorizer.fit_transform(rows).T.tocsr()
        self._empty = not rows

    def texts(self, views: Sequence[ListingView]) -> list[str]:
        """The text of each prepared listing this gate version scores."""
        return [self._text(v) for v in views]

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        """Best cosine of each (normalised) text to any blocklist text, in [0, 1]."""
        if self._empty or not texts:
            return np.zeros(len(texts), dtype=np.float32)
        sims = self.vectorizer.transform(list(texts)) @ self._rows_t
        # The row maxima of the dense product, a slice of rows at a time (at most
        # `_DENSE_CELLS` floats): scipy's sparse row max cost more than the product itself
        # (measured, default bundle: 8 titles 3.2 -> 1.9 ms, 256 titles 49 -> 24 ms; the same
        # float32 maxima).
        step = max(1, _DENSE_CELLS // max(1, sims.shape[1]))
        return np.concatenate(
            [sims[i : i + step].toarray().max(axis=1) for i in range(0, sims.shape[0], step)]
        ).astype(np.float32, copy=False)

    def specific_hits(self, views: Sequence[ListingView]) -> np.ndarray:
        """(n,) bool: the listing carries an identifier or a rare brand of some blocklist entry.

        Such listings are never cleared: the full pipeline proposes those entries as candidates
        whatever the text similarity (a rare brand in a padded or translated title).
        """
        return np.asarray(
            [
                bool(self.index.lookup_identifiers(v.identifiers))
                or any(w in self.brands for w in v.listed)
                for v in views
            ],
            dtype=bool,
        )


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


def passes(scores: np.ndarray, identifier_hits: np.ndarray, threshold: float) -> np.ndarray:
    """(n,) bool: escalated to the full pipeline (gate score ≥ `threshold`, or an identifier)."""
    return (np.asarray(scores) >= threshold) | np.asarray(identifier_hits, bool)


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
    """Threshold selected on valid, report on test: what `BundleConfig.cascade` should hold."""

    selection: GateThreshold
    test: GateReport

    def to_config(self) -> dict[str, Any]:
        """The selection and its test-split measurements, as stored in the bundle's config."""
        return {
            **asdict(self.selection),
            "test_reviewed": self.test.reviewed,
            "test_missed": self.test.missed,
            "test_benign_cleared_fraction": round(self.test.cleared_fraction, 4),
        }


def fit_gate(
    gate: LexicalGate,
    valid_views: Sequence[ListingView],
    valid_reach: np.ndarray,
    test_views: Sequence[ListingView],
    test_reach: np.ndarray,
    test_benign: np.ndarray,
    margin: float = DEFAULT_MARGIN,
) -> GateFit:
    """Threshold from the validation listings, misses and savings on the test listings.

    `*_reach`: whether the full pipeline sent each listing to review or block.
    """
    selected = select_threshold(
        gate.scores(gate.texts(valid_views)),
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
    return GateFit(selected, report)


def bundle_gate(bundle: Bundle) -> tuple[str, float] | None:
    """The gate version and selected threshold a bundle carries (`config.cascade`), if any.

    None when the bundle has no selected threshold or one for a gate version this code does not
    know: it is then screened by the full pipeline, never by a threshold meant for another score.
    """
    cascade = getattr(bundle.config, "cascade", None) or {}
    name = cascade.get("gate")
    if name not in GATE_TEXTS:
        return None
    return str(name), float(cascade["threshold"])


def bundle_gate_threshold(bundle: Bundle) -> float | None:
    """The selected threshold a bundle carries (`bundle_gate`), without its version."""
    found = bundle_gate(bundle)
    return found[1] if found else None


class GateStage:
    """The lexical gate at its selected threshold, as a stage of `Screener` (its `Gate`)."""

    def __init__(self, gate: LexicalGate, threshold: float) -> None:
        self.gate = gate
        self.name = gate.name
        self.threshold = threshold

    def passes(self, views: Sequence[ListingView]) -> np.ndarray:
        """(n,) bool: which prepared listings go on to the full pipeline."""
        return passes(
            self.gate.scores(self.gate.texts(views)),
            self.gate.specific_hits(views),
            self.threshold,
        )


class CascadeScreener(Screener):
    """A `Screener` whose listings first pass the lexical gate.

    Decisions for escalated listings are the full pipeline's own. A cleared listing is `allow`
    with probability 0 and no candidates: nothing in the blocklist was close enough to score.

    `threshold=None` takes the bundle's selected threshold; without one the gate is off and
    this is exactly a `Screener`. The gate version is always the one the bundle's threshold was
    selected for (`bundle_gate`; the current `GATE_NAME` when it has none).
    """

    def __init__(self, bundle: Bundle, threshold: float | None = None) -> None:
        selected = bundle_gate(bundle)
        name = selected[0] if selected else GATE_NAME
        if threshold is None and selected is not None:
            threshold = selected[1]
        super().__init__(bundle, None)
        if threshold is not None:
            gate = LexicalGate(bundle.index, self.search.by_brand, name)
            self.gate = GateStage(gate, threshold)
        self.threshold = threshold


def make_screener(bundle: Bundle) -> Screener:
    """The one screener factory, used by every entry point.

    The CLI, `/screen`, `/screen_batch`, catalogue sweeps and the evaluation screen a bundle
    with it: the cascade when the bundle carries a selected gate threshold (`config.cascade`),
    the plain pipeline otherwise.
    """
    return CascadeScreener(bundle)
