"""A cheap first stage that lets clearly unrelated listings through without the transformer.

Most of what a toy marketplace lists has nothing to do with any recall, yet the full pipeline
pays a transformer pass, a search and a classifier for every listing. The gate scores each
listing (the text the encoder embeds, each word once: `GATE_TEXTS`) by character-trigram TF-IDF
cosine to the nearest blocklist text (the same normalised texts the index embeds) and sends it
on to the full pipeline when that score reaches a threshold or when any of its identifiers or
rare brand words (less a stoplist of words common in listings, from v3) is in the blocklist;
everything else is allowed at once.

The threshold and stoplist are never constants in code: `model.matching.gate_selection` selects
them on held-out validation listings so that the gate would have lost none the full pipeline
sent to review or block, and checks them on a further split. Character trigrams survive typos,
leetspeak, homoglyphs and spacing tricks after `normalise`, which is why they beat word TF-IDF
(a misspelt brand shares no word) and a static embedding (too close to everything) on the
evaluation data. The vectoriser is fit at load time from the bundle's own entries, so nothing is
pickled and the bundle carries only the number (and the stoplist's words).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection, Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from model.matching.bundle import Bundle
from model.matching.candidates import embedded_text, rare_brands
from model.matching.char_tfidf import TrigramTfidf
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
    "char3-tfidf-v3": embedded_text,
}
# Versions whose rare-brand evidence leaves out brand words common in marketplace listings, a
# stoplist selected with the threshold and stored with it (`select_stoplist`). A "rare brand
# word" is rare among notices, yet "disney", "accessories", "super", "bear" or "happy" are in
# 37% of the Amazon listings, and such a listing was never cleared. On the default bundle
# (20261130012137-fcfa2f57), v2's 40.8% of the first 4,000 Amazon UK listings cleared became
# 48.5% with 23 stoplisted words, no decision changed on them, on the test split or on the 121
# dev cases (README, Speed).
STOPLISTED = frozenset({"char3-tfidf-v3"})
GATE_NAME = "char3-tfidf-v3"  # what new bundles select a threshold for
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
        common: Collection[str] = (),
    ) -> None:
        """The gate over `index`'s entry texts.

        `brands`: the rare-brand lookup (`candidates.rare_brands`), computed when not given;
        `name`: the gate version (`GATE_TEXTS`), which says what text of a listing is scored;
        `common`: brand words that are no evidence (a `STOPLISTED` version's stoplist).

        :raises ValueError: an unknown gate version, or a stoplist for a version without one.
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
        self._use_stoplist(common)
        rows = [text for entry in index.entries for text in entry_texts(entry)]
        self.vectorizer = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(3, 3), sublinear_tf=True, dtype=np.float32
        )
        if rows:
            self._rows_t = self.vectorizer.fit_transform(rows).T.tocsr()
            self._tfidf = TrigramTfidf(self.vectorizer)
        self._empty = not rows

    def _use_stoplist(self, common: Collection[str]) -> None:
        if common and self.name not in STOPLISTED:
            raise ValueError(f"gate {self.name!r} takes no stoplist")
        self.common = frozenset(common)
        self._evidence = frozenset(self.brands) - self.common

    def stoplisted(self, common: Collection[str]) -> LexicalGate:
        """This gate with `common` as its stoplist (the fitted vectoriser shared, not copied)."""
        other = copy.copy(self)
        other._use_stoplist(common)
        return other

    def texts(self, views: Sequence[ListingView]) -> list[str]:
        """The text of each prepared listing this gate version scores."""
        return [self._text(v) for v in views]

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        """Best cosine of each (normalised) text to any blocklist text, in [0, 1]."""
        if self._empty or not texts:
            return np.zeros(len(texts), dtype=np.float32)
        sims = self._tfidf.transform(texts) @ self._rows_t
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
        whatever the text similarity (a rare brand in a padded or translated title). Brand words
        on the stoplist (`common`) do not count.
        """
        evidence = self._evidence
        return np.asarray(
            [
                bool(self.index.lookup_identifiers(v.identifiers))
                or any(w in evidence for w in v.listed)
                for v in views
            ],
            dtype=bool,
        )


def passes(scores: np.ndarray, identifier_hits: np.ndarray, threshold: float) -> np.ndarray:
    """(n,) bool: escalated to the full pipeline (gate score ≥ `threshold`, or an identifier)."""
    return (np.asarray(scores) >= threshold) | np.asarray(identifier_hits, bool)


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


def bundle_gate_words(bundle: Bundle) -> frozenset[str]:
    """The stoplist a bundle's gate was selected with (empty for versions without one)."""
    cascade = getattr(bundle.config, "cascade", None) or {}
    if cascade.get("gate") not in STOPLISTED:
        return frozenset()
    return frozenset(str(w) for w in cascade.get("common_brand_words", ()))


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
            gate = LexicalGate(bundle.index, self.search.by_brand, name, bundle_gate_words(bundle))
            self.gate = GateStage(gate, threshold)
        self.threshold = threshold


def make_screener(bundle: Bundle) -> Screener:
    """The one screener factory, used by every entry point.

    The CLI, `/screen`, `/screen_batch`, catalogue sweeps and the evaluation screen a bundle
    with it: the cascade when the bundle carries a selected gate threshold (`config.cascade`),
    the plain pipeline otherwise.
    """
    return CascadeScreener(bundle)
