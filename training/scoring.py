"""One system's answers on a held-out set, and the numbers the report gives for them.

The model and every baseline are reduced to the same shape (a ranked candidate list with a
score per listing, and two cut-offs), so they are measured by one piece of code on the same
listings and no system gets a friendlier definition of a hit than another.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from model.matching.screener import Screener
from model.matching.verdict import Thresholds
from training.heldout import BENIGN, HeldOut
from training.metrics import (
    brier,
    expected_calibration_error,
    pr_curve,
    reliability,
    wilson,
)

MAX_CANDIDATES = 5
CURVE_POINTS = 200


@dataclass(frozen=True)
class Scored:
    """Per listing: up to MAX_CANDIDATES entry ids best first, with their scores."""

    name: str
    candidates: list[tuple[str, ...]]
    scores: list[tuple[float, ...]]
    thresholds: Thresholds
    calibrated: bool
    description: str = ""

    @property
    def top_scores(self) -> np.ndarray:
        return np.asarray([s[0] if s else 0.0 for s in self.scores], dtype=float)

    @property
    def top(self) -> list[str | None]:
        return [c[0] if c else None for c in self.candidates]

    def score_of(self, i: int, entry_id: str | None) -> float:
        """The score listing i gave `entry_id` (0 when it is not among its candidates)."""
        for cand, score in zip(self.candidates[i], self.scores[i], strict=True):
            if cand == entry_id:
                return float(score)
        return 0.0


def rank_rows(
    entry_ids: Sequence[str], matrix: np.ndarray, k: int = MAX_CANDIDATES
) -> tuple[list[tuple[str, ...]], list[tuple[float, ...]]]:
    """Top-k entries per row of a listings x entries score matrix (ties: lower position first)."""
    k = min(k, matrix.shape[1])
    cands, scores = [], []
    for row in matrix:
        top = np.argsort(-row, kind="stable")[:k]
        cands.append(tuple(entry_ids[int(j)] for j in top))
        scores.append(tuple(float(row[j]) for j in top))
    return cands, scores


def score_model(screener: Screener, held: HeldOut, batch_size: int = 256) -> Scored:
    """The bundle's own pipeline (the same calls `Screener.screen` makes), unrounded scores."""
    entries = screener.bundle.index.entries
    k = screener.config.max_candidates
    cands: list[tuple[str, ...]] = []
    scores: list[tuple[float, ...]] = []
    listings = held.listings
    for start in tqdm(range(0, len(listings), batch_size), desc="model", unit="batch", leave=False):
        found = screener.candidate_sets(listings[start : start + batch_size])
        for f, proba in zip(found, screener.probabilities(found), strict=True):
            order = np.argsort(-proba, kind="stable")[:k]
            cands.append(tuple(entries[f.entries[int(i)]].entry_id for i in order))
            scores.append(tuple(float(proba[int(i)]) for i in order))
    return Scored(
        name="model",
        candidates=cands,
        scores=scores,
        thresholds=screener.config.thresholds,
        calibrated=True,
        description="RecallGuard: normalise, MiniLM + FAISS + identifiers, calibrated classifier",
    )


def _rate(hits: np.ndarray) -> dict[str, Any]:
    n, k = len(hits), int(np.sum(hits))
    low, high = wilson(k, n)
    return {"n": n, "hits": k, "rate": k / n if n else 0.0, "ci95": [low, high]}


def _decimate(curve_x: np.ndarray, curve_y: np.ndarray, t: np.ndarray) -> dict[str, list[float]]:
    keep = np.unique(np.linspace(0, len(t) - 1, min(len(t), CURVE_POINTS)).astype(int))
    return {
        "recall": curve_x[keep].round(5).tolist(),
        "precision": curve_y[keep].round(5).tolist(),
        "thresholds": t[keep].round(5).tolist(),
    }


def summarise(
    scored: Scored, held: HeldOut, same_product: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Every number the report gives for one system, JSON-ready.

    `same_product` maps entry ids to a product key; entries sharing a key are repeat notices
    for one product (same brand and name), reported as a secondary, lenient hit count. The
    strict counts (and the targets) always need the exact entry.
    """
    key = same_product or {}
    if len(scored.candidates) != len(held):
        raise ValueError(
            f"{scored.name}: {len(scored.candidates)} answers for {len(held)} listings"
        )
    s = scored.top_scores
    t = scored.thresholds
    truth = np.asarray([x if x is not None else "" for x in held.truth], dtype=object)
    positive = np.asarray([x is not None for x in held.truth])
    correct = positive & (np.asarray(scored.top, dtype=object) == truth)
    listed = np.asarray(
        [p and tr in c for p, tr, c in zip(positive, truth, scored.candidates, strict=True)]
    )
    repeat = np.asarray(
        [
            p and top is not None and key.get(top, top) == key.get(tr, tr)
            for p, tr, top in zip(positive, truth, scored.top, strict=True)
        ]
    )
    at_block, at_review = s >= t.block, s >= t.review
    tactics = np.asarray(held.tactics)

    def rows(mask: np.ndarray) -> dict[str, Any]:
        return {
            "recall_block": _rate(correct[mask] & at_block[mask]),
            "recall_review": _rate(correct[mask] & at_review[mask]),
            "correct_in_candidates": _rate(listed[mask]),
            "review_same_product": _rate(repeat[mask] & at_review[mask]),
            "review_in_candidates": _rate(listed[mask] & at_review[mask]),
            "flagged_review_any_match": _rate(at_review[mask]),
        }

    per_tactic = {
        name: rows(positive & (tactics == name)) for name in sorted(set(held.tactics) - {BENIGN})
    }
    benign = ~positive
    curve = pr_curve(s, correct, int(positive.sum()))

    def operating_point(flagged: np.ndarray) -> dict[str, float]:
        # Unweighted, at this evaluation set's mix of attacked and benign listings.
        n = int(flagged.sum())
        hits = int((flagged & correct).sum())
        return {
            "precision": hits / n if n else 1.0,
            "recall": hits / int(positive.sum()) if positive.any() else 0.0,
        }

    return {
        "name": scored.name,
        "description": scored.description,
        "calibrated": scored.calibrated,
        "thresholds": {"block": t.block, "review": t.review},
        "attacked": rows(positive),
        "per_tactic": per_tactic,
        "benign": {
            "fpr_block": _rate(at_block[benign]),
            "sent_to_review": _rate(at_review[benign] & ~at_block[benign]),
            "flagged_review_or_block": _rate(at_review[benign]),
        },
        "operating_points": {
            "block": operating_point(at_block),
            "review": operating_point(at_review),
        },
        "pr_auc": curve.average_precision,
        "pr_curve": _decimate(curve.recall, curve.precision, curve.thresholds),
        "brier": brier(s, correct),
        "ece": expected_calibration_error(s, correct),
        "reliability": [vars(b) for b in reliability(s, correct)],
    }
