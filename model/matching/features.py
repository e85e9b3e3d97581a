"""Pair features for (listing, candidate entry): the evidence the classifier weighs.

The embedding alone is fooled by misspelt brands and generic rewrites, and fuzzy strings alone
are fooled by word salad; together with exact identifier agreement they separate a rebranded
recalled toy from an honest look-alike far better than any one of them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
from rapidfuzz import fuzz

from model.matching.fuzzy import fuzzy_scores
from model.matching.specificity import (
    BRAND_NOISE,
    PAIRWISE,
    UNIFORM,
    CodeRelations,
    TermWeights,
    code_relations,
    distinctive,
)
from model.matching.views import EntryView, ListingView
from model.matching.vocab import STOPWORDS

FEATURE_NAMES: tuple[str, ...] = (
    "cosine",
    "cosine_gap_to_best",
    "rank",
    "n_close_candidates",
    "token_set_ratio",
    "partial_ratio",
    "wratio",
    "char_trigram_jaccard",
    "name_token_coverage",
    "shared_identifiers",
    "listing_has_identifiers",
    "identifier_conflict",
    "entry_has_brand",
    "brand_in_listing",
    "brand_field_ratio",
    "listing_child_product",
    "entry_child_product",
    "category_agree",
    "log_listing_tokens",
    "log_entry_tokens",
    # Specificity (issue 10): shared words weighed by blocklist IDF, the brand as tokens (noise
    # words dropped, aliases counted), the notice's description, and identifier relations.
    "idf_coverage",
    "max_shared_weight",
    "brand_token_match",
    "brand_weight",
    "context_coverage",
    "distinctive_id_match",
    "id_sibling",
    "id_family",
    "generic_only",
    # What the listing names beside the brand that the notice does not (issue 10's benign
    # same-brand look-alikes: "Thermos FUNtainer" against the Stainless King recall).
    "line_word_unexplained",
    "variant_extra",
    "variant_missing",
    "colour_conflict",
    "brand_conflict",
    # The product line the listing names beside the brand, where the notice uses it (even only
    # in its description: "Swagway X1" against "Self-balancing scooters/hoverboards"), whatever
    # the language around it.
    "line_word_known",
)

_MODEL_TOKEN = re.compile(r"[a-z]{1,3}\d{1,3}")
# A word naming the product line next to the brand counts when at least this rare in the
# blocklist (drops "portable", "kids", "electric" after a brand).
LINE_WORD_MIN_WEIGHT = 0.6


def matched_terms(listing: ListingView, entry: EntryView) -> tuple[str, ...]:
    """Content words the two share, for the evidence shown to reviewers."""
    return tuple(sorted((listing.words & entry.words) - STOPWORDS))


def brand_in_listing(listing: ListingView, entry: EntryView) -> float:
    """Fuzzy partial match of the entry's brand in the listing text, 0..1 (0 without a brand)."""
    if not entry.brand:
        return 0.0
    return fuzz.partial_ratio(entry.brand, listing.text) / 100.0


def _weight(entry: EntryView, word: str) -> float:
    return entry.weights.get(word, 1.0) if entry.weights is not None else 1.0


def _after_brand(listing: ListingView, entry: EntryView) -> tuple[str, str] | None:
    """(word, word joined with the next) after the brand's first appearance in the listing.

    Further brand words (the entry's, or the listing's own brand field: "Pulse Performance
    Products"), noise and stop words are skipped. None when the brand does not appear or nothing
    follows it.
    """
    seq = listing.sequence
    brands = entry.brand_words
    skip = brands | listing.brand_words | BRAND_NOISE | STOPWORDS
    for i, word in enumerate(seq):
        if word not in brands:
            continue
        j = i + 1
        while j < len(seq) and seq[j] in skip:
            j += 1
        if j >= len(seq):
            return None
        return seq[j], seq[j] + seq[j + 1] if j + 1 < len(seq) else seq[j]
    return None


def _line_candidate(word: str, terms: TermWeights) -> bool:
    """Alphabetic and ≥ 3 letters, or a short model token ("T1"), and rare in the blocklist."""
    return bool(
        ((word.isalpha() and len(word) >= 3) or _MODEL_TOKEN.fullmatch(word))
        and terms.weight(word) >= LINE_WORD_MIN_WEIGHT
    )


def line_flags(
    listing: ListingView, entry: EntryView, terms: TermWeights = UNIFORM
) -> tuple[bool, bool]:
    """(unexplained, known): the word naming the product line next to the brand, if any.

    Unexplained when the notice never uses it, known when it does.

    Unexplained: "funtainer" in "Thermos FUNtainer food jar" against the Stainless King recall,
    "T1" in "Swagtron T1" beside the SG-5 one. Known: "Jetson *Rogue*", "Swagway *X1*" where the
    notice names the X1 only in its description.

    The first word after the brand's first appearance (`_after_brand`) counts when it is a line
    candidate (`_line_candidate`: alphabetic and at least 3 letters, or a short model token,
    letters then digits; rare in the blocklist, `LINE_WORD_MIN_WEIGHT`). It is known when it (in
    singular or plural) or its join with the next word is in the entry's name, brand, aliases or
    description, or it is two adjacent words of the name or description written as one
    ("powerbank" for "Power bank"). Neither when the brand does not appear.
    """
    after = _after_brand(listing, entry)
    if after is None or not _line_candidate(after[0], terms):
        return False, False
    word, joined = after
    # Singular or plural alike: "hoverboard" is the notice's "hoverboards".
    forms = (word, joined, f"{word}s", f"{word}es", word[:-1] if word.endswith("s") else word)
    known = any(f in entry.context for f in forms) or word in entry.joins
    return not known, known


def variant_features(
    listing: ListingView, entry: EntryView, terms: TermWeights = UNIFORM
) -> list[float]:
    """The variant block of FEATURE_NAMES: six 0/1 values.

    An unexplained line word, a variant word the listing names and the notice does not, a
    variant word of the entry's name the listing lacks, only colours the notice does not list,
    and a brand field naming a brand the notice never names (not as brand, alias or in its
    description: "Crayola" is named in the Sakar helmet notice, "MiiR" in no Thermos one), and
    a line word the notice does use (`line_flags`).
    """
    colours, named = listing.colours, listing.named_brand
    unexplained, known = line_flags(listing, entry, terms)
    return [
        float(unexplained),
        float(bool(listing.variants - entry.context)),
        float(bool(entry.variants - listing.words)),
        float(bool(colours) and bool(entry.colours) and not colours & entry.colours),
        float(
            bool(named)
            and bool(entry.brand_words)
            and not named & entry.context
            and not listing.words & entry.brand_words
        ),
        float(known),
    ]


def specificity_features(
    listing: ListingView, entry: EntryView, shared: set[str], codes: CodeRelations = PAIRWISE
) -> list[float]:
    """The specificity block of FEATURE_NAMES (from "idf_coverage" on).

    `codes`: how the listing's identifiers are checked (`specificity.code_relations`); the same
    values either way.
    """
    name_w = entry.name_weight
    shared_w = [_weight(entry, w) for w in shared - STOPWORDS]
    brand_hit = entry.strong_brands & listing.listed
    brands = entry.strong_brands
    content = listing.content
    same_ids = listing.identifiers & entry.identifiers
    others = listing.identifiers - entry.identifiers
    recalled = entry.identifiers
    sib = bool(others) and codes.sibling_match(others, recalled)
    fam = bool(others) and codes.family_match(others, recalled)
    return [
        sum(shared_w) / name_w if name_w else 0.0,
        max(shared_w, default=0.0),
        len(brand_hit) / len(brands) if brands else 0.0,
        max((_weight(entry, w) for w in brand_hit), default=0.0),
        len(content & entry.context) / len(content) if content else 0.0,
        float(
            any(distinctive(i) for i in same_ids)
            or (fam and codes.family_match(others, recalled, distinctive_only=True))
        ),
        float(sib and not same_ids),
        float(fam and not same_ids),
        float(not same_ids and not fam and not brand_hit and not (shared & entry.keywords)),
    ]


def pair_features(
    listing: ListingView,
    entry: EntryView,
    cosine: float,
    best_cosine: float,
    rank: int,
    n_close: int,
    fuzzy: Sequence[float],
    terms: TermWeights = UNIFORM,
    codes: CodeRelations = PAIRWISE,
) -> list[float]:
    """One row of FEATURE_NAMES for a listing/entry pair; `fuzzy`: its `fuzzy_scores` row.

    `codes`: how the listing's identifiers are checked (`specificity.code_relations`); the same
    row either way.
    """
    shared = len(listing.identifiers & entry.identifiers)
    # A family form (AGE251TH-BKMT, the recalled AGE251TH with a colour suffix) is no conflict.
    conflict = float(
        bool(listing.identifiers)
        and bool(entry.identifiers)
        and shared == 0
        and not codes.family_match(listing.identifiers, entry.identifiers)
    )
    common = len(listing.trigrams & entry.trigrams)
    union = len(listing.trigrams) + len(entry.trigrams) - common
    coverage = len(listing.words & entry.words) / len(entry.words) if entry.words else 0.0
    return [
        cosine,
        best_cosine - cosine,
        float(rank),
        float(n_close),
        float(fuzzy[0]) / 100.0,
        float(fuzzy[1]) / 100.0,
        float(fuzzy[2]) / 100.0,
        common / union if union else 0.0,
        coverage,
        float(min(shared, 3)),
        float(bool(listing.identifiers)),
        conflict,
        float(bool(entry.brand)),
        brand_in_listing(listing, entry),
        fuzz.ratio(listing.brand, entry.brand) / 100.0 if listing.brand and entry.brand else 0.0,
        listing.child,
        entry.child,
        float(listing.child == entry.child),
        math.log1p(len(listing.words)),
        math.log1p(len(entry.words)),
        *specificity_features(listing, entry, set(listing.words & entry.words), codes),
        *variant_features(listing, entry, terms),
    ]


def candidate_features(
    listing: ListingView,
    entries: Sequence[EntryView],
    cosines: Sequence[float],
    terms: TermWeights = UNIFORM,
    fuzzy: np.ndarray | None = None,
) -> np.ndarray:
    """Feature rows for all candidates of one listing (context features need the whole set).

    `fuzzy`: (len(entries), 3) `fuzzy.fuzzy_scores` of the pairs, when the caller scored them
    with other listings' pairs in one call; computed here otherwise.
    """
    if not entries:
        return np.zeros((0, len(FEATURE_NAMES)), dtype=np.float32)
    if fuzzy is None:
        fuzzy = fuzzy_scores([listing.text] * len(entries), [e.name for e in entries])
    order = np.argsort(-np.asarray(cosines), kind="stable")
    rank = np.empty(len(order), dtype=int)
    rank[order] = np.arange(len(order))
    best = float(max(cosines))
    n_close = sum(1 for c in cosines if best - c <= 0.02)
    codes = code_relations(listing.identifiers)
    rows = [
        pair_features(listing, e, float(c), best, int(r), n_close, f, terms, codes)
        for e, c, r, f in zip(entries, cosines, rank, fuzzy, strict=True)
    ]
    return np.asarray(rows, dtype=np.float32)
