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
* A code the notice gives that is too short to be distinctive on its own ("40041", also a LEGO
  set number) shared together with the name's rare word ("Sloosh" in "Sloosh Dive Sticks",
  rule evidence `rare_name_word`), with nothing contradicting the notice, is never `allow`
  either: the tune-half resale title "Sloosh 30 Pcs Diving Pool Toys Set …" with seller code
  40041 scored 0.10 at fcfa2f57.
* A listing whose only code is a *sibling* of the recalled one (BLBR202 against a BLBR201 recall)
  is at most `review`, and so is one that shares nothing specific with the entry (no code, no
  brand, no rare word: "toy", "Reusable 8 oz baby bottle"), and one in a colour the notice does
  not give for the recalled units (`colour_conflict`: "INIU … Power Bank, Red" against the INIU
  recall of black or blue BI-B41 cases): their probability is capped below `BLOCK_CAP`, under
  the lowest block threshold a build may choose (`min_block`, 0.5). An exact distinctive code
  lifts the colour cap (the code names the product, whatever its colour). At 957b758f the red
  INIU power bank scored 0.864 with the conflict, which pinned the block cut there; no dev
  positive blocked before has a colour conflict with its recall.
* A recall the notice names by a distinctive code ("PR70P Clip-In Pedals fitted on Peloton
  bikes", "Acer AES015 … Scooters") needs that code, or any code of the entry or a family form,
  to block (`name_code_missing`): without it a listing of the same brand and kind is review at
  most. Measured on a build at df4c4466: the benign "Peloton clip-in pedals, white logo (no
  orange)" scored 0.849 (blocked); every dev positive matched to such an entry carries the code.
  This is rule evidence (`RULE_EVIDENCE`, `evidence`), not a classifier feature: as a feature
  it moved the retrained trees' scores of other look-alikes by up to 0.1 (fcfa2f57).

The rules read the pair-feature columns and the rule evidence columns, so screening, the build and
pair scoring all apply them alike through `model.matching.candidates.candidate_probabilities`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from model.matching.features import FEATURE_NAMES
from model.matching.specificity import family_match
from model.matching.views import EntryView, ListingView

REVIEW_FLOOR = 0.45
BLOCK_CAP = 0.49
# A brand word this rare in the blocklist (IDF share) is a brand, not an English word that some
# brand contains ("jetson", "swagway" ≥ 0.87; "girl", "little", "games", "mini" below).
RARE_BRAND_WEIGHT = 0.85

_ID = FEATURE_NAMES.index("distinctive_id_match")
_SHARED = FEATURE_NAMES.index("shared_identifiers")
_BRAND = FEATURE_NAMES.index("brand_token_match")
_BRAND_WEIGHT = FEATURE_NAMES.index("brand_weight")
_SIBLING = FEATURE_NAMES.index("id_sibling")
_GENERIC = FEATURE_NAMES.index("generic_only")
_LINE = FEATURE_NAMES.index("line_word_known")
_COLOUR = FEATURE_NAMES.index("colour_conflict")
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


# Evidence only the rules read, one column each (`evidence`).
RULE_EVIDENCE: tuple[str, ...] = ("name_code_missing", "rare_name_word")


def evidence(listing: ListingView, entries: Sequence[EntryView]) -> np.ndarray:
    """(len(entries), len(RULE_EVIDENCE)) float32, 1.0 where the rule's condition holds.

    name_code_missing: the entry's name carries a distinctive code (`EntryView.name_codes`) and
    the listing carries no code of the entry, not even a family form.
    rare_name_word: the listing shows one of the name's rare words (`EntryView.keywords` at
    least `RARE_BRAND_WEIGHT`: "sloosh" in "Sloosh Dive Sticks").
    """
    ids, listed = listing.identifiers, listing.listed
    return np.asarray(
        [
            [
                float(
                    bool(e.name_codes)
                    and not (ids & e.identifiers)
                    and not family_match(ids, e.identifiers)
                ),
                float(
                    any(
                        (e.weights or {}).get(w, 0.0) >= RARE_BRAND_WEIGHT
                        for w in e.keywords & listed
                    )
                ),
            ]
            for e in entries
        ],
        dtype=np.float32,
    ).reshape(len(entries), len(RULE_EVIDENCE))


def apply_rules(
    proba: np.ndarray, features: np.ndarray, rule_evidence: np.ndarray | None = None
) -> np.ndarray:
    """`proba` (n,) per candidate row, `features` (n, len(FEATURE_NAMES)) → adjusted copy.

    `rule_evidence` (n, len(RULE_EVIDENCE)) from `evidence`; None reads as all zeros.
    """
    out = np.asarray(proba, dtype=float).copy()
    if not len(out):
        return out
    if rule_evidence is None:
        rule_evidence = np.zeros((len(out), len(RULE_EVIDENCE)), dtype=np.float32)
    rare = (features[:, _BRAND] >= 0.5) & (features[:, _BRAND_WEIGHT] >= RARE_BRAND_WEIGHT)
    clear = ~np.any(features[:, _CONFLICTS] > 0, axis=1)  # nothing contradicts the notice
    line = rare & (features[:, _LINE] > 0) & clear
    coded = features[:, _ID] > 0
    # A code the notice gives, too short to be distinctive alone ("40041"), with the name's rare
    # word ("Sloosh") beside it: two independent pieces of evidence, never `allow`.
    paired = (features[:, _SHARED] > 0) & (rule_evidence[:, 1] > 0) & clear
    floor = coded | line | paired
    conflict = (features[:, _SIBLING] > 0) | (features[:, _COLOUR] > 0) | (rule_evidence[:, 0] > 0)
    # Only the recalled code lifts a conflict's cap; the line floor lifts the generic one.
    cap = (conflict & ~coded) | ((features[:, _GENERIC] > 0) & ~floor)
    out[floor] = np.maximum(out[floor], REVIEW_FLOOR)
    out[cap] = np.minimum(out[cap], BLOCK_CAP)
    return out
