"""Evidence rules applied to the calibrated probabilities.

They are hard guarantees the classifier alone cannot give (issue 10, "evidence beyond the name").

* An exact distinctive identifier together with a brand match is never `allow`: its probability
  is raised to at least `REVIEW_FLOOR`, and thresholds are chosen with review ≤ that floor
  (`model.matching.thresholds.choose_thresholds(max_review=...)`).
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

_ID = FEATURE_NAMES.index("distinctive_id_match")
_BRAND = FEATURE_NAMES.index("brand_token_match")
_SIBLING = FEATURE_NAMES.index("id_sibling")
_GENERIC = FEATURE_NAMES.index("generic_only")


def apply_rules(proba: np.ndarray, features: np.ndarray) -> np.ndarray:
    """`proba` (n,) per candidate row, `features` (n, len(FEATURE_NAMES)) → adjusted copy."""
    out = np.asarray(proba, dtype=float).copy()
    if not len(out):
        return out
    floor = (features[:, _ID] > 0) & (features[:, _BRAND] > 0)
    cap = ((features[:, _SIBLING] > 0) | (features[:, _GENERIC] > 0)) & ~floor
    out[floor] = np.maximum(out[floor], REVIEW_FLOOR)
    out[cap] = np.minimum(out[cap], BLOCK_CAP)
    return out
