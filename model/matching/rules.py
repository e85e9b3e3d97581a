"""Evidence rules applied to the calibrated probabilities.

They are hard guarantees the classifier alone cannot give (issue 10, "evidence beyond the name").

* An exact distinctive identifier (or a family form of one: AGE251TH-BKMT for AGE251TH) is
  never `allow`, with or without a brand match: its probability is raised to at least
  `REVIEW_FLOOR`, and thresholds are chosen with review ≤ that floor
  (`model.matching.thresholds.choose_thresholds(max_review=...)`). Measured at 3dc7f1c: 16
  real-listing positives share such a code with their recall (every one with the right
  recall), no benign look-alike does, and 1 of 1,471 held-out Amazon listings does.
* A rare brand (`RARE_BRAND_WEIGHT`; at least half its words) followed by the product line its
  notice names (`line_word_known`, see
  `model.matching.features.line_flags`: "Jetson Rogue", "Swagway X1") with nothing that
  contradicts the notice (no conflicting or sibling code, no unexplained line word, edition or
  colour, no other brand) is never `allow` either: it is raised to `REVIEW_FLOOR`. Resale and
  foreign-language titles keep brand and line while the rest of the wording, and so the
  embedding, drifts.
* A listing whose only code is a *sibling* of the recalled one (BLBR202 against a BLBR201 recall)
  is at most `review`, and so is one that shares nothing specific with the entry (no code, no
  brand, no rare word: "toy", "Reusable 8 oz baby bottle"): their probability is capped below
  `BLOCK_CAP`, under the lowest block threshold a build may choose (`min_block`, 0.5).

The rules read the pair-feature columns, so screening, the build and pair scoring all apply them
alike through `model.matching.candidates.candidate_probabilities`.
"""

from __future__ import annotations

import numpy as np

from model.matching.features import FEATURE_NAMES

REVIEW_FLOOR = 0.45
BLOCK_CAP = 0.49
# A brand word this rare in the blocklist (IDF share) is a brand, not an English word that some
# brand contains ("jetson", "swagway" ≥ 0.87; "girl", "little", "games", "mini" below).
RARE_BRAND_WEIGHT = 0.85

_ID = FEATURE_NAMES.index("distinctive_id_match")
_BRAND = FEATURE_NAMES.index("brand_token_match")
_BRAND_WEIGHT = FEATURE_NAMES.index("brand_weight")
_SIBLING = FEATURE_NAMES.index("id_sibling")
_GENERIC = FEATURE_NAMES.index("generic_only")
_LINE = FEATURE_NAMES.index("line_word_known")
_CONFLICTS = [
    FEATURE_NAMES.index(name)
    for name in (
        "identifier_conflict",
        "id_sibling",
        "line_word_unexplained",
        "variant_extra",
        "variant_missing",
        "colour_conflict",
        "brand_conflict",
    )
]


def apply_rules(proba: np.ndarray, features: np.ndarray) -> np.ndarray:
    """`proba` (n,) per candidate row, `features` (n, len(FEATURE_NAMES)) → adjusted copy."""
    out = np.asarray(proba, dtype=float).copy()
    if not len(out):
        return out
    rare = (features[:, _BRAND] >= 0.5) & (features[:, _BRAND_WEIGHT] >= RARE_BRAND_WEIGHT)
    line = rare & (features[:, _LINE] > 0) & ~np.any(features[:, _CONFLICTS] > 0, axis=1)
    floor = (features[:, _ID] > 0) | line
    cap = ((features[:, _SIBLING] > 0) | (features[:, _GENERIC] > 0)) & ~floor
    out[floor] = np.maximum(out[floor], REVIEW_FLOOR)
    out[cap] = np.minimum(out[cap], BLOCK_CAP)
    return out
